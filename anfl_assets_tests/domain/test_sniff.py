"""`sniff(head, name, size)`: file type from real file heads, content before extension.

Every case builds the bytes the way the real producer writes them (pickle, numpy,
zipfile, sqlite3, pyarrow, marshal, ...) or copies a published header layout
(safetensors, ONNX ModelProto), and hands `sniff` the first 8 KiB, as the scanner does.
"""

from __future__ import annotations

import gzip
import importlib.util
import io
import json
import marshal
import pickle
import sqlite3
import struct
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from anfl_assets.domain.hashing import HEAD_BYTES
from anfl_assets.domain.sniff import extension_of, sniff


def sniff_bytes(data: bytes, name: str):
    """What the scanner does: only the head is looked at, the size is the whole file's."""
    return sniff(data[:HEAD_BYTES], name, len(data))


# --- producers of realistic file contents ---------------------------------------------

def safetensors_bytes() -> bytes:
    tensors = {"weight": np.arange(6, dtype=np.float32).reshape(2, 3),
               "bias": np.zeros(3, dtype=np.float32)}
    header, blobs, offset = {}, [], 0
    for name, arr in tensors.items():
        raw = arr.tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = {"format": "pt"}
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)  # the reference writer pads the header to 8 bytes
    return struct.pack("<Q", len(encoded)) + encoded + b"".join(blobs)


def npy_bytes() -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.random.default_rng(0).normal(size=(64, 32)).astype(np.float32))
    return buf.getvalue()


def torch_zip_bytes() -> bytes:
    """The layout of `torch.save` since 1.6: a zip whose first entry is <name>/data.pkl."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("archive/data.pkl", pickle.dumps({"epoch": 3, "state": [1.0, 2.0]}, protocol=2))
        zf.writestr("archive/byteorder", "little")
        zf.writestr("archive/data/0", np.ones(16, dtype=np.float32).tobytes())
        zf.writestr("archive/version", "3\n")
    return buf.getvalue()


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field_bytes(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def onnx_bytes() -> bytes:
    """A ModelProto as protobuf serializes it: ir_version (1), producer_name (2), ..., graph (7)."""
    graph = _field_bytes(1, _field_bytes(1, b"X") + _field_bytes(2, b"Y") + _field_bytes(4, b"Relu")) \
        + _field_bytes(2, b"main_graph")
    opset = _field_bytes(1, b"") + _varint(2 << 3) + _varint(17)
    return (_varint(1 << 3) + _varint(8)            # ir_version = 8
            + _field_bytes(2, b"pytorch")           # producer_name
            + _field_bytes(3, b"2.1.0")             # producer_version
            + _field_bytes(7, graph)                # graph
            + _field_bytes(8, opset))               # opset_import


def sqlite_bytes(tmp_path: Path) -> bytes:
    db = tmp_path / "catalog.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, name TEXT)")
    con.executemany("INSERT INTO runs (name) VALUES (?)", [(f"run-{i}",) for i in range(50)])
    con.commit()
    con.close()
    return db.read_bytes()


def parquet_bytes() -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table({"id": list(range(100)), "label": ["cat", "dog"] * 50}), sink)
    return sink.getvalue().to_pybytes()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bytes() -> bytes:
    width, height = 4, 4
    rows = b"".join(b"\x00" + b"".join(bytes([x * 60, y * 60, 128]) for x in range(width))
                    for y in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + _png_chunk(b"IDAT", zlib.compress(rows))
            + _png_chunk(b"IEND", b""))


def jpeg_bytes() -> bytes:
    """SOI, a JFIF APP0 segment, a quantisation table segment: how every JFIF file begins."""
    app0 = b"JFIF\x00\x01\x01\x00\x00\x48\x00\x48\x00\x00"
    dqt = b"\x00" + bytes(range(1, 65))
    return (b"\xff\xd8" + b"\xff\xe0" + struct.pack(">H", len(app0) + 2) + app0
            + b"\xff\xdb" + struct.pack(">H", len(dqt) + 2) + dqt + b"\xff\xd9")


def pdf_bytes(compressed: bool) -> bytes:
    """A one-page PDF laid out as PDF writers do (binary marker comment, objects, xref, trailer).

    With `compressed`, the page content is a FlateDecode stream, as most writers emit it."""
    text = b"".join(b"BT /F1 12 Tf 72 %d Td (Line %d of the quarterly report) Tj ET\n" % (720 - 14 * i, i)
                    for i in range(40))
    if compressed:
        text = zlib.compress(text + bytes(range(256)) * 8)
        stream_dict = b"<< /Length %d /Filter /FlateDecode >>" % len(text)
    else:
        stream_dict = b"<< /Length %d >>" % len(text)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        stream_dict + b"\nstream\n" + text + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("README.md", "# Release bundle\n" * 20)
        zf.writestr("bin/tool.sh", "#!/bin/sh\necho hi\n")
    return buf.getvalue()


def pyc_bytes() -> bytes:
    """The layout `py_compile` writes: magic, flags, source mtime, source size, marshalled code."""
    code = compile("def add(a, b):\n    return a + b\n", "calc.py", "exec")
    return (importlib.util.MAGIC_NUMBER + (0).to_bytes(4, "little")
            + (1_700_000_000).to_bytes(4, "little") + (35).to_bytes(4, "little") + marshal.dumps(code))


# --- binary formats ------------------------------------------------------------------

BINARY_CASES = {
    "safetensors": (safetensors_bytes, "model.safetensors", "safetensors", "application/x-safetensors"),
    "numpy": (npy_bytes, "embeddings.npy", "numpy", "application/x-npy"),
    "torch": (torch_zip_bytes, "checkpoint.pt", "torch", "application/x-pytorch"),
    "torch-no-extension": (torch_zip_bytes, "checkpoint", "torch", "application/x-pytorch"),
    "onnx": (onnx_bytes, "model.onnx", "onnx", "application/x-onnx"),
    "parquet": (parquet_bytes, "part-0000.parquet", "parquet", "application/vnd.apache.parquet"),
    "png": (png_bytes, "logo.png", "png", "image/png"),
    "jpeg": (jpeg_bytes, "photo.jpg", "jpg", "image/jpeg"),
    "pdf-compressed": (lambda: pdf_bytes(compressed=True), "report.pdf", "pdf", "application/pdf"),
    "gzip": (lambda: gzip.compress(b"timestamp,value\n" * 500, mtime=0), "metrics.csv.gz",
             "gz", "application/gzip"),
    "zip": (zip_bytes, "bundle.zip", "zip", "application/zip"),
    "pyc": (pyc_bytes, "__pycache__/calc.cpython-311.pyc", "python-bytecode", "application/x-python-code"),
}


@pytest.mark.parametrize("case", BINARY_CASES, ids=list(BINARY_CASES))
def test_binary_formats_are_recognised_by_signature(case):
    """Model, array and media files get their format from their first bytes, never 'text'."""
    make, name, file_type, mime = BINARY_CASES[case]
    result = sniff_bytes(make(), name)
    assert (result.file_type, result.mime, result.is_text, result.encoding) == (file_type, mime, False, None)


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_pickle_protocols_2_to_5(protocol):
    """Pickles of every binary protocol are found, whatever the file is called."""
    data = pickle.dumps({"lr": 3e-4, "layers": [128, 64], "name": "baseline"}, protocol=protocol)
    for name in ("optimizer.pkl", "state"):
        assert sniff_bytes(data, name).file_type == "pickle"


def test_signature_beats_a_misleading_extension():
    """Content decides over the name: a pickle called .json and a PNG called .txt."""
    assert sniff_bytes(pickle.dumps([1, 2, 3], protocol=4), "labels.json").file_type == "pickle"
    assert sniff_bytes(png_bytes(), "notes.txt").file_type == "png"


def test_sqlite_database(tmp_path):
    """A database written by sqlite3 is recognised from its 'SQLite format 3' header."""
    result = sniff_bytes(sqlite_bytes(tmp_path), "catalog.db")
    assert (result.file_type, result.mime, result.is_text) == ("sqlite", "application/vnd.sqlite3", False)


def test_elf_executable():
    """The running interpreter (an ELF binary on Linux) is 'elf'."""
    data = Path(sys.executable).resolve().read_bytes()[:HEAD_BYTES]
    if not data.startswith(b"\x7fELF"):
        pytest.skip("the interpreter is not an ELF binary on this platform")
    result = sniff(data, "python3", 10_000_000)
    assert (result.file_type, result.is_text) == ("elf", False)


def test_empty_file():
    """Zero bytes are 'empty' whatever the extension says."""
    assert sniff(b"", "model.safetensors", 0) == ("empty", "inode/x-empty", False, None)


def test_uncompressed_pdf_is_still_pdf():
    """A small PDF with an uncompressed content stream (mostly ASCII) is a PDF, not text.

    Regression: the text heuristics ran before the PDF signature and called it '8bit' text."""
    result = sniff_bytes(pdf_bytes(compressed=False), "invoice.pdf")
    assert (result.file_type, result.mime, result.is_text) == ("pdf", "application/pdf", False)


# --- text ----------------------------------------------------------------------------

TEXT_CASES = {
    "shebang-env-python": (b"#!/usr/bin/env python3\nimport sys\nprint(sys.argv)\n", "manage",
                           "python", "text/x-script"),
    "shebang-bash": (b"#!/bin/bash\nset -euo pipefail\necho deploying\n", "deploy", "shell", "text/x-script"),
    "shebang-env-node": (b"#!/usr/bin/env node\nconsole.log(process.argv)\n", "cli", "javascript",
                         "text/x-script"),
    "shebang-python-path": (b"#!/usr/bin/python3 -u\nprint('hi')\n", "run-job", "python", "text/x-script"),
    "dockerfile-variant": (b"FROM python:3.11-slim\nRUN pip install -r requirements.txt\n", "Dockerfile.prod",
                           "dockerfile", "text/x-dockerfile"),
    "dockerfile": (b"FROM alpine:3.19\nCMD [\"sh\"]\n", "services/api/Dockerfile", "dockerfile",
                   "text/x-dockerfile"),
    "k8s-manifest-no-extension": (b"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n",
                                  "deploy/manifest", "yaml", "application/yaml"),
    "yaml-document-start": (b"---\nname: ci\non: [push]\n", "pipeline.conf", "yaml", "application/yaml"),
    "json-in-txt": (json.dumps({"model": "resnet50", "epochs": 90, "lr": 0.1}, indent=2).encode(),
                    "hyperparams.txt", "json", "application/json"),
    "json-array": (b'[{"id": 1}, {"id": 2}]\n', "export", "json", "application/json"),
    "xml": (b'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel/></rss>\n', "feed.rss",
            "xml", "application/xml"),
    "html": (b"<!DOCTYPE html>\n<html><head><title>Docs</title></head><body></body></html>\n",
             "index.htm", "html", "text/html"),
    "python-by-extension": (b"def main():\n    return 0\n", "src/app.py", "python", "text/x-python"),
    "plain-text": (b"Remember to rotate the keys.\n", "TODO.txt", "text", "text/plain"),
    "makefile": (b"all:\n\tpython -m build\n", "Makefile", "makefile", "text/x-makefile"),
}


@pytest.mark.parametrize("case", TEXT_CASES, ids=list(TEXT_CASES))
def test_text_files_are_typed_by_content_then_name(case):
    """Shebangs, leading syntax and well-known names type text files; all are is_text, ascii."""
    data, name, file_type, mime = TEXT_CASES[case]
    result = sniff_bytes(data, name)
    assert (result.file_type, result.mime, result.is_text, result.encoding) == (file_type, mime, True, "ascii")


def test_json_head_cut_mid_document_is_still_json():
    """A big JSON file whose head ends mid-value is still JSON (the head alone does not parse)."""
    data = json.dumps({"rows": [{"id": i, "label": "x" * 20} for i in range(2000)]}).encode()
    assert len(data) > HEAD_BYTES
    assert sniff_bytes(data, "dump.txt").file_type == "json"


@pytest.mark.parametrize("encoded, encoding", [
    ("plain ascii\n".encode("ascii"), "ascii"),
    ("naïve café\n".encode("utf-8"), "utf-8"),
    ("naïve café\n".encode("utf-8-sig"), "utf-8-sig"),
    ("naïve café\n".encode("utf-16"), "utf-16"),
    ("naïve café déjà vu\n".encode("latin-1"), "8bit"),
], ids=["ascii", "utf-8", "utf-8-bom", "utf-16-bom", "latin-1"])
def test_text_encodings(encoded, encoding):
    """The encoding comes from a BOM, else from what the bytes decode as; 8-bit text is still text."""
    result = sniff_bytes(encoded, "notes.md")
    assert (result.is_text, result.encoding, result.file_type) == (True, encoding, "markdown")


def test_utf8_character_cut_at_head_boundary_is_utf8():
    """A multi-byte character split by the 8 KiB head cut does not demote UTF-8 to 8-bit."""
    data = ("a" * (HEAD_BYTES - 1) + "é" * 100).encode("utf-8")
    assert data[:HEAD_BYTES][-1:] == b"\xc3"
    assert sniff_bytes(data, "log.txt").encoding == "utf-8"


def test_random_bytes_are_binary():
    """Incompressible data with no signature is 'binary', not text."""
    data = np.random.default_rng(42).bytes(64 * 1024)
    assert sniff_bytes(data, "blob.txt") == ("binary", "application/octet-stream", False, None)


def test_crlf_csv_with_two_letter_header_is_text():
    """A Windows CSV whose header is one two-letter column ('id\\r\\n...') is text, not bytecode.

    Regression: the .pyc test only looked for b'\\r\\n' at offset 2."""
    data = "id\r\n" + "".join(f"{i}\r\n" for i in range(1000, 1100))
    result = sniff_bytes(data.encode(), "user_ids.csv")
    assert (result.file_type, result.is_text, result.encoding) == ("csv", True, "ascii")


@pytest.mark.parametrize("first_line", [
    b"#!/usr/local/bin/python3.11",
    b"#!/usr/bin/env -S python3 -u",
    b"#!/usr/bin/env PYTHONUNBUFFERED=1 python3",
], ids=["versioned-interpreter", "env-split-with-flags", "env-with-variable"])
def test_python_shebang_variants(first_line):
    """Versioned interpreters and `env -S` shebangs (how interpreter flags are passed portably)
    still name a Python script (regression: the last or the verbatim word was looked up)."""
    assert sniff_bytes(first_line + b"\nprint('unbuffered')\n", "worker").file_type == "python"


@pytest.mark.parametrize("name, ext", [
    ("model.safetensors", "safetensors"), ("archive.tar.gz", "gz"), ("dir.d/README", ""),
    (".bashrc", ""), (".env.local", "local"), ("Makefile", ""), ("IMG.JPG", "jpg"),
])
def test_extension_of(name, ext):
    """The extension is the lower-cased last suffix of the base name; dotfiles have none."""
    assert extension_of(name) == ext
