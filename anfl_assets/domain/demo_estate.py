"""A small, deterministic, realistic sample estate: "AeonNovaProject".

Why this exists: `make run`, the demos and the test-suite need an estate to
inventory that looks like a real organisation's project tree (code, notebooks,
real model files, infrastructure, drifting configs, confidential documents,
duplicates, stale copies, cache junk, leaked secrets, git history) without
shipping megabytes of fixtures or depending on the network. Everything here is
written from a seeded RNG, so the same seed gives a byte-identical tree, the
same git SHAs and the same ground truth; the ground truth is then measured from
what was actually written (a walk of the tree and git's own answers), so tests
can compare the pipeline's findings against it.

Plain Python on purpose (standard library + numpy + the `git` binary): it must
run before any pipeline, and must not import dagster.

Every secret in the estate is random (made from the seeded RNG) and fake; they
are assembled from pieces in this file so that the file itself holds no
secret-shaped literal.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import importlib.util
import io
import json
import marshal
import os
import pickle
import pickletools
import random
import re
import stat
import string
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np

ROOT_NAME = "AeonNovaProject"
GENERATOR = "anfl demo-estate"
VERSION = 1

# The history starts on Monday 2023-01-09 09:00 UTC and spans about two years.
HISTORY_START = 1673254800
HISTORY_DAYS = 700
N_COMMITS = 42  # the steps in _history()

# Git authors: (name, email, timezone). A CI bot makes the odd dependency bump.
AUTHORS = {
    "maya": ("Maya Lindqvist", "maya.lindqvist@aeonnova.example", "+0100"),
    "tomas": ("Tomas Okafor", "tomas.okafor@aeonnova.example", "+0000"),
    "priya": ("Priya Raman", "priya.raman@aeonnova.example", "+0530"),
    "jonah": ("Jonah Weiss", "jonah.weiss@aeonnova.example", "-0500"),
    "ingrid": ("Ingrid Haugen", "ingrid.haugen@aeonnova.example", "+0100"),
    "bot": ("aeon-ci-bot", "ci-bot@aeonnova.example", "+0000"),
}

# People who appear in documents (a superset of the git authors).
PEOPLE = ["Maya Lindqvist", "Tomas Okafor", "Priya Raman", "Jonah Weiss", "Ingrid Haugen",
          "Samir Haddad", "Lena Fischer", "Diego Marquez", "Aiko Tanaka", "Oluwaseun Adeyemi",
          "Freya Nilsen", "Marcus Chen"]

GITIGNORE = """\
# Python
__pycache__/
*.pyc
.pytest_cache/

# Node
node_modules/

# Local environment and secrets
.env

# macOS
.DS_Store
"""

# What counts as junk (caches and OS droppings), by folder name and by file name.
JUNK_DIR_NAMES = ("__pycache__", "node_modules", ".pytest_cache")
JUNK_FILE_NAMES = (".DS_Store",)

# Files the estate plants as intentionally broken YAML (ground truth `malformed_yaml`).
MALFORMED_YAML = ["yaml_configs/broken/invalid.yaml"]


# ======================================================================================
# small helpers
# ======================================================================================
def _fill(template: str, **values) -> str:
    """Substitute <<name>> placeholders (braces are left alone for Go/Jinja/HCL templates)."""
    for key, value in values.items():
        template = template.replace(f"<<{key}>>", str(value))
    left = re.findall(r"<<[a-z_0-9]+>>", template)
    if left:
        raise KeyError(f"unfilled placeholders {left}")
    return template


_YAML_PLAIN = re.compile(r"^[A-Za-z_/][A-Za-z0-9_./-]*$")
_YAML_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def _yaml_scalar(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if _YAML_PLAIN.match(value) and value.lower() not in _YAML_RESERVED:
        return value
    return json.dumps(value)  # a JSON string is a valid YAML double-quoted scalar


def _yaml_dump(obj: dict, indent: int = 0) -> str:
    """Block-style YAML for nested dicts/lists of scalars (enough for configs; round-trips through PyYAML)."""
    pad = " " * indent
    out = []
    for key, value in obj.items():
        if isinstance(value, dict) and value:
            out.append(f"{pad}{key}:\n{_yaml_dump(value, indent + 2)}")
        elif isinstance(value, list) and value:
            out.append(f"{pad}{key}:\n" + "".join(f"{pad}  - {_yaml_scalar(v)}\n" for v in value))
        elif isinstance(value, (dict, list)):
            out.append(f"{pad}{key}: {'{}' if isinstance(value, dict) else '[]'}\n")
        else:
            out.append(f"{pad}{key}: {_yaml_scalar(value)}\n")
    return "".join(out)


def _flatten(obj: dict, prefix: str = "") -> dict:
    """{'a': {'b': 1}} -> {'a.b': 1}; lists stay values (drift compares them whole)."""
    flat = {}
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def _iso_date(epoch: int) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%d")


# ======================================================================================
# fake secrets (random, provider-shaped; literals split so this file holds none)
# ======================================================================================
_B32 = string.ascii_uppercase + "234567"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ALNUM = string.ascii_letters + string.digits


class _SecretFactory:
    """Provider-format secrets drawn from the estate's seeded RNG."""

    def __init__(self, rnd: random.Random):
        self.rnd = rnd

    def _s(self, alphabet: str, n: int) -> str:
        return "".join(self.rnd.choice(alphabet) for _ in range(n))

    def aws_access_key_id(self) -> str:
        return "AK" + "IA" + self._s(_B32, 16)

    def aws_secret_access_key(self) -> str:
        return self._s(_ALNUM + "+/", 40)

    def github_token(self) -> str:
        """A real-format classic token: 30 random base62 characters and their CRC32, base62."""
        body = self._s(_ALNUM, 30)
        crc, digits = zlib.crc32(body.encode()), ""
        while crc:
            crc, rem = divmod(crc, 62)
            digits = _BASE62[rem] + digits
        return "gh" + "p_" + body + digits.rjust(6, "0")

    def slack_bot_token(self) -> str:
        return "xo" + "xb-" + self._s(string.digits, 11) + "-" + self._s(string.digits, 13) + "-" + self._s(_ALNUM, 24)

    def stripe_live_key(self) -> str:
        return "sk" + "_live_" + "51" + self._s(_ALNUM, 30)

    def password(self) -> str:
        return self._s(_ALNUM, 12) + self.rnd.choice("!#%*+=?@^") + self._s(_ALNUM, 5)

    def postgres_url(self) -> str:
        user = "svc_" + self._s(string.ascii_lowercase, 5)
        return f"postgresql://{user}:{self._s(_ALNUM, 20)}@db-prod.internal.aeonnova.example:5432/aeon_core"

    def rsa_private_key(self) -> str:
        # DER prefix of a 2048-bit RSAPrivateKey, then random bytes: looks right, is nothing.
        der = bytes.fromhex("308204a40201000282010100") + self.rnd.randbytes(1180)
        body = base64.b64encode(der).decode()
        lines = [body[i:i + 64] for i in range(0, len(body), 64)]
        marker = "RSA PRIVATE" + " KEY-----"
        return "-----BEGIN " + marker + "\n" + "\n".join(lines) + "\n-----END " + marker + "\n"


# ======================================================================================
# binary formats, written by hand (no torch / onnx / safetensors needed)
# ======================================================================================
def _weights(nprng: np.random.Generator, shape, dtype=np.float32, scale: float = 0.05) -> np.ndarray:
    """Small-normal weights, like a freshly trained layer (little-endian on disk)."""
    values = nprng.standard_normal(int(np.prod(shape)), dtype=np.float32) * np.float32(scale)
    return values.astype(np.dtype(dtype).newbyteorder("<")).reshape(shape)


# --- protobuf wire format (for ONNX) ----------------------------------------------------
def _pb_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _pb(num: int, value) -> bytes:
    """One protobuf field: ints as varints (wire type 0), bytes/str as length-delimited (2)."""
    if isinstance(value, int):
        return _pb_varint(num << 3) + _pb_varint(value)
    if isinstance(value, str):
        value = value.encode()
    return _pb_varint((num << 3) | 2) + _pb_varint(len(value)) + value


def _onnx_value_info(name: str, dims) -> bytes:
    """ValueInfoProto{name, type.tensor_type{elem_type=FLOAT, shape}} with symbolic batch dims."""
    shape = b"".join(_pb(1, _pb(2, d) if isinstance(d, str) else _pb(1, d)) for d in dims)
    tensor_type = _pb(1, 1) + _pb(2, shape)
    return _pb(1, name) + _pb(2, _pb(1, tensor_type))


def _onnx_node(op: str, inputs, outputs, name: str, attrs: bytes = b"") -> bytes:
    wires = b"".join(_pb(1, i) for i in inputs) + b"".join(_pb(2, o) for o in outputs)
    return wires + _pb(3, name) + _pb(4, op) + attrs


def _onnx_int_attr(name: str, value: int) -> bytes:
    return _pb(5, _pb(1, name) + _pb(3, value) + _pb(20, 2))  # AttributeProto type INT = 2


def onnx_model_bytes(nprng: np.random.Generator, n_in: int = 384, hidden: int = 256, n_out: int = 3) -> bytes:
    """A valid ONNX ModelProto (ir_version 8, opset 17): Gemm -> Relu -> Gemm -> Softmax classifier."""
    inits = []
    for name, shape in (("fc1.weight", (hidden, n_in)), ("fc1.bias", (hidden,)),
                        ("fc2.weight", (n_out, hidden)), ("fc2.bias", (n_out,))):
        w = _weights(nprng, shape)
        tensor = b"".join(_pb(1, d) for d in shape) + _pb(2, 1) + _pb(8, name) + _pb(9, w.tobytes())
        inits.append(_pb(5, tensor))  # GraphProto.initializer
    nodes = [
        _onnx_node("Gemm", ["embedding", "fc1.weight", "fc1.bias"], ["h1"], "fc1", _onnx_int_attr("transB", 1)),
        _onnx_node("Relu", ["h1"], ["h1_relu"], "relu1"),
        _onnx_node("Gemm", ["h1_relu", "fc2.weight", "fc2.bias"], ["logits"], "fc2", _onnx_int_attr("transB", 1)),
        _onnx_node("Softmax", ["logits"], ["probabilities"], "softmax", _onnx_int_attr("axis", 1)),
    ]
    graph = (b"".join(_pb(1, n) for n in nodes) + _pb(2, "sentiment_classifier") + b"".join(inits)
             + _pb(10, "3-class sentiment head over 384-d sentence embeddings")
             + _pb(11, _onnx_value_info("embedding", ["batch", n_in]))
             + _pb(12, _onnx_value_info("probabilities", ["batch", n_out])))
    return (_pb(1, 8) + _pb(2, "aeon-export") + _pb(3, "1.4.2") + _pb(4, "ai.aeonnova") + _pb(5, 3)
            + _pb(6, "sentiment classifier exported from aeon_eval") + _pb(7, graph) + _pb(8, _pb(1, "") + _pb(2, 17)))


# --- safetensors ---------------------------------------------------------------------------
def safetensors_bytes(tensors: list[tuple[str, np.ndarray]], metadata: dict) -> bytes:
    """8-byte LE header length + JSON header (space-padded to 8) + contiguous tensor bytes."""
    codes = {np.dtype("<f2"): "F16", np.dtype("<f4"): "F32"}
    header, offset = {"__metadata__": metadata}, 0
    for name, arr in tensors:
        header[name] = {"dtype": codes[arr.dtype], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + arr.nbytes]}
        offset += arr.nbytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + b"".join(arr.tobytes() for _, arr in tensors)


def _text_encoder_tensors(nprng: np.random.Generator, vocab: int = 2048, d: int = 128, layers: int = 2):
    tensors = [("embeddings.word_embeddings.weight", _weights(nprng, (vocab, d), np.float16, 0.02)),
               ("embeddings.position_embeddings.weight", _weights(nprng, (128, d), np.float16, 0.02))]
    for i in range(layers):
        for part, shape in (("attention.qkv.weight", (3 * d, d)), ("attention.qkv.bias", (3 * d,)),
                            ("attention.out.weight", (d, d)), ("mlp.up.weight", (4 * d, d)),
                            ("mlp.down.weight", (d, 4 * d)), ("norm1.weight", (d,)), ("norm2.weight", (d,))):
            tensors.append((f"encoder.layer.{i}.{part}", _weights(nprng, shape, np.float16, 0.02)))
    return tensors


# --- torch.save zip ------------------------------------------------------------------------
def _pk_unicode(s: str) -> bytes:
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b  # BINUNICODE


def _pk_int(i: int) -> bytes:
    return b"J" + struct.pack("<i", i)  # BININT


def torch_zip_bytes(state: list[tuple[str, np.ndarray]]) -> bytes:
    """torch.save() layout: archive/data.pkl (protocol 2) whose tensors are
    torch._utils._rebuild_tensor_v2(<persistent storage>, offset, size, stride, False, OrderedDict())
    and whose storages ('storage', torch.FloatStorage, key, 'cpu', numel) live in archive/data/<key>."""
    pk = bytearray(b"\x80\x02" + b"ccollections\nOrderedDict\n)R(")  # PROTO 2, OrderedDict(), MARK
    for key, (name, arr) in enumerate(state):
        strides = [int(np.prod(arr.shape[i + 1:])) for i in range(arr.ndim)]
        pk += _pk_unicode(name) + b"ctorch._utils\n_rebuild_tensor_v2\n("
        pk += b"(" + _pk_unicode("storage") + b"ctorch\nFloatStorage\n" + _pk_unicode(str(key))
        pk += _pk_unicode("cpu") + _pk_int(arr.size) + b"tQ"  # TUPLE, BINPERSID
        pk += _pk_int(0) + b"(" + b"".join(_pk_int(d) for d in arr.shape) + b"t"
        pk += b"(" + b"".join(_pk_int(s) for s in strides) + b"t"
        pk += b"\x89" + b"ccollections\nOrderedDict\n)R" + b"tR"  # NEWFALSE, hooks, TUPLE, REDUCE
    pk += b"u."  # SETITEMS, STOP
    buf = io.BytesIO()
    stamp = (2024, 2, 12, 14, 30, 0)
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(zipfile.ZipInfo("archive/data.pkl", stamp), bytes(pk))
        zf.writestr(zipfile.ZipInfo("archive/byteorder", stamp), b"little")
        for key, (_, arr) in enumerate(state):
            zf.writestr(zipfile.ZipInfo(f"archive/data/{key}", stamp), arr.astype("<f4").tobytes())
        zf.writestr(zipfile.ZipInfo("archive/version", stamp), b"3\n")
    return buf.getvalue()


# --- pickles ---------------------------------------------------------------------------------
class _LegacyModelPayload:
    """What an attacker ships as a 'model': unpickling it runs a shell command.
    pickle.dumps only records the reduce tuple; nothing here ever executes it."""

    def __reduce__(self):
        return (os.system, ("echo pwned",))


def malicious_pickle_bytes(nprng: np.random.Generator) -> bytes:
    model = {"model_type": "LogisticRegression", "classes": ["negative", "neutral", "positive"],
             "coef": [round(float(x), 6) for x in _weights(nprng, (24,), scale=0.4)],
             "intercept": [0.12, -0.03, -0.09], "_init": _LegacyModelPayload()}
    return pickle.dumps(model, protocol=2)


def vocab_pickle_bytes(rnd: random.Random) -> bytes:
    """A benign pickle of plain containers (a tokenizer vocabulary)."""
    pieces = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [
        w for w in ("the of and to in is for on with as by invoice contract policy renewal total due "
                    "payment clause party term notice amount customer supplier date signed").split()]
    pieces += ["##" + "".join(rnd.choice(string.ascii_lowercase) for _ in range(rnd.randint(2, 4))) for _ in range(40)]
    vocab = {tok: i for i, tok in enumerate(dict.fromkeys(pieces))}
    return pickle.dumps({"vocab": vocab, "do_lower_case": True, "max_len": 512}, protocol=4)


def pickle_globals(data: bytes) -> list[str]:
    """'module name' of every GLOBAL / STACK_GLOBAL in a pickle, via pickletools (never unpickles)."""
    found, strings = [], []
    for op, arg, _ in pickletools.genops(data):
        if op.name == "GLOBAL":
            found.append(arg)
        elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
            found.append(f"{strings[-2]} {strings[-1]}")
        if isinstance(arg, str):
            strings.append(arg)
    return found


_DANGEROUS_GLOBALS = ("os ", "posix ", "nt ", "subprocess ", "builtins eval", "builtins exec",
                      "__builtin__ eval", "__builtin__ exec", "runpy ", "socket ")


# --- numpy .npy (hand-written header, independent of numpy's writer) ---------------------
def npy_bytes(arr: np.ndarray) -> bytes:
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (arr.dtype.str, repr(tuple(arr.shape)))
    header += " " * (-(10 + len(header) + 1) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin-1") + arr.tobytes()


# --- PNG / PDF / .DS_Store / .pyc ----------------------------------------------------------
def png_bar_chart(values: list[float], width: int = 160, height: int = 96) -> bytes:
    """A tiny bar chart PNG for notebook outputs."""
    img = np.full((height, width, 3), 255, dtype=np.uint8)
    bar_w = width // (2 * len(values) + 1)
    for i, v in enumerate(values):
        top = height - 4 - int((height - 12) * max(0.0, min(1.0, v)))
        x0 = bar_w * (2 * i + 1)
        img[top:height - 4, x0:x0 + bar_w] = (31 + 40 * i, 119, 180 - 30 * i)
    img[height - 4, :] = 0
    raw = b"".join(b"\x00" + img[r].tobytes() for r in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def pdf_bytes(title: str, lines: list[str]) -> bytes:
    """A minimal valid one-page PDF 1.4 with a correct xref table."""
    def esc(s: str) -> str:
        return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")[:100]

    text = "BT /F1 16 Tf 56 780 Td (" + esc(title) + ") Tj /F1 10 Tf 0 -28 Td 14 TL "
    text += " ".join(f"({esc(line)}) '" for line in lines) + " ET"
    objects = ["<< /Type /Catalog /Pages 2 0 R >>",
               "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               "/Resources << /Font << /F1 5 0 R >> >> >>",
               f"<< /Length {len(text)} >>\nstream\n{text}\nendstream",
               "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
               f"<< /Title ({esc(title)}) /Producer (AeonNova reporting) /CreationDate (D:20250114093000Z) >>"]
    out, offsets = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"), []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info 6 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def ds_store_bytes(rnd: random.Random, names: list[str]) -> bytes:
    """A .DS_Store-shaped blob (Bud1 magic, a record per entry name, padding)."""
    body = bytearray(b"\x00\x00\x00\x01Bud1" + struct.pack(">III", 0x1000, 0x800, 0x1000) + bytes(16))
    for name in names:
        u = name.encode("utf-16-be")
        body += struct.pack(">I", len(name)) + u + b"Iloc" + b"blob" + struct.pack(">I", 16) + rnd.randbytes(16)
    body += bytes(-len(body) % 4096)
    return bytes(body)


def pyc_bytes(source: str, origin: str, source_mtime: int) -> bytes:
    """A real timestamp-based .pyc for the running interpreter (PEP 552 header, flags 0).
    The code object is marshalled in format 2: CPython's default format sets back-reference
    flags from live refcounts, which would make the bytes depend on interpreter state."""
    code = compile(source, origin, "exec", dont_inherit=True)
    fields = struct.pack("<III", 0, source_mtime & 0xFFFFFFFF, len(source.encode()) & 0xFFFFFFFF)
    header = importlib.util.MAGIC_NUMBER + fields
    return header + marshal.dumps(code, 2)


# ======================================================================================
# content: ai_model_testing/ (Python package, notebooks, datasets)
# ======================================================================================
LICENSE_TEXT = """\
AeonNova Ltd. Proprietary Software Licence

Copyright (c) 2023-2024 AeonNova Ltd. All rights reserved.

This software and its documentation are confidential and proprietary to
AeonNova Ltd. No part of it may be copied, modified, distributed or used
except as permitted by a written agreement with AeonNova Ltd.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT.
"""

PY_INIT = '''\
"""aeon_eval: offline evaluation of AeonNova's document models.

Loads evaluation sets, runs exported models (ONNX, safetensors) and reports
the metrics the weekly model review looks at.
"""

from .config import EvalConfig, load_config
from .metrics import accuracy, precision_recall_f1

__all__ = ["EvalConfig", "load_config", "accuracy", "precision_recall_f1"]
__version__ = "<<version>>"
'''

PY_CONFIG_V1 = '''\
"""Evaluation configuration: where data lives, which models to run, thresholds."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_BATCH_SIZE = <<batch>>
RESULTS_BUCKET = "aeon-eval-results-prod"


@dataclass
class EvalConfig:
    """Settings for one evaluation run."""

    dataset: Path
    embeddings: Path | None = None
    models: list[str] = field(default_factory=list)
    batch_size: int = DEFAULT_BATCH_SIZE
    threshold: float = <<threshold>>
    output_dir: Path = Path("results")

    @classmethod
    def from_dict(cls, raw: dict) -> "EvalConfig":
        """Build from a parsed config file; unknown keys are ignored on purpose."""
        return cls(
            dataset=Path(raw["dataset"]),
            embeddings=Path(raw["embeddings"]) if raw.get("embeddings") else None,
            models=list(raw.get("models", [])),
            batch_size=int(raw.get("batch_size", DEFAULT_BATCH_SIZE)),
            threshold=float(raw.get("threshold", <<threshold>>)),
            output_dir=Path(raw.get("output_dir", "results")),
        )


def load_config(path: str | os.PathLike) -> EvalConfig:
    """Read a JSON config file (YAML configs are handled by the LLM harness)."""
    with open(path, encoding="utf-8") as fh:
        return EvalConfig.from_dict(json.load(fh))
'''

PY_CONFIG_S3 = '''

# TODO(maya): move these to the secrets manager before the SOC2 audit
AWS_ACCESS_KEY_ID = "<<aws_id>>"
AWS_SECRET_ACCESS_KEY = "<<aws_secret>>"
AWS_REGION = "eu-west-1"


def s3_client():
    """Boto3 client for uploading results; imported lazily so unit tests need no AWS."""
    import boto3

    return boto3.client(
        "s3",
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", AWS_ACCESS_KEY_ID),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", AWS_SECRET_ACCESS_KEY),
        region_name=AWS_REGION,
    )
'''

PY_DATASETS = '''\
"""Loading evaluation datasets: labelled CSV rows plus precomputed NumPy embeddings."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

LABELS = ("negative", "neutral", "positive")


@dataclass(frozen=True)
class EvalExample:
    """One labelled document from the evaluation set."""

    doc_id: str
    text: str
    label: int
    source: str


def load_csv_dataset(path: Path) -> list[EvalExample]:
    """Parse eval_set.csv; an unknown label is an error, never a guess."""
    examples = []
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["label"] not in LABELS:
                raise ValueError(f"unknown label {row['label']!r} in {path}")
            examples.append(EvalExample(row["doc_id"], row["text"], LABELS.index(row["label"]), row["source"]))
    return examples


def load_embeddings(path: Path) -> np.ndarray:
    """Sentence embeddings, one row per example (float32, never pickled)."""
    arr = np.load(path, allow_pickle=False)
    if arr.ndim != 2:
        raise ValueError(f"expected a 2-D array, got shape {arr.shape}")
    return arr.astype(np.float32, copy=False)


def train_test_split(n: int, test_fraction: float = 0.2, seed: int = <<seed>>) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic index split, so that reruns compare like with like."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    cut = int(round(n * (1 - test_fraction)))
    return order[:cut], order[cut:]
'''

PY_METRICS_V1 = '''\
"""Classification metrics used in the weekly model review (first, pure-Python cut)."""

from __future__ import annotations


def accuracy(y_true, y_pred):
    """Fraction of exact matches."""
    if len(y_true) != len(y_pred):
        raise ValueError("length mismatch")
    hits = 0
    for a, b in zip(y_true, y_pred):
        if a == b:
            hits += 1
    return hits / max(1, len(y_true))


def confusion_matrix(y_true, y_pred, n_classes):
    """Rows are true labels, columns are predictions."""
    matrix = [[0] * n_classes for _ in range(n_classes)]
    for a, b in zip(y_true, y_pred):
        matrix[a][b] += 1
    return matrix


def precision_recall_f1(y_true, y_pred, n_classes):
    """Per-class (precision, recall, f1) tuples."""
    m = confusion_matrix(y_true, y_pred, n_classes)
    out = []
    for k in range(n_classes):
        tp = m[k][k]
        fp = sum(m[i][k] for i in range(n_classes)) - tp
        fn = sum(m[k]) - tp
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        out.append((p, r, 2 * p * r / (p + r) if p + r else 0.0))
    return out
'''

PY_METRICS_V2 = '''\
"""Classification metrics used in the weekly model review.

Vectorised with NumPy; the pure-Python first cut is kept in metrics_old.py
until the Q3 review confirms the numbers match.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class MetricReport:
    """Everything the review dashboard shows for one model on one dataset."""

    model: str
    accuracy: float
    macro_f1: float
    ece: float
    per_class: dict

    def as_row(self) -> dict:
        return {"model": self.model, "accuracy": round(self.accuracy, 4),
                "macro_f1": round(self.macro_f1, 4), "ece": round(self.ece, 4)}


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of exact matches."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"shape mismatch {y_true.shape} vs {y_pred.shape}")
    return float((y_true == y_pred).mean()) if y_true.size else 0.0


def confusion_matrix(y_true, y_pred, n_classes: int) -> np.ndarray:
    """Rows are true labels, columns are predictions."""
    m = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(m, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return m


def precision_recall_f1(y_true, y_pred, n_classes: int = <<n_classes>>) -> np.ndarray:
    """Array of shape (n_classes, 3): precision, recall, f1 per class."""
    m = confusion_matrix(y_true, y_pred, n_classes).astype(np.float64)
    tp = np.diag(m)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.nan_to_num(tp / m.sum(axis=0))
        recall = np.nan_to_num(tp / m.sum(axis=1))
        f1 = np.nan_to_num(2 * precision * recall / (precision + recall))
    return np.stack([precision, recall, f1], axis=1)


def macro_f1(y_true, y_pred, n_classes: int = <<n_classes>>) -> float:
    return float(precision_recall_f1(y_true, y_pred, n_classes)[:, 2].mean())


def expected_calibration_error(probs: np.ndarray, y_true: np.ndarray, n_bins: int = <<bins>>) -> float:
    """ECE with equal-width confidence bins (Guo et al., 2017)."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y_true
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        in_bin = (confidence > lo) & (confidence <= hi)
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(ece)
'''

PY_MODELS = '''\
"""Model loading: ONNX sessions for inference, safetensors headers for bookkeeping."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np


def read_safetensors_header(path: Path) -> dict:
    """Tensor names, dtypes and shapes without loading any weights."""
    with open(path, "rb") as fh:
        (length,) = struct.unpack("<Q", fh.read(8))
        if length > 100_000_000:
            raise ValueError(f"implausible safetensors header length {length}")
        return json.loads(fh.read(length))


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


class OnnxModel:
    """Thin wrapper over onnxruntime so the runner does not care about providers."""

    def __init__(self, path: Path, providers: tuple[str, ...] = ("CPUExecutionProvider",)):
        import onnxruntime as ort  # heavy import, only when a model is really run

        self.path = Path(path)
        self.session = ort.InferenceSession(str(self.path), providers=list(providers))
        self.input_name = self.session.get_inputs()[0].name

    def predict_proba(self, batch: np.ndarray) -> np.ndarray:
        (probs,) = self.session.run(None, {self.input_name: batch.astype(np.float32)})
        return probs


class ModelRegistry:
    """Name -> model file, as listed in models/README.md."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._models: dict[str, Path] = {}

    def register(self, name: str, relative: str) -> None:
        path = self.root / relative
        if not path.exists():
            raise FileNotFoundError(path)
        self._models[name] = path

    def load(self, name: str) -> OnnxModel:
        return OnnxModel(self._models[name])

    def names(self) -> list[str]:
        return sorted(self._models)
'''

PY_REPORTING = '''\
"""Turning metric reports into the markdown table posted to #model-review."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from .config import RESULTS_BUCKET, s3_client
from .metrics import MetricReport


def markdown_table(reports: list[MetricReport]) -> str:
    rows = ["| model | accuracy | macro F1 | ECE |", "|---|---|---|---|"]
    for r in sorted(reports, key=lambda r: -r.macro_f1):
        rows.append(f"| {r.model} | {r.accuracy:.3f} | {r.macro_f1:.3f} | {r.ece:.3f} |")
    return "\\n".join(rows) + "\\n"


def write_report(reports: list[MetricReport], out_dir: Path) -> Path:
    """Write results.json and results.md side by side; returns the markdown path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    (out_dir / f"results_{stamp}.json").write_text(json.dumps([r.as_row() for r in reports], indent=2))
    md = out_dir / f"results_{stamp}.md"
    md.write_text(markdown_table(reports))
    return md


def upload(path: Path, prefix: str = "weekly") -> str:
    key = f"{prefix}/{path.name}"
    s3_client().upload_file(str(path), RESULTS_BUCKET, key)
    return f"s3://{RESULTS_BUCKET}/{key}"
'''

PY_RUNNER = '''\
"""The evaluation loop: dataset in, one MetricReport per model out."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .config import EvalConfig
from .datasets import LABELS, load_csv_dataset, load_embeddings, train_test_split
from .metrics import MetricReport, accuracy, expected_calibration_error, macro_f1, precision_recall_f1
from .models import ModelRegistry

log = logging.getLogger(__name__)


class EvalRunner:
    """Runs every configured model over the held-out split of the evaluation set."""

    def __init__(self, config: EvalConfig, registry: ModelRegistry):
        self.config = config
        self.registry = registry

    def _batches(self, x: np.ndarray):
        for start in range(0, len(x), self.config.batch_size):
            yield x[start:start + self.config.batch_size]

    def evaluate(self, name: str, x: np.ndarray, y: np.ndarray) -> MetricReport:
        model = self.registry.load(name)
        probs = np.concatenate([model.predict_proba(b) for b in self._batches(x)])
        pred = probs.argmax(axis=1)
        per_class = precision_recall_f1(y, pred, len(LABELS))
        report = MetricReport(
            model=name,
            accuracy=accuracy(y, pred),
            macro_f1=macro_f1(y, pred, len(LABELS)),
            ece=expected_calibration_error(probs, y),
            per_class={label: per_class[i].round(4).tolist() for i, label in enumerate(LABELS)},
        )
        log.info("%s: acc=%.3f f1=%.3f", name, report.accuracy, report.macro_f1)
        return report

    def run(self) -> list[MetricReport]:
        examples = load_csv_dataset(self.config.dataset)
        x = load_embeddings(self.config.embeddings or Path(self.config.dataset).with_suffix(".npy"))
        y = np.array([e.label for e in examples])
        _, test = train_test_split(len(examples))
        return [self.evaluate(name, x[test], y[test]) for name in self.config.models]
'''

PY_CLI = '''\
"""Command line: `python -m aeon_eval.cli config.json [--upload]`."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .config import load_config
from .models import ModelRegistry
from .reporting import upload, write_report
from .runner import EvalRunner


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="aeon-eval", description=__doc__)
    parser.add_argument("config", type=Path)
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    parser.add_argument("--upload", action="store_true", help="copy the report to the results bucket")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO)

    config = load_config(args.config)
    registry = ModelRegistry(args.models_dir)
    for name in config.models:
        registry.register(name, f"{name}.onnx")
    reports = EvalRunner(config, registry).run()
    md = write_report(reports, config.output_dir)
    print(md.read_text())
    if args.upload:
        print("uploaded to", upload(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
'''

PY_CONFTEST = '''\
"""Shared fixtures: tiny synthetic datasets so tests never touch the real eval set."""

import numpy as np
import pytest


@pytest.fixture
def labels():
    rng = np.random.default_rng(0)
    return rng.integers(0, 3, size=200)


@pytest.fixture
def noisy_predictions(labels):
    rng = np.random.default_rng(1)
    flip = rng.random(labels.size) < 0.2
    return np.where(flip, (labels + 1) % 3, labels)
'''

PY_TEST_METRICS = '''\
import numpy as np
import pytest

from aeon_eval.metrics import accuracy, confusion_matrix, expected_calibration_error, macro_f1


def test_accuracy_matches_flip_rate(labels, noisy_predictions):
    assert accuracy(labels, noisy_predictions) == pytest.approx(0.8, abs=0.06)


def test_confusion_matrix_sums_to_n(labels, noisy_predictions):
    assert confusion_matrix(labels, noisy_predictions, 3).sum() == labels.size


def test_perfect_predictions_have_f1_one(labels):
    assert macro_f1(labels, labels) == pytest.approx(1.0)


def test_ece_zero_for_confident_correct(labels):
    probs = np.eye(3)[labels]
    assert expected_calibration_error(probs, labels) == pytest.approx(0.0)
'''

PY_TEST_DATASETS = '''\
import numpy as np

from aeon_eval.datasets import load_embeddings, train_test_split


def test_split_is_deterministic():
    a = train_test_split(100)
    b = train_test_split(100)
    assert all((x == y).all() for x, y in zip(a, b))


def test_split_is_a_partition():
    train, test = train_test_split(57, test_fraction=0.3)
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(57))


def test_embeddings_roundtrip(tmp_path):
    arr = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.save(tmp_path / "e.npy", arr)
    assert (load_embeddings(tmp_path / "e.npy") == arr).all()
'''

PY_TEST_RUNNER = '''\
import numpy as np

from aeon_eval.config import EvalConfig
from aeon_eval.runner import EvalRunner


class _FakeModel:
    def predict_proba(self, batch):
        out = np.zeros((len(batch), 3), dtype=np.float32)
        out[:, 2] = 1.0
        return out


class _FakeRegistry:
    def load(self, name):
        return _FakeModel()


def test_evaluate_constant_model(tmp_path):
    runner = EvalRunner(EvalConfig(dataset=tmp_path / "x.csv", batch_size=7), _FakeRegistry())
    y = np.array([2, 2, 0, 1, 2])
    report = runner.evaluate("always-positive", np.zeros((5, 4)), y)
    assert report.accuracy == 0.6
'''

PY_HARNESS = '''\
"""LLM evaluation harness: render prompts, call a model, have a judge grade the answer."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, asdict
from pathlib import Path
from string import Template

from .judges import Judge, RubricJudge

PROMPTS = Path(__file__).parent / "prompts"


@dataclass
class Case:
    case_id: str
    task: str
    document: str
    reference: str


@dataclass
class Result:
    case_id: str
    model: str
    answer: str
    score: float
    latency_ms: int


def render(task: str, **fields) -> str:
    """Prompts are plain ${var} templates so non-engineers can edit them."""
    system = (PROMPTS / "system.txt").read_text()
    body = Template((PROMPTS / f"{task}.jinja").read_text()).safe_substitute(**fields)
    return system + "\\n\\n" + body


def load_cases(path: Path) -> list[Case]:
    with open(path, encoding="utf-8") as fh:
        return [Case(**json.loads(line)) for line in fh if line.strip()]


def run(cases: list[Case], model: str, complete, judge: Judge | None = None) -> list[Result]:
    """`complete(model, prompt) -> str` is injected so the harness never imports a vendor SDK."""
    judge = judge or RubricJudge()
    results = []
    for case in cases:
        started = time.monotonic()
        answer = complete(model, render(case.task, document=case.document))
        latency = int((time.monotonic() - started) * 1000)
        results.append(Result(case.case_id, model, answer, judge.score(case.reference, answer), latency))
    return results


def save(results: list[Result], path: Path) -> None:
    path.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\\n")
'''

PY_JUDGES = '''\
"""Judges grade an answer against a reference; the rubric judge needs no model at all."""

from __future__ import annotations

import re


class Judge:
    def score(self, reference: str, answer: str) -> float:
        raise NotImplementedError


def _tokens(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


class RubricJudge(Judge):
    """Token-overlap F1: crude, but stable across runs and free."""

    def score(self, reference: str, answer: str) -> float:
        ref, ans = _tokens(reference), _tokens(answer)
        if not ref or not ans:
            return 0.0
        common = len(ref & ans)
        if common == 0:
            return 0.0
        precision, recall = common / len(ans), common / len(ref)
        return round(2 * precision * recall / (precision + recall), 4)


class ExactMatchJudge(Judge):
    def score(self, reference: str, answer: str) -> float:
        return float(reference.strip().lower() == answer.strip().lower())
'''

PYPROJECT = """\
[project]
name = "aeon-eval"
version = "<<version>>"
description = "Offline evaluation of AeonNova document models"
requires-python = ">=3.10"
authors = [{ name = "Maya Lindqvist", email = "maya.lindqvist@aeonnova.example" }]
dependencies = [
  "numpy>=1.26,<3",
  "onnxruntime>=1.17",
  "boto3>=1.34",
]

[project.optional-dependencies]
dev = ["pytest>=8", "ruff>=0.4", "jupyterlab>=4.1"]

[project.scripts]
aeon-eval = "aeon_eval.cli:main"

[build-system]
requires = ["hatchling>=1.21"]
build-backend = "hatchling.build"

[tool.hatch.build.targets.wheel]
packages = ["src/aeon_eval"]

[tool.pytest.ini_options]
testpaths = ["tests"]
pythonpath = ["src"]

[tool.ruff]
line-length = 110
"""

REQUIREMENTS = {
    1: ["numpy==1.26.2", "onnxruntime==1.16.3", "boto3==1.33.6", "pandas==2.1.4", "scikit-learn==1.3.2",
        "matplotlib==3.8.2", "jupyterlab==4.0.9", "pytest==7.4.3"],
    2: ["numpy==1.26.4", "onnxruntime==1.17.3", "boto3==1.34.84", "pandas==2.2.2", "scikit-learn==1.4.2",
        "matplotlib==3.8.4", "jupyterlab==4.1.6", "pytest==8.1.1", "safetensors==0.4.3", "tiktoken==0.6.0"],
}


def _requirements(version: int) -> str:
    return "# pinned by `pip-compile`; bump via the weekly dependency PR\n" + "\n".join(REQUIREMENTS[version]) + "\n"


def _eval_rows(rnd: random.Random, n: int) -> tuple[str, list[int]]:
    """eval_set.csv: id, short text, label, source. Returns (csv text, label ids)."""
    openers = ["The invoice", "This contract", "Customer feedback", "The renewal notice", "Support ticket",
               "The supplier update", "Our quarterly summary", "The payment reminder"]
    verdicts = {"negative": ["was rejected twice", "arrived late and incomplete", "is missing the signed annex",
                             "contains a billing error", "escalated to legal"],
                "neutral": ["was received on schedule", "lists the standard terms", "references PO 4471",
                            "awaits counter-signature", "was forwarded to finance"],
                "positive": ["was approved without changes", "closed ahead of target", "praises the onboarding",
                             "renewed for three years", "resolved the open dispute"]}
    labels = list(verdicts)
    lines, ids = ["doc_id,text,label,source"], []
    for i in range(n):
        label = rnd.choices(labels, weights=[3, 5, 4])[0]
        text = f"{rnd.choice(openers)} {rnd.choice(verdicts[label])}"
        lines.append(f"D{100000 + i},\"{text}\",{label},{rnd.choice(['email', 'portal', 'scan', 'api'])}")
        ids.append(labels.index(label))
    return "\n".join(lines) + "\n", ids


def _notebook(cells: list[tuple], kernel: str = "python3") -> str:
    """nbformat 4.5 JSON, formatted the way Jupyter writes it (indent 1, sorted keys)."""
    def lines(src: str) -> list[str]:
        parts = src.split("\n")
        return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])

    out, count = [], 0
    for i, cell in enumerate(cells):
        kind, src = cell[0], cell[1]
        cid = hashlib.sha1(f"{i}:{src}".encode()).hexdigest()[:8]
        if kind == "md":
            out.append({"cell_type": "markdown", "id": cid, "metadata": {}, "source": lines(src)})
            continue
        count += 1
        outputs = []
        for o in (cell[2] if len(cell) > 2 else []):
            if o[0] == "stream":
                outputs.append({"name": "stdout", "output_type": "stream", "text": lines(o[1])})
            elif o[0] == "result":
                outputs.append({"data": {"text/plain": lines(o[1])}, "execution_count": count,
                                "metadata": {}, "output_type": "execute_result"})
            elif o[0] == "png":
                outputs.append({"data": {"image/png": base64.b64encode(o[1]).decode(), "text/plain": ["<Figure>"]},
                                "metadata": {}, "output_type": "display_data"})
        out.append({"cell_type": "code", "execution_count": count, "id": cid, "metadata": {},
                    "outputs": outputs, "source": lines(src)})
    nb = {"cells": out, "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                                                     "name": kernel},
                                      "language_info": {"name": "python", "version": "3.11.7"}},
          "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def _nb_exploration(rnd: random.Random, n_rows: int, label_counts: list[int]) -> str:
    total = sum(label_counts)
    shares = [c / total for c in label_counts]
    return _notebook([
        ("md", "# Evaluation set: first look\n\nWhat is in `data/eval_set.csv` and how balanced is it?"),
        ("code", "import pandas as pd\nimport numpy as np\n\ndf = pd.read_csv('../data/eval_set.csv')\ndf.shape",
         [("result", f"({n_rows}, 4)")]),
        ("code", "df['label'].value_counts()",
         [("result", "label\n" + "\n".join(f"{lab:<9} {c}" for lab, c in
                                           sorted(zip(["negative", "neutral", "positive"], label_counts, strict=True),
                                                  key=lambda t: -t[1])) + "\nName: count, dtype: int64")]),
        ("code", "ax = df['label'].value_counts(normalize=True).sort_index().plot.bar()",
         [("png", png_bar_chart(shares))]),
        ("code", "emb = np.load('../data/eval_embeddings.npy')\nprint(emb.shape, emb.dtype, float(emb.std()))",
         [("stream", f"({n_rows}, 128) float32 {0.5 + rnd.random() * 0.1:.4f}\n")]),
        ("md", "Neutral dominates; use macro F1, not accuracy, in the review."),
    ])


def _nb_model_comparison(rnd: random.Random, version: int) -> str:
    models = ["sentiment_classifier", "text_encoder+ranker_head"] + (["gpt-4o-mini zero-shot"] if version > 1 else [])
    rows = [(m, 0.78 + rnd.random() * 0.12, 0.70 + rnd.random() * 0.15) for m in models]
    table = "\n".join(f"{i} {m:<28} {a:.4f}  {f:.4f}" for i, (m, a, f) in enumerate(rows))
    cells = [
        ("md", "# Model comparison" + (" (v2: adds zero-shot LLM baseline)" if version > 1 else "")),
        ("code", "import sys; sys.path.insert(0, '../src')\nfrom aeon_eval.metrics import accuracy, macro_f1\n"
                 "from aeon_eval.models import read_safetensors_header"),
        ("code", "hdr = read_safetensors_header('../models/text_encoder.safetensors')\n"
                 "len([k for k in hdr if k != '__metadata__'])", [("result", "16")]),
        ("code", "results = pd.DataFrame(rows, columns=['model', 'accuracy', 'macro_f1'])\nresults",
         [("result", "  model                        accuracy  macro_f1\n" + table)]),
        ("code", "results.set_index('model')['macro_f1'].plot.barh()", [("png", png_bar_chart([f for _, _, f in rows]))]),
    ]
    return _notebook(cells)


def _nb_error_analysis(rnd: random.Random) -> str:
    confusions = [[rnd.randint(60, 90), rnd.randint(5, 15), rnd.randint(0, 6)],
                  [rnd.randint(8, 20), rnd.randint(120, 160), rnd.randint(8, 20)],
                  [rnd.randint(0, 5), rnd.randint(6, 14), rnd.randint(90, 120)]]
    return _notebook([
        ("md", "# Error analysis\n\nWhere does the ONNX classifier confuse neutral and negative?"),
        ("code", "from aeon_eval.metrics import confusion_matrix\ncm = confusion_matrix(y, pred, 3)\ncm",
         [("result", "array(" + json.dumps(confusions).replace("], [", "],\n       [") + ")")]),
        ("code", "worst = df[(df.label == 'negative') & (df.pred == 'neutral')]\nworst.text.head(3).tolist()",
         [("result", "['The invoice awaits counter-signature',\n 'Support ticket was forwarded to finance',\n"
                     " 'The renewal notice lists the standard terms']")]),
        ("md", "Most errors are polite-but-negative wording. Next: add the escalation keywords as features."),
    ])


def _nb_scratch() -> str:
    return _notebook([("code", "import onnx\nm = onnx.load('../models/sentiment_classifier.onnx')\nm.graph.node",
                       [("stream", "debugging opset mismatch, see #ml-platform\n")])])


def _nb_untitled() -> str:
    return _notebook([("code", "import numpy as np\nnp.load('../data/eval_embeddings.npy').mean()", [("result", "0.0007")]),
                      ("code", "")])


PROMPTS = {
    "system.txt": "You are AeonNova's document assistant. Answer only from the document provided.\n"
                  "If the document does not contain the answer, say \"not stated\". Never invent amounts or dates.\n",
    "summarize.jinja": "Summarise the following document in at most three sentences for a busy account manager.\n"
                       "Mention parties, amounts and deadlines when present.\n\n<document>\n${document}\n</document>\n",
    "classify.jinja": "Classify the sentiment of the document as one of: negative, neutral, positive.\n"
                      "Reply with the label only.\n\n<document>\n${document}\n</document>\n",
    "judge.jinja": "You grade answers. Reference answer:\n${reference}\n\nCandidate answer:\n${answer}\n\n"
                   "Score 0-1 for factual agreement with the reference. Reply with JSON {\"score\": <float>}.\n",
}


def _harness_config(rnd: random.Random, name: str, model: str) -> str:
    return _yaml_dump({"run": {"name": name, "model": model, "temperature": 0.0, "max_tokens": rnd.choice([256, 512]),
                               "tasks": ["summarize", "classify"], "cases": "datasets/contracts_v2.jsonl",
                               "judge": rnd.choice(["rubric", "exact"]), "concurrency": rnd.choice([4, 8])}})


def _harness_cases(rnd: random.Random, n: int, tag: str) -> str:
    parties = ["Northwind Ltd", "Globex GmbH", "Initech SA", "Umbrella BV", "Hooli Inc", "Vandelay Imports"]
    out = []
    for i in range(n):
        a, b = rnd.sample(parties, 2)
        amount = rnd.randint(5, 250) * 1000
        doc = f"{a} agrees to pay {b} EUR {amount:,} within {rnd.choice([30, 45, 60])} days of delivery."
        out.append(json.dumps({"case_id": f"{tag}-{i:03d}", "task": rnd.choice(["summarize", "classify"]),
                               "document": doc, "reference": f"{a} pays {b} EUR {amount:,}."}))
    return "\n".join(out) + "\n"


def _harness_result(rnd: random.Random, model: str, n: int) -> str:
    rows = [{"case_id": f"c2-{i:03d}", "model": model, "score": round(rnd.uniform(0.35, 1.0), 4),
             "latency_ms": rnd.randint(180, 2400)} for i in range(n)]
    return json.dumps({"model": model, "n": n, "mean_score": round(sum(r["score"] for r in rows) / n, 4),
                       "results": rows}, indent=2) + "\n"


# ======================================================================================
# content: infrastructure/
# ======================================================================================
TF_PROVIDERS = """\
terraform {
  required_version = ">= 1.5.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.31"
    }
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = ">= 2.24.0"
    }
    random = {
      source  = "hashicorp/random"
      version = "3.6.0"
    }
  }

  backend "s3" {
    bucket         = "aeonnova-terraform-state"
    key            = "platform/terraform.tfstate"
    region         = "eu-west-1"
    dynamodb_table = "aeonnova-terraform-locks"
    encrypt        = true
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project     = "aeon-platform"
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }
}
"""

TF_VARIABLES = """\
variable "region" {
  description = "AWS region for all platform resources"
  type        = string
  default     = "eu-west-1"
}

variable "environment" {
  description = "Deployment environment (dev, staging, prod)"
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be dev, staging or prod"
  }
}

variable "vpc_cidr" {
  type    = string
  default = "10.<<octet>>.0.0/16"
}

variable "eks_version" {
  type    = string
  default = "1.29"
}

variable "db_instance_class" {
  type    = string
  default = "db.t4g.medium"
}

variable "node_instance_types" {
  type    = list(string)
  default = ["m6i.large", "m6a.large"]
}
"""

TF_MAIN_V1 = """\
locals {
  name = "aeon-${var.environment}"
  azs  = ["${var.region}a", "${var.region}b", "${var.region}c"]
}

module "vpc" {
  source = "./modules/vpc"

  name = local.name
  cidr = var.vpc_cidr
  azs  = local.azs
}

module "eks" {
  source  = "terraform-aws-modules/eks/aws"
  version = "19.21.0"

  cluster_name    = local.name
  cluster_version = var.eks_version
  vpc_id          = module.vpc.vpc_id
  subnet_ids      = module.vpc.private_subnet_ids

  eks_managed_node_groups = {
    general = {
      instance_types = var.node_instance_types
      min_size       = 2
      max_size       = <<max_nodes>>
      desired_size   = 3
    }
  }
}

resource "aws_db_instance" "core" {
  identifier              = "${local.name}-core"
  engine                  = "postgres"
  engine_version          = "15.5"
  instance_class          = var.db_instance_class
  allocated_storage       = <<db_storage>>
  db_subnet_group_name    = module.vpc.database_subnet_group
  username                = "aeon_admin"
  manage_master_user_password = true
  backup_retention_period = 14
  deletion_protection     = true
  skip_final_snapshot     = false
}
"""

TF_MAIN_V2_EXTRA = """
# Public artifacts bucket for the docs site and model cards.
resource "aws_s3_bucket" "artifacts" {
  bucket = "${local.name}-public-artifacts"
}

resource "aws_s3_bucket_ownership_controls" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id
  rule {
    object_ownership = "BucketOwnerPreferred"
  }
}

resource "aws_s3_bucket_acl" "artifacts" {
  depends_on = [aws_s3_bucket_ownership_controls.artifacts]
  bucket     = aws_s3_bucket.artifacts.id
  acl        = "public-read"
}

# Bastion for emergency database access. FIXME: restrict to the office VPN range.
resource "aws_security_group" "bastion" {
  name        = "${local.name}-bastion"
  description = "SSH to the bastion host"
  vpc_id      = module.vpc.vpc_id

  ingress {
    description = "SSH from anywhere"
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
"""

TF_OUTPUTS = """\
output "vpc_id" {
  value = module.vpc.vpc_id
}

output "cluster_endpoint" {
  value = module.eks.cluster_endpoint
}

output "db_endpoint" {
  value     = aws_db_instance.core.endpoint
  sensitive = true
}
"""

TF_OUTPUTS_V2_EXTRA = """
output "artifacts_bucket" {
  value = aws_s3_bucket.artifacts.bucket
}
"""

TF_VPC_MAIN = """\
resource "aws_vpc" "this" {
  cidr_block           = var.cidr
  enable_dns_hostnames = true
  tags                 = { Name = var.name }
}

resource "aws_subnet" "private" {
  count             = length(var.azs)
  vpc_id            = aws_vpc.this.id
  availability_zone = var.azs[count.index]
  cidr_block        = cidrsubnet(var.cidr, 4, count.index)
  tags              = { Name = "${var.name}-private-${count.index}", "kubernetes.io/role/internal-elb" = "1" }
}

resource "aws_subnet" "database" {
  count             = length(var.azs)
  vpc_id            = aws_vpc.this.id
  availability_zone = var.azs[count.index]
  cidr_block        = cidrsubnet(var.cidr, 8, 200 + count.index)
}

resource "aws_db_subnet_group" "this" {
  name       = "${var.name}-db"
  subnet_ids = aws_subnet.database[*].id
}
"""

TF_VPC_VARIABLES = """\
variable "name" {
  type = string
}

variable "cidr" {
  type = string
}

variable "azs" {
  type = list(string)
}
"""

TF_VPC_OUTPUTS = """\
output "vpc_id" {
  value = aws_vpc.this.id
}

output "private_subnet_ids" {
  value = aws_subnet.private[*].id
}

output "database_subnet_group" {
  value = aws_db_subnet_group.this.name
}
"""

K8S_NAMESPACE = """\
apiVersion: v1
kind: Namespace
metadata:
  name: aeon
  labels:
    app.kubernetes.io/part-of: aeon-platform
    pod-security.kubernetes.io/enforce: baseline
"""

K8S_API = """\
# aeon-api: Deployment + Service + HorizontalPodAutoscaler
apiVersion: apps/v1
kind: Deployment
metadata:
  name: aeon-api
  namespace: aeon
  labels:
    app: aeon-api
spec:
  replicas: <<replicas>>
  selector:
    matchLabels:
      app: aeon-api
  template:
    metadata:
      labels:
        app: aeon-api
    spec:
      serviceAccountName: aeon-api
      containers:
        - name: api
          image: registry.aeonnova.example/aeon/api:<<api_version>>
          ports:
            - containerPort: 8080
          envFrom:
            - configMapRef:
                name: aeon-config
            - secretRef:
                name: aeon-secrets
          resources:
            requests:
              cpu: 250m
              memory: 512Mi
            limits:
              memory: 1Gi
          readinessProbe:
            httpGet:
              path: /healthz
              port: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: aeon-api
  namespace: aeon
spec:
  selector:
    app: aeon-api
  ports:
    - port: 80
      targetPort: 8080
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: aeon-api
  namespace: aeon
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: aeon-api
  minReplicas: <<replicas>>
  maxReplicas: <<max_replicas>>
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: 70
"""

K8S_WORKER = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: aeon-worker
  namespace: aeon
spec:
  replicas: <<workers>>
  selector:
    matchLabels:
      app: aeon-worker
  template:
    metadata:
      labels:
        app: aeon-worker
    spec:
      containers:
        - name: worker
          image: registry.aeonnova.example/aeon/worker:latest
          imagePullPolicy: Always
          args: ["celery", "-A", "aeon.worker", "worker", "--concurrency=<<concurrency>>"]
          envFrom:
            - configMapRef:
                name: aeon-config
            - secretRef:
                name: aeon-secrets
"""

K8S_CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: aeon-config
  namespace: aeon
data:
  LOG_LEVEL: info
  REDIS_URL: redis://aeon-redis.aeon.svc.cluster.local:6379/0
  DOCS_BUCKET: aeon-docs-prod
  OTEL_EXPORTER_OTLP_ENDPOINT: http://otel-collector.observability:4317
  FEATURE_FLAGS_URL: http://flagd.aeon.svc.cluster.local:8013
"""

K8S_SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: aeon-secrets
  namespace: aeon
type: Opaque
data:
  DB_USER: <<db_user_b64>>
  DB_PASSWORD: <<db_password_b64>>
"""

K8S_NODE_EXPORTER = """\
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: node-exporter
  namespace: observability
spec:
  selector:
    matchLabels:
      app: node-exporter
  template:
    metadata:
      labels:
        app: node-exporter
    spec:
      hostNetwork: true
      hostPID: true
      containers:
        - name: node-exporter
          image: quay.io/prometheus/node-exporter:v1.7.0
          args: ["--path.rootfs=/host"]
          securityContext:
            privileged: true
          volumeMounts:
            - name: root
              mountPath: /host
              readOnly: true
      volumes:
        - name: root
          hostPath:
            path: /
"""

K8S_CRONJOB = """\
apiVersion: batch/v1
kind: CronJob
metadata:
  name: reindex-documents
  namespace: aeon
spec:
  schedule: "<<minute>> 3 * * *"
  concurrencyPolicy: Forbid
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
            - name: reindex
              image: registry.aeonnova.example/aeon/api:<<api_version>>
              args: ["python", "-m", "aeon.jobs.reindex", "--since=24h"]
"""

HELM_CHART = """\
apiVersion: v2
name: aeon-api
description: AeonNova document API (FastAPI) with its Celery workers
type: application
version: 0.7.<<patch>>
appVersion: "<<api_version>>"
maintainers:
  - name: Tomas Okafor
    email: tomas.okafor@aeonnova.example
dependencies:
  - name: postgresql
    version: "13.2.24"
    repository: "https://charts.bitnami.com/bitnami"
    condition: postgresql.enabled
  - name: redis
    version: "18.6.1"
    repository: "oci://registry-1.docker.io/bitnamicharts"
    condition: redis.enabled
"""

HELM_VALUES = """\
replicaCount: <<replicas>>

image:
  repository: registry.aeonnova.example/aeon/api
  tag: ""
  pullPolicy: IfNotPresent

service:
  type: ClusterIP
  port: 80

ingress:
  enabled: true
  className: nginx
  host: api.aeonnova.example
  tls: true

resources:
  requests:
    cpu: 250m
    memory: 512Mi
  limits:
    memory: 1Gi

autoscaling:
  enabled: true
  minReplicas: <<replicas>>
  maxReplicas: <<max_replicas>>
  targetCPUUtilizationPercentage: 70

postgresql:
  enabled: false

redis:
  enabled: true
  architecture: standalone
"""

HELM_HELPERS = """\
{{/* Chart name, truncated to the DNS label limit. */}}
{{- define "aeon-api.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "aeon-api.fullname" -}}
{{- printf "%s-%s" .Release.Name (include "aeon-api.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "aeon-api.labels" -}}
app.kubernetes.io/name: {{ include "aeon-api.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end }}
"""

HELM_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "aeon-api.fullname" . }}
  labels:
    {{- include "aeon-api.labels" . | nindent 4 }}
spec:
  {{- if not .Values.autoscaling.enabled }}
  replicas: {{ .Values.replicaCount }}
  {{- end }}
  selector:
    matchLabels:
      app.kubernetes.io/name: {{ include "aeon-api.name" . }}
  template:
    metadata:
      labels:
        {{- include "aeon-api.labels" . | nindent 8 }}
    spec:
      containers:
        - name: api
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
          imagePullPolicy: {{ .Values.image.pullPolicy }}
          ports:
            - containerPort: 8080
          resources:
            {{- toYaml .Values.resources | nindent 12 }}
"""

HELM_SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: {{ include "aeon-api.fullname" . }}
  labels:
    {{- include "aeon-api.labels" . | nindent 4 }}
spec:
  type: {{ .Values.service.type }}
  ports:
    - port: {{ .Values.service.port }}
      targetPort: 8080
  selector:
    app.kubernetes.io/name: {{ include "aeon-api.name" . }}
"""

HELM_INGRESS = """\
{{- if .Values.ingress.enabled }}
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {{ include "aeon-api.fullname" . }}
spec:
  ingressClassName: {{ .Values.ingress.className }}
  {{- if .Values.ingress.tls }}
  tls:
    - hosts: [{{ .Values.ingress.host | quote }}]
      secretName: {{ include "aeon-api.fullname" . }}-tls
  {{- end }}
  rules:
    - host: {{ .Values.ingress.host | quote }}
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: {{ include "aeon-api.fullname" . }}
                port:
                  number: {{ .Values.service.port }}
{{- end }}
"""

HELM_NOTES = """\
aeon-api {{ .Chart.AppVersion }} is deployed as {{ include "aeon-api.fullname" . }}.
{{- if .Values.ingress.enabled }}
  https://{{ .Values.ingress.host }}/docs
{{- end }}
"""

HELMIGNORE = """\
.DS_Store
.git/
*.swp
*.bak
*.tmp
.idea/
.vscode/
"""

DOCKERFILE_API = """\
# syntax=docker/dockerfile:1.6
# Build stage: resolve and build wheels once, with the compiler toolchain.
FROM python:3.11-slim AS builder
WORKDIR /build
RUN apt-get update && apt-get install -y --no-install-recommends build-essential \\
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN pip wheel --no-cache-dir --wheel-dir /wheels -r requirements.txt

# Runtime stage: wheels only, no compiler.
FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY --from=builder /wheels /wheels
RUN pip install --no-cache-dir /wheels/* && rm -rf /wheels
COPY src/ ./src/
EXPOSE 8080
CMD ["uvicorn", "aeon.api:app", "--host", "0.0.0.0", "--port", "8080"]
"""

DOCKERFILE_API_PROD = """\
# syntax=docker/dockerfile:1.6
FROM python:3.11-slim AS builder
WORKDIR /build
COPY requirements.txt .
RUN pip wheel --no-cache-dir --wheel-dir /wheels -r requirements.txt
COPY src/ ./src/
RUN python -m compileall -q src

FROM gcr.io/distroless/python3-debian12:nonroot AS runtime
WORKDIR /app
COPY --from=builder /wheels /wheels
COPY --from=builder /build/src ./src
ENV PYTHONPATH=/app/src:/wheels
USER nonroot
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8080/healthz')"]
ENTRYPOINT ["python", "-m", "uvicorn", "aeon.api:app", "--host", "0.0.0.0", "--port", "8080", "--workers", "<<workers>>"]
"""

DOCKERFILE_WORKER = """\
FROM python:3.11-slim AS base
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

FROM base AS worker
COPY src/ ./src/
ENV PYTHONPATH=/app/src
CMD ["celery", "-A", "aeon.worker", "worker", "--loglevel=info"]
"""

DOCKERIGNORE = """\
.git
**/__pycache__
**/*.pyc
**/.pytest_cache
**/node_modules
.env
*.md
"""

COMPOSE = """\
name: aeon-local

services:
  api:
    build:
      context: ..
      dockerfile: infrastructure/docker/api/Dockerfile
    ports: ["8080:8080"]
    env_file: ../yaml_configs/.env
    depends_on: [postgres, redis]

  worker:
    build:
      context: ..
      dockerfile: infrastructure/docker/worker/Dockerfile
    env_file: ../yaml_configs/.env
    depends_on: [redis]

  postgres:
    image: postgres:15.5
    environment:
      POSTGRES_DB: aeon
      POSTGRES_HOST_AUTH_METHOD: trust
    volumes: ["pgdata:/var/lib/postgresql/data"]

  redis:
    image: redis:7.2-alpine

  minio:
    image: minio/minio:RELEASE.2024-01-16T16-07-38Z
    command: server /data --console-address :9001
    ports: ["9000:9000", "9001:9001"]

volumes:
  pgdata: {}
"""

GH_CI = """\
name: ci

on:
  pull_request:
  push:
    branches: [main]

jobs:
  test:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        python: ["3.10", "3.11"]
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: ${{ matrix.python }}
          cache: pip
      - run: pip install -r ai_model_testing/requirements.txt
      - run: python -m pytest ai_model_testing/tests -q

  terraform:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: hashicorp/setup-terraform@v3
        with:
          terraform_version: 1.7.4
      - run: terraform -chdir=infrastructure/terraform fmt -check -recursive
      - run: terraform -chdir=infrastructure/terraform init -backend=false && terraform -chdir=infrastructure/terraform validate
"""

GH_DEPLOY = """\
name: deploy

on:
  push:
    tags: ["v*"]

env:
  REGISTRY: registry.aeonnova.example
  # FIXME: use secrets.GH_TOKEN; hard-coded while the org secret was broken
  GH_TOKEN: <<gh_token>>

jobs:
  image:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: docker/setup-buildx-action@v3
      - run: docker build -f infrastructure/docker/api/Dockerfile.prod -t $REGISTRY/aeon/api:${GITHUB_REF_NAME#v} .
      - run: docker push $REGISTRY/aeon/api:${GITHUB_REF_NAME#v}

  helm:
    needs: image
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: azure/setup-helm@v4
      - run: helm dependency build infrastructure/helm/aeon-api
      - run: >-
          helm upgrade --install aeon-api infrastructure/helm/aeon-api
          --namespace aeon --set image.tag=${GITHUB_REF_NAME#v} --wait
      - run: infrastructure/scripts/notify-deploy aeon-api ${GITHUB_REF_NAME#v} prod
"""

GITLAB_CI = """\
stages: [validate, plan, apply]

variables:
  TF_ROOT: infrastructure/terraform
  TF_IN_AUTOMATION: "true"

default:
  image: hashicorp/terraform:1.7.4

validate:
  stage: validate
  script:
    - terraform -chdir=$TF_ROOT init -backend=false
    - terraform -chdir=$TF_ROOT validate
    - terraform -chdir=$TF_ROOT fmt -check -recursive

helm-lint:
  stage: validate
  image: alpine/helm:3.14.0
  script:
    - helm lint infrastructure/helm/aeon-api

plan:
  stage: plan
  script:
    - terraform -chdir=$TF_ROOT init
    - terraform -chdir=$TF_ROOT plan -var-file=envs/$CI_ENVIRONMENT_NAME.tfvars -out=plan.tfplan
  artifacts:
    paths: [infrastructure/terraform/plan.tfplan]
  environment:
    name: staging

apply:
  stage: apply
  when: manual
  only: [main]
  script:
    - terraform -chdir=$TF_ROOT apply plan.tfplan
  environment:
    name: prod
"""

NOTIFY_DEPLOY = """\
#!/usr/bin/env bash
# Post a deploy notification to #deploys.
# Usage: notify-deploy <service> <version> [environment]
set -euo pipefail

SERVICE="${1:?service name required}"
VERSION="${2:?version required}"
ENVIRONMENT="${3:-staging}"
SLACK_CHANNEL="${SLACK_CHANNEL:-C04DEPLOYS}"
# TODO: read from the CI secret store instead of this fallback
SLACK_BOT_TOKEN="${SLACK_BOT_TOKEN:-<<slack_token>>}"

payload=$(cat <<JSON
{"channel": "${SLACK_CHANNEL}", "text": ":rocket: ${SERVICE} ${VERSION} deployed to ${ENVIRONMENT} by ${GITLAB_USER_LOGIN:-$USER}"}
JSON
)

curl -sS -X POST "https://slack.com/api/chat.postMessage" \\
  -H "Authorization: Bearer ${SLACK_BOT_TOKEN}" \\
  -H "Content-Type: application/json; charset=utf-8" \\
  --data "${payload}" >/dev/null
echo "notified ${SLACK_CHANNEL}"
"""

BOOTSTRAP_CLUSTER = """\
#!/bin/sh
# One-off: install cluster add-ons after `terraform apply` created the EKS cluster.
set -eu
CLUSTER="${1:-aeon-prod}"
aws eks update-kubeconfig --name "$CLUSTER" --region eu-west-1
kubectl apply -f ../k8s/namespace.yaml
helm repo add ingress-nginx https://kubernetes.github.io/ingress-nginx
helm upgrade --install ingress-nginx ingress-nginx/ingress-nginx -n ingress-nginx --create-namespace
helm upgrade --install cert-manager jetstack/cert-manager -n cert-manager --create-namespace --set installCRDs=true
kubectl apply -f ../k8s/
"""


def _tf_lock(rnd: random.Random) -> str:
    """A .terraform.lock.hcl with provider hashes (random, like the real ones look)."""
    out = ["# This file is maintained automatically by \"terraform init\".", "# Manual edits may be lost in future updates.", ""]
    for name, version, constraint in (("aws", "5.31.0", "~> 5.31"), ("kubernetes", "2.25.2", ">= 2.24.0"),
                                      ("random", "3.6.0", "3.6.0")):
        hashes = ["h1:" + base64.b64encode(rnd.randbytes(32)).decode()] + [
            "zh:" + rnd.randbytes(32).hex() for _ in range(3)]
        out += [f'provider "registry.terraform.io/hashicorp/{name}" {{', f'  version     = "{version}"',
                f'  constraints = "{constraint}"', "  hashes = ["] + [f'    "{h}",' for h in hashes] + ["  ]", "}", ""]
    return "\n".join(out)


# ======================================================================================
# content: yaml_configs/ (per-environment configs with drift)
# ======================================================================================
ENVS = ("dev", "staging", "prod")


def _app_config(rnd: random.Random, env: str, version: int = 2) -> dict:
    workers = {"dev": 2, "staging": 4, "prod": 8}[env]
    cfg = {
        "app": {"name": "aeon-api", "environment": env, "log_level": "debug" if env == "dev" else "info"},
        "server": {"host": "0.0.0.0", "port": 8080, "workers": workers,
                   "timeout_seconds": {"dev": 30, "staging": 45, "prod": 60}[env]},
        "cors": {"allowed_origins": ["https://app.aeonnova.example"] + (
            ["http://localhost:3000"] if env != "prod" else [])},
        "storage": {"bucket": f"aeon-docs-{env}", "region": "eu-west-1", "presign_ttl_seconds": 900},
        "cache": {"backend": "redis", "url": f"redis://cache-{env}.internal.aeonnova.example:6379/0",
                  "ttl_seconds": rnd.choice([120, 300, 600])},
        "observability": {"tracing": env != "dev", "sample_rate": {"dev": 1.0, "staging": 0.5, "prod": 0.05}[env]},
    }
    if env == "dev":
        cfg["app"]["debug"] = True  # only dev has the key at all
        cfg["app"]["reload"] = True
    if env == "staging":
        del cfg["cache"]["ttl_seconds"]  # drift: staging silently uses the library default
    if env == "prod":
        cfg["rate_limit"] = {"requests_per_minute": rnd.choice([600, 1200]), "burst": 100}
        if version >= 2:
            cfg["server"]["workers"] = 12
            cfg["server"]["keepalive_seconds"] = 75
            cfg["rate_limit"]["burst"] = 250
    return cfg


def _database_config(rnd: random.Random, env: str, pg_url: str) -> dict:
    cfg = {"database": {"host": f"db-{env}.internal.aeonnova.example" if env != "dev" else "localhost",
                        "port": 5432, "name": "aeon_core", "user": "aeon_app",
                        "pool": {"min_size": 2, "max_size": {"dev": 5, "staging": 20, "prod": 50}[env]},
                        "ssl_mode": "disable" if env == "dev" else "verify-full"}}
    if env == "dev":
        cfg["database"]["password_env"] = "DATABASE_PASSWORD"
    if env == "staging":
        cfg["database"]["statement_timeout_ms"] = rnd.choice([15000, 30000])
    if env == "prod":
        cfg["database"]["url"] = pg_url  # leaked: full URL with password
        cfg["database"]["statement_timeout_ms"] = 30000
        cfg["database"]["replica_host"] = "db-prod-ro.internal.aeonnova.example"
    return cfg


def _features_config(rnd: random.Random, env: str) -> dict:
    flags = {"new_ocr_pipeline": env != "prod", "llm_summaries": env in ("dev", "staging") or rnd.random() < 0.5,
             "bulk_export": True, "invoice_autotagging": env == "dev", "sso_enforced": env == "prod"}
    if env != "dev":
        flags["legacy_pdf_renderer"] = env == "prod"
    rollout = {"llm_summaries_percent": {"dev": 100, "staging": 50, "prod": rnd.choice([5, 10, 25])}[env]}
    return {"features": flags, "rollout": rollout}


def _payments_config(stripe_value: str | None) -> dict:
    stripe = {"mode": "live", "webhook_path": "/webhooks/stripe", "currency": "eur"}
    stripe["secret_key"] = stripe_value if stripe_value else "${vault:secret/data/payments#stripe_secret_key}"
    return {"payments": {"provider": "stripe", "stripe": stripe, "invoice_due_days": 30}}


BROKEN_YAML = """\
# WIP: gateway config for the new edge proxy (does not load yet)
gateway:
  name: aeon-edge
  listeners: [http, https
  routes:
    - path: /api
      upstream: aeon-api:80
     timeout: 30s
  - path: /docs
      upstream: docs-site:80
tls:
  cert: /etc/tls/tls.crt
   key: /etc/tls/tls.key
"""


def _drift(configs: dict[str, dict[str, dict]]) -> list[dict]:
    """configs[file][env] -> parsed dict. Keys missing in some env or with differing values."""
    out = []
    for fname in sorted(configs):
        per_env = configs[fname]
        if len(per_env) < len(ENVS):
            out.append({"file": fname, "key": None, "missing_in": [e for e in ENVS if e not in per_env],
                        "values": {}})
            continue
        flat = {env: _flatten(per_env[env]) for env in ENVS}
        keys = sorted({k for env in ENVS for k in flat[env]})
        for key in keys:
            present = [e for e in ENVS if key in flat[e]]
            values = {e: flat[e][key] for e in present}
            distinct = {json.dumps(v, sort_keys=True) for v in values.values()}
            if len(present) < len(ENVS) or len(distinct) > 1:
                out.append({"file": fname, "key": key, "missing_in": [e for e in ENVS if e not in present],
                            "values": values})
    return out


# ======================================================================================
# content: company_docs/ (and a few repository-level files)
# ======================================================================================
CODEOWNERS = """\
# Review routing for the monorepo
*                         @aeonnova/platform
/ai_model_testing/        @aeonnova/ml
/infrastructure/          @aeonnova/platform @aeonnova/security
/yaml_configs/prod/       @aeonnova/platform @aeonnova/security
/company_docs/hr/         @aeonnova/people-ops
/company_docs/finance/    @aeonnova/finance
"""

ROOT_MAKEFILE = """\
.PHONY: test lint eval tf-validate

test:
\tcd ai_model_testing && python -m pytest -q

lint:
\truff check ai_model_testing
\tterraform -chdir=infrastructure/terraform fmt -check -recursive

eval:
\tcd ai_model_testing && python -m aeon_eval.cli configs/weekly.json

tf-validate:
\tterraform -chdir=infrastructure/terraform init -backend=false
\tterraform -chdir=infrastructure/terraform validate
"""

PRE_COMMIT = """\
repos:
  - repo: https://github.com/astral-sh/ruff-pre-commit
    rev: v0.4.4
    hooks:
      - id: ruff
      - id: ruff-format
  - repo: https://github.com/gitleaks/gitleaks
    rev: v8.18.2
    hooks:
      - id: gitleaks
  - repo: https://github.com/antonbabenko/pre-commit-terraform
    rev: v1.88.4
    hooks:
      - id: terraform_fmt
"""

POLICIES = {
    "information-security.md": """\
# Information security policy

1. Secrets live in Vault or the CI secret store, never in git, chat or tickets.
2. Production access is through SSO and short-lived credentials only.
3. Laptops: full-disk encryption, screen lock after 5 minutes, OS updates within 14 days.
4. Report suspected incidents to security@aeonnova.example immediately; there is no blame for reporting.
""",
    "data-retention.md": """\
# Data retention

| data | retention | owner |
|---|---|---|
| customer originals | 7 years | Legal |
| derived text and fields | 2 years after contract end | Platform |
| embeddings | rebuilt on model change; deleted with the document | ML |
| application logs | 30 days (90 for audit logs) | Platform |
| HR records | 6 years after employment ends | People Ops |
""",
    "acceptable-use.md": """\
# Acceptable use of company systems

Company systems are for company work; reasonable personal use is fine.
Do not paste customer documents into external AI tools that are not on the approved list.
Do not install unapproved browser extensions on machines that access production.
""",
    "travel-and-expenses.txt": """\
TRAVEL AND EXPENSES
- Book through the travel portal; economy for flights under 6 hours.
- Meals: up to EUR 60/day when travelling.
- Submit receipts within 30 days in the expenses tool.
""",
}

def _readme_root(version: int) -> str:
    text = """\
# AeonNovaProject

Monorepo for the AeonNova document-intelligence platform.

| folder | what |
|---|---|
| `ai_model_testing/` | offline evaluation of our models (`aeon_eval`), notebooks, model files |
| `infrastructure/` | Terraform, Kubernetes manifests, Helm chart, Dockerfiles, CI |
| `yaml_configs/` | per-environment service configuration |
| `company_docs/` | architecture, runbooks, onboarding, meeting notes |
"""
    if version > 1:
        text += """
## Getting started

See `company_docs/onboarding/dev-setup.md`. Questions go to #platform.
Secrets never go in this repository: use Vault (`vault kv get secret/aeon/...`).
"""
    return text


def _doc_overview(version: int, people: dict) -> str:
    text = f"""\
# Platform architecture overview

Owner: {people['arch']} · Status: {'current' if version > 1 else 'draft'}

## Components

- **aeon-api** (FastAPI): upload, search and export of customer documents.
- **aeon-worker** (Celery): OCR, classification and embedding jobs.
- **Postgres 15** (RDS): documents, tenants, audit log.
- **Redis**: job queue and response cache.
- **S3**: original files and derived artefacts, one bucket per environment.
"""
    if version > 1:
        text += """- **Vector index**: document embeddings for semantic search (pgvector, moving to a managed index).
- **LLM gateway**: summarisation and extraction, behind a per-tenant rate limit.

## Request path

Browser -> CloudFront -> ingress-nginx -> aeon-api -> (Postgres, Redis, S3).
Long work is queued to aeon-worker; results are pushed back over a websocket.

## Decisions

See `adr/` for the decision records; the data flow is in `data-flow.md`.
"""
    return text


DOC_DATA_FLOW = """\
# Data flow

1. A document arrives through the API, the email bridge or the SFTP drop.
2. The original is stored in `s3://aeon-docs-<env>/originals/<tenant>/<sha256>`.
3. aeon-worker runs OCR, language detection and the sentiment classifier
   (`ai_model_testing/models/sentiment_classifier.onnx` is the reference export).
4. Text chunks are embedded by the text encoder and written to the vector index.
5. Derived fields (parties, amounts, dates) land in Postgres; the audit log records who saw what.

Retention: originals 7 years (finance), derived data 2 years, embeddings rebuilt on model change.
"""

ADRS = [
    ("0001-record-architecture-decisions.md", "Record architecture decisions",
     "We will keep architecture decision records in this folder, one numbered file per decision, "
     "using the context / decision / consequences format."),
    ("0002-postgres-over-dynamodb.md", "Postgres over DynamoDB for document metadata",
     "Document metadata is relational (tenants, ACLs, audit). We choose Postgres on RDS; "
     "DynamoDB's access patterns would force denormalisation we do not want to maintain."),
    ("0003-onnx-for-model-serving.md", "ONNX as the model exchange format",
     "Models are exported to ONNX for serving so the workers need onnxruntime only, not the training stack. "
     "Weights for research stay in safetensors; pickled models are not accepted."),
    ("0004-helm-for-deployments.md", "Helm for Kubernetes deployments",
     "Plain manifests drifted between environments. The API moves to a Helm chart with per-environment values files."),
]


def _adr(title: str, body: str, number: int, person: str, date: str) -> str:
    return (f"# ADR {number:04d}: {title}\n\nDate: {date}\nStatus: accepted\nDeciders: {person}\n\n"
            f"## Context and decision\n\n{body}\n\n## Consequences\n\n"
            "Revisit when the assumptions above stop holding; supersede with a new ADR rather than editing this one.\n")


def _doc_incident_response(version: int) -> str:
    text = """\
# Incident response runbook

## Severity

| sev | meaning | response |
|---|---|---|
| 1 | customer data at risk or platform down | page on-call + incident lead, status page within 15 min |
| 2 | major feature degraded | on-call, status page within 1 h |
| 3 | minor / internal only | ticket, next business day |

## Steps

1. Acknowledge the page in PagerDuty.
2. Open `#inc-<date>-<topic>` and post what you know.
3. Assign roles: incident lead, comms, scribe.
4. Mitigate first, diagnose later. Roll back if the incident started with a deploy.
"""
    if version > 1:
        text += """5. For suspected credential leaks: rotate first (AWS keys, GitHub tokens, Slack tokens),
   then search git history (`git log -p -S <prefix>`), then notify security@aeonnova.example.
6. Postmortem within five working days, blameless, filed under `company_docs/meetings/`.
"""
    return text


DOC_DB_FAILOVER = """\
# Database failover

Use when the primary RDS instance is unhealthy for more than 5 minutes.

```bash
aws rds failover-db-cluster --db-cluster-identifier aeon-prod-core
kubectl -n aeon rollout restart deployment/aeon-api deployment/aeon-worker
```

Check: `SELECT pg_is_in_recovery();` must return `f` on the new writer.
Expect 30-90 s of failed writes; the API retries idempotent requests.
"""

DOC_ONCALL = """\
ON-CALL QUICK REFERENCE
=======================

PagerDuty service ....... aeon-platform
Escalation .............. primary -> secondary (15 min) -> engineering manager (30 min)
Dashboards .............. grafana.internal.aeonnova.example/d/aeon-overview
Logs .................... loki, label app=aeon-api
Status page ............. status.aeonnova.example (comms role only)

Handover every Monday 10:00 CET in #platform-oncall.
"""


def _doc_welcome(people: dict) -> str:
    return f"""\
# Welcome to AeonNova

Your first week:

- Day 1: laptop, accounts (Google, GitHub, AWS SSO, Slack), meet your buddy.
- Day 2: read `architecture/overview.md` and the ADRs.
- Day 3: set up your environment (`dev-setup.md`) and run the eval suite.
- Day 4-5: pick a `good-first-issue` and ship it.

People to know: {people['arch']} (architecture), {people['platform']} (platform & on-call),
{people['ml']} (models), {people['people_ops']} (people ops).
"""


DOC_DEV_SETUP = """\
# Developer setup

1. Install Python 3.11 (pyenv or the system package), Docker, Terraform 1.7, kubectl, helm.
2. Clone the monorepo and create a virtualenv:

   ```bash
   python3.11 -m venv .venv && . .venv/bin/activate
   pip install -e 'ai_model_testing[dev]'
   ```

3. Copy `yaml_configs/.env.example` to `yaml_configs/.env` and ask #platform for the dev values.
4. `docker compose -f infrastructure/docker-compose.yml up -d` starts Postgres, Redis and MinIO.
5. `pytest ai_model_testing/tests` should pass in under a minute.

Never commit `.env`; it is in `.gitignore` for a reason.
"""

DOC_CHECKLIST = """\
Onboarding checklist
[ ] Signed NDA and IP assignment returned to People Ops
[ ] Hardware received, disk encryption on
[ ] 2FA on GitHub, Google and AWS SSO
[ ] Joined #platform, #ml-platform, #incidents, #random
[ ] Read the incident runbook
[ ] Shadowed one on-call handover
[ ] First PR merged
"""


def _oncall_rota(rnd: random.Random) -> str:
    weeks = ["| week | primary | secondary |", "|---|---|---|"]
    for w in range(1, 14):
        a, b = rnd.sample(PEOPLE[:8], 2)
        weeks.append(f"| 2023-W{w:02d} | {a} | {b} |")
    return "# On-call rota 2023 (Q1)\n\n" + "\n".join(weeks) + "\n"


MEETING_SERIES = {
    "platform-sync": ["EKS upgrade to {v}", "Terraform state lock contention", "Cost review: NAT gateway spend",
                      "Moving the api to the Helm chart", "Runner capacity for CI", "Certificate renewal automation"],
    "ml-review": ["Sentiment classifier v{v} results", "Calibration of the ONNX export", "LLM summaries: judge agreement",
                  "Eval set refresh", "Text encoder distillation", "Legacy pickle models: remove or convert"],
    "product-weekly": ["Invoice autotagging beta feedback", "Bulk export for enterprise tenants",
                       "SSO enforcement rollout", "Pricing page experiment", "Churn interviews summary"],
    "security-review": ["Secrets in the monorepo", "Public S3 bucket finding", "Bastion SSH exposure",
                        "Dependency audit", "SOC2 evidence collection"],
}

ACTIONS = ["draft the proposal", "open the tracking ticket", "share numbers in the channel", "book a follow-up",
           "update the runbook", "rotate the credentials", "write the ADR", "check with finance",
           "add a dashboard panel", "review the PR"]


def _meeting_note(rnd: random.Random, date: str, series: str) -> str:
    attendees = sorted(rnd.sample(PEOPLE, rnd.randint(3, 6)))
    topics = rnd.sample(MEETING_SERIES[series], 2)
    lines = [f"# {series.replace('-', ' ').title()}: {date}", "",
             "Attendees: " + ", ".join(attendees), "", "## Agenda", ""]
    lines += [f"{i}. {t.format(v=rnd.choice(['1.28', '1.29', '2', '3']))}" for i, t in enumerate(topics, 1)]
    lines += ["", "## Notes", ""]
    for t in topics:
        lines.append(f"- {t.format(v='next')}: " + rnd.choice([
            "agreed to proceed, owner to confirm scope by Friday.",
            "blocked on the vendor; revisit next week.",
            "numbers look better than expected; keep monitoring.",
            "needs a decision from leadership, escalate.",
            "done; close the ticket."]))
    lines += ["", "## Action items", ""]
    for _ in range(rnd.randint(2, 4)):
        lines.append(f"- [ ] {rnd.choice(attendees)}: {rnd.choice(ACTIONS)}")
    return "\n".join(lines) + "\n"


def _quarterly_report(rnd: random.Random, quarter: str, arr_m: float) -> str:
    return f"""\
# Quarterly business report: {quarter}

## Headlines

- ARR EUR {arr_m:.1f}M ({rnd.uniform(4, 12):.1f}% QoQ)
- Net revenue retention {rnd.randint(104, 121)}%
- {rnd.randint(8, 25)} new enterprise tenants, {rnd.randint(0, 4)} churned
- Uptime {99.9 + rnd.random() * 0.09:.2f}%

## Product

Invoice autotagging reached general availability; LLM summaries are in beta with
{rnd.randint(10, 40)} tenants.

## Risks

Hiring for the platform team is behind plan; the SOC2 audit window is fixed.
"""


def _salary_bands(rnd: random.Random) -> tuple[str, str]:
    rows = [("Engineer I", 52), ("Engineer II", 64), ("Senior Engineer", 80), ("Staff Engineer", 98),
            ("Principal Engineer", 118), ("Engineering Manager", 105), ("Data Scientist", 70), ("Product Manager", 82)]
    csv_lines = ["level,band_min_eur,band_mid_eur,band_max_eur,equity_units"]
    md = ["# Salary bands 2024 (CONFIDENTIAL, People Ops only)", "",
          "| level | min (EUR) | mid (EUR) | max (EUR) |", "|---|---|---|---|"]
    for level, base in rows:
        mid = (base + rnd.randint(-3, 3)) * 1000
        lo, hi = int(mid * 0.85), int(mid * 1.15)
        csv_lines.append(f"{level},{lo},{mid},{hi},{rnd.randint(1, 20) * 250}")
        md.append(f"| {level} | {lo:,} | {mid:,} | {hi:,} |")
    md += ["", "Bands are reviewed every January against the Radford benchmark. Do not share outside People Ops."]
    return "\n".join(md) + "\n", "\n".join(csv_lines) + "\n"


def _performance_review(rnd: random.Random, person: str, manager: str) -> str:
    rating = rnd.choice(["exceeds expectations", "meets expectations", "meets most expectations"])
    return f"""\
# Performance review 2024-H1: {person}

CONFIDENTIAL. Manager: {manager}

Overall rating: **{rating}**

## Strengths

- Ownership of the {rnd.choice(['eval harness', 'Helm migration', 'OCR pipeline', 'on-call tooling'])}.
- Clear written communication in design reviews.

## Growth areas

- Delegate more; {rnd.choice(['review load is uneven', 'estimates slip under pressure', 'too many parallel threads'])}.

## Compensation recommendation

Merit increase {rnd.choice([2.5, 3.0, 4.0, 5.5])}%, promotion case {rnd.choice(['not yet', 'next cycle', 'submitted'])}.
"""


def _budget(rnd: random.Random) -> str:
    lines = ["# Budget 2025 (CONFIDENTIAL)", "", "| cost centre | 2024 actual (kEUR) | 2025 budget (kEUR) |",
             "|---|---|---|"]
    for cc in ["Engineering payroll", "Cloud (AWS)", "LLM API usage", "Sales & marketing", "G&A", "Office"]:
        actual = rnd.randint(120, 2400)
        lines.append(f"| {cc} | {actual:,} | {int(actual * rnd.uniform(0.95, 1.35)):,} |")
    lines += ["", "Board approved the envelope on 2024-12-05; reallocations above 50 kEUR need CFO sign-off."]
    return "\n".join(lines) + "\n"


def _forecast_csv(rnd: random.Random, version: int) -> str:
    lines = ["month,arr_keur,new_customers,churned_customers,headcount,cloud_cost_keur"]
    arr = 8200 + rnd.randint(0, 400)
    growth = 0.018 if version == 1 else 0.014
    for m in range(1, 13):
        arr = int(arr * (1 + growth + rnd.uniform(-0.004, 0.004)))
        lines.append(f"2025-{m:02d},{arr},{rnd.randint(3, 11)},{rnd.randint(0, 3)},{61 + m // 2},{rnd.randint(140, 190)}")
    return "\n".join(lines) + "\n"


def _vendor_spend(rnd: random.Random) -> str:
    lines = ["vendor,category,annual_eur,contract_end"]
    for v, c in [("Amazon Web Services", "cloud"), ("OpenAI", "llm"), ("Datadog", "observability"),
                 ("Atlassian", "tooling"), ("GitHub", "tooling"), ("PagerDuty", "tooling"), ("Deel", "hr")]:
        lines.append(f"{v},{c},{rnd.randint(8, 900) * 1000},{rnd.choice(['2025-03-31', '2025-06-30', '2026-01-31'])}")
    return "\n".join(lines) + "\n"


SITE_PACKAGE_JSON = """\
{
  "name": "aeon-docs-site",
  "private": true,
  "version": "0.3.0",
  "scripts": {
    "build": "node build.js",
    "serve": "npx http-server dist"
  },
  "dependencies": {
    "@aeonnova/docs-theme": "^1.2.0",
    "html-escape-lite": "^2.0.1",
    "left-pad": "^1.3.0",
    "tiny-slug": "^0.4.2"
  }
}
"""

SITE_BUILD_JS = """\
// Render company_docs/**/*.md into a static site (internal only, behind SSO).
const fs = require('fs');
const path = require('path');
const theme = require('@aeonnova/docs-theme');
const slug = require('tiny-slug');

function walk(dir, out = []) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full, out);
    else if (entry.name.endsWith('.md')) out.push(full);
  }
  return out;
}

const pages = walk(path.join(__dirname, '..'));
fs.mkdirSync('dist', { recursive: true });
for (const page of pages) {
  const html = theme.render(fs.readFileSync(page, 'utf8'), { title: path.basename(page, '.md') });
  fs.writeFileSync(path.join('dist', slug(page) + '.html'), html);
}
console.log(`built ${pages.length} pages`);
"""

NODE_PACKAGES = {
    "left-pad": ("1.3.0", "Pad a string on the left.", """\
'use strict';
module.exports = function leftPad(str, len, ch) {
  str = String(str);
  ch = ch === undefined ? ' ' : String(ch);
  while (str.length < len) str = ch + str;
  return str;
};
"""),
    "html-escape-lite": ("2.0.1", "Escape HTML special characters.", """\
'use strict';
const MAP = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
module.exports = function escape(s) {
  return String(s).replace(/[&<>"']/g, (c) => MAP[c]);
};
"""),
    "tiny-slug": ("0.4.2", "Make URL slugs.", """\
'use strict';
module.exports = function slug(s) {
  return String(s).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
};
"""),
    "@aeonnova/docs-theme": ("1.2.0", "AeonNova internal docs theme.", """\
'use strict';
const escape = require('html-escape-lite');
exports.render = function render(markdown, opts) {
  const body = markdown.split('\\n\\n').map((p) => '<p>' + escape(p) + '</p>').join('\\n');
  return '<!doctype html><title>' + escape(opts.title) + '</title><main>' + body + '</main>';
};
"""),
}


# ======================================================================================
# the builder: writes files on a timeline and commits them
# ======================================================================================
class _Builder:
    def __init__(self, root: Path, seed: int):
        self.root = root
        self.seed = seed
        self.rnd = random.Random(seed)
        self.nprng = np.random.default_rng(seed)
        self.secrets = _SecretFactory(random.Random(f"secrets:{seed}"))
        self.clock = HISTORY_START
        self.mtimes: dict[str, int] = {}
        self.planted: list[dict] = []      # secrets: kind, path, value, history_only
        self.old_versions: list[dict] = []
        self.commit_times = self._commit_schedule(N_COMMITS)
        self.commit_index = 0
        self.config_dicts: dict[str, dict[str, dict]] = {}

    # --- time -----------------------------------------------------------------------------
    def _commit_schedule(self, n: int) -> list[int]:
        """n commit times over ~2 years, on weekdays, in working hours (UTC)."""
        days = sorted(self.rnd.sample(range(1, HISTORY_DAYS), n - 1))
        times = [HISTORY_START]
        for d in days:
            day = HISTORY_START + d * 86400
            while _weekday(day) >= 5:
                day += 86400
            times.append(day + self.rnd.randint(0, 8 * 3600))
        times.sort()
        for i in range(1, len(times)):  # strictly increasing
            times[i] = max(times[i], times[i - 1] + 600)
        return times

    # --- files ----------------------------------------------------------------------------
    def path(self, rel: str) -> Path:
        return self.root / rel

    def write(self, rel: str, data, executable: bool = False) -> None:
        p = self.path(rel)
        p.parent.mkdir(parents=True, exist_ok=True)
        if p.is_symlink():
            p.unlink()
        p.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        os.chmod(p, 0o755 if executable else 0o644)
        self.mtimes[rel] = self.clock - self.rnd.randint(60, 5400)

    def copy(self, src: str, dst: str) -> None:
        self.write(dst, self.path(src).read_bytes())

    def symlink(self, rel: str, target: str) -> None:
        p = self.path(rel)
        p.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, p)
        self.mtimes[rel] = self.clock - self.rnd.randint(60, 600)

    def plant(self, kind: str, rel: str, value: str, history_only: bool = False) -> str:
        self.planted.append({"kind": kind, "path": rel, "value": value, "history_only": history_only})
        return value

    def old(self, rel: str, latest: str) -> None:
        self.old_versions.append({"path": rel, "latest": latest})

    # --- git ------------------------------------------------------------------------------
    def git(self, *args: str, env: dict | None = None) -> str:
        return _git(self.root, *args, env=env)

    def git_mv(self, src: str, dst: str) -> None:
        self.git("mv", src, dst)
        self.mtimes[dst] = self.mtimes.pop(src)

    def git_rm(self, rel: str) -> None:
        self.git("rm", "-q", rel)
        self.mtimes.pop(rel, None)

    def commit(self, who: str, message: str) -> None:
        name, email, tz = AUTHORS[who]
        when = f"{self.clock} {tz}"
        env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_AUTHOR_DATE": when,
               "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email, "GIT_COMMITTER_DATE": when}
        self.git("add", "-A")
        self.git("commit", "-q", "--no-verify", "-m", message, env=env)
        self.commit_index += 1
        if self.commit_index < len(self.commit_times):
            self.clock = self.commit_times[self.commit_index]
        else:  # more steps than scheduled: keep time moving forward
            self.clock += 86400


def _weekday(epoch: int) -> int:
    return (epoch // 86400 + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0


_GIT_ISOLATION = ["-c", "user.name=AeonNova Demo", "-c", "user.email=demo@aeonnova.example",
                  "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", "-c", "init.defaultBranch=main",
                  "-c", "core.autocrlf=false", "-c", "core.fileMode=true", "-c", "core.symlinks=true",
                  "-c", "core.quotePath=false", "-c", "gc.auto=0", "-c", "advice.detachedHead=false"]


def _git_env(extra: dict | None = None) -> dict:
    """The caller's environment minus every GIT_* variable, with user/system config switched off."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update({"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C", "TZ": "UTC"})
    env.update(extra or {})
    return env


def _git(root: Path, *args: str, env: dict | None = None) -> str:
    proc = subprocess.run(["git", *_GIT_ISOLATION, *args], cwd=root, env=_git_env(env),
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


# ======================================================================================
# the history: ~40 commits that build the estate up over two years
# ======================================================================================
AI = "ai_model_testing"
PKG = f"{AI}/src/aeon_eval"
INFRA = "infrastructure"
CFG = "yaml_configs"
DOCS = "company_docs"


def _history(b: _Builder) -> None:
    r = b.rnd
    people = {"arch": "Priya Raman", "platform": "Tomas Okafor", "ml": "Jonah Weiss", "people_ops": "Ingrid Haugen"}
    params = {"version": f"0.{r.randint(3, 9)}.{r.randint(0, 9)}", "batch": r.choice([32, 64, 128]),
              "threshold": r.choice([0.5, 0.55, 0.6]), "seed": r.randint(1, 9999)}
    aws_id = b.secrets.aws_access_key_id()
    aws_secret = b.secrets.aws_secret_access_key()
    api_version = f"2.{r.randint(10, 19)}.{r.randint(0, 9)}"
    replicas, max_replicas = r.choice([2, 3]), r.choice([8, 10, 12])

    # 1
    b.write(".gitignore", GITIGNORE)
    b.write("README.md", _readme_root(1))
    b.write("LICENSE", LICENSE_TEXT)
    b.write("CODEOWNERS", CODEOWNERS)
    b.commit("maya", "Initial commit")
    # 2
    b.write(f"{AI}/README.md", "# ai_model_testing\n\nOffline evaluation for AeonNova models. "
                               "Run `pytest` from this folder; notebooks live in `notebooks/`.\n")
    b.write(f"{AI}/LICENSE", LICENSE_TEXT)
    b.write(f"{AI}/pyproject.toml", _fill(PYPROJECT, version=params["version"]))
    b.write(f"{AI}/requirements.txt", _requirements(1))
    b.write(f"{PKG}/__init__.py", _fill(PY_INIT, version=params["version"]))
    b.write(f"{PKG}/config.py", _fill(PY_CONFIG_V1, batch=params["batch"], threshold=params["threshold"]))
    b.write(f"{PKG}/metrics.py", PY_METRICS_V1)
    b.commit("maya", "Add aeon_eval package skeleton")
    # 3
    octet = r.randint(16, 60)
    b.write(f"{INFRA}/README.md", "# infrastructure\n\nImported from the former `aeon-infra` repository "
                                  "(its CI files came along). Terraform in `terraform/`, manifests in `k8s/`.\n")
    b.write(f"{INFRA}/terraform/providers.tf", TF_PROVIDERS)
    b.write(f"{INFRA}/terraform/variables.tf", _fill(TF_VARIABLES, octet=octet))
    tf_main_v1 = _fill(TF_MAIN_V1, max_nodes=r.choice([6, 8, 10]), db_storage=r.choice([100, 200]))
    b.write(f"{INFRA}/terraform/main.tf", tf_main_v1)
    b.write(f"{INFRA}/terraform/outputs.tf", TF_OUTPUTS)
    b.write(f"{INFRA}/terraform/modules/vpc/main.tf", TF_VPC_MAIN)
    b.write(f"{INFRA}/terraform/modules/vpc/variables.tf", TF_VPC_VARIABLES)
    b.write(f"{INFRA}/terraform/modules/vpc/outputs.tf", TF_VPC_OUTPUTS)
    for env in ("staging", "prod"):
        b.write(f"{INFRA}/terraform/envs/{env}.tfvars",
                f'environment       = "{env}"\ndb_instance_class = "{"db.r6g.large" if env == "prod" else "db.t4g.medium"}"\n')
    b.commit("tomas", "Terraform: VPC module, EKS and RDS")
    # 4
    b.write(f"{DOCS}/README.md", "# company_docs\n\nInternal documentation. `hr/` and `finance/` are restricted.\n")
    b.write(f"{DOCS}/architecture/overview.md", _doc_overview(1, people))
    b.write(f"{DOCS}/onboarding/welcome.md", _doc_welcome(people))
    b.write(f"{DOCS}/onboarding/dev-setup.md", DOC_DEV_SETUP)
    b.write(f"{DOCS}/onboarding/oncall_rota_2023.md", _oncall_rota(r))
    b.symlink(f"{DOCS}/runbooks/current-oncall.md", "../onboarding/oncall_rota_2023.md")
    b.commit("priya", "Docs: architecture overview, onboarding, on-call rota")
    # 5
    n_rows = 600
    csv_text, labels = _eval_rows(r, n_rows)
    b.write(f"{PKG}/datasets.py", _fill(PY_DATASETS, seed=params["seed"]))
    b.write(f"{AI}/data/eval_set.csv", csv_text)
    b.write(f"{AI}/data/eval_embeddings.npy", npy_bytes(_weights(b.nprng, (n_rows, 128), scale=0.55)))
    b.commit("jonah", "Add dataset loaders and the v1 evaluation set")
    # 6
    pg_url = b.plant("postgres_url", f"{CFG}/prod/database.yaml", b.secrets.postgres_url())
    b.write(f"{CFG}/README.md", "# yaml_configs\n\nOne folder per environment. Keep keys in sync across "
                                "`dev/`, `staging/` and `prod/` (see the drift check in CI).\n")
    for env in ENVS:
        for fname, cfg in (("app.yaml", _app_config(r, env, 1)), ("database.yaml", _database_config(r, env, pg_url))):
            b.write(f"{CFG}/{env}/{fname}", f"# {env} {fname[:-5]} configuration\n" + _yaml_dump(cfg))
            b.config_dicts.setdefault(fname, {})[env] = cfg
    prod_app_v1 = b.path(f"{CFG}/prod/app.yaml").read_bytes()
    b.write(f"{CFG}/.env.example", "# copy to .env and fill in; never commit .env\nDATABASE_URL=postgresql://localhost:5432/aeon\n"
                                   "DATABASE_PASSWORD=\nSTRIPE_SECRET_KEY=\nSENTRY_DSN=\n")
    b.commit("maya", "Per-environment app and database configs")
    # 7
    workers = r.choice([2, 3, 4])
    b.write(f"{INFRA}/k8s/namespace.yaml", K8S_NAMESPACE)
    b.write(f"{INFRA}/k8s/deploy.yaml", _fill(K8S_API, replicas=replicas, max_replicas=max_replicas, api_version=api_version))
    b.write(f"{INFRA}/k8s/worker.yaml", _fill(K8S_WORKER, workers=workers, concurrency=r.choice([4, 8])))
    b.write(f"{INFRA}/k8s/configmap.yaml", K8S_CONFIGMAP)
    db_password = b.secrets.password()
    b64pw = base64.b64encode(db_password.encode()).decode()
    b.plant("k8s_secret_data", f"{INFRA}/k8s/secret.yaml", b64pw)
    b.write(f"{INFRA}/k8s/secret.yaml", _fill(K8S_SECRET, db_user_b64=base64.b64encode(b"aeon_app").decode(),
                                              db_password_b64=b64pw))
    b.commit("tomas", "Kubernetes manifests for api and worker")
    # 8
    b.write(f"{DOCS}/runbooks/incident-response.md", _doc_incident_response(1))
    b.write(f"{DOCS}/runbooks/db-failover.md", DOC_DB_FAILOVER)
    b.write(f"{DOCS}/runbooks/on-call.txt", DOC_ONCALL)
    b.commit("ingrid", "Runbooks: incident response, database failover, on-call card")
    # 9
    n_classes, bins = 3, r.choice([10, 15])
    b.write(f"{PKG}/metrics_old.py", PY_METRICS_V1)
    b.old(f"{PKG}/metrics_old.py", f"{PKG}/metrics.py")
    b.write(f"{PKG}/metrics.py", _fill(PY_METRICS_V2, n_classes=n_classes, bins=bins))
    b.write(f"{AI}/tests/conftest.py", PY_CONFTEST)
    b.write(f"{AI}/tests/test_metrics.py", PY_TEST_METRICS)
    b.commit("jonah", "Vectorised metrics with macro F1 and calibration error; keep old impl")
    # 10
    counts = [labels.count(i) for i in range(3)]
    b.write(f"{AI}/notebooks/01_data_exploration.ipynb", _nb_exploration(r, n_rows, counts))
    b.write(f"{AI}/notebooks/scratch_debug.ipynb", _nb_scratch())
    b.commit("priya", "Notebook: first look at the evaluation set")
    # 11
    b.write(f"{INFRA}/docker/api/Dockerfile", DOCKERFILE_API)
    b.write(f"{INFRA}/docker/worker/Dockerfile", DOCKERFILE_WORKER)
    b.write(f"{INFRA}/docker/.dockerignore", DOCKERIGNORE)
    b.write(f"{INFRA}/docker-compose.yml", COMPOSE)
    b.commit("tomas", "Dockerfiles and local docker-compose stack")
    # 12
    b.plant("aws_access_key_id", f"{PKG}/config.py", aws_id)
    b.plant("aws_secret_access_key", f"{PKG}/config.py", aws_secret)
    b.write(f"{PKG}/config.py", _fill(PY_CONFIG_V1 + PY_CONFIG_S3, batch=params["batch"], threshold=params["threshold"],
                                      aws_id=aws_id, aws_secret=aws_secret))
    b.write(f"{PKG}/reporting.py", PY_REPORTING)
    b.commit("maya", "Upload evaluation reports to S3")
    # 13
    gh = b.plant("github_token", f"{INFRA}/.github/workflows/deploy.yml", b.secrets.github_token())
    b.write(f"{INFRA}/.github/workflows/ci.yml", GH_CI)
    b.write(f"{INFRA}/.github/workflows/deploy.yml", _fill(GH_DEPLOY, gh_token=gh))
    b.write(f"{INFRA}/.gitlab-ci.yml", GITLAB_CI)
    b.commit("tomas", "CI: GitHub Actions test/deploy, GitLab terraform pipeline")
    # 14
    # meeting notes are dated before the commit that adds them
    day_now = (b.clock - HISTORY_START) // 86400
    series = list(MEETING_SERIES)
    for d in sorted(r.sample(range(3, max(30, day_now)), 16)):
        date = _iso_date(HISTORY_START + d * 86400)
        s = r.choice(series)
        b.write(f"{DOCS}/meetings/{date}-{s}.md", _meeting_note(r, date, s))
    b.commit("ingrid", "Meeting notes, first half")
    # 15
    b.write(f"{AI}/models/sentiment_classifier.onnx", onnx_model_bytes(b.nprng))
    b.symlink(f"{AI}/models/latest.onnx", "sentiment_classifier.onnx")
    b.write(f"{PKG}/models.py", PY_MODELS)
    b.write(f"{AI}/models/README.md", "# models\n\n| file | what |\n|---|---|\n"
                                      "| sentiment_classifier.onnx | 3-class head, 384-d input, opset 17 |\n"
                                      "| latest.onnx | symlink to the model the workers serve |\n")
    b.commit("jonah", "Export sentiment classifier to ONNX")
    # 16
    stripe_hist = b.plant("stripe_live_key", f"{CFG}/prod/payments.yaml", b.secrets.stripe_live_key(), history_only=True)
    b.write(f"{CFG}/prod/payments.yaml", "# prod payments\n" + _yaml_dump(_payments_config(stripe_hist)))
    for env in ENVS:
        cfg = _features_config(r, env)
        b.write(f"{CFG}/{env}/features.yaml", f"# {env} feature flags\n" + _yaml_dump(cfg))
        b.config_dicts.setdefault("features.yaml", {})[env] = cfg
    b.commit("priya", "Payments config for prod; feature flags per environment")
    # 17
    b.write(f"{INFRA}/terraform/main.tf.bak", tf_main_v1)
    b.old(f"{INFRA}/terraform/main.tf.bak", f"{INFRA}/terraform/main.tf")
    b.write(f"{INFRA}/terraform/main.tf", tf_main_v1 + TF_MAIN_V2_EXTRA)
    b.write(f"{INFRA}/terraform/outputs.tf", TF_OUTPUTS + TF_OUTPUTS_V2_EXTRA)
    b.write(f"{INFRA}/terraform/.terraform.lock.hcl", _tf_lock(r))
    b.commit("tomas", "Terraform: public artifacts bucket and bastion security group")
    # 18
    b.write(f"{PKG}/runner.py", PY_RUNNER)
    b.write(f"{PKG}/cli.py", PY_CLI)
    b.write(f"{AI}/tests/test_runner.py", PY_TEST_RUNNER)
    b.write(f"{AI}/tests/test_datasets.py", PY_TEST_DATASETS)
    b.commit("maya", "Evaluation runner and CLI")
    # 19
    bands_md, bands_csv = _salary_bands(r)
    b.write(f"{DOCS}/hr/salary_bands_2024.md", bands_md)
    b.write(f"{DOCS}/hr/salary_bands_2024.csv", bands_csv)
    b.write(f"{DOCS}/hr/compensation_policy.txt",
            "COMPENSATION POLICY (CONFIDENTIAL)\n\n1. Offers are made within band; above-band needs CEO approval.\n"
            "2. Merit increases are applied in April based on the H2 review.\n"
            "3. Equity refreshers are granted annually to 'exceeds' ratings.\n")
    for person in r.sample(PEOPLE[5:], 3):
        slug = person.lower().replace(" ", "_")
        b.write(f"{DOCS}/hr/performance_reviews/{slug}_2024-H1.md", _performance_review(r, person, r.choice(PEOPLE[:5])))
    b.commit("ingrid", "HR: 2024 salary bands, compensation policy, H1 reviews")
    # 20: the leaked Stripe key is replaced by a vault reference (stays in history)
    b.write(f"{CFG}/prod/payments.yaml", "# prod payments\n" + _yaml_dump(_payments_config(None)))
    b.commit("priya", "Remove hard-coded Stripe key; read it from Vault")
    b.config_dicts["payments.yaml"] = {"prod": _payments_config(None)}
    # 21
    encoder = safetensors_bytes(_text_encoder_tensors(b.nprng), {"format": "pt", "producer": "aeon-train",
                                                                  "base_model": "aeon-mini-encoder"})
    b.write(f"{AI}/models/text_encoder.safetensors", encoder)
    ranker = [("fc1.weight", _weights(b.nprng, (128, 256))), ("fc1.bias", _weights(b.nprng, (128,))),
              ("fc2.weight", _weights(b.nprng, (1, 128))), ("fc2.bias", _weights(b.nprng, (1,)))]
    b.write(f"{AI}/models/ranker_head.pt", torch_zip_bytes(ranker))
    b.write(f"{AI}/models/tokenizer_vocab.pkl", vocab_pickle_bytes(r))
    b.commit("jonah", "Add text encoder (safetensors), ranker head (torch) and tokenizer vocab")
    # 22
    chart = f"{INFRA}/helm/aeon-api"
    b.write(f"{chart}/Chart.yaml", _fill(HELM_CHART, patch=r.randint(0, 9), api_version=api_version))
    b.write(f"{chart}/values.yaml", _fill(HELM_VALUES, replicas=replicas, max_replicas=max_replicas))
    b.write(f"{chart}/values-prod.yaml", f"replicaCount: {replicas + 2}\nautoscaling:\n  maxReplicas: {max_replicas * 2}\n")
    b.write(f"{chart}/.helmignore", HELMIGNORE)
    b.write(f"{chart}/LICENSE", LICENSE_TEXT)
    for name, text in (("_helpers.tpl", HELM_HELPERS), ("deployment.yaml", HELM_DEPLOYMENT),
                       ("service.yaml", HELM_SERVICE), ("ingress.yaml", HELM_INGRESS), ("NOTES.txt", HELM_NOTES)):
        b.write(f"{chart}/templates/{name}", text)
    b.commit("tomas", "Helm chart for aeon-api")
    # 23 (rename)
    b.git_mv(f"{DOCS}/runbooks/db-failover.md", f"{DOCS}/runbooks/database-failover.md")
    b.commit("ingrid", "Rename db-failover runbook")
    # 24
    b.write(f"{DOCS}/finance/budget_2025.md", _budget(r))
    forecast_v1 = _forecast_csv(r, 1)
    b.write(f"{DOCS}/finance/forecast_2025.csv", forecast_v1)
    b.commit("maya", "Finance: 2025 budget and forecast")
    # 25
    nb_cmp_v1 = _nb_model_comparison(r, 1)
    b.write(f"{AI}/notebooks/02_model_comparison.ipynb", nb_cmp_v1)
    b.commit("jonah", "Notebook: model comparison")
    # 26
    b.write(f"{DOCS}/architecture/overview_v1.md", _doc_overview(1, people))
    b.old(f"{DOCS}/architecture/overview_v1.md", f"{DOCS}/architecture/overview.md")
    b.write(f"{DOCS}/architecture/overview.md", _doc_overview(2, people))
    b.write(f"{DOCS}/architecture/data-flow.md", DOC_DATA_FLOW)
    for i, (fname, title, body) in enumerate(ADRS, 1):
        b.write(f"{DOCS}/architecture/adr/{fname}", _adr(title, body, i, r.choice(PEOPLE[:5]), _iso_date(b.clock)))
    for name, text in POLICIES.items():
        b.write(f"{DOCS}/policies/{name}", text)
    b.write(f"{DOCS}/site/package.json", SITE_PACKAGE_JSON)
    b.write(f"{DOCS}/site/build.js", SITE_BUILD_JS)
    b.commit("priya", "Architecture overview v2, data flow, ADRs; docs site")
    # 27
    b.write(f"{INFRA}/docker/api/Dockerfile.prod", _fill(DOCKERFILE_API_PROD, workers=r.choice([2, 4])))
    slack = b.plant("slack_bot_token", f"{INFRA}/scripts/notify-deploy", b.secrets.slack_bot_token())
    b.write(f"{INFRA}/scripts/notify-deploy", _fill(NOTIFY_DEPLOY, slack_token=slack), executable=True)
    b.write(f"{INFRA}/scripts/bootstrap-cluster.sh", BOOTSTRAP_CLUSTER, executable=True)
    pem = b.plant("private_key", f"{INFRA}/certs/deploy_key.pem", b.secrets.rsa_private_key())
    b.write(f"{INFRA}/certs/deploy_key.pem", pem)
    b.commit("tomas", "Prod Dockerfile, deploy notification script, deploy key")
    # 28 (deletion: leaves current-oncall.md dangling)
    b.git_rm(f"{DOCS}/onboarding/oncall_rota_2023.md")
    b.commit("ingrid", "Remove the 2023 on-call rota (moved to PagerDuty)")
    # 29
    b.write(f"{AI}/models/legacy/untrusted_model.pkl", malicious_pickle_bytes(b.nprng))
    b.write(f"{AI}/models/legacy/README.md", "# legacy\n\nModels imported from the 2021 prototype repo. "
                                             "Source unknown; do not load outside a sandbox.\n")
    b.commit("maya", "Import legacy model from the prototype repository")
    # 30
    harness = f"{AI}/llm_eval_harness"
    b.write(f"{harness}/__init__.py", '"""LLM evaluation harness for summarisation and classification prompts."""\n')
    b.write(f"{harness}/harness.py", PY_HARNESS)
    b.write(f"{harness}/judges.py", PY_JUDGES)
    b.write(f"{harness}/README.md", "# llm_eval_harness\n\nPrompts in `prompts/`, run configs in `configs/`, "
                                    "cases in `datasets/`, outputs in `results/`.\n")
    for name, text in PROMPTS.items():
        b.write(f"{harness}/prompts/{name}", text)
    for name, model in (("baseline", "gpt-4o-mini"), ("candidate", "aeon-distill-v2"), ("nightly", "gpt-4o")):
        b.write(f"{harness}/configs/{name}.yaml", _harness_config(r, name, model))
    for tag in ("contracts_v1", "contracts_v2", "invoices_v1"):
        b.write(f"{harness}/datasets/{tag}.jsonl", _harness_cases(r, 25, tag))
    b.commit("jonah", "LLM eval harness: prompts, judges, configs and cases")
    # 31
    b.write(f"{DOCS}/reports/quarterly_report_2024-03-01.md", _quarterly_report(r, "Q4 2023", 7.4))
    b.commit("priya", "Quarterly report (Q4 2023)")
    # 32
    worker_pw = b.plant("password", f"{CFG}/services/worker.toml", b.secrets.password())
    b.write(f"{CFG}/services/worker.toml",
            f'[worker]\nconcurrency = {r.choice([4, 8])}\nprefetch_multiplier = 1\nqueues = ["ocr", "embed", "classify"]\n\n'
            f'[broker]\nurl = "redis://cache-prod.internal.aeonnova.example:6379/1"\nusername = "worker"\n'
            f'password = "{worker_pw}"\n\n[limits]\nmax_pages = 500\ntask_timeout_s = 900\n')
    b.write(f"{CFG}/services/api.json", json.dumps({
        "service": "aeon-api", "port": 8080, "upload": {"max_mb": r.choice([50, 100]), "allowed": ["pdf", "png", "tiff", "docx"]},
        "search": {"top_k": 20, "hybrid": True, "rerank_model": "ranker_head"}}, indent=2) + "\n")
    b.write(f"{CFG}/services/endpoints.txt", json.dumps({
        "api": "https://api.aeonnova.example", "docs": "https://docs.internal.aeonnova.example",
        "status": "https://status.aeonnova.example", "grafana": "https://grafana.internal.aeonnova.example"}, indent=4) + "\n")
    b.commit("tomas", "Service configs for api and worker")
    # 33 (copies: a model, a directory of prompts, a doc)
    exp = f"{AI}/experiments/exp_2024_06"
    b.copy(f"{AI}/models/text_encoder.safetensors", f"{exp}/text_encoder.safetensors")
    for name in PROMPTS:
        b.copy(f"{harness}/prompts/{name}", f"{exp}/prompts/{name}")
    b.write(f"{exp}/notes.md", "# exp_2024_06\n\nSnapshot of the prompts and encoder used for the June distillation run, "
                               "copied so the experiment stays reproducible after the harness moves on.\n")
    b.copy(f"{DOCS}/onboarding/dev-setup.md", f"{AI}/docs/dev-setup.md")
    b.commit("maya", "Experiment exp_2024_06: snapshot prompts and encoder")
    # 34
    day_then, day_now = day_now, (b.clock - HISTORY_START) // 86400
    for d in sorted(r.sample(range(day_then + 1, max(day_then + 30, day_now)), 16)):
        date = _iso_date(HISTORY_START + d * 86400)
        s = r.choice(series)
        b.write(f"{DOCS}/meetings/{date}-{s}.md", _meeting_note(r, date, s))
    b.write(f"{DOCS}/runbooks/incident-response_old.md", _doc_incident_response(1))
    b.old(f"{DOCS}/runbooks/incident-response_old.md", f"{DOCS}/runbooks/incident-response.md")
    b.write(f"{DOCS}/runbooks/incident-response.md", _doc_incident_response(2))
    b.commit("ingrid", "Meeting notes, second half; incident runbook adds credential-leak steps")
    # 35
    b.write(f"{AI}/requirements_old.txt", _requirements(1))
    b.old(f"{AI}/requirements_old.txt", f"{AI}/requirements.txt")
    b.write(f"{AI}/requirements.txt", _requirements(2))
    b.commit("bot", "chore(deps): bump numpy, onnxruntime, boto3 and friends")
    # 36
    b.write(f"{AI}/notebooks/02_model_comparison_v1.ipynb", nb_cmp_v1)
    b.old(f"{AI}/notebooks/02_model_comparison_v1.ipynb", f"{AI}/notebooks/02_model_comparison.ipynb")
    b.write(f"{AI}/notebooks/02_model_comparison.ipynb", _nb_model_comparison(r, 2))
    b.write(f"{AI}/notebooks/03_error_analysis.ipynb", _nb_error_analysis(r))
    b.git_rm(f"{AI}/notebooks/scratch_debug.ipynb")
    b.commit("jonah", "Notebooks: LLM baseline in comparison, error analysis; drop scratch notebook")
    # 37
    b.write(f"{DOCS}/reports/quarterly_report_2024-06-01.md", _quarterly_report(r, "Q1 2024", 8.1))
    b.old(f"{DOCS}/reports/quarterly_report_2024-03-01.md", f"{DOCS}/reports/quarterly_report.md")
    b.old(f"{DOCS}/reports/quarterly_report_2024-06-01.md", f"{DOCS}/reports/quarterly_report.md")
    b.write(f"{DOCS}/reports/quarterly_report.md", _quarterly_report(r, "Q2 2024", 8.9))
    b.commit("priya", "Quarterly reports Q1 and Q2 2024")
    # 38 (rename + privileged DaemonSet + cron)
    b.git_mv(f"{INFRA}/k8s/deploy.yaml", f"{INFRA}/k8s/api.yaml")
    b.write(f"{INFRA}/k8s/node-exporter.yaml", K8S_NODE_EXPORTER)
    b.write(f"{INFRA}/k8s/cronjob-reindex.yaml", _fill(K8S_CRONJOB, minute=r.randint(0, 59), api_version=api_version))
    b.commit("tomas", "k8s: rename deploy.yaml to api.yaml; node exporter; nightly reindex")
    # 39 (config drift in prod, a .bak, a broken WIP file)
    b.write(f"{CFG}/prod/app.yaml.bak", prod_app_v1)
    b.old(f"{CFG}/prod/app.yaml.bak", f"{CFG}/prod/app.yaml")
    app_prod = _app_config(random.Random(f"prod-app:{b.seed}"), "prod", 2)
    app_prod["cache"]["ttl_seconds"] = b.config_dicts["app.yaml"]["prod"]["cache"]["ttl_seconds"]
    app_prod["rate_limit"]["requests_per_minute"] = b.config_dicts["app.yaml"]["prod"]["rate_limit"]["requests_per_minute"]
    b.write(f"{CFG}/prod/app.yaml", "# prod app configuration\n" + _yaml_dump(app_prod))
    b.config_dicts["app.yaml"]["prod"] = app_prod
    b.write(f"{CFG}/broken/invalid.yaml", BROKEN_YAML)
    b.commit("maya", "Tune prod workers and rate limit; WIP gateway config")
    # 40
    b.write(f"{DOCS}/finance/forecast_2025_old.csv", forecast_v1)
    b.old(f"{DOCS}/finance/forecast_2025_old.csv", f"{DOCS}/finance/forecast_2025.csv")
    b.write(f"{DOCS}/finance/forecast_2025.csv", _forecast_csv(r, 2))
    b.write(f"{DOCS}/finance/vendor_spend_2024.csv", _vendor_spend(r))
    b.write(f"{DOCS}/finance/board_report_q4_2024.pdf", pdf_bytes("Board report Q4 2024 (CONFIDENTIAL)", [
        f"ARR EUR {9.4 + r.random():.1f}M, net retention {r.randint(108, 118)}%.",
        f"Cash runway {r.randint(20, 30)} months at the 2025 budget.",
        "Hiring: 6 of 9 planned roles filled; platform team behind plan.",
        "Risks: LLM API cost growth, SOC2 audit timeline, one enterprise renewal."]))
    b.commit("ingrid", "Finance: revised 2025 forecast, vendor spend, Q4 board report")
    # 41
    for name, model in (("baseline", "gpt-4o-mini"), ("candidate", "aeon-distill-v2"), ("nightly", "gpt-4o")):
        for week in (21, 22, 23, 24):
            b.write(f"{harness}/results/{name}_2024-w{week}.json", _harness_result(r, model, 12))
    b.commit("jonah", "LLM harness results for weeks 21-24")
    # 42
    b.write("README.md", _readme_root(2))
    b.write("Makefile", ROOT_MAKEFILE)
    b.write(".pre-commit-config.yaml", PRE_COMMIT)
    b.write(f"{PKG}/__init__.py", _fill(PY_INIT, version=params["version"]).replace(
        '__version__', '# bumped for the harness release\n__version__'))
    b.commit("maya", "README: getting started; mark the harness release")
    assert b.commit_index == N_COMMITS, f"N_COMMITS is {N_COMMITS} but history made {b.commit_index}"


def _local_leftovers(b: _Builder) -> None:
    """What a working copy accumulates that git never saw: untracked notes, ignored caches and junk."""
    r = b.rnd
    b.clock = b.commit_times[-1] + 3 * 86400
    # untracked (not ignored)
    b.write("scratch/notes_untracked.md", "# scratch\n\n- ask Tomas about the bastion SG finding\n"
                                          "- rerun exp_2024_06 with the new judge\n- clean up models/legacy before the audit\n")
    b.write("scratch/query_results.json", json.dumps({"query": "invoices overdue > 60d", "rows": r.randint(40, 400),
                                                      "ran_at": _iso_date(b.clock)}, indent=2) + "\n")
    b.write(f"{AI}/notebooks/Untitled.ipynb", _nb_untitled())
    # ignored: the .env with a live key
    stripe = b.plant("stripe_live_key", f"{CFG}/.env", b.secrets.stripe_live_key())
    b.write(f"{CFG}/.env", "# local overrides - DO NOT COMMIT\nDATABASE_URL=postgresql://localhost:5432/aeon\n"
                           f"STRIPE_SECRET_KEY={stripe}\nSENTRY_DSN=\nLOG_LEVEL=debug\n")
    # ignored: bytecode caches next to their sources (real .pyc for this interpreter)
    tag = sys.implementation.cache_tag or "cpython"
    for src_dir in (PKG, f"{AI}/tests", f"{AI}/llm_eval_harness"):
        for src in sorted(p for p in b.mtimes if p.startswith(src_dir + "/") and p.endswith(".py")
                          and p.count("/") == src_dir.count("/") + 1):
            text = b.path(src).read_text()
            name = src.rsplit("/", 1)[1][:-3]
            cached = f"{src_dir}/__pycache__/{name}.{tag}.pyc"
            b.write(cached, pyc_bytes(text, f"/home/jonah/src/{ROOT_NAME}/{src}", b.mtimes[src]))
    # ignored: pytest cache
    pc = f"{AI}/.pytest_cache"
    b.write(f"{pc}/CACHEDIR.TAG", "Signature: 8a477f597d28d172789f06886806bc55\n"
                                  "# This file is a cache directory tag created by pytest.\n"
                                  "# For information about cache directory tags, see:\n"
                                  "#\thttps://bford.info/cachedir/spec.html\n")
    b.write(f"{pc}/README.md", "# pytest cache directory #\n\nThis directory contains data from the pytest's cache plugin,\n"
                               "which provides the `--lf` and `--ff` options, as well as the `cache` fixture.\n\n"
                               "**Do not** commit this to version control.\n")
    b.write(f"{pc}/.gitignore", "# Created by pytest automatically.\n*\n")
    nodeids = sorted(f"tests/{f}::{t}" for f, src in (("test_metrics.py", PY_TEST_METRICS),
                                                       ("test_datasets.py", PY_TEST_DATASETS),
                                                       ("test_runner.py", PY_TEST_RUNNER))
                     for t in re.findall(r"^def (test_\w+)", src, re.M))
    b.write(f"{pc}/v/cache/nodeids", json.dumps(nodeids, indent=2) + "\n")
    b.write(f"{pc}/v/cache/lastfailed", json.dumps({"tests/test_runner.py::test_evaluate_constant_model": True},
                                                   indent=2) + "\n")
    # ignored: node_modules of the docs site
    nm = f"{DOCS}/site/node_modules"
    lock = {"name": "aeon-docs-site", "lockfileVersion": 3, "requires": True, "packages": {}}
    for name, (version, desc, code) in NODE_PACKAGES.items():
        pkg = {"name": name, "version": version, "description": desc, "main": "index.js", "license": "MIT"}
        b.write(f"{nm}/{name}/package.json", json.dumps(pkg, indent=2) + "\n")
        b.write(f"{nm}/{name}/index.js", code)
        b.write(f"{nm}/{name}/README.md", f"# {name}\n\n{desc}\n")
        lock["packages"][f"node_modules/{name}"] = {"version": version, "license": "MIT"}
    b.write(f"{nm}/.package-lock.json", json.dumps(lock, indent=2) + "\n")
    # ignored: Finder droppings
    for folder in ("", f"{DOCS}/", f"{DOCS}/meetings/", f"{AI}/models/"):
        entries = sorted(p.name for p in b.path(folder or ".").iterdir() if p.name != ".git")[:6]
        b.write(f"{folder}.DS_Store", ds_store_bytes(r, entries))


# ======================================================================================
# ground truth: measured from the tree and from git, not from bookkeeping
# ======================================================================================
def _walk(root: Path):
    """(rel, lstat) of every entry under root except .git/, sorted by path."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        if Path(dirpath) == root and ".git" in dirnames:
            dirnames.remove(".git")
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            p = Path(dirpath) / name
            out.append((p.relative_to(root).as_posix(), os.lstat(p), p))
    return sorted(out, key=lambda t: t[0])


def _set_mtimes(b: _Builder) -> None:
    """Files get the time of the commit that last wrote them; folders the newest of their contents."""
    fallback = b.clock
    entries = _walk(b.root)
    for rel, st, p in entries:
        if stat.S_ISDIR(st.st_mode):
            continue
        t = b.mtimes.get(rel, fallback)
        os.utime(p, (t, t), follow_symlinks=False)
    for _, _, p in sorted((e for e in entries if stat.S_ISDIR(e[1].st_mode)), key=lambda e: -e[0].count("/")):
        newest = max((os.lstat(c).st_mtime for c in p.iterdir()), default=fallback)
        os.utime(p, (newest, newest))
    newest = max(os.lstat(c).st_mtime for c in b.root.iterdir() if c.name != ".git")
    os.utime(b.root, (newest, newest))


def _model_format(rel: str, data: bytes) -> str | None:
    if data[:6] == b"\x93NUMPY":
        return "numpy"
    if rel.endswith(".safetensors") and len(data) > 8:
        (n,) = struct.unpack("<Q", data[:8])
        if data[8:9] == b"{" and 8 + n <= len(data):
            return "safetensors"
    if data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            if any(n.endswith("/data.pkl") for n in zf.namelist()):
                return "torch"
    if rel.endswith(".onnx") and data[:1] == b"\x08":
        return "onnx"
    if data[:1] == b"\x80" and rel.endswith((".pkl", ".pickle")):
        return "pickle"
    return None


def _torch_pickle(data: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return zf.read(next(n for n in zf.namelist() if n.endswith("/data.pkl")))


def _git_facts(root: Path) -> dict:
    def lines(*args: str) -> list[str]:
        return [x for x in _git(root, *args).split("\0" if "-z" in args else "\n") if x]

    log = lines("log", "--format=%H%x09%an <%ae>")
    renames, deletions, commit = [], [], None
    for line in lines("log", "--reverse", "-M", "--name-status", "--format=commit %H"):
        if line.startswith("commit "):
            commit = line.split()[1]
        elif line.startswith("R"):
            _, old, new = line.split("\t")
            renames.append({"from": old, "to": new, "commit": commit})
        elif line.startswith("D\t"):
            deletions.append({"path": line.split("\t")[1], "commit": commit})
    return {
        "commits": len(log),
        "authors": sorted({x.split("\t", 1)[1] for x in log}),
        "head": _git(root, "rev-parse", "HEAD").strip(),
        "branch": _git(root, "symbolic-ref", "--short", "HEAD").strip(),
        "first_commit_date": _git(root, "log", "--reverse", "--format=%aI").split("\n")[0],
        "last_commit_date": _git(root, "log", "-1", "--format=%aI").strip(),
        "tracked_files": len(lines("ls-files", "-z")),
        "untracked": sorted(lines("ls-files", "-z", "--others", "--exclude-standard")),
        "ignored": sorted(lines("ls-files", "-z", "--others", "--ignored", "--exclude-standard")),
        "renames": renames,
        "deletions": deletions,
    }


def _secret_facts(root: Path, planted: list[dict]) -> list[dict]:
    """Locate each planted secret for real: line on disk (or in the commit that added it), HEAD, pickaxe."""
    out = []
    head_files = set(_git(root, "ls-files", "-z").split("\0"))
    for s in planted:
        rel, value = s["path"], s["value"]
        needle = value.splitlines()[1] if "\n" in value else value  # pickaxe on one line of a PEM block
        commits = [c for c in _git(root, "log", "--reverse", "--format=%H", "-S", needle, "--", rel).split() if c]
        on_disk_text = (root / rel).read_text() if (root / rel).is_file() else ""
        in_head = rel in head_files and value in _git(root, "show", f"HEAD:{rel}")
        text = on_disk_text if value in on_disk_text else (_git(root, "show", f"{commits[0]}:{rel}") if commits else "")
        if value not in text:
            raise AssertionError(f"planted secret {s['kind']} not found in {rel}")
        line = text[:text.index(value)].count("\n") + 1
        out.append({"kind": s["kind"], "path": rel, "line": line, "value": value, "in_head": in_head,
                    "on_disk": value in on_disk_text, "history_only": s["history_only"],
                    "commit": commits[0] if commits else None,
                    "removed_in": commits[1] if len(commits) > 1 else None})
    return sorted(out, key=lambda s: (s["path"], s["line"], s["kind"]))


def _ground_truth(b: _Builder) -> dict:
    root = b.root
    files, symlinks, by_top, by_hash, models = [], [], {}, {}, []
    for rel, st, p in _walk(root):
        if stat.S_ISLNK(st.st_mode):
            target = os.readlink(p)
            symlinks.append({"path": rel, "target": target, "dangling": not p.exists()})
        elif stat.S_ISREG(st.st_mode):
            data = p.read_bytes()
            files.append((rel, st.st_size))
            top = rel.split("/", 1)[0] if "/" in rel else "."
            agg = by_top.setdefault(top, {"files": 0, "bytes": 0})
            agg["files"] += 1
            agg["bytes"] += st.st_size
            by_hash.setdefault(hashlib.sha256(data).hexdigest(), []).append(rel)
            fmt = _model_format(rel, data)
            if fmt:
                pk = data if fmt == "pickle" else _torch_pickle(data) if fmt == "torch" else b""
                bad = [g for g in pickle_globals(pk) if g.startswith(_DANGEROUS_GLOBALS)] if pk else []
                models.append({"path": rel, "format": fmt, "bytes": st.st_size, "malicious": bool(bad),
                               "dangerous_globals": bad})
    sizes = dict(files)
    dups = [{"sha256": h, "size": sizes[paths[0]], "paths": sorted(paths)} for h, paths in by_hash.items() if len(paths) > 1]
    junk, junk_dirs = [], set()
    for rel, _ in files:
        parts = rel.split("/")
        cut = next((i for i, part in enumerate(parts[:-1]) if part in JUNK_DIR_NAMES), None)
        if cut is not None:
            junk_dirs.add("/".join(parts[:cut + 1]))
        if cut is not None or parts[-1] in JUNK_FILE_NAMES:
            junk.append(rel)
    restricted = sorted(rel for rel, _ in files if rel.startswith((f"{DOCS}/hr/", f"{DOCS}/finance/"))
                        and not rel.endswith(".DS_Store"))
    for o in b.old_versions:
        assert (root / o["path"]).is_file() and (root / o["latest"]).is_file(), o
    templated = sorted(rel for rel, _ in files if "/templates/" in rel and rel.endswith((".yaml", ".yml", ".tpl")))
    return {
        "generator": GENERATOR,
        "version": VERSION,
        "seed": b.seed,
        "root": ROOT_NAME,
        "files": len(files),
        "bytes": sum(s for _, s in files),
        "symlinks": symlinks,
        "by_top_dir": dict(sorted(by_top.items())),
        "duplicate_groups": sorted(dups, key=lambda g: g["paths"][0]),
        "old_versions": sorted(b.old_versions, key=lambda o: o["path"]),
        "junk": sorted(junk),
        "junk_dirs": sorted(junk_dirs),
        "git": _git_facts(root),
        "secrets": _secret_facts(root, b.planted),
        "models": models,
        "malformed_yaml": sorted(MALFORMED_YAML),
        "templated_yaml": templated,
        "config_drift": _drift(b.config_dicts),
        "restricted_docs": restricted,
        "python": {"cache_tag": sys.implementation.cache_tag, "pyc_magic": importlib.util.MAGIC_NUMBER.hex(),
                   "note": ".pyc bytes (and so files/bytes totals) depend on the Python version that generated them"},
    }


# ======================================================================================
# public API
# ======================================================================================
def write_demo_estate(out_dir: Path, seed: int = 7) -> dict:
    """Writes <out_dir>/AeonNovaProject/ and <out_dir>/ground_truth.json; returns the ground truth dict.

    Refuses (FileExistsError) to write into an existing non-empty AeonNovaProject folder,
    so it can never clobber a real tree. Needs the `git` binary on PATH.
    """
    out_dir = Path(out_dir)
    root = out_dir / ROOT_NAME
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise FileExistsError(f"{root} already exists and is not empty; "
                              "demo estates are only written into a new or empty folder")
    root.mkdir(parents=True, exist_ok=True)
    b = _Builder(root, seed)
    _git(root, "init", "-q")
    _history(b)
    _local_leftovers(b)
    _set_mtimes(b)
    truth = _ground_truth(b)
    (out_dir / "ground_truth.json").write_text(json.dumps(truth, indent=2) + "\n")
    return truth
