"""File type from content first, extension second.

A file's first 8 KiB decide: binary formats by signature (the ML formats the
estate is full of, then the `filetype` package's table), text by BOM, UTF-8
validity, shebang and leading syntax. The extension only names a text file
that its content does not identify.
"""

from __future__ import annotations

import codecs
import json
import mimetypes
import re
import struct
from typing import NamedTuple

import filetype

TEXT_BY_EXTENSION = {
    "py": ("python", "text/x-python"), "pyi": ("python", "text/x-python"),
    "js": ("javascript", "text/javascript"), "mjs": ("javascript", "text/javascript"),
    "jsx": ("javascript", "text/javascript"), "ts": ("typescript", "text/x-typescript"),
    "tsx": ("typescript", "text/x-typescript"), "go": ("go", "text/x-go"),
    "java": ("java", "text/x-java"), "rs": ("rust", "text/x-rust"), "c": ("c", "text/x-c"),
    "h": ("c", "text/x-c"), "cpp": ("cpp", "text/x-c++"), "sh": ("shell", "text/x-shellscript"),
    "bash": ("shell", "text/x-shellscript"), "tf": ("terraform", "text/x-hcl"),
    "hcl": ("hcl", "text/x-hcl"), "tfvars": ("terraform", "text/x-hcl"),
    "yaml": ("yaml", "application/yaml"), "yml": ("yaml", "application/yaml"),
    "json": ("json", "application/json"), "toml": ("toml", "application/toml"),
    "ini": ("ini", "text/plain"), "cfg": ("ini", "text/plain"), "env": ("dotenv", "text/plain"),
    "md": ("markdown", "text/markdown"), "rst": ("rst", "text/x-rst"), "txt": ("text", "text/plain"),
    "csv": ("csv", "text/csv"), "tsv": ("tsv", "text/tab-separated-values"),
    "html": ("html", "text/html"), "xml": ("xml", "application/xml"), "sql": ("sql", "application/sql"),
    "ipynb": ("jupyter", "application/x-ipynb+json"), "tpl": ("template", "text/plain"),
    "lock": ("lockfile", "text/plain"), "css": ("css", "text/css"),
}
TEXT_BY_NAME = {
    "dockerfile": ("dockerfile", "text/x-dockerfile"), "makefile": ("makefile", "text/x-makefile"),
    ".gitignore": ("gitignore", "text/plain"), "license": ("text", "text/plain"),
}
SHEBANG_LANGS = {"python": "python", "pypy": "python", "bash": "shell", "sh": "shell", "dash": "shell",
                 "zsh": "shell", "ksh": "shell", "node": "javascript", "deno": "typescript",
                 "perl": "perl", "ruby": "ruby", "php": "php"}
# An interpreter name, optionally versioned: python3.11, pypy3, perl5.36, node20.
SHEBANG_RE = re.compile(r"^(python|pypy|bash|dash|zsh|ksh|sh|node|deno|perl|ruby|php)[0-9.]*$")
BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


# Protobuf tags of ModelProto fields that follow ir_version (producer_name ... graph, opset_import).
ONNX_SECOND_FIELD_TAGS = frozenset({0x12, 0x1A, 0x22, 0x28, 0x32, 0x3A, 0x42, 0x72})


class Sniffed(NamedTuple):
    file_type: str
    mime: str
    is_text: bool
    encoding: str | None


def extension_of(name: str) -> str:
    base = name.rsplit("/", 1)[-1]
    if "." not in base.lstrip("."):
        return ""
    return base.rsplit(".", 1)[-1].lower()


def _ml_signature(head: bytes) -> Sniffed | None:
    """Model and array formats that generic tables miss or call plain zip, and binary formats
    whose first bytes can pass for text."""
    if head[:6] == b"\x93NUMPY":
        return Sniffed("numpy", "application/x-npy", False, None)
    if len(head) >= 10 and head[8:9] == b"{":
        (header_len,) = struct.unpack("<Q", head[:8])
        if 2 <= header_len < 100_000_000 and head[9:10] in (b'"', b"}"):
            return Sniffed("safetensors", "application/x-safetensors", False, None)
    if head[:2] in (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05"):
        return Sniffed("pickle", "application/x-python-pickle", False, None)
    if head[:4] == b"PK\x03\x04" and (b"data.pkl" in head[:512] or b"/version" in head[:512]):
        return Sniffed("torch", "application/x-pytorch", False, None)
    if len(head) > 3 and head[0] == 0x08 and 1 <= head[1] <= 15 and head[2] in ONNX_SECOND_FIELD_TAGS:
        return Sniffed("onnx", "application/x-onnx", False, None)  # ModelProto: ir_version, then a known field
    if head[4:8] == b"Bud1":
        return Sniffed("ds_store", "application/x-apple-ds-store", False, None)
    if head[:16] == b"SQLite format 3\x00":
        return Sniffed("sqlite", "application/vnd.sqlite3", False, None)
    if head[:4] == b"PAR1":
        return Sniffed("parquet", "application/vnd.apache.parquet", False, None)
    if head[:8] == b"\x89HDF\r\n\x1a\n":
        return Sniffed("hdf5", "application/x-hdf5", False, None)
    if head[:5] == b"%PDF-":  # before the text tests: an uncompressed PDF can look like ASCII
        return Sniffed("pdf", "application/pdf", False, None)
    if (len(head) >= 16 and head[2:4] == b"\r\n" and 3000 <= int.from_bytes(head[:2], "little") < 4000
            and int.from_bytes(head[4:8], "little") in (0, 1, 3)):  # CPython 3 .pyc: magic, flags
        return Sniffed("python-bytecode", "application/x-python-code", False, None)
    return None


def _decode_text(head: bytes, truncated: bool) -> str | None:
    """Encoding name if `head` is text, else None."""
    for bom, enc in BOMS:
        if head.startswith(bom):
            return enc
    if b"\x00" in head:
        return None
    if head.isascii():  # most text; a check without decoding
        return "ascii"
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if truncated and exc.start >= len(head) - 3:  # a character cut at the head boundary
            return "utf-8"
    # Mostly printable 8-bit text (latin-1/cp1252 documents) is still text.
    control = sum(1 for b in head if b < 9 or 13 < b < 32)
    return "8bit" if control * 20 < len(head) else None


def shebang_language(head: bytes) -> str:
    """Language named by a `#!` line: `/usr/bin/python3.11`, `/usr/bin/env -S python3 -u`, ..."""
    words = head[2:200].split(b"\n", 1)[0].decode("utf-8", "replace").split()
    if words and words[0].endswith("/env"):
        words = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
    prog = words[0].rsplit("/", 1)[-1] if words else ""
    match = SHEBANG_RE.match(prog)
    return SHEBANG_LANGS[match.group(1)] if match else "script"


def _text_type(head: bytes, name: str, ext: str) -> tuple[str, str]:
    if head.startswith(b"#!"):
        return shebang_language(head), "text/x-script"
    lower = name.rsplit("/", 1)[-1].lower()
    if lower in TEXT_BY_NAME or lower.startswith("dockerfile"):
        return TEXT_BY_NAME.get(lower, TEXT_BY_NAME["dockerfile"])
    if ext in TEXT_BY_EXTENSION and ext not in ("txt", "lock", "tpl"):
        return TEXT_BY_EXTENSION[ext]
    stripped = head.lstrip()
    if stripped[:1] in (b"{", b"["):
        try:
            json.loads(head)
            return "json", "application/json"
        except ValueError:
            if stripped[:1] == b"{" and b'":' in stripped[:200]:
                return "json", "application/json"
    if stripped[:5] == b"<?xml":
        return "xml", "application/xml"
    if stripped[:14].lower() in (b"<!doctype html", ) or stripped[:5].lower() == b"<html":
        return "html", "text/html"
    if stripped.startswith(b"---\n") or (b"apiVersion:" in head and b"kind:" in head):
        return "yaml", "application/yaml"
    if ext in TEXT_BY_EXTENSION:
        return TEXT_BY_EXTENSION[ext]
    guessed = mimetypes.guess_type("x." + ext)[0] if ext else None
    return "text", guessed or "text/plain"


def sniff(head: bytes, name: str, size: int) -> Sniffed:
    """Type of a file from its first bytes (`head`) and its name."""
    ext = extension_of(name)
    if size == 0 or not head:
        return Sniffed("empty", "inode/x-empty", False, None)
    ml = _ml_signature(head)
    if ml is not None:
        return ml
    encoding = _decode_text(head, truncated=size > len(head))
    if encoding is not None:
        file_type, mime = _text_type(head, name, ext)
        return Sniffed(file_type, mime, True, encoding)
    kind = filetype.guess(head)
    if kind is not None:
        return Sniffed(kind.extension, kind.mime, False, None)
    if head[:4] == b"\x7fELF":
        return Sniffed("elf", "application/x-executable", False, None)
    return Sniffed("binary", "application/octet-stream", False, None)
