"""Secret detection: provider tokens, private keys, credentials in URLs, generic assignments.

How a file is scanned (`SecretScanner.scan_bytes`):

1. **Container formats first.** A zip or tar (optionally gzip/bzip2/xz-compressed) is opened
   one level deep and each text member scanned (context "archive", `member` = its path), with
   bounded member counts and bounded decompression (a zip bomb costs at most
   `MAX_ARCHIVE_BYTES` of output). A Jupyter notebook is parsed and its cell sources and
   outputs scanned (context notebook-source / notebook-output), each match mapped back to
   its line in the .ipynb file. Anything else that is not text (a NUL in the first 8 KiB)
   is skipped.
2. **Prefilter.** One Aho-Corasick pass over the UTF-8 bytes (the `ahocorasick_rs` package, a
   Rust DFA; a combined regex when it is missing) finds every keyword of every rule in `data/secret_rules.yaml`: literal
   token prefixes (`ghp_`, `AKIA`, `xoxb-`, ...) and assignment names (`password`, `token`,
   ...). Only rules whose keyword occurs run, and only on the line holding the keyword (at
   most 2 KiB around it, so a minified 10 MB line costs no more than a short one).
3. **Rules.** A regex per provider with the documented length and alphabet, then a
   validator where the format has one: the CRC32 of GitHub / npm tokens (base62), Grafana
   service-account tokens and Atlassian tokens, the bech32 checksum of age keys, the
   macaroon structure of PyPI tokens, the decoded sizes of Azure keys and SAS signatures,
   the header and payload of a JWT. Python handlers cover what a regex cannot: PEM /
   OpenSSH / PGP / PuTTY private-key blocks (the key body is the value), GCP service-account
   JSON, Kubernetes Secret `data:` values, passwords in URLs, the AWS and Alibaba secret key
   next to its key id, and generic `password = "..."`-style assignments (entropy-gated, low
   confidence).
4. **Base64 blobs.** Runs of 40+ base64 characters (found with one `bytes.translate` and a
   substring search, no regex) that decode to printable text are scanned once more (no
   further decoding); matches are reported at the blob's line with
   context "base64" and the decoded value.
5. **Filters.** Placeholders (`changeme`, `<your-token>`, `${VAR}`, `{{ .Values.x }}`,
   `xxxx`, `****`, documented example keys, ...), references (`os.environ[...]`,
   `process.env.X`, `var.x`), UUIDs, paths and low-entropy values are dropped.

Test fixtures. A candidate is dropped when it is not checksum-verified and (a) its line
says it is not real (`fake`, `dummy`, `example`, `sample`, `mock`, `placeholder`,
`not a real`, `test fixture`), or (b) the file declares itself a fixture in a comment in its
first 2 KiB (`# test fixture`, `// anfl:test-fixture`), or (c) the file lies under a fixture
directory (`fixtures/`, `testdata/`, `__mocks__/`, ...) and the value or its line says
fake/test/mock/dummy/example/sample. Checksum-verified tokens (GitHub, npm, Grafana
service-account, Atlassian, age) are reported wherever they are: a valid CRC32 is a 1 in
4 billion accident for an invented string, so a fixture holding one holds a real-format
token that may well be live. Explicit placeholders drop even those.

`anfl:allow` on the matched line (in any comment syntax) marks the match
`allowed_inline=True`; it is still returned, the pipeline decides.

Bad input never raises: every decoder and parser is guarded, and work per line, per file,
per archive and per decoded blob is bounded.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import bz2
import codecs
import hashlib
import io
import json
import lzma
import math
import re
import tarfile
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from struct import error as struct_error  # zipfile / tarfile raise it on damaged headers
from typing import NamedTuple
from urllib.parse import unquote

import yaml

from anfl_assets.domain.rules_files import load_yaml_document
from anfl_assets.domain.security import CONFIDENCES, SEVERITIES, SecretMatch

try:  # Rust Aho-Corasick (DFA); a combined regex does the same job more slowly without it
    import ahocorasick_rs as _ac_rs
except ImportError:  # pragma: no cover - exercised only where the package is missing
    _ac_rs = None

ENGINE_REVISION = 3  # the major engine generation (the version also hashes the rules and this source)
RULES_PATH = Path(__file__).resolve().parents[2] / "data" / "secret_rules.yaml"

# Bounds: the work for any input is linear in its size and capped.
MAX_SCAN_BYTES = 64 * 1024 * 1024      # bytes of one file scanned (the rest is ignored)
MAX_TEXT_SCAN = 32 * 1024 * 1024       # characters of one decoded text scanned
WINDOW_HALF = 1024                     # a rule sees at most this many chars either side of its keyword
MAX_HITS_PER_RULE = 20_000             # keyword hits handled per rule per text
MAX_MATCHES_PER_TEXT = 2_000           # findings returned per scanned text
MAX_CANDIDATES = 20_000                # candidates weighed per scanned text
FILE_SCOPE_MAX = 4 * 1024 * 1024       # chars a `scope: file` rule scans
MAX_B64_RUNS = 2_000                   # base64 runs decoded per text
MAX_B64_RUN = 64 * 1024                # longer runs (images, fonts) are not decoded
MAX_ARCHIVE_MEMBERS = 2_000
MAX_MEMBER_BYTES = 8 * 1024 * 1024
MAX_ARCHIVE_BYTES = 64 * 1024 * 1024   # decompressed bytes read from one archive, all members
MAX_NOTEBOOK_BYTES = 64 * 1024 * 1024

# is_scannable: what the pipeline should bother to read.
MAX_TEXT_FILE = 16 * 1024 * 1024
MAX_ARCHIVE_FILE = 64 * 1024 * 1024
ARCHIVE_TYPES = frozenset({"zip", "tar", "gz", "bz2", "xz"})
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tgz", ".tar.gz", ".tbz2", ".tar.bz2", ".txz", ".tar.xz", ".gz", ".bz2", ".xz")
BINARY_TYPES = frozenset({
    "safetensors", "onnx", "pickle", "torch", "numpy", "hdf5", "parquet", "sqlite", "pdf", "elf",
    "python-bytecode", "ds_store", "png", "jpg", "gif", "webp", "bmp", "tif", "ico", "mp3", "mp4", "wav",
    "avi", "mov", "mkv", "webm", "flac", "ogg", "woff", "woff2", "ttf", "otf", "exe", "dll", "so",
    "class", "jar", "whl", "7z", "rar", "zst", "lz4", "psd", "heic", "binary", "empty",
})
BINARY_SUFFIXES = (
    ".safetensors", ".onnx", ".pt", ".pth", ".ckpt", ".bin", ".pkl", ".pickle", ".joblib", ".npy", ".npz",
    ".h5", ".hdf5", ".parquet", ".arrow", ".feather", ".tflite", ".pb", ".gguf", ".png", ".jpg", ".jpeg",
    ".gif", ".webp", ".bmp", ".ico", ".tif", ".tiff", ".mp3", ".mp4", ".wav", ".avi", ".mov", ".mkv",
    ".pdf", ".so", ".dll", ".exe", ".dylib", ".o", ".a", ".pyc", ".class", ".woff", ".woff2", ".ttf",
    ".otf", ".sqlite", ".db", ".7z", ".rar", ".zst", ".iso", ".dmg",
)

CONFIDENCE_RANK = {c: i for i, c in enumerate(CONFIDENCES)}


# --------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------
def shannon_entropy(value: str) -> float:
    """Bits per character of `value`'s own character distribution."""
    n = len(value)
    if n == 0:
        return 0.0
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def char_classes(value: str) -> int:
    """How many of lower, upper, digit, symbol (other than _ - .) occur in `value`."""
    lower = upper = digit = symbol = 0
    for ch in value:
        if "a" <= ch <= "z":
            lower = 1
        elif "A" <= ch <= "Z":
            upper = 1
        elif "0" <= ch <= "9":
            digit = 1
        elif ch not in "_-.":
            symbol = 1
    return lower + upper + digit + symbol


BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def base62_encode(number: int, width: int = 6) -> str:
    out = []
    while number:
        number, rem = divmod(number, 62)
        out.append(BASE62[rem])
    return "".join(reversed(out)).rjust(width, "0")


def _b64decode_loose(value: str) -> bytes | None:
    """Standard or URL-safe base64, padding optional; None when it is not base64."""
    s = value.strip().rstrip("=")
    if not s:
        return None
    if "-" in s or "_" in s:
        s = s.replace("-", "+").replace("_", "/")
    s += "=" * (-len(s) % 4)
    try:
        return base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        return None


# --------------------------------------------------------------------------------------
# validators (named from the rules file)
# --------------------------------------------------------------------------------------
def _v_github_crc32(value: str) -> bool:
    """GitHub (ghp_, gho_, ghu_, ghs_, ghr_) and npm (npm_) tokens: the last 6 characters are
    the CRC32 of the random part, base62-encoded and zero-padded."""
    body = value.split("_", 1)[1] if "_" in value else ""
    if len(body) < 12:
        return False
    random_part, checksum = body[:-6], body[-6:]
    return base62_encode(zlib.crc32(random_part.encode("ascii", "replace"))) == checksum


def _v_grafana_crc32(value: str) -> bool:
    """glsa_<32>_<8 hex>: CRC32 (IEEE) of "glsa_<32>", its 4 bytes little-endian in hex."""
    head, _, checksum = value.rpartition("_")
    crc = zlib.crc32(head.encode("ascii", "replace"))
    return crc.to_bytes(4, "little").hex() == checksum.lower()


def _v_atlassian_crc32(value: str) -> bool:
    """ATATT / ATCTT / ATBB tokens end with the CRC32 of everything before it, 8 hex digits."""
    data, checksum = value[:-8], value[-8:]
    try:
        return zlib.crc32(data.encode("ascii")) == int(checksum, 16)
    except ValueError:
        return False


BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _v_bech32(value: str) -> bool:
    """Bech32 checksum (BIP-173), as age secret keys use it."""
    s = value.lower()
    pos = s.rfind("1")
    if pos < 1 or pos + 7 > len(s):
        return False
    hrp, data = s[:pos], s[pos + 1:]
    try:
        values = [BECH32_CHARSET.index(c) for c in data]
    except ValueError:
        return False
    gen = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for v in [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp] + values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if (top >> i) & 1 else 0
    return chk == 1


def _v_base64_64_bytes(value: str) -> bool:
    raw = _b64decode_loose(value)
    return raw is not None and len(raw) == 64


def _v_sas_signature(value: str) -> bool:
    raw = _b64decode_loose(unquote(value))
    return raw is not None and len(raw) == 32


def _v_pypi_macaroon(value: str) -> bool:
    """A PyPI token is `pypi-` + base64url(macaroon v2): version 2, location pypi.org (or
    test.pypi.org), an identifier, and a 32-byte signature field at the end."""
    raw = _b64decode_loose(value[5:])
    if raw is None or len(raw) < 60:
        return False
    if not (raw.startswith(b"\x02\x01\x08pypi.org\x02") or raw.startswith(b"\x02\x01\x0dtest.pypi.org\x02")):
        return False
    return raw[-34:-32] == b"\x06\x20"


def _v_discord_id(value: str) -> bool:
    """The first part of a Discord bot token is the bot's numeric id in base64."""
    raw = _b64decode_loose(value.split(".", 1)[0])
    return raw is not None and raw.isdigit() and 15 <= len(raw) <= 20


def _json_b64(value: str) -> dict | None:
    raw = _b64decode_loose(value)
    if raw is None:
        return None
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _v_grafana_cloud_json(value: str) -> bool:
    doc = _json_b64(value[4:])
    return doc is not None and "k" in doc and "o" in doc


def _v_grafana_key_json(value: str) -> bool:
    doc = _json_b64(value)
    return doc is not None and "k" in doc and "n" in doc


def _v_sentry_token(value: str) -> bool:
    if value.startswith("sntryu_"):
        return True
    body = value[len("sntrys_"):]
    doc = _json_b64(body.rsplit("_", 1)[0])
    return doc is not None and ("org" in doc or "url" in doc)


def _v_jwt(value: str) -> bool:
    parts = value.split(".")
    if len(parts) != 3:
        return False
    header, payload = _json_b64(parts[0]), _json_b64(parts[1])
    if header is None or payload is None or not isinstance(header.get("alg"), str):
        return False
    if header["alg"].lower() != "none" and len(parts[2]) < 16:
        return False
    return not _is_documented_jwt(payload)


def _is_documented_jwt(payload: dict) -> bool:
    """The jwt.io / RFC examples everyone copies."""
    return (payload.get("name") == "John Doe" or payload.get("sub") == "1234567890"
            or payload.get("iss") == "joe")


def _v_basic_auth_pair(value: str) -> bool:
    """base64("user:password") with a password worth reporting."""
    raw = _b64decode_loose(value)
    if raw is None:
        return False
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    user, sep, password = text.partition(":")
    if not sep or not password or not text.isprintable():
        return False
    return not _is_placeholder(password) and password.lower() not in COMMON_DEV_PASSWORDS and password != user


def _v_atlassian_dc_pat(value: str) -> bool:
    """Data Center PATs are base64 of "<numeric id>:<random bytes>"."""
    raw = _b64decode_loose(value)
    if raw is None:
        return False
    head, sep, _ = raw.partition(b":")
    return bool(sep) and head.isdigit() and 0 < len(head) <= 20


def _v_bearer_value(value: str) -> bool:
    """A bearer token literal; JWTs are left to the jwt rule (which knows the documented ones)."""
    return not value.startswith("eyJ") and _generic_value_verdict(value, quoted=True) is not None


VALIDATORS: dict[str, Callable[[str], bool | str]] = {
    "github_crc32": _v_github_crc32,
    "grafana_crc32": _v_grafana_crc32,
    "atlassian_crc32": _v_atlassian_crc32,
    "bech32": _v_bech32,
    "base64_64_bytes": _v_base64_64_bytes,
    "sas_signature": _v_sas_signature,
    "pypi_macaroon": _v_pypi_macaroon,
    "discord_id": _v_discord_id,
    "grafana_cloud_json": _v_grafana_cloud_json,
    "grafana_key_json": _v_grafana_key_json,
    "sentry_token": _v_sentry_token,
    "jwt": _v_jwt,
    "basic_auth_pair": _v_basic_auth_pair,
    "atlassian_dc_pat": _v_atlassian_dc_pat,
    "bearer_value": _v_bearer_value,
}


# --------------------------------------------------------------------------------------
# placeholders, references, fixtures
# --------------------------------------------------------------------------------------
PLACEHOLDER_WORDS = (
    "example", "sample", "dummy", "fake", "placeholder", "changeme", "change_me", "change-me",
    "replace_me", "replaceme", "replace-me", "your_", "your-", "yourtoken", "yourkey", "yourpass",
    "yoursecret", "xxxx", "****", "....", "redacted", "notreal", "not_real", "not-real", "lorem",
    "insert_", "insert-", "todo", "fixme", "<your", "<insert", "<token", "<secret", "<password",
)
PLACEHOLDER_LONG_MARKERS = ("example", "placeholder", "changeme", "replace_me", "replaceme", "xxxxxxxx",
                            "********", "........", "<your", "<insert", "your_key", "your-key", "redacted",
                            "not_real", "not-real", "notreal")
TEMPLATE_MARKERS = ("${", "{{", "}}", "<%", "%>", "$(", "%(", "#{", "[[", "]]")
DOCUMENTED_EXAMPLES = frozenset({
    "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "AKIAI44QH8DHBEXAMPLE",
    "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
    "sk_test_4eC39HqLyjWDarjtT1zdp7dc", "sk_test_BQokikJOvBiI2HlWgH4olfQ2",  # Stripe API docs
    "rk_test_4eC39HqLyjWDarjtT1zdp7dc", "pk_test_TYooMQauvdEDq54NiTphI7jx",
})
COMMON_DEV_PASSWORDS = frozenset({
    "password", "passw0rd", "pass", "passwd", "secret", "root", "admin", "administrator", "test",
    "testing", "guest", "user", "postgres", "mysql", "redis", "mongo", "mongodb", "rabbitmq", "default",
    "changeme", "changeit", "letmein", "qwerty", "123456", "12345678", "123456789", "1234", "toor",
    "example", "dev", "development", "local", "localhost", "demo", "sa", "oracle", "minio", "minioadmin",
    "hunter2", "foobar", "foo", "bar", "pwd", "none", "null", "nil", "undefined", "true", "false",
})
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# Words that say a line's value is not real. Not inside host names (db.example.com, x@example.org,
# corp.example) and not inside longer words (resample, downsampled).
LINE_MARKER_RE = re.compile(r"(?<![A-Za-z.@/])(?i:fake|dummy|example|sample|placeholder|mock)(?:s|d)?(?![a-z])"
                            r"(?!\.[A-Za-z])|(?i:not[ _-]a[ _-]real|not[ _-]real|test[ _-]?fixture)")
FIXTURE_WORD_RE = re.compile(r"(?i)test|fake|mock|dummy|example|sample|fixture|stub")
FILE_MARKER_RE = re.compile(r"(?im)^\s*(?:#|//|/\*|\*|<!--|--|;|%|rem\s)\s*(?:anfl:\s*)?test[ _-]?fixture\b")
FIXTURE_DIRS = frozenset({"fixtures", "fixture", "__fixtures__", "testdata", "test_data", "test-data",
                          "__mocks__", "mocks", "testfixtures", "test_fixtures"})
FIXTURE_NAME_RE = re.compile(r"(?i)(?:^|[._-])(?:fixtures?|fake|mocks?|dummy)(?:[._-]|$)")
ALLOW_RE = re.compile(r"(?i)anfl:allow\b")
# `{start}` in a rule's regex: a token begins here, not inside a longer word; a shell default
# value (`${VAR:-token}`, `${VAR:=token}`) is a real value that leaks, so it counts as a start.
TOKEN_START = r"(?:(?<![A-Za-z0-9_-])|(?<=:-)|(?<=:=))"


def _is_placeholder(value: str) -> bool:
    """A value that is a template, a documented example or an obvious stand-in. Long values (key
    bodies, long tokens) are only checked for long markers: a random 1,600-character body holds
    a 4-letter word like "fake" or "todo" about once in a thousand keys."""
    if value in DOCUMENTED_EXAMPLES:
        return True
    if any(m in value for m in TEMPLATE_MARKERS):
        return True
    low = value.lower()
    words = PLACEHOLDER_WORDS if len(value) <= 64 else PLACEHOLDER_LONG_MARKERS
    if any(w in low for w in words):
        return True
    core = value.split("_", 1)[1] if value[:8].count("_") == 1 and len(value) > 12 else value
    return len(set(core)) <= 5


def fixture_path(path: str) -> bool:
    """A file that by its location or name is test data."""
    parts = path.replace("\\", "/").lower().split("/")
    if any(p in FIXTURE_DIRS for p in parts[:-1]):
        return True
    return bool(FIXTURE_NAME_RE.search(parts[-1].rsplit(".", 1)[0])) if parts else False


# --------------------------------------------------------------------------------------
# generic assignments
# --------------------------------------------------------------------------------------
SECRET_PARTS = frozenset({"password", "passwd", "passphrase", "pwd", "secret", "token", "apikey",
                          "credential", "credentials", "authtoken", "accesstoken", "secretkey",
                          "privatekey", "clientsecret"})
KEY_QUALIFIERS = frozenset({"api", "access", "auth", "signing", "encryption", "master", "private",
                            "secret", "client", "app", "service", "session", "jwt", "hmac", "encrypt"})
NON_SECRET_PARTS = frozenset({
    "url", "uri", "urls", "path", "file", "filename", "name", "id", "ids", "type", "types", "length",
    "len", "count", "field", "fields", "label", "hint", "regex", "pattern", "prompt", "policy", "header",
    "param", "params", "expiry", "expires", "expiration", "ttl", "timeout", "dir", "enabled", "enable",
    "required", "size", "format", "version", "endpoint", "host", "port", "user", "username", "email",
    "mode", "algorithm", "alg", "kind", "min", "max", "validator", "validation", "reset", "hash",
    "hashed", "digest", "salt", "ref", "reference", "env", "var", "variable", "key_id", "location",
    "store", "manager", "provider", "source", "scope", "scopes", "index", "idx", "limit", "rotation",
    "created", "updated", "last", "updated_at", "created_at", "class", "cls", "schema", "spec",
    "placeholder", "description", "desc", "title", "text", "message", "msg", "error", "errors",
    "help", "input", "form", "button", "strength", "policy", "confirm", "confirmation", "visible",
    "show", "hide", "mask", "masked", "encoding", "encoded", "ttl", "lifetime", "duration", "age",
    "prefix", "suffix", "separator", "delimiter", "secrets", "tokens", "arn", "kms", "vault",
    "generator", "factory", "service", "handler", "callback", "cb", "fn", "func", "function",
    "method", "module", "class", "template", "key_name", "bucket", "region", "account", "tenant",
    "project", "namespace", "nonce", "iv", "checksum", "flag", "option", "options", "config",
    "settings", "dict", "map", "list", "array", "set", "bytes", "str", "string", "value_from", "from",
})
CONFIG_EXTS = frozenset({"env", "yaml", "yml", "ini", "cfg", "conf", "config", "properties", "sh", "bash",
                         "zsh", "ksh", "txt", "md", "markdown", "rst", "npmrc", "pypirc", "netrc", "tfvars",
                         "service", "desktop", "dockerfile", "envrc", "list", "toml"})
CODE_EXTS = frozenset({"py", "pyi", "js", "jsx", "mjs", "cjs", "ts", "tsx", "go", "java", "kt", "kts",
                       "scala", "rs", "c", "h", "cc", "cpp", "hpp", "cs", "rb", "php", "swift", "m",
                       "tf", "hcl", "lua", "pl", "r", "dart", "ex", "exs", "erl", "clj", "groovy",
                       "gradle", "vue", "svelte", "json", "jsonc", "ipynb"})
KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
KEY_CHARS_LEFT = KEY_CHARS | {"/"}  # `checksum/secret`, `node_modules/js-tokens`
DIGEST_PARTS = frozenset({"checksum", "hash", "sha", "sha1", "sha256", "sha512", "digest", "md5", "crc",
                          "fingerprint", "etag", "integrity", "public", "pub", "publishable", "node", "modules"})
CAMEL_RE = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
GENERIC_TAIL_RE = re.compile(
    r"""["'\]]{0,2}[ \t]{0,16}(?P<op>:=|=>|\?=|=(?![=~])|:(?![:/\\]))[ \t]{0,4}"""
    r"""(?:(?P<q>["'`])(?P<qv>[^"'`\\\r\n]{1,256})(?P=q)|(?P<bv>[^\s"'`,;<>(){}\[\]]{1,256}))""")
XML_TAIL_RE = re.compile(r">(?P<bv>[^<>\s]{1,256})</")
NETRC_TAIL_RE = re.compile(r"[ \t]+(?P<bv>[^\s]{1,256})")
XML_EXTS = frozenset({"xml", "config", "plist", "xaml", "csproj", "pom", "xsd", "jnlp"})
REFERENCE_RE = re.compile(r"^[A-Za-z_$][\w$]*(?:(?:\.|::|->)[A-Za-z_$][\w$]*|\[[^\]]*\]|\(\S*\))+$")
IDENTIFIER_RE = re.compile(r"^[A-Za-z_$][\w$]*$")
WORDY_RE = re.compile(r"^[A-Za-z]+(?:[_\-.][A-Za-z]+)*$")
REFERENCE_PREFIXES = (
    "os.environ", "os.getenv", "process.env", "env.", "env(", "env[", "getenv", "system.getenv",
    "secrets.", "vault:", "vault(", "ssm:", "arn:", "sm://", "op://", "keyvault", "@microsoft.keyvault",
    "azurekeyvault", "ref+", "!ref", "!sub", "!getatt", "aws-secretsmanager", "gcp-secretmanager",
    "projects/", "data.", "var.", "local.", "module.", "each.", "self.", "this.", "config.", "settings.",
)
PATH_SUFFIXES = (".pem", ".key", ".json", ".txt", ".yaml", ".yml", ".crt", ".cer", ".p12", ".pfx", ".jks",
                 ".env", ".pub", ".der", ".keystore", ".gpg", ".asc", ".cfg", ".ini", ".conf", ".toml")
SECRET_WORDS_IN_VALUE = ("password", "passwd", "secret", "token", "apikey", "api_key", "api-key")


def _key_parts(key: str) -> list[str]:
    return [p.lower() for p in CAMEL_RE.findall(key)]


def _key_is_secret(key: str) -> bool:
    """`DB_PASSWORD`, `apiKey`, `client_secret`, `x-auth-token` yes; `password_hash`,
    `token_url`, `max_tokens`, `secretName` no."""
    parts = _key_parts(key)
    hit = -1
    for i, p in enumerate(parts):
        if p in SECRET_PARTS or (p == "key" and i > 0 and parts[i - 1] in KEY_QUALIFIERS) or (
                p == "pass" and i == len(parts) - 1 and i > 0):
            hit = i
    if hit < 0:
        return False
    if any(p in DIGEST_PARTS for p in parts[:hit]):
        return False
    return not any(p in NON_SECRET_PARTS for p in parts[hit + 1:])


def _generic_value_verdict(value: str, quoted: bool, code_file: bool = False) -> str | None:
    """Confidence ("medium" / "low") for a value assigned to a secret-named key, or None when
    it is a placeholder, reference, path, identifier or too weak to be a real secret."""
    n = len(value)
    if n < 8 or n > 256 or any(c.isspace() for c in value):
        return None
    low = value.lower()
    if _is_placeholder(value) or any(w in low for w in SECRET_WORDS_IN_VALUE):
        return None
    if low.startswith(REFERENCE_PREFIXES) or low.startswith(("http://", "https://", "file:")):
        return None
    if value[0] in "/~\\" or value.startswith(("./", "../")) or low.endswith(PATH_SUFFIXES):
        return None
    if not quoted:
        if value[0] in "#$%&@!*{[(<|>" or REFERENCE_RE.match(value) or (code_file and IDENTIFIER_RE.match(value)):
            return None
    if value[0] == "<" and value[-1] == ">":
        return None
    if UUID_RE.match(value) or value.replace(".", "").replace("-", "").isdigit():
        return None
    if low in COMMON_DEV_PASSWORDS:
        return None
    classes = char_classes(value)
    ent = shannon_entropy(value)
    if WORDY_RE.match(value) and not (n >= 20 and classes >= 2 and ent >= 3.9):
        return None
    strong = (classes >= 3 and n >= 8 and ent >= 2.8) or (classes >= 2 and n >= 12 and ent >= 3.3) or (
        n >= 20 and ent >= 3.7)
    if not strong:
        return None
    return "medium" if (n >= 16 and ent >= 3.5 and classes >= 3) else "low"


# --------------------------------------------------------------------------------------
# rules
# --------------------------------------------------------------------------------------
@dataclass(slots=True)
class Rule:
    id: str
    kind: str
    family: str
    severity: str
    confidence: str
    keywords: tuple[str, ...]
    regex: re.Pattern | None = None
    scope: str = "line"
    near: int = 0
    validate: Callable[[str], bool | str] | None = None
    verified: bool = False
    entropy: float = 0.0
    handler: str | None = None
    pair: str | None = None
    priority: int = 10
    index: int = 0
    nocase: bool = False


HANDLER_PRIORITY = {"gcp_service_account": 4, "private_key": 5, "kubernetes_secret": 40,
                    "url_credentials": 30, "generic_assignment": 90}
RULE_PRIORITY = {"jwt": 20, "docker-config-auth": 25, "http-basic-auth": 25, "bearer-token": 80}


class RulesError(ValueError):
    """The rules file is malformed (the message says where)."""


def _keyword_variants(word: str, nocase: bool) -> set[str]:
    if not nocase:
        return {word}
    return {word, word.lower(), word.upper(), word[:1].upper() + word[1:]}


def _compile_rules(doc: dict, source: str,
                   first_index: int = 0) -> tuple[list[Rule], list[re.Pattern], list[re.Pattern]]:
    rules: list[Rule] = []
    for i, spec in enumerate(doc.get("rules") or []):
        where = f"{source}: rule #{i + 1}"
        if not isinstance(spec, dict) or not spec.get("id"):
            raise RulesError(f"{where}: a rule needs an id")
        rid = str(spec["id"])
        severity = spec.get("severity", "medium")
        confidence = spec.get("confidence", "medium")
        if severity not in SEVERITIES or confidence not in CONFIDENCES:
            raise RulesError(f"{where} ({rid}): bad severity/confidence")
        handler = spec.get("handler")
        regex = None
        if handler is None:
            try:
                regex = re.compile(str(spec["regex"]).replace("{start}", TOKEN_START))
            except (KeyError, re.error, TypeError) as exc:
                raise RulesError(f"{where} ({rid}): bad or missing regex: {exc}") from exc
        validate = None
        if spec.get("validate"):
            validate = VALIDATORS.get(spec["validate"])
            if validate is None:
                raise RulesError(f"{where} ({rid}): unknown validator {spec['validate']!r}")
        scope = str(spec.get("scope", "line"))
        near = 0
        if scope.startswith("near:"):
            near, scope = int(scope.split(":", 1)[1]), "near"
        elif scope not in ("line", "file"):
            raise RulesError(f"{where} ({rid}): scope must be line, file or near:N")
        keywords: set[str] = set()
        for kw in spec.get("keywords") or []:
            keywords |= _keyword_variants(str(kw), bool(spec.get("nocase")))
        priority = spec.get("priority") or RULE_PRIORITY.get(rid) or HANDLER_PRIORITY.get(handler or "", 10)
        rules.append(Rule(
            id=rid, kind=str(spec.get("kind", rid)), family=str(spec.get("family", rid)), severity=severity,
            confidence=confidence, keywords=tuple(sorted(keywords)), regex=regex, scope=scope, near=near,
            validate=validate, verified=bool(spec.get("verified")), entropy=float(spec.get("entropy", 0.0)),
            handler=handler, pair=spec.get("pair"), priority=int(priority), index=first_index + len(rules),
            nocase=bool(spec.get("nocase"))))
    allow = doc.get("allow") or {}
    try:
        allow_values = [re.compile(p) for p in allow.get("values") or []]
        allow_paths = [re.compile(p) for p in allow.get("paths") or []]
    except re.error as exc:
        raise RulesError(f"{source}: bad allow pattern: {exc}") from exc
    return rules, allow_values, allow_paths


def _load_doc(text: str, source: str) -> dict:
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise RulesError(f"{source}: not YAML: {exc}") from exc
    return _rules_doc(doc, source)


def _rules_doc(doc, source: str) -> dict:
    if not isinstance(doc, dict):
        raise RulesError(f"{source}: expected a mapping with `rules:`")
    return doc


def _rules_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def _engine_source() -> str:
    try:
        return Path(__file__).read_text(encoding="utf-8")
    except OSError:  # pragma: no cover - a bytecode-only install: the revision number alone
        return ""


_RULES_TEXT = RULES_PATH.read_text(encoding="utf-8")
# Changes with the rules file and with this module's source, so cached results keyed by it are
# never reused across a change of what the scanner reports (a comment edit costs one rescan).
RULESET_VERSION = f"secrets-{ENGINE_REVISION}:{_rules_hash(_RULES_TEXT + chr(0) + _engine_source())}"


class _Automaton:
    """Every keyword occurrence in a text's UTF-8 bytes: {rule index: [byte offsets]}.

    `ahocorasick_rs` (Rust aho-corasick, DFA) runs at a few hundred MB/s whatever the number
    of keywords; without it a combined bytes regex does the job (non-overlapping, slower)."""

    def __init__(self, keyword_rules: dict[str, list[int]]):
        self.keywords = [k for k in keyword_rules if k]
        self.rules_of = [tuple(keyword_rules[k]) for k in self.keywords]
        self._ac = None
        self._rx = None
        if not self.keywords:
            return
        patterns = [k.encode("utf-8") for k in self.keywords]
        if _ac_rs is not None:
            self._ac = _ac_rs.BytesAhoCorasick(patterns, implementation=_ac_rs.Implementation.DFA)
        else:
            order = sorted(range(len(patterns)), key=lambda i: -len(patterns[i]))
            self._rx = re.compile(b"|".join(b"(" + re.escape(patterns[i]) + b")" for i in order))
            self._group_pattern = {g + 1: i for g, i in enumerate(order)}

    def hits(self, data: bytes) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        rules_of = self.rules_of
        if self._ac is not None:
            found = ((pi, start) for pi, start, _ in self._ac.find_matches_as_indexes(data, overlapping=True))
        elif self._rx is not None:
            gp = self._group_pattern
            found = ((gp[m.lastindex], m.start()) for m in self._rx.finditer(data))
        else:
            return out
        for pi, start in found:
            for r in rules_of[pi]:
                lst = out.get(r)
                if lst is None:
                    out[r] = [start]
                elif len(lst) < MAX_HITS_PER_RULE:
                    lst.append(start)
        return out


class _Ruleset:
    def __init__(self, rules: list[Rule], allow_values: list[re.Pattern], allow_paths: list[re.Pattern]):
        self.rules = rules
        self.by_id = {r.id: r for r in rules}
        self.allow_values = allow_values
        self.allow_paths = allow_paths
        keyword_rules: dict[str, list[int]] = {}
        for r in rules:
            for kw in r.keywords:
                keyword_rules.setdefault(kw, []).append(r.index)
        self.automaton = _Automaton(keyword_rules)
        # literal token prefixes owned by a provider rule: the generic rule leaves such values alone
        self.owned_prefixes = tuple(sorted({
            kw for r in rules if r.regex is not None and not r.nocase
            for kw in r.keywords if len(kw) >= 4 and kw[0].isalnum() and not set(kw) & set('"/=:') and kw != "key-"}))


_DEFAULT_RULESET: _Ruleset | None = None


def _default_ruleset() -> _Ruleset:
    global _DEFAULT_RULESET
    if _DEFAULT_RULESET is None:
        # (through the rule-file cache: 39 ms with yaml.safe_load in every process that scans)
        doc = _rules_doc(load_yaml_document(RULES_PATH) or {}, str(RULES_PATH))
        rules, av, ap = _compile_rules(doc, str(RULES_PATH))
        _DEFAULT_RULESET = _Ruleset(rules, av, ap)
    return _DEFAULT_RULESET


def rule_summaries() -> list[dict[str, str]]:
    """id, kind, family, severity, confidence of every built-in rule (for docs and reports)."""
    return [{"id": r.id, "kind": r.kind, "family": r.family, "severity": r.severity,
             "confidence": r.confidence} for r in _default_ruleset().rules]


# --------------------------------------------------------------------------------------
# candidates
# --------------------------------------------------------------------------------------
class _Cand(NamedTuple):
    start: int          # span in the scanned text used to resolve overlaps
    end: int
    anchor: int         # position reported as line/column
    rule: Rule
    value: str
    confidence: str
    severity: str
    context: str        # "text" or "base64"


@dataclass(slots=True)
class _FileInfo:
    path: str
    ext: str
    code_file: bool
    config_file: bool
    fixture_path: bool
    file_marked: bool = False
    netrc: bool = False


def _file_info(path: str) -> _FileInfo:
    name = path.replace("\\", "/").rsplit("/", 1)[-1].lower()
    ext = name.rsplit(".", 1)[-1] if "." in name.lstrip(".") else ""
    if name.startswith(".env") or name in (".npmrc", ".pypirc", ".netrc", "_netrc", ".envrc", "dockerfile",
                                            "credentials", "config", ".htpasswd", ".pgpass"):
        ext_kind = "config"
    else:
        ext_kind = "code" if ext in CODE_EXTS else "config" if (ext in CONFIG_EXTS or not ext) else "other"
    return _FileInfo(path=path, ext=ext, code_file=ext_kind == "code", config_file=ext_kind == "config",
                     fixture_path=fixture_path(path), netrc=name in (".netrc", "_netrc"))


def _line_bounds(text: str, pos: int, n: int) -> tuple[int, int]:
    """Start and end of the line holding `pos`, clipped to WINDOW_HALF either side."""
    lo = pos - WINDOW_HALF if pos > WINDOW_HALF else 0
    i = text.rfind("\n", lo, pos)
    s = i + 1 if i >= 0 else lo
    hi = pos + WINDOW_HALF
    j = text.find("\n", pos, hi)
    e = j if j >= 0 else (hi if hi < n else n)
    return s, e


def _expand_lines(text: str, s: int, e: int, lines: int, n: int) -> tuple[int, int]:
    for _ in range(lines):
        if s <= 0:
            break
        i = text.rfind("\n", max(0, s - 1 - WINDOW_HALF), s - 1)
        s = i + 1 if i >= 0 else max(0, s - 1 - WINDOW_HALF)
    for _ in range(lines):
        if e >= n:
            break
        j = text.find("\n", e + 1, e + 1 + WINDOW_HALF)
        e = j if j >= 0 else min(n, e + 1 + WINDOW_HALF)
    return s, e


_B64_TABLE = bytes(65 if (48 <= i <= 57 or 65 <= i <= 90 or 97 <= i <= 122 or i in b"+/_-") else 32
                   for i in range(256))
_B64_NEEDLE = b"A" * 40
_PRINTABLE = bytes(range(32, 127)) + b"\t\n\r"


def _b64_runs(data: bytes) -> list[tuple[int, int]]:
    """Byte spans of runs of 40+ base64 characters (either alphabet, `=` padding included) no
    longer than MAX_B64_RUN: one translate and a substring search, ~200 MB/s."""
    tr = data.translate(_B64_TABLE)
    out = []
    pos = 0
    n = len(data)
    while len(out) < MAX_B64_RUNS:
        i = tr.find(_B64_NEEDLE, pos)
        if i < 0:
            break
        j = tr.find(b" ", i + 40)
        j = n if j < 0 else j
        pos = j
        while j < n and j - pos < 2 and data[j] == 61:  # "=" padding
            j += 1
        if j - i <= MAX_B64_RUN:
            out.append((i, j))
    return out


def _char_offsets(data: bytes, positions: list[int]) -> dict[int, int]:
    """Character offsets of byte offsets that start a character (sorted input)."""
    out = {}
    prev_b = prev_c = 0
    for b in positions:
        prev_c += len(data[prev_b:b].decode("utf-8", "surrogatepass"))
        prev_b = b
        out[b] = prev_c
    return out
AWS_SECRET_NEAR_RE = re.compile(r"(?<![A-Za-z0-9/+_.-])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=_.-])")
ALIBABA_SECRET_NEAR_RE = re.compile(r"(?<![A-Za-z0-9/+_.-])[A-Za-z0-9]{30}(?![A-Za-z0-9/+=_.-])")
PAIR_PATTERNS = {"aws-secret-access-key": AWS_SECRET_NEAR_RE, "alibaba-access-key-secret": ALIBABA_SECRET_NEAR_RE}
PEM_BEGIN_RE = re.compile(r"-----BEGIN ((?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?)-----")
URL_CRED_RE = re.compile(r"(?P<user>[^:@/\s\"'<>\\`]{0,64}):(?P<pw>[^@/\s\"'<>\\`]{1,128})"
                         r"@(?P<host>[A-Za-z0-9_.\[\]-]{1,253})")
DB_SCHEMES = frozenset({"postgres", "postgresql", "mysql", "mysqlx", "mariadb", "mongodb", "mongodb+srv",
                        "redis", "rediss", "amqp", "amqps", "mssql", "sqlserver", "oracle", "cockroachdb",
                        "clickhouse", "snowflake", "db2", "couchdb", "neo4j", "neo4j+s", "bolt", "cassandra",
                        "memcached", "elasticsearch", "influxdb", "timescaledb", "postgis", "mysql2",
                        "postgresql+psycopg2", "postgresql+asyncpg", "mysql+pymysql", "mysql+mysqldb"})
K8S_DATA_YAML_RE = re.compile(r"^(?P<indent>[ \t]+)(?P<key>[\w.-]{1,253}):[ \t]*"
                              r"[\"']?(?P<val>[A-Za-z0-9+/]{4,}={0,2})[\"']?[ \t]*$", re.MULTILINE)
K8S_DATA_JSON_RE = re.compile(r"\"(?P<key>[\w.-]{1,253})\"\s*:\s*\"(?P<val>[A-Za-z0-9+/]{4,}={0,2})\"")
K8S_NON_SECRET_KEYS = frozenset({"username", "user", "host", "hostname", "port", "database", "db", "dbname",
                                 "url", "endpoint", "region", "namespace", "name", "email", "ca.crt",
                                 "tls.crt", "service", "bucket", "schema", "protocol"})
GCP_FIELDS_RE = re.compile(r"\"(private_key_id|private_key|client_email|type)\"\s*:\s*\"((?:[^\"\\]|\\.){0,8192})\"")


class SecretScanner:
    """Detects secrets in file contents. Build once, call `scan_bytes` per file; safe to pickle
    into worker processes (it is rebuilt from the rules text there)."""

    def __init__(self, extra_rules_path: Path | None = None):
        self.extra_rules_path = Path(extra_rules_path) if extra_rules_path is not None else None
        self._extra_text = self.extra_rules_path.read_text(encoding="utf-8") if self.extra_rules_path else None
        self._build()

    def _build(self) -> None:
        base = _default_ruleset()
        if self._extra_text is None:
            self._rs = base
            self.version = RULESET_VERSION
            return
        doc = _load_doc(self._extra_text, str(self.extra_rules_path))
        extra, av, ap = _compile_rules(doc, str(self.extra_rules_path), first_index=len(base.rules))
        taken = {r.id for r in base.rules}
        for r in extra:
            if r.id in taken:
                raise RulesError(f"{self.extra_rules_path}: rule id {r.id!r} is already defined")
            taken.add(r.id)
        self._rs = _Ruleset(base.rules + extra, base.allow_values + av, base.allow_paths + ap)
        self.version = f"{RULESET_VERSION}+{_rules_hash(self._extra_text)}"

    def __getstate__(self):
        return {"extra_rules_path": self.extra_rules_path, "extra_text": self._extra_text}

    def __setstate__(self, state):
        self.extra_rules_path = state["extra_rules_path"]
        self._extra_text = state["extra_text"]
        self._build()

    # ------------------------------------------------------------------ entry points
    def scan_bytes(self, path: str, content: bytes) -> list[SecretMatch]:
        """Secrets in one file's bytes. Never raises on bad input."""
        try:
            return self._scan_bytes(path, content)
        except (RecursionError, MemoryError):  # pragma: no cover - defensive
            return []

    def scan_text(self, path: str, text: str) -> list[SecretMatch]:
        """Secrets in already-decoded text (a notebook path is parsed as a notebook)."""
        try:
            if self._path_allowed(path):
                return []
            text = text[:MAX_TEXT_SCAN]
            if path.lower().endswith(".ipynb"):
                found = self._scan_notebook(path, text)
                if found is not None:
                    return found
            return self._scan_plain(path, text, context="text", member=None)
        except (RecursionError, MemoryError):  # pragma: no cover - defensive
            return []

    # ------------------------------------------------------------------ bytes
    def _path_allowed(self, path: str) -> bool:
        return any(p.search(path) for p in self._rs.allow_paths)

    def _scan_bytes(self, path: str, content: bytes) -> list[SecretMatch]:
        if not content or self._path_allowed(path):
            return []
        content = content[:MAX_SCAN_BYTES]
        kind = archive_kind(path, content)
        if kind is not None:
            found = self._scan_archive(path, content, kind)
            if found is not None:
                return found
        text = decode_text(content)
        if text is None:
            return []
        return self.scan_text(path, text)

    # ------------------------------------------------------------------ plain text
    def _scan_plain(self, path: str, text: str, context: str, member: str | None,
                    info: _FileInfo | None = None) -> list[SecretMatch]:
        info = info or _file_info(member or path)
        info.file_marked = bool(FILE_MARKER_RE.search(text, 0, 2048))
        cands = self._candidates(text, info, decode_b64=True)
        return self._finalize(text, cands, info, context, member)

    def _candidates(self, text: str, info: _FileInfo, decode_b64: bool) -> list[_Cand]:
        rs = self._rs
        n = len(text)
        data = text.encode("utf-8", "surrogatepass")
        hits = rs.automaton.hits(data)
        runs = _b64_runs(data) if decode_b64 else []
        if len(data) != n:  # not ASCII: byte offsets -> character offsets
            mapping = _char_offsets(data, sorted({p for ps in hits.values() for p in ps}
                                                 | {p for run in runs for p in run}))
            hits = {r: [mapping[p] for p in ps] for r, ps in hits.items()}
            runs = [(mapping[a], mapping[b]) for a, b in runs]
        cands: list[_Cand] = []
        for ridx in sorted(hits):
            rule = rs.rules[ridx]
            positions = hits[ridx]
            if rule.handler is not None:
                handler = HANDLERS.get(rule.handler)
                if handler is not None:
                    handler(self, text, positions, rule, info, cands)
                continue
            self._run_regex_rule(text, n, positions, rule, info, cands)
        if runs:
            self._decode_blobs(text, runs, info, cands)
        return cands

    def _run_regex_rule(self, text: str, n: int, positions: list[int], rule: Rule, info: _FileInfo,
                        cands: list[_Cand]) -> None:
        rx = rule.regex
        if rule.scope == "file":
            windows: Iterable[tuple[int, int]] = [(0, min(n, FILE_SCOPE_MAX))]
        else:
            windows = self._windows(text, n, positions, rule.near)
        for s, e in windows:
            for m in rx.finditer(text, s, e):
                if "secret" in rx.groupindex:
                    vs, ve = m.span("secret")
                else:
                    vs, ve = m.span()
                value = text[vs:ve]
                conf = self._accept(rule, value)
                if conf is None:
                    continue
                cands.append(_Cand(vs, ve, vs, rule, value, conf, rule.severity, "text"))
                if rule.pair:
                    self._find_pair(text, n, vs, ve, rule, info, cands)

    @staticmethod
    def _windows(text: str, n: int, positions: list[int], near: int) -> Iterable[tuple[int, int]]:
        last_end = -1
        for p in sorted(positions):
            if p < last_end:
                continue
            s, e = _line_bounds(text, p, n)
            if near:
                s, e = _expand_lines(text, s, e, near, n)
            if s < last_end:
                s = last_end
            last_end = e
            yield s, e

    def _accept(self, rule: Rule, value: str) -> str | None:
        """The confidence of a candidate value, or None when it fails the rule's checks."""
        if rule.entropy and shannon_entropy(value) < rule.entropy:
            return None
        conf = rule.confidence
        if rule.validate is not None:
            verdict = rule.validate(value)
            if not verdict:
                return None
            if isinstance(verdict, str):
                conf = verdict
        if rule.id == "openai-api-key" and "T3BlbkFJ" not in value:
            conf = "medium"  # project keys without the marker: prefix and length only
        return conf

    def _find_pair(self, text: str, n: int, vs: int, ve: int, rule: Rule, info: _FileInfo,
                   cands: list[_Cand]) -> None:
        """The secret half of an id/secret pair (AWS, Alibaba) within 5 lines of the id."""
        partner = self._rs.by_id.get(rule.pair or "")
        rx = PAIR_PATTERNS.get(rule.pair or "")
        if partner is None or rx is None:
            return
        s, e = _line_bounds(text, vs, n)
        s, e = _expand_lines(text, s, e, 5, n)
        for m in rx.finditer(text, s, e):
            if m.start() < ve and m.end() > vs:
                continue
            value = m.group()
            if char_classes(value) < 3 or shannon_entropy(value) < 4.0 or (partner.id == "aws-secret-access-key"
                                                                         and not any(c.islower() for c in value)):
                continue
            cands.append(_Cand(m.start(), m.end(), m.start(), partner, value, "medium", partner.severity, "text"))

    # ------------------------------------------------------------------ base64 blobs
    def _decode_blobs(self, text: str, runs: list[tuple[int, int]], info: _FileInfo, cands: list[_Cand]) -> None:
        for s, e in runs:
            run = text[s:e]
            before = text[max(0, s - 8):s]
            if before.endswith(("base64,", "sha512-", "sha384-", "sha256-", "sha1-")):
                continue
            if not _looks_base64(run):
                continue
            probe = _b64decode_loose(run[:1024 - 1024 % 4] if len(run) > 1100 else run)
            if probe is None or len(probe) < 12 or len(probe.translate(None, _PRINTABLE)) > len(probe) // 20:
                continue
            raw = probe if len(run) <= 1100 else _b64decode_loose(run)
            if raw is None or len(raw.translate(None, _PRINTABLE)) > len(raw) // 20:
                continue
            decoded = raw.decode("ascii", "replace")
            inner_info = _FileInfo(path=info.path, ext=info.ext, code_file=False, config_file=True,
                                   fixture_path=info.fixture_path, file_marked=info.file_marked)
            for c in self._resolve(decoded, self._candidates(decoded, inner_info, decode_b64=False), inner_info):
                cands.append(_Cand(s, e, s, c.rule, c.value, c.confidence, c.severity, "base64"))

    # ------------------------------------------------------------------ resolve and report
    def _keep(self, c: _Cand, text: str, info: _FileInfo) -> bool:
        """Placeholder, allowlist and test-fixture filters (see the module docstring)."""
        value = c.value
        if value in DOCUMENTED_EXAMPLES or _is_placeholder(value):
            return False
        if any(p.search(value) for p in self._rs.allow_values):
            return False
        if c.rule.verified:
            return True
        s, e = _line_bounds(text, c.anchor, len(text))
        line = text[s:e]
        if LINE_MARKER_RE.search(line) and not ALLOW_RE.search(line):
            return False
        if info.file_marked:
            return False
        if info.fixture_path and (FIXTURE_WORD_RE.search(value) or FIXTURE_WORD_RE.search(line)):
            return False
        return True

    def _resolve(self, text: str, cands: list[_Cand], info: _FileInfo) -> list[_Cand]:
        """Filtered candidates, the most specific rule winning where spans overlap."""
        kept = [c for c in cands[:MAX_CANDIDATES] if self._keep(c, text, info)]
        kept.sort(key=lambda c: (c.rule.priority, CONFIDENCE_RANK[c.confidence], c.start))
        starts: list[int] = []      # accepted spans, sorted by start (non-overlapping but for
        spans: list[tuple[int, int]] = []  # findings that share one base64 blob)
        out: list[_Cand] = []
        seen: set[tuple[str, int, str]] = set()
        for c in kept:
            key = (c.rule.id, c.anchor, c.value)
            if key in seen:
                continue
            i = bisect.bisect_left(starts, c.start)
            clash = None
            for j in (i - 1, i, i + 1):
                if 0 <= j < len(spans) and c.start < spans[j][1] and c.end > spans[j][0]:
                    clash = spans[j]
                    break
            # one base64 blob may hold several secrets: same span, different values
            if clash is not None and not (c.context == "base64" and clash == (c.start, c.end)):
                continue
            seen.add(key)
            if clash is None:
                starts.insert(i, c.start)
                spans.insert(i, (c.start, c.end))
            out.append(c)
            if len(out) >= MAX_MATCHES_PER_TEXT:
                break
        out.sort(key=lambda c: (c.anchor, c.rule.priority))
        return out

    def _finalize(self, text: str, cands: list[_Cand], info: _FileInfo, context: str,
                  member: str | None) -> list[SecretMatch]:
        if not cands:
            return []
        out = []
        line_no, line_start, cursor = 1, 0, 0
        n = len(text)
        for c in self._resolve(text, cands, info):
            a = c.anchor
            if a > cursor:
                line_no += text.count("\n", cursor, a)
                i = text.rfind("\n", cursor, a)
                if i >= 0:
                    line_start = i + 1
                cursor = a
            j = text.find("\n", a, a + 65536)
            line_end = j if j >= 0 else min(n, a + 65536)
            allowed = bool(ALLOW_RE.search(text, max(line_start, a - 65536), line_end))
            spans = text.count("\n", a, max(a, c.end - 1))  # newlines inside the match: a multi-line secret
            out.append(SecretMatch(
                rule=c.rule.id, kind=c.rule.kind, severity=c.severity, confidence=c.confidence, line=line_no,
                column=a - line_start + 1, value=c.value,
                context=c.context if context == "text" else context, member=member, allowed_inline=allowed,
                end_line=line_no + spans if spans else None))
        return out

    # ------------------------------------------------------------------ notebooks
    def _scan_notebook(self, path: str, raw: str) -> list[SecretMatch] | None:
        if len(raw) > MAX_NOTEBOOK_BYTES:
            return None
        try:
            nb = json.loads(raw)
        except (ValueError, RecursionError):
            return None
        if not isinstance(nb, dict):
            return None
        cells = nb.get("cells")
        if cells is None and isinstance(nb.get("worksheets"), list):  # nbformat 3
            cells = [c for ws in nb["worksheets"] if isinstance(ws, dict) for c in (ws.get("cells") or [])]
        if not isinstance(cells, list):
            return None
        info = _file_info(path)
        marks = [m.start() for m in NB_CELL_TYPE_RE.finditer(raw)]
        lines = _NewlineIndex(raw)
        aligned = len(marks) == len(cells)
        out: list[SecretMatch] = []
        for ci, cell in enumerate(cells):
            if not isinstance(cell, dict):
                continue
            lo = marks[ci - 1] if aligned and ci > 0 else 0
            hi = marks[ci + 1] if aligned and ci + 1 < len(marks) else len(raw)
            for context, elements, sep in _notebook_parts(cell):
                out.extend(self._scan_cell_part(raw, lines, lo, hi, elements, sep, context, info))
        out.sort(key=lambda m: (m.line, m.column))
        return out

    def _scan_cell_part(self, raw: str, lines: _NewlineIndex, lo: int, hi: int, elements: list[str], sep: str,
                        context: str, info: _FileInfo) -> list[SecretMatch]:
        joined = sep.join(elements)
        if not joined:
            return []
        info.file_marked = bool(FILE_MARKER_RE.search(joined, 0, 2048))
        cands = self._candidates(joined, info, decode_b64=True)
        if not cands:
            return []
        offsets = []
        pos = 0
        for el in elements:
            offsets.append(pos)
            pos += len(el) + len(sep)
        out = []
        cursor = lo
        for c in self._resolve(joined, cands, info):
            k = bisect.bisect_right(offsets, c.anchor) - 1
            el = elements[k]
            within = c.anchor - offsets[k]
            raw_pos, col_off = _locate_json_string(raw, el, within, cursor, hi)
            if raw_pos < 0:
                needle = json.dumps(c.value)[1:-1]
                raw_pos = raw.find(needle, lo, hi)
                col_off = 0
                if raw_pos < 0:
                    raw_pos = lo
            else:
                cursor = raw_pos
            line, line_start = lines.locate(raw_pos)
            el_line_start = el.rfind("\n", 0, within) + 1
            el_line_end = el.find("\n", within)
            el_line = el[el_line_start:el_line_end if el_line_end >= 0 else len(el)]
            out.append(SecretMatch(
                rule=c.rule.id, kind=c.rule.kind, severity=c.severity, confidence=c.confidence, line=line,
                column=raw_pos - line_start + col_off + 1, value=c.value, context=context, member=None,
                allowed_inline=bool(ALLOW_RE.search(el_line))))
        return out

    # ------------------------------------------------------------------ archives
    def _scan_archive(self, path: str, content: bytes, kind: str) -> list[SecretMatch] | None:
        out: list[SecretMatch] = []
        try:
            members = _zip_members(content) if kind == "zip" else _compressed_members(path, content, kind)
            for name, data in members:
                if self._path_allowed(name):
                    continue
                text = decode_text(data)
                if text is None:
                    continue
                if name.lower().endswith(".ipynb"):
                    found = self._scan_notebook(name, text)
                    if found is not None:
                        out.extend(SecretMatch(m.rule, m.kind, m.severity, m.confidence, m.line, m.column,
                                               m.value, "archive", name, m.allowed_inline) for m in found)
                        continue
                out.extend(self._scan_plain(path, text[:MAX_TEXT_SCAN], context="archive", member=name,
                                            info=_file_info(name)))
        except (zipfile.BadZipFile, zipfile.LargeZipFile, tarfile.TarError, zlib.error, lzma.LZMAError,
                OSError, EOFError, ValueError, NotImplementedError, RuntimeError, KeyError, IndexError,
                struct_error):
            pass  # a damaged archive yields the members read before the damage
        return out


# --------------------------------------------------------------------------------------
# handlers (multi-line blocks, structured documents, assignments)
# --------------------------------------------------------------------------------------
def _h_private_key(scanner: SecretScanner, text: str, positions: list[int], rule: Rule, info: _FileInfo,
                   cands: list[_Cand]) -> None:
    n = len(text)
    done = -1
    for p in positions:
        if p < done:
            continue
        if text.startswith("PuTTY-User-Key-File-", p):
            c = _putty_key(text, p, rule)
            if c is not None:
                cands.append(c)
                done = c.end
            continue
        hb = text.rfind("-----BEGIN ", max(0, p - 80), p)
        if hb < 0:
            continue
        m = PEM_BEGIN_RE.match(text, hb)
        if m is None:
            continue
        label = m.group(1)
        body_start = m.end()
        fe = text.find("-----END ", body_start, min(n, body_start + 65536))
        if fe < 0:
            continue
        done = fe + 9
        body_raw = text[body_start:fe]
        body, encrypted = _pem_body(body_raw)
        if body is None:
            continue
        encrypted = encrypted or "ENCRYPTED" in label
        conf = "medium"
        raw = _b64decode_loose(body.split("=", 1)[0] if "PGP" in label else body)
        if raw is not None:
            if raw.startswith(b"openssh-key-v1\x00"):
                conf = "high"
                encrypted = encrypted or raw[15:19] != b"\x00\x00\x00\x04" or raw[19:23] != b"none"
            elif raw[:1] == b"\x30" or "PGP" in label:
                conf = "high"
        severity = "high" if encrypted else rule.severity
        fe_end = text.find("-----", fe + 9, min(n, fe + 120))
        cands.append(_Cand(hb, fe_end + 5 if fe_end > 0 else fe, hb, rule, body, conf, severity, "text"))


_PEM_LEAD_RE = re.compile(r"^[+\s]*[\"']")
_PEM_TRAIL_RE = re.compile(r"(?:[\"'][\s+,;)]*|\\)$")


def _pem_body(body_raw: str) -> tuple[str | None, bool]:
    """Base64 body of a PEM block written in a file, in a JSON string or in source code."""
    encrypted = "Proc-Type: 4,ENCRYPTED" in body_raw
    s = body_raw.replace("\\r", "\n").replace("\\n", "\n")
    parts = []
    for line in s.split("\n"):
        # code around the lines of a key pasted into source: `"MIIE..." +`, `'...',`, `\`
        line = _PEM_TRAIL_RE.sub("", _PEM_LEAD_RE.sub("", line.strip()))
        if not line or ":" in line:  # armor headers (Proc-Type, DEK-Info, Comment, Version)
            continue
        parts.append(line)
    body = "".join(parts)
    if len(body) < 64 or not re.fullmatch(r"[A-Za-z0-9+/=]+", body) or _is_placeholder(body):
        return None, encrypted
    return body, encrypted


def _putty_key(text: str, p: int, rule: Rule) -> _Cand | None:
    m = re.compile(r"Private-Lines:\s*(\d{1,4})").search(text, p, min(len(text), p + 8192))
    if m is None:
        return None
    lines = text[m.end():m.end() + 65536].lstrip("\r\n").splitlines()[:int(m.group(1))]
    body = "".join(x.strip() for x in lines)
    if len(body) < 32 or not re.fullmatch(r"[A-Za-z0-9+/=]+", body) or _is_placeholder(body):
        return None
    header = text[p:m.start()]
    severity = rule.severity if re.search(r"Encryption:\s*none", header) else "high"
    return _Cand(p, m.end() + len(body), p, rule, body, "high", severity, "text")


def _h_gcp_service_account(scanner: SecretScanner, text: str, positions: list[int], rule: Rule,
                           info: _FileInfo, cands: list[_Cand]) -> None:
    n = len(text)
    done = -1
    for p in positions:
        if p < done:
            continue
        lo, hi = max(0, p - 8192), min(n, p + 8192)
        fields: dict[str, tuple[str, int, int]] = {}
        for m in GCP_FIELDS_RE.finditer(text, lo, hi):
            fields.setdefault(m.group(1), (m.group(2), m.start(2), m.end(2)))
        if "private_key" not in fields or "client_email" not in fields:
            continue
        if fields.get("type", ("service_account",))[0] != "service_account":
            continue
        pk, pk_s, pk_e = fields["private_key"]
        m = PEM_BEGIN_RE.search(pk.replace("\\n", "\n"))
        if m is None:
            continue
        inner = pk.replace("\\n", "\n")
        end = inner.find("-----END ", m.end())
        body, _ = _pem_body(inner[m.end():end if end > 0 else len(inner)])
        if body is None or "@" not in fields["client_email"][0]:
            continue
        if "private_key_id" in fields and re.fullmatch(r"[0-9a-f]{40}", fields["private_key_id"][0]):
            value, anchor = fields["private_key_id"][0], fields["private_key_id"][1]
        else:
            value, anchor = body, pk_s
        start = min(anchor, pk_s)
        cands.append(_Cand(start, pk_e, anchor, rule, value, rule.confidence, rule.severity, "text"))
        done = hi


def _h_url_credentials(scanner: SecretScanner, text: str, positions: list[int], rule: Rule, info: _FileInfo,
                       cands: list[_Cand]) -> None:
    other = scanner._rs.by_id.get("url-credentials")
    for p in positions:
        m = URL_CRED_RE.match(text, p + 3)
        if m is None:
            continue
        j = p
        while j > 0 and p - j < 40 and (text[j - 1].isalnum() or text[j - 1] in "+.-"):
            j -= 1
        scheme = text[j:p].lower()
        if not scheme or not scheme[0].isalpha():
            continue
        user, pw = m.group("user"), m.group("pw")
        if (pw.lower() in COMMON_DEV_PASSWORDS or pw == user or _is_placeholder(pw)
                or pw[0] in "$%{<*[(" or pw.isdigit() and len(pw) < 6 or len(pw) < 3):
            continue
        is_db = scheme in DB_SCHEMES or scheme.split("+", 1)[0] in DB_SCHEMES
        target = rule if is_db else other
        if target is None:
            continue
        strong = len(pw) >= 8 and shannon_entropy(pw) >= 2.8
        if is_db:
            conf = "high" if strong else "medium"
        else:
            if not strong:
                continue
            conf = target.confidence
        cands.append(_Cand(m.start("pw"), m.end("pw"), m.start("pw"), target, pw, conf, target.severity, "text"))


def _h_kubernetes_secret(scanner: SecretScanner, text: str, positions: list[int], rule: Rule,
                         info: _FileInfo, cands: list[_Cand]) -> None:
    n = len(text)
    done = -1
    for p in positions:
        if p < done:
            continue
        ds = text.rfind("\n---", max(0, p - 65536), p)
        ds = max(0, p - 65536) if ds < 0 else ds + 4
        de = text.find("\n---", p, p + 256 * 1024)
        de = min(n, p + 256 * 1024) if de < 0 else de
        done = de
        for start, key, val_s, val in _k8s_data_values(text, ds, de):
            raw = _b64decode_loose(val)
            if raw is None or not raw:
                continue
            try:
                decoded = raw.decode("utf-8")
            except UnicodeDecodeError:
                continue
            if not decoded.strip() or not decoded.isprintable() and "\n" not in decoded:
                continue
            inner_info = _FileInfo(path=info.path, ext="yaml", code_file=False, config_file=True,
                                   fixture_path=info.fixture_path, file_marked=info.file_marked)
            inner = scanner._resolve(decoded, scanner._candidates(decoded, inner_info, decode_b64=False), inner_info)
            if inner:
                for c in inner:
                    cands.append(_Cand(val_s, val_s + len(val), val_s, c.rule, c.value, c.confidence, c.severity,
                                       "base64"))
                continue
            if key.lower() in K8S_NON_SECRET_KEYS or "\n" in decoded.strip():
                continue
            conf = _generic_value_verdict(decoded.strip(), quoted=True)
            if conf is None:
                continue
            cands.append(_Cand(val_s, val_s + len(val), val_s, rule, decoded.strip(), rule.confidence,
                               rule.severity, "base64"))


def _k8s_data_values(text: str, ds: int, de: int):
    """(position, key, value position, value) of each entry of a Secret's `data:` map."""
    doc = text[ds:de]
    m = re.search(r"^data:[ \t]*$", doc, re.MULTILINE)
    if m is not None:
        indent = None
        for vm in K8S_DATA_YAML_RE.finditer(doc, m.end()):
            line_start = doc.rfind("\n", 0, vm.start()) + 1
            if indent is None:
                indent = vm.group("indent")
            if vm.group("indent") != indent:
                break
            between = doc[m.end():line_start]
            if re.search(r"^\S", between, re.MULTILINE):  # left the data: block
                break
            yield ds + vm.start(), vm.group("key"), ds + vm.start("val"), vm.group("val")
        return
    jm = re.search(r"\"data\"\s*:\s*\{", doc)
    if jm is not None:
        close = doc.find("}", jm.end())
        for vm in K8S_DATA_JSON_RE.finditer(doc, jm.end(), close if close > 0 else len(doc)):
            yield ds + vm.start(), vm.group("key"), ds + vm.start("val"), vm.group("val")


def _h_generic_assignment(scanner: SecretScanner, text: str, positions: list[int], rule: Rule,
                          info: _FileInfo, cands: list[_Cand]) -> None:
    n = len(text)
    done_keys: set[int] = set()
    for p in positions:
        ks = p
        lim = max(0, p - 64)
        while ks > lim and text[ks - 1] in KEY_CHARS_LEFT:
            ks -= 1
        if ks in done_keys:
            continue
        done_keys.add(ks)
        ke = p
        lim = min(n, p + 64)
        while ke < lim and text[ke] in KEY_CHARS:
            ke += 1
        key = text[ks:ke].strip(".-")
        if not key or ks > 0 and text[ks - 1] in "$%{@":  # a reference like $PASSWORD, ${TOKEN}
            continue
        if not _key_is_secret(key):
            continue
        m = GENERIC_TAIL_RE.match(text, ke)
        if m is None and info.ext in XML_EXTS:
            m = XML_TAIL_RE.match(text, ke)      # <password>value</password>
        elif m is None and info.netrc:
            m = NETRC_TAIL_RE.match(text, ke)    # machine host login user password value
        if m is None:
            continue
        quoted = m.groupdict().get("qv") is not None
        value = m.group("qv") if quoted else m.group("bv")
        vs = m.start("qv") if quoted else m.start("bv")
        if not quoted and m.re is GENERIC_TAIL_RE:
            url_param = ks > 0 and text[ks - 1] in "?&"
            if info.code_file and not url_param:
                continue
        if value.startswith(scanner._rs.owned_prefixes):
            continue  # a provider's format (checked, and maybe rejected, by its own rule)
        conf = _generic_value_verdict(value, quoted, code_file=info.code_file)
        if conf is None:
            continue
        cands.append(_Cand(vs, vs + len(value), vs, rule, value, conf, rule.severity, "text"))


HANDLERS: dict[str, Callable[..., None]] = {
    "private_key": _h_private_key,
    "gcp_service_account": _h_gcp_service_account,
    "url_credentials": _h_url_credentials,
    "kubernetes_secret": _h_kubernetes_secret,
    "generic_assignment": _h_generic_assignment,
}


# --------------------------------------------------------------------------------------
# decoding, notebooks, archives
# --------------------------------------------------------------------------------------
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def decode_text(content: bytes) -> str | None:
    """Text of a file's bytes, or None for binary (a NUL in the first 8 KiB without a BOM)."""
    for bom, enc in _BOMS:
        if content.startswith(bom):
            return content.decode(enc, "replace")
    if b"\x00" in content[:8192]:
        return None
    return content.decode("utf-8", "replace")


def _looks_base64(run: str) -> bool:
    """Worth decoding: not hex, and mixes cases or digits the way encoded bytes do."""
    if len(run) < 40:
        return False
    stripped = run.rstrip("=")
    has_lower = has_upper = has_digit = False
    for ch in stripped[:256]:
        if "a" <= ch <= "z":
            has_lower = True
        elif "A" <= ch <= "Z":
            has_upper = True
        elif "0" <= ch <= "9":
            has_digit = True
    if not (has_lower and has_upper):
        return False
    return has_digit or "+" in stripped or "/" in stripped


NB_CELL_TYPE_RE = re.compile(r'(?<!\\)"cell_type"\s*:')


class _NewlineIndex:
    """1-based line and line start of an offset, from newline positions found once, on demand."""

    def __init__(self, text: str):
        self.text = text
        self._nl: list[int] | None = None

    def locate(self, pos: int) -> tuple[int, int]:
        if self._nl is None:
            self._nl = [m.start() for m in re.finditer("\n", self.text)]
        k = bisect.bisect_left(self._nl, pos)
        return k + 1, (self._nl[k - 1] + 1 if k > 0 else 0)


def _notebook_text(value) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(x, str) for x in value):
        return list(value)
    return None


def _notebook_parts(cell: dict) -> list[tuple[str, list[str], str]]:
    """(context, string elements as stored in the JSON, separator to join them with)."""
    parts = []
    src = _notebook_text(cell.get("source", cell.get("input")))
    if src:
        parts.append(("notebook-source", src, ""))
    for out in cell.get("outputs") or []:
        if not isinstance(out, dict):
            continue
        t = _notebook_text(out.get("text"))
        if t:
            parts.append(("notebook-output", t, ""))
        t = _notebook_text(out.get("traceback"))
        if t:
            parts.append(("notebook-output", t, "\n"))
        data = out.get("data")
        if isinstance(data, dict):
            for mime, val in data.items():
                if not isinstance(mime, str) or mime.startswith(("image/", "video/", "audio/")):
                    continue
                t = _notebook_text(val)
                if t is None and isinstance(val, (dict, list)):
                    try:
                        t = [json.dumps(val)]
                    except (TypeError, ValueError):
                        t = None
                if t:
                    parts.append(("notebook-output", t, ""))
    return parts


def _locate_json_string(raw: str, element: str, within: int, lo: int, hi: int) -> tuple[int, int]:
    """Where the JSON encoding of `element` sits in `raw` (searching [lo, hi)), and the offset
    of its character `within` inside that encoding. (-1, 0) when not found."""
    for ensure_ascii in (False, True):
        enc = json.dumps(element, ensure_ascii=ensure_ascii)[1:-1]
        pos = raw.find(enc, lo, hi) if enc else -1
        if pos < 0 and lo > 0:
            pos = raw.find(enc, 0, hi)
        if pos >= 0:
            prefix = json.dumps(element[:within], ensure_ascii=ensure_ascii)[1:-1]
            return pos, len(prefix)
    return -1, 0


def archive_kind(path: str, content: bytes) -> str | None:
    """zip / tar / gz / bz2 / xz by magic number; None for anything else."""
    head = content[:512]
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if head.startswith(b"\x1f\x8b"):
        return "gz"
    if head.startswith(b"BZh") and len(head) > 3 and head[3:4].isdigit():
        return "bz2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    return None


def _zip_members(content: bytes):
    budget = MAX_ARCHIVE_BYTES
    with zipfile.ZipFile(io.BytesIO(content)) as zf:
        for i, zinfo in enumerate(zf.infolist()):
            if i >= MAX_ARCHIVE_MEMBERS or budget <= 0:
                break
            if zinfo.is_dir() or zinfo.flag_bits & 0x1:  # directories, encrypted members
                continue
            try:
                with zf.open(zinfo) as fh:
                    data = fh.read(min(MAX_MEMBER_BYTES, budget))
            except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, OSError, EOFError,
                    ValueError, lzma.LZMAError, struct_error):
                continue
            budget -= len(data)
            yield zinfo.filename, data


def _decompress_bounded(content: bytes, kind: str, limit: int) -> bytes:
    if kind == "gz":
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        return d.decompress(content, limit)
    if kind == "bz2":
        return bz2.BZ2Decompressor().decompress(content, limit)
    if kind == "xz":
        return lzma.LZMADecompressor().decompress(content, limit)
    return content[:limit]


def _compressed_members(path: str, content: bytes, kind: str):
    data = _decompress_bounded(content, kind, MAX_ARCHIVE_BYTES)
    if len(data) >= 262 and data[257:262] == b"ustar":
        yield from _tar_members(data)
        return
    if kind == "tar":
        return
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    for suffix in (".gz", ".bz2", ".xz", ".tgz", ".txz", ".tbz2"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)] + (".tar" if suffix.startswith(".t") else "")
            break
    yield name, data[:MAX_MEMBER_BYTES]


def _tar_members(data: bytes):
    count = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tf:
            for member in tf:
                if count >= MAX_ARCHIVE_MEMBERS:
                    break
                count += 1
                if not member.isfile():
                    continue
                try:
                    fh = tf.extractfile(member)
                    chunk = fh.read(MAX_MEMBER_BYTES) if fh is not None else b""
                except (tarfile.TarError, OSError, EOFError, ValueError):
                    continue
                yield member.name, chunk
    except (tarfile.TarError, OSError, EOFError, ValueError, struct_error):
        return


# --------------------------------------------------------------------------------------
# pre-filter
# --------------------------------------------------------------------------------------
def is_scannable(path: str, size: int, is_text: bool | None, file_type: str | None) -> bool:
    """Worth reading for secrets: text up to 16 MiB, notebooks, zip/tar archives up to 64 MiB;
    never models, media, datasets in binary formats or other binaries."""
    if size <= 0:
        return False
    low = path.lower()
    ft = (file_type or "").lower()
    if low.endswith(".ipynb") or ft == "jupyter":
        return size <= MAX_NOTEBOOK_BYTES
    if ft in ARCHIVE_TYPES or (is_text is not True and low.endswith(ARCHIVE_SUFFIXES)):
        return size <= MAX_ARCHIVE_FILE and ft not in BINARY_TYPES
    if ft in BINARY_TYPES or low.endswith(BINARY_SUFFIXES):
        return False
    if is_text is False:
        return False
    return size <= MAX_TEXT_FILE
