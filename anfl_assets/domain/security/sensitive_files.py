"""Files that should not be in a project at all: keys, credential stores, state and dumps.

`scan_sensitive_file(path, head, size)` looks at a file's name and its first 64 KiB (`head`)
and returns whole-file `RiskFinding`s: the line is that of the evidence (the `BEGIN ... PRIVATE
KEY` line, the first `.env` entry with a secret, the `aws_secret_access_key` line) or None
when the name and magic bytes decide. Messages describe what the file is and which keys it
holds, never a value.

Names alone are not trusted where the content can say more: a `server.pem` holding only a
certificate, a `.env.example` or a `.env` whose values are all placeholders, an `.npmrc` whose
token is `${NPM_TOKEN}`, a kubeconfig whose users authenticate with an exec plugin give no
finding. A key-like name whose content could not be read (`head` empty while `size` > 0) is
reported on the name alone, at a lower severity where that makes sense.

Plain Python: no Dagster here.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path

import yaml

from anfl_assets.domain.enrich.config_patterns import _yaml_loader_for, looks_like_secret_value
from anfl_assets.domain.security import RiskFinding
from anfl_assets.domain.security import misconfig as _misconfig
from anfl_assets.domain.security.misconfig import _PLACEHOLDER_RE, _REFERENCE_RE, _literal_secret

# Changes whenever this module's source (or misconfig's, whose value helpers it uses) does.
RULESET_VERSION = "sensitive-files-1-" + hashlib.sha256(
    Path(__file__).read_bytes() + Path(_misconfig.__file__).read_bytes()).hexdigest()[:12]
HEAD_BYTES = 64 * 1024

RULES: dict[str, tuple[str, str]] = {
    "sensitive-file-private-key": ("Private key file", "critical"),
    "sensitive-file-encrypted-private-key": ("Passphrase-protected private key file", "high"),
    "sensitive-file-keystore": ("Keystore or PKCS#12 bundle", "high"),
    "sensitive-file-env": (".env file with secret values", "high"),
    "sensitive-file-kubeconfig": ("Kubeconfig with embedded credentials", "critical"),
    "sensitive-file-gcp-credentials": ("Google Cloud service account key or user credentials", "critical"),
    "sensitive-file-oauth-client-secret": ("OAuth client secrets file", "high"),
    "sensitive-file-npmrc": ("npm/yarn configuration with an auth token", "high"),
    "sensitive-file-pypirc": ("Python package index credentials (.pypirc / pip.conf)", "high"),
    "sensitive-file-docker-config": ("Docker client config with registry credentials", "high"),
    "sensitive-file-terraform-state": ("Terraform state file", "critical"),
    "sensitive-file-database-dump": ("Database dump", "high"),
    "sensitive-file-sqlite-database": ("SQLite database named like production data", "high"),
    "sensitive-file-htpasswd": ("htpasswd password file", "high"),
    "sensitive-file-aws-credentials": ("AWS credentials file", "critical"),
    "sensitive-file-git-credentials": ("git credential store", "critical"),
    "sensitive-file-netrc": (".netrc with passwords", "high"),
    "sensitive-file-pgpass": ("PostgreSQL password file (.pgpass)", "high"),
    "sensitive-file-rails-master-key": ("Rails master key", "critical"),
}


def _finding(rule: str, line: int | None, message: str, severity: str | None = None) -> RiskFinding:
    title, default = RULES[rule]
    return RiskFinding(rule=rule, title=title, severity=severity or default, line=line, message=message,
                       resource=None)


def _line_at(head: bytes, pos: int) -> int:
    return head.count(b"\n", 0, max(0, pos)) + 1


def _text(head: bytes) -> str:
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    return head.decode("utf-8", "replace")


def _is_binary(head: bytes) -> bool:
    return b"\x00" in head[:8192]


# ======================================================================================
# entry point
# ======================================================================================
def scan_sensitive_file(path: str, head: bytes, size: int) -> list[RiskFinding]:
    """Whole-file findings for one file (name + first 64 KiB). Never raises."""
    try:
        path = str(path or "").replace("\\", "/")
        parts = [p for p in path.split("/") if p not in ("", ".")]
        if not parts:
            return []
        head = bytes(head or b"")[:HEAD_BYTES]
        size = int(size) if isinstance(size, int) else len(head)
        if size <= 0 and not head:
            return []
        ctx = _File(parts, head, size)
        out: list[RiskFinding] = []
        for check in _CHECKS:
            try:
                check(ctx, out)
            except Exception:  # noqa: BLE001 - one bad check must not hide the others
                continue
        return out
    except Exception:  # noqa: BLE001 - a detector must never take the pipeline down
        return []


class _File:
    __slots__ = ("parts", "name", "lower", "dirs", "head", "size", "unread", "_text")

    def __init__(self, parts: list[str], head: bytes, size: int):
        self.parts = parts
        self.name = parts[-1]
        self.lower = self.name.lower()
        self.dirs = [p.lower() for p in parts[:-1]]
        self.head = head
        self.size = size
        self.unread = not head and size > 0     # the caller could not read the content
        self._text: str | None = None

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = _text(self.head)
        return self._text


# ======================================================================================
# private keys and keystores
# ======================================================================================
_KEY_NAMES_RE = re.compile(r"^id_(?:rsa|dsa|ecdsa|ed25519|ecdsa_sk|ed25519_sk|xmss)(?:[._-](?!pub$)[\w.-]*)?$")
_KEY_EXTS = (".pem", ".key", ".ppk", ".asc", ".gpg", ".der", ".pk8", ".p8", ".priv", ".private")
_PEM_PRIVATE_RE = re.compile(
    rb"-----BEGIN ((?:RSA |EC |DSA |OPENSSH |ENCRYPTED |ED25519 |SSH2 ENCRYPTED )?PRIVATE KEY"
    rb"|PGP PRIVATE KEY BLOCK)-----")
_PUTTY_RE = re.compile(rb"(?m)^PuTTY-User-Key-File-\d+:[ \t]*\S+")
_PUTTY_ENC_RE = re.compile(rb"(?m)^Encryption:[ \t]*(\S+)")
_PEM_PREAMBLE = (b"-----BEGIN ", b"Bag Attributes", b"subject=", b"issuer=", b"PuTTY-User-Key-File",
                 b"Key Attributes", b"    localKeyID", b"    friendlyName", b"#")
_OPENSSH_BODY_RE = re.compile(rb"-----BEGIN OPENSSH PRIVATE KEY-----\s+([A-Za-z0-9+/=\s]{40,400})")


def _keyish_name(f: _File) -> bool:
    if _KEY_NAMES_RE.match(f.lower) or f.lower.endswith(_KEY_EXTS):
        return True
    if f.lower.startswith(("secring.", "private_key", "private-key", "privkey")):
        return True
    return ".ssh" in f.dirs and not f.lower.endswith(".pub") and \
        f.lower not in ("known_hosts", "config", "authorized_keys")


def _starts_with_key_material(head: bytes) -> bool:
    """The first meaningful line is a PEM header / openssl bag attributes / PuTTY header: the
    file IS key material (not code or docs that quote a key)."""
    for raw in head[:4096].splitlines():
        s = raw.strip()
        if s:
            return s.startswith(_PEM_PREAMBLE) and not s.startswith(b"#!")
    return False


def _openssh_encrypted(head: bytes) -> bool | None:
    m = _OPENSSH_BODY_RE.search(head)
    if not m:
        return None
    b64 = re.sub(rb"\s+", b"", m.group(1))
    b64 = b64[: len(b64) // 4 * 4]
    try:
        raw = base64.b64decode(b64)
    except ValueError:
        return None
    magic = b"openssh-key-v1\x00"
    if not raw.startswith(magic) or len(raw) < len(magic) + 4:
        return None
    n = int.from_bytes(raw[len(magic):len(magic) + 4], "big")
    cipher = raw[len(magic) + 4:len(magic) + 4 + n]
    return cipher != b"none"


def _check_private_key(f: _File, out: list) -> None:
    head = f.head
    keyish = _keyish_name(f)
    if f.unread:
        if _KEY_NAMES_RE.match(f.lower) or f.lower.endswith((".pem", ".key", ".ppk")):
            out.append(_finding("sensitive-file-private-key", None,
                                f"{f.name} is named like a private key (content not read)", severity="high"))
        return
    m = _PEM_PRIVATE_RE.search(head)
    if m is not None:
        if not (keyish or _starts_with_key_material(head)):
            return   # a key quoted inside code/docs: the secret scanner's business
        label = m.group(1).decode()
        encrypted = label.startswith(("ENCRYPTED", "SSH2 ENCRYPTED"))
        block = head[m.start():m.start() + 400]
        if b"Proc-Type: 4,ENCRYPTED" in block:
            encrypted = True
        if "OPENSSH" in label:
            encrypted = bool(_openssh_encrypted(head))
        line = _line_at(head, m.start())
        if encrypted:
            out.append(_finding("sensitive-file-encrypted-private-key", line,
                                f"{f.name} holds a passphrase-protected private key ({label} block); still do not "
                                "commit it"))
        else:
            kind = "PGP private key block" if "PGP" in label else f"private key ({label} block)"
            out.append(_finding("sensitive-file-private-key", line,
                                f"{f.name} holds an unencrypted {kind}"))
        return
    p = _PUTTY_RE.search(head)
    if p is not None and (keyish or _starts_with_key_material(head)):
        enc = _PUTTY_ENC_RE.search(head)
        line = _line_at(head, p.start())
        if enc is not None and enc.group(1).lower() != b"none":
            out.append(_finding("sensitive-file-encrypted-private-key", line,
                                f"{f.name} holds a passphrase-protected PuTTY private key"))
        else:
            out.append(_finding("sensitive-file-private-key", line, f"{f.name} holds an unencrypted PuTTY private key"))
        return
    # binary (DER / PKCS#8) key named as one
    if f.lower.endswith((".key", ".pk8", ".p8")) and _is_binary(head) and head[:1] == b"\x30":
        out.append(_finding("sensitive-file-private-key", None,
                            f"{f.name} is a binary (DER) key file", severity="high"))


_KEYSTORE_EXTS = (".jks", ".keystore", ".jceks", ".bks", ".p12", ".pfx", ".uber")
_KEYSTORE_MAGIC = {b"\xfe\xed\xfe\xed": "Java keystore (JKS)", b"\xce\xce\xce\xce": "Java keystore (JCEKS)"}


def _check_keystore(f: _File, out: list) -> None:
    if not f.lower.endswith(_KEYSTORE_EXTS) or f.lower in ("debug.keystore",):
        return   # debug.keystore: Android's well-known debug signing key
    if f.unread:
        out.append(_finding("sensitive-file-keystore", None, f"{f.name} is named like a keystore (content not read)"))
        return
    head = f.head
    kind = _KEYSTORE_MAGIC.get(head[:4])
    if kind is None and f.lower.endswith((".p12", ".pfx")) and head[:1] == b"\x30" and head[1:2] in (b"\x80", b"\x81",
                                                                                                    b"\x82", b"\x83"):
        kind = "PKCS#12 bundle (certificate with its private key)"
    if kind is None and f.lower.endswith(".bks") and head[:4] in (b"\x00\x00\x00\x01", b"\x00\x00\x00\x02"):
        kind = "BouncyCastle keystore"
    if kind is None and f.lower.endswith((".keystore", ".jks")) and head[:2] == b"\x30\x82":
        kind = "PKCS#12 keystore"
    if kind is None:
        return   # a text file or something else under a keystore name
    out.append(_finding("sensitive-file-keystore", None, f"{f.name} is a {kind}; it holds private keys"))


# ======================================================================================
# .env files
# ======================================================================================
_ENV_EXAMPLE_PARTS = {"example", "examples", "sample", "samples", "template", "templates", "tmpl", "tpl", "dist",
                      "default", "defaults", "schema", "j2", "jinja", "jinja2", "spec", "skel", "in", "md", "txt",
                      "vault", "sh", "py", "js", "ts"}
_ENV_LINE_RE = re.compile(r"^[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_.\-]*)[ \t]*[=:][ \t]*(.*)$")


def _is_env_name(lower: str) -> bool:
    if lower == ".env":
        return True
    if lower.startswith(".env."):
        parts = lower.split(".")[2:]
    elif lower.endswith(".env") and len(lower) > 4:
        parts = lower[:-4].strip(".").split(".")
        parts = [p for p in parts if p in _ENV_EXAMPLE_PARTS]
    else:
        return False
    return not any(p in _ENV_EXAMPLE_PARTS or p.startswith(("example", "sample", "template")) for p in parts)


def _env_value(raw: str) -> str:
    v = raw.strip()
    if v[:1] in ("'", '"'):
        q = v[0]
        end = v.find(q, 1)
        return v[1:end] if end > 0 else v[1:]
    return re.split(r"[ \t]+#", v, maxsplit=1)[0].strip()


def _check_env(f: _File, out: list) -> None:
    if not _is_env_name(f.lower) or f.unread or _is_binary(f.head):
        return
    secret_keys: list[tuple[str, int]] = []
    for n, raw in enumerate(f.text.splitlines(), start=1):
        m = _ENV_LINE_RE.match(raw)
        if not m or raw.lstrip().startswith("#"):
            continue
        key, value = m.group(1), _env_value(m.group(2))
        if not value or _PLACEHOLDER_RE.match(value) or _REFERENCE_RE.search(value):
            continue
        if _literal_secret(key, value) or looks_like_secret_value(value):
            secret_keys.append((key, n))
    if not secret_keys:
        return
    names = [k for k, _ in secret_keys]
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    out.append(_finding("sensitive-file-env", secret_keys[0][1],
                        f"{f.name} sets secret values ({shown}); keep .env files out of the repository "
                        "and commit a .env.example with placeholders"))


# ======================================================================================
# kubeconfig, cloud credentials, registry credentials
# ======================================================================================
_KUBE_CRED_KEYS = ("token", "client-key-data", "password", "id-token", "refresh-token", "access-token",
                   "client-secret")
_KUBE_CRED_LINE_RE = re.compile(r"(?m)^[ \t]*(?:-[ \t]+)?[\"']?(" + "|".join(map(re.escape, _KUBE_CRED_KEYS))
                                + r")[\"']?[ \t]*:[ \t]*\S")


def _check_kubeconfig(f: _File, out: list) -> None:
    head = f.head
    if f.unread or _is_binary(head) or not re.search(rb"(?m)^[\"']?kind[\"']?[ \t]*:[ \t]*[\"']?Config\b", head) \
            and b'"kind": "Config"' not in head and b'"kind":"Config"' not in head:
        return
    try:
        doc = yaml.load(f.text, Loader=_yaml_loader_for(head))  # noqa: S506 - a safe loader
    except (yaml.YAMLError, RecursionError, ValueError):
        doc = None
    found: list[str] = []
    if isinstance(doc, dict):
        if doc.get("kind") != "Config":
            return
        for entry in doc.get("users") or []:
            user = entry.get("user") if isinstance(entry, dict) else None
            if not isinstance(user, dict):
                continue
            for key in ("token", "client-key-data", "password"):
                val = user.get(key)
                if isinstance(val, str) and val.strip() and not _PLACEHOLDER_RE.match(val.strip()):
                    found.append(key)
            provider = user.get("auth-provider")
            cfg = provider.get("config") if isinstance(provider, dict) else None
            if isinstance(cfg, dict):
                found.extend(k for k in ("id-token", "refresh-token", "access-token", "client-secret")
                             if isinstance(cfg.get(k), str) and cfg.get(k).strip())
    else:   # unparseable (truncated head): the shape alone
        if not re.search(rb"(?m)^users[ \t]*:", head):
            return
        found = [m.group(1) for m in _KUBE_CRED_LINE_RE.finditer(f.text)]
    if not found:
        return
    m = _KUBE_CRED_LINE_RE.search(f.text)
    line = f.text.count("\n", 0, m.start()) + 1 if m else None
    kinds = ", ".join(dict.fromkeys(found))
    out.append(_finding("sensitive-file-kubeconfig", line,
                        f"{f.name} is a kubeconfig with embedded user credentials ({kinds})"))


def _json_key_line(text: str, key: str) -> int | None:
    m = re.search(r'"' + re.escape(key) + r'"\s*:', text)
    return text.count("\n", 0, m.start()) + 1 if m else None


def _check_gcp(f: _File, out: list) -> None:
    head = f.head
    if f.unread or not f.lower.endswith(".json") or b"{" not in head[:64]:
        return
    if b'"private_key"' not in head and b'"client_secret"' not in head and b'"refresh_token"' not in head:
        return
    try:
        doc = json.loads(f.text)
    except ValueError:
        doc = None
    text = f.text
    if isinstance(doc, dict):
        kind = doc.get("type")
        if kind == "service_account" and isinstance(doc.get("private_key"), str) and \
                "PRIVATE KEY" in doc["private_key"]:
            out.append(_finding("sensitive-file-gcp-credentials", _json_key_line(text, "private_key"),
                                f"{f.name} is a Google Cloud service account key (holds its private_key)"))
            return
        if kind == "authorized_user" and isinstance(doc.get("refresh_token"), str) and doc["refresh_token"].strip():
            out.append(_finding("sensitive-file-gcp-credentials", _json_key_line(text, "refresh_token"),
                                f"{f.name} holds Google user credentials (refresh_token)"))
            return
        for section in ("installed", "web"):
            client = doc.get(section)
            if isinstance(client, dict) and isinstance(client.get("client_secret"), str) and \
                    client["client_secret"].strip() and not _PLACEHOLDER_RE.match(client["client_secret"].strip()):
                out.append(_finding("sensitive-file-oauth-client-secret", _json_key_line(text, "client_secret"),
                                    f"{f.name} is an OAuth client secrets file ({section} client)"))
                return
        return
    # truncated or broken JSON: the tell-tale keys
    if re.search(r'"type"\s*:\s*"service_account"', text) and "PRIVATE KEY" in text:
        out.append(_finding("sensitive-file-gcp-credentials", _json_key_line(text, "private_key"),
                            f"{f.name} looks like a Google Cloud service account key"))


_NPM_AUTH_RE = re.compile(r"(?m)^[ \t]*(?:[^\s=]*:)?(_authToken|_auth|_password|npmAuthToken|npmAuthIdent)"
                          r"[ \t]*[=:][ \t]*[\"']?([^\s\"'#;]*)")


def _check_npmrc(f: _File, out: list) -> None:
    if f.lower not in (".npmrc", "npmrc", ".yarnrc.yml", ".yarnrc", ".yarnrc.yaml") or f.unread:
        return
    for m in _NPM_AUTH_RE.finditer(f.text):
        value = m.group(2)
        if value and not _PLACEHOLDER_RE.match(value) and not _REFERENCE_RE.search(value):
            out.append(_finding("sensitive-file-npmrc", f.text.count("\n", 0, m.start()) + 1,
                                f"{f.name} holds a literal {m.group(1)}; use ${{NPM_TOKEN}} from the environment"))
            return


_PYPIRC_PW_RE = re.compile(r"(?m)^[ \t]*password[ \t]*[=:][ \t]*(\S.*?)[ \t]*$")
_URL_WITH_PASSWORD_RE = re.compile(r"(?m)^[ \t]*(?:extra-)?index-url[ \t]*[=:][ \t]*\S*://[^/\s:@]+:([^/\s@]+)@")


def _check_pypirc(f: _File, out: list) -> None:
    if f.unread:
        return
    if f.lower in (".pypirc", "pypirc"):
        for m in _PYPIRC_PW_RE.finditer(f.text):
            value = m.group(1).strip("'\"")
            if value and not _PLACEHOLDER_RE.match(value) and not _REFERENCE_RE.search(value):
                out.append(_finding("sensitive-file-pypirc", f.text.count("\n", 0, m.start()) + 1,
                                    f"{f.name} holds a literal index password or API token"))
                return
    elif f.lower in ("pip.conf", "pip.ini"):
        m = _URL_WITH_PASSWORD_RE.search(f.text)
        if m and not _REFERENCE_RE.search(m.group(1)):
            out.append(_finding("sensitive-file-pypirc", f.text.count("\n", 0, m.start()) + 1,
                                f"{f.name} has an index URL with a password in it"))


def _check_docker_config(f: _File, out: list) -> None:
    if f.unread or not (f.lower == ".dockercfg" or (f.lower == "config.json" and ".docker" in f.dirs[-1:])):
        return
    m = re.search(r'"(auth|identitytoken)"\s*:\s*"([^"]+)"', f.text)
    if m:
        out.append(_finding("sensitive-file-docker-config", f.text.count("\n", 0, m.start()) + 1,
                            f"{f.name} stores registry credentials ({m.group(1)}); use a credential helper"))


# ======================================================================================
# state, dumps, databases
# ======================================================================================
def _check_tfstate(f: _File, out: list) -> None:
    lower = f.lower
    if not (lower.endswith((".tfstate", ".tfstate.backup")) or re.match(r"^terraform\.tfstate\.[\w.-]+$", lower)
            or "terraform.tfstate.d" in f.dirs and lower.endswith(".tfstate")):
        return
    if f.unread:
        out.append(_finding("sensitive-file-terraform-state", None,
                            f"{f.name} is named like Terraform state (content not read); state holds every "
                            "managed secret in plain text"))
        return
    text = f.text[:8192]
    if '"terraform_version"' not in text and '"lineage"' not in text and '"serial"' not in text:
        return   # not state (an empty placeholder, a note)
    line = _json_key_line(text, "resources")
    out.append(_finding("sensitive-file-terraform-state", line,
                        f"{f.name} is Terraform state: it holds resource attributes, secrets included, in plain "
                        "text; keep state in a remote backend"))


_DUMP_HEADERS = (
    (re.compile(rb"(?m)^--[ \t]*PostgreSQL database (?:cluster )?dump"), "PostgreSQL (pg_dump) SQL dump"),
    (re.compile(rb"(?m)^--[ \t]*Dumped from database version"), "PostgreSQL (pg_dump) SQL dump"),
    (re.compile(rb"(?m)^--[ \t]*MySQL dump"), "MySQL (mysqldump) dump"),
    (re.compile(rb"(?m)^--[ \t]*MariaDB dump"), "MariaDB dump"),
    (re.compile(rb"(?m)^/\*!40101 SET @OLD_CHARACTER_SET_CLIENT"), "MySQL (mysqldump) dump"),
)
_COMPRESSED_SQL = (".sql.gz", ".sql.bz2", ".sql.xz", ".sql.zst", ".sql.zip", ".sql.7z", ".sql.lz4", ".dump.gz")
_COMPRESSION_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"\x28\xb5\x2f\xfd", b"PK\x03\x04", b"7z\xbc\xaf",
                      b"\x04\x22\x4d\x18")


def _check_dump(f: _File, out: list) -> None:
    head, lower = f.head, f.lower
    if head.startswith(b"PGDMP"):
        out.append(_finding("sensitive-file-database-dump", None,
                            f"{f.name} is a PostgreSQL custom-format dump (pg_dump -Fc)"))
        return
    if head.startswith(b"REDIS00") and head[5:9].isdigit():
        out.append(_finding("sensitive-file-database-dump", None, f"{f.name} is a Redis RDB snapshot"))
        return
    if head.startswith(b"\x6d\xe2\x99\x81"):
        out.append(_finding("sensitive-file-database-dump", None, f"{f.name} is a mongodump archive"))
        return
    if lower.endswith(_COMPRESSED_SQL):
        if f.unread or head.startswith(_COMPRESSION_MAGIC):
            out.append(_finding("sensitive-file-database-dump", None,
                                f"{f.name} is a compressed SQL dump"))
        return
    if not _is_binary(head):
        probe = head[:16384]
        for rx, kind in _DUMP_HEADERS:
            m = rx.search(probe)
            if m:
                out.append(_finding("sensitive-file-database-dump", _line_at(head, m.start()),
                                    f"{f.name} is a {kind}: database content copied out of the database"))
                return
    if lower.endswith(".dump") and (f.unread or _is_binary(head)):
        out.append(_finding("sensitive-file-database-dump", None, f"{f.name} is a binary .dump file"))


_PROD_DATA_RE = re.compile(r"(?i)(?<![a-z])(?:prod|production|live|customers?|users|members|patients|accounts"
                           r"|backup|dump|export|crm|billing|payments?)(?![a-z])")


def _check_sqlite(f: _File, out: list) -> None:
    if not f.head.startswith(b"SQLite format 3\x00"):
        return
    stem = f.lower.rsplit(".", 1)[0] if "." in f.lower else f.lower
    if _PROD_DATA_RE.search(stem) or any(_PROD_DATA_RE.fullmatch(d) for d in f.dirs):
        out.append(_finding("sensitive-file-sqlite-database", None,
                            f"{f.name} is a SQLite database named like production data"))


# ======================================================================================
# password files
# ======================================================================================
_HTPASSWD_LINE_RE = re.compile(r"(?m)^[^:\s#]+:(\$apr1\$|\$2[aby]\$|\{SHA\}|\$[156]\$|[./0-9A-Za-z]{13}$)")


def _check_htpasswd(f: _File, out: list) -> None:
    if not (f.lower in (".htpasswd", "htpasswd") or f.lower.endswith(".htpasswd")):
        return
    if f.unread:
        out.append(_finding("sensitive-file-htpasswd", None, f"{f.name} is named like an htpasswd file"))
        return
    m = _HTPASSWD_LINE_RE.search(f.text)
    if m:
        out.append(_finding("sensitive-file-htpasswd", f.text.count("\n", 0, m.start()) + 1,
                            f"{f.name} holds password hashes (crackable offline)"))


_CODE_EXTS = (".py", ".js", ".ts", ".go", ".java", ".rb", ".rs", ".md", ".rst", ".sh", ".ps1", ".tf", ".c", ".cs",
              ".php", ".ipynb", ".html", ".yaml", ".yml", ".json", ".toml", ".tmpl", ".j2", ".example", ".sample",
              ".template")
_AWS_SECRET_RE = re.compile(r"(?mi)^[ \t]*aws_secret_access_key[ \t]*=[ \t]*(\S+)")
_INI_SECTION_RE = re.compile(r"(?m)^[ \t]*\[[^\]\n]+\][ \t]*$")


def _check_aws_credentials(f: _File, out: list) -> None:
    if f.unread or f.lower.endswith(_CODE_EXTS) or _is_binary(f.head):
        return
    text = f.text
    if "aws_secret_access_key" not in text.lower() or not _INI_SECTION_RE.search(text):
        return
    for m in _AWS_SECRET_RE.finditer(text):
        value = m.group(1).strip("'\"")
        if len(value) >= 16 and not _PLACEHOLDER_RE.match(value) and not _REFERENCE_RE.search(value):
            out.append(_finding("sensitive-file-aws-credentials", text.count("\n", 0, m.start()) + 1,
                                f"{f.name} is an AWS shared credentials file with a secret access key"))
            return


_GIT_CRED_RE = re.compile(r"(?m)^[ \t]*[a-z][a-z0-9+.\-]*://[^:/\s@]+:([^@\s]+)@\S+")


def _check_git_credentials(f: _File, out: list) -> None:
    if f.lower not in (".git-credentials", "git-credentials") or f.unread:
        return
    m = _GIT_CRED_RE.search(f.text)
    if m and not _PLACEHOLDER_RE.match(m.group(1)):
        out.append(_finding("sensitive-file-git-credentials", f.text.count("\n", 0, m.start()) + 1,
                            f"{f.name} is git's plain-text credential store (URLs with tokens)"))


_NETRC_PW_RE = re.compile(r"(?:^|\s)password\s+(\S+)")


def _check_netrc(f: _File, out: list) -> None:
    if f.lower not in (".netrc", "_netrc", "netrc") or f.unread:
        return
    for m in _NETRC_PW_RE.finditer(f.text):
        value = m.group(1)
        if not _PLACEHOLDER_RE.match(value) and not _REFERENCE_RE.search(value):
            out.append(_finding("sensitive-file-netrc", f.text.count("\n", 0, m.start(1)) + 1,
                                f"{f.name} holds machine passwords"))
            return


def _check_pgpass(f: _File, out: list) -> None:
    if f.lower not in (".pgpass", "pgpass.conf", "pgpass") or f.unread:
        return
    for n, raw in enumerate(f.text.splitlines(), start=1):
        s = raw.strip()
        if not s or s.startswith("#"):
            continue
        fields = re.split(r"(?<!\\):", s)
        if len(fields) >= 5 and fields[4] and not _PLACEHOLDER_RE.match(fields[4]):
            out.append(_finding("sensitive-file-pgpass", n, f"{f.name} holds PostgreSQL passwords"))
            return


def _check_rails_master_key(f: _File, out: list) -> None:
    if f.unread or not (f.lower == "master.key" or (f.lower.endswith(".key") and "credentials" in f.dirs[-1:])):
        return
    if re.fullmatch(rb"\s*[0-9a-f]{32}\s*", f.head):
        out.append(_finding("sensitive-file-rails-master-key", 1,
                            f"{f.name} is a Rails master key: it decrypts config/credentials*.yml.enc"))


_CHECKS: tuple[Callable[[_File, list], None], ...] = (
    _check_private_key, _check_keystore, _check_env, _check_kubeconfig, _check_gcp, _check_npmrc, _check_pypirc,
    _check_docker_config, _check_tfstate, _check_dump, _check_sqlite, _check_htpasswd, _check_aws_credentials,
    _check_git_credentials, _check_netrc, _check_pgpass, _check_rails_master_key,
)
