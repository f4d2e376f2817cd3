"""Configuration files: key paths, value types, keyed value fingerprints, Kubernetes objects, drift.

Plain Python (no dagster). Feeds the `enrich.config_keys`, `enrich.k8s_resources` and
`enrich.config_drift` tables.

Formats (`config_format_for`): yaml (multi-document), json, toml, ini/cfg (configparser,
interpolation off, strict=False so a repeated key keeps its last value), env (`KEY=value`,
`export KEY=...`, quotes, comments, multi-line quoted values), hcl (.tf / .tfvars / .hcl via
python-hcl2), xml (expat, the parser under ElementTree; DTD entity declarations are refused),
properties (Java). Lock files, backups (`.bak`, `.orig`, `~` ...) and notebooks are not configs.

Key rows (`ConfigFacts.keys`, `KeyRow`): one row per node, parents before their children:
``(doc_index, key_path, value_type, value_fingerprint, is_secret_key, display_value, line)``

* ``doc_index``: 0-based document of a multi-document YAML stream (0 for every other format).
* ``key_path``: dotted with list indices: ``spec.template.spec.containers[0].image``. A key that
  is not plain (has a dot, bracket, quote, space, or is empty) is written as a JSON string in
  brackets: ``metadata.annotations["prometheus.io/scrape"]``. The document root is ``""``.
  INI: ``section.key`` (``DEFAULT.key`` for defaults). env/properties: the key as written
  (``spring.datasource.url``; bracketed only if it has brackets, quotes or whitespace).
  XML: element names from the root element down, ``@attr`` for attributes, ``#text`` for the
  text of an element that also has attributes or children, repeated sibling elements as a list
  (``project.dependencies.dependency[1].artifactId``); ``xmlns`` declarations are left out.
  HCL: labelled blocks are addressed by their labels (``resource.aws_s3_bucket.logs.acl``),
  an unlabelled block by its type when it occurs once in its body and by index when repeated
  (``ingress[1].from_port``); string values without their quotes, ``${...}`` kept as written.
* ``value_type``: string, int, float, bool, null, list, map. YAML timestamps, binary and custom
  tags (``!Ref``) are strings (their source text); TOML dates/times are strings (ISO text);
  env, ini, properties and XML values are always strings.
* ``value_fingerprint``: HMAC-SHA256(fingerprint_key, canonical value), first 16 hex chars, for
  EVERY row. A scalar's canonical value is ``type:text`` (so int 1, float 1.0 and string "1"
  differ; equal values give equal fingerprints under one key). A list is the HMAC over its
  elements' digests in order, a map over its (key, digest) pairs sorted by key, so a container's
  fingerprint says whether its whole content is equal. None only on rows left unfinished when
  a file hit the row/depth limits (``ConfigFacts.truncated``).
* ``is_secret_key``: the key name matches ``SECRET_KEY_RE`` (or an ancestor's does: everything
  under ``credentials:`` is secret), the value looks like a secret (URL with user:password@,
  private key block, provider token shapes, ``password=...`` inside a value, bearer tokens, long
  random-looking tokens), or it sits under ``data``/``stringData`` of a Kubernetes ``Secret``.
  Secret rows never carry a display value; only the keyed fingerprint says whether they differ.
* ``display_value``: scalars only and only when not secret: the value as text (bool ``true`` /
  ``false``, null ``null``, floats as Python ``repr``), cut to 80 characters (ending in "…").
  For list/map rows it is the element count (``"3"``); None for secret rows.
* ``line``: 1-based line of the key (of the item for list elements, of the document start for
  the root). YAML from ``yaml.compose`` marks (libyaml's ``CSafeLoader`` when present), XML
  from expat, env/properties from their own parsers; JSON (files up to 512 KiB), TOML, INI and
  HCL from a line scan done after the real parser accepted the file — where that scan cannot
  place a key (inline tables, list items) the nearest enclosing key's line is used.

Kubernetes objects (`ConfigFacts.k8s`, `K8sObject`), from YAML/JSON documents with string
``apiVersion`` and ``kind`` (``kind: List`` / ``*List`` items are expanded):
``(doc_index, api_version, kind, name, namespace, images, replicas, resources, labels,
object_path, line)`` — the first eight are the brief's; ``images`` are all containers',
initContainers' and ephemeralContainers' images (first-seen order, no repeats); ``replicas`` is
``spec.replicas`` when an int; ``resources`` is ``{container_name: {"requests": {...},
"limits": {...}}}`` with the quantities as strings (every resource name, cpu/memory/...); pod
specs are found at the usual places (Pod, workload ``spec.template.spec``, CronJob
``spec.jobTemplate.spec.template.spec``) or, failing those, as the first map with a
``containers`` list under ``spec``; ``labels`` is ``metadata.labels``; ``object_path`` is
``""`` for a top-level object and ``items[3]`` for a List item; ``line`` its first line.

Errors: a malformed file gives ``ConfigFacts(keys=[], k8s=[], error=..., error_line=...)`` with
a message of the form ``"<Kind> line N: <parser's problem>"`` that never quotes file content
(so a secret on a broken line cannot leak through it). Helm templates (a ``templates/``
folder) and files with template actions (``{{`` at the start of a line or as an unquoted
value, or unparseable with ``{{`` in them; GitHub's ``${{ }}`` does not count) come back with
``skipped`` set and no error.

Limits: at most MAX_KEY_ROWS rows per file and MAX_DEPTH nesting levels (YAML alias bombs,
huge data files named *.json); past them the walk stops and ``truncated`` is set.

Environments (`environment_of`) and drift (`compute_drift`): see those functions.
"""

from __future__ import annotations

import configparser
import datetime
import hmac
import json
import math
import re
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from xml.parsers import expat

import yaml

EXTRACTOR_VERSION = 1

FINGERPRINT_HEX_CHARS = 16
DISPLAY_MAX_CHARS = 80
MAX_KEY_ROWS = 10_000          # per file; the rest is dropped and `truncated` set
MAX_DEPTH = 100                # nesting deeper than this stops the walk (`truncated`)
JSON_LINE_SCAN_MAX_CHARS = 512 * 1024

YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
YAML_IS_C = YAML_LOADER is not yaml.SafeLoader

# --------------------------------------------------------------------------------------
# secrets
# --------------------------------------------------------------------------------------
# Short words only count as whole words: start/end, a non-letter, or a camelCase boundary
# (so `accessToken`, `GH_TOKEN`, `basicAuth` match; `max_tokens`, `tokenizer`, `author`,
# `bypass` do not). Longer words count anywhere in the name (`DBPASSWORD`, `secretKeyRef`).
_LB = r"(?:(?<![A-Za-z])|(?-i:(?<=[a-z])(?=[A-Z])))"
_RB = r"(?:(?![A-Za-z])|(?-i:(?<=[a-z])(?=[A-Z])))"
SECRET_KEY_RE = re.compile(
    r"(?i)"
    r"passw(?:or)?d|passphrase|secret|credential|api[_.-]?key|private[_.-]?key|access[_.-]?key"
    r"|connection[_.-]?strings?|authorization|client[_.-]?secret|signing[_.-]?key|encryption[_.-]?key"
    rf"|{_LB}(?:token|auth|pass|pwd|dsn|bearer|jwt|pat){_RB}"
)

_SECRET_VALUE_RE = re.compile(
    r"[a-z][a-z0-9+.\-]*://[^/\s:@]*:[^/\s@]+@"                    # scheme://user:password@
    r"|-----BEGIN [A-Z0-9 ]*PRIVATE KEY"                            # PEM private key
    r"|\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b"                # AWS access key id
    r"|\bgh[pousr]_[A-Za-z0-9]{30,}|\bgithub_pat_[A-Za-z0-9_]{20,}"  # GitHub tokens
    r"|\bglpat-[A-Za-z0-9_\-]{20,}"                                 # GitLab token
    r"|\bxox[abposr]-[A-Za-z0-9\-]{10,}|hooks\.slack\.com/services/"  # Slack
    r"|\b[rsp]k_(?:live|test)_[A-Za-z0-9]{10,}"                     # Stripe
    r"|\bAIza[0-9A-Za-z_\-]{35}"                                    # Google API key
    r"|\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\."            # JWT
    r"|\bnpm_[A-Za-z0-9]{36}|\bSG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}"     # npm, SendGrid
    r"|\bsk-(?:proj-|ant-)?[A-Za-z0-9_\-]{20,}"                      # OpenAI / Anthropic
    r"|(?i:(?:^|[\s;,&?\-])(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|account[_-]?key"
    r"|shared[_-]?access[_-]?key|client[_-]?secret)\s*[=:]\s*[^\s;,&]{3,})"
    r"|(?i:^(?:bearer|basic|token)\s+[A-Za-z0-9._~+/=\-]{8,}$)"
)
_TOKENISH_RE = re.compile(r"[A-Za-z0-9+/_\-]{20,}={0,2}\Z")
_WORDISH_RE = re.compile(r"[a-z]{4,}")

_SECRET_KEY_CACHE: dict[str, bool] = {}


def is_secret_key_name(name: str) -> bool:
    """Does a key name look like it holds a secret (SECRET_KEY_RE, cached)?"""
    hit = _SECRET_KEY_CACHE.get(name)
    if hit is None:
        hit = SECRET_KEY_RE.search(name) is not None
        if len(_SECRET_KEY_CACHE) > 100_000:
            _SECRET_KEY_CACHE.clear()
        _SECRET_KEY_CACHE[name] = hit
    return hit


def looks_like_secret_value(text: str) -> bool:
    """Credentials in URLs, key blocks, provider token shapes, `password=...` inside a value,
    bearer tokens, and long random-looking tokens (upper+lower+digit, high character entropy)."""
    if len(text) < 8:
        return False
    if _SECRET_VALUE_RE.search(text):
        return True
    if 20 <= len(text) <= 512 and _TOKENISH_RE.match(text):
        has_upper = has_lower = has_digit = False
        for ch in text:
            if ch.isdigit():
                has_digit = True
            elif ch.isupper():
                has_upper = True
            elif ch.islower():
                has_lower = True
        # camelCase identifiers are mostly runs of lower-case letters; random tokens are not
        if has_upper and has_lower and has_digit and sum(map(len, _WORDISH_RE.findall(text))) * 5 < len(text) * 2:
            n = len(text)
            entropy = -sum(c / n * math.log2(c / n) for c in Counter(text).values())
            # random base62 of length 20 scores ~4.1; camelCase identifiers stay well under
            return entropy >= min(4.0, 0.9 * math.log2(n))
    return False


# --------------------------------------------------------------------------------------
# result shapes
# --------------------------------------------------------------------------------------
class KeyRow(NamedTuple):
    doc_index: int
    key_path: str
    value_type: str                 # string int float bool null list map
    value_fingerprint: str | None   # keyed: HMAC-SHA256 truncated to 16 hex chars
    is_secret_key: bool
    display_value: str | None       # scalars: value text <= 80 chars; list/map: element count
    line: int | None


class K8sObject(NamedTuple):
    doc_index: int
    api_version: str
    kind: str
    name: str | None
    namespace: str | None
    images: list[str]
    replicas: int | None
    resources: dict                 # {container: {"requests": {...}, "limits": {...}}}
    labels: dict
    object_path: str                # "" top-level object; "items[2]" inside a List
    line: int | None


class DriftRow(NamedTuple):
    config_identity: str            # e.g. "yaml_configs/{env}/app.yaml"
    key_path: str | None            # None: the whole file is missing in environments_missing
    kind: str                       # "missing" | "differs"
    environments_present: list[str]
    environments_missing: list[str]
    values_by_env: dict             # {env: display text, or "<fingerprint>" for secrets}
    doc_index: int | None           # YAML document; None for whole-file rows


@dataclass(slots=True)
class ConfigFacts:
    keys: list = field(default_factory=list)    # list[KeyRow]
    k8s: list = field(default_factory=list)     # list[K8sObject]
    error: str | None = None        # "YAMLError line 7: mapping values are not allowed here"
    error_line: int | None = None
    skipped: str | None = None      # "helm template", "template ({{ }} placeholders)"
    truncated: bool = False         # MAX_KEY_ROWS / MAX_DEPTH reached: rows are incomplete
    documents: int = 0              # documents read (YAML streams can hold several)


# --------------------------------------------------------------------------------------
# key paths
# --------------------------------------------------------------------------------------
_PLAIN_KEY_RE = re.compile(r"[\w\-/@$:+#~*%!]+\Z")
_PATH_TOKEN_RE = re.compile(r'\.?([^.\[\]"]+)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]')


def child_path(parent: str, key: str) -> str:
    """`parent.key`, or `parent["key"]` when the key is not plain."""
    if _PLAIN_KEY_RE.match(key):
        return f"{parent}.{key}" if parent else key
    return f"{parent}[{json.dumps(key, ensure_ascii=False)}]"


def flat_key_path(name: str) -> str:
    """env/properties keys are paths as written (`spring.datasource.url`) unless they hold
    brackets, quotes or whitespace."""
    if name and not _NOT_FLAT_RE.search(name):
        return name
    return child_path("", name)


_NOT_FLAT_RE = re.compile(r'[\[\]"\s]')


def parent_path(path: str) -> str | None:
    """The path one level up (None for the root "")."""
    if not path:
        return None
    last_start = 0
    for m in _PATH_TOKEN_RE.finditer(path):
        last_start = m.start()
    return path[:last_start]


# --------------------------------------------------------------------------------------
# fingerprints and the walk
# --------------------------------------------------------------------------------------
try:  # the C one-shot HMAC that hmac.digest wraps; saves a Python call per value
    from _hashlib import hmac_digest as _hmac_digest
except ImportError:  # pragma: no cover
    def _hmac_digest(key: bytes, msg: bytes, digest: str) -> bytes:
        return hmac.digest(key, msg, digest)


class _Limit(Exception):
    pass


def _scalar_text(value: Any) -> tuple[str, str]:
    """(value_type, canonical text) of a Python scalar."""
    if value is None:
        return "null", "null"
    if value is True:
        return "bool", "true"
    if value is False:
        return "bool", "false"
    if isinstance(value, int):
        return "int", str(value)
    if isinstance(value, float):
        return "float", repr(value)
    if isinstance(value, str):
        return "string", value
    if isinstance(value, (datetime.date, datetime.time)):
        return "string", value.isoformat()
    return "string", str(value)


def _display(text: str) -> str:
    return text if len(text) <= DISPLAY_MAX_CHARS else text[: DISPLAY_MAX_CHARS - 1] + "…"


_new_row = tuple.__new__   # KeyRow without NamedTuple's argument handling (hot path)


class _Walker:
    """Emits KeyRows for one document, parents first, with Merkle-style keyed fingerprints."""

    __slots__ = ("key", "rows", "doc", "lines", "flat")

    def __init__(self, key: bytes, rows: list, doc: int, lines: dict | None = None, flat: bool = False):
        self.key = key
        self.rows = rows
        self.doc = doc
        self.lines = lines
        self.flat = flat        # env/properties: top-level keys are paths as written

    def _scalar(self, path: str, vtype: str, text: str, secret: bool, line: int | None) -> bytes:
        digest = _hmac_digest(self.key, vtype.encode() + b":" + text.encode("utf-8", "surrogatepass"), "sha256")
        if not secret and vtype == "string" and looks_like_secret_value(text):
            secret = True
        if len(self.rows) >= MAX_KEY_ROWS:
            raise _Limit
        self.rows.append(_new_row(KeyRow, (self.doc, path, vtype, digest.hex()[:FINGERPRINT_HEX_CHARS], secret,
                                           None if secret else _display(text), line)))
        return digest

    def _open(self, path: str, vtype: str, line: int | None) -> int:
        if len(self.rows) >= MAX_KEY_ROWS:
            raise _Limit
        self.rows.append(_new_row(KeyRow, (self.doc, path, vtype, None, False, None, line)))
        return len(self.rows) - 1

    def _close(self, at: int, payload: bytes, size: int, secret: bool) -> bytes:
        digest = _hmac_digest(self.key, payload, "sha256")
        row = self.rows[at]
        self.rows[at] = _new_row(KeyRow, (row[0], row[1], row[2], digest.hex()[:FINGERPRINT_HEX_CHARS], secret,
                                          None if secret else str(size), row[6]))
        return digest

    # ---- YAML nodes ------------------------------------------------------------------
    def yaml_node(self, node, path: str, line: int | None, secret: bool, depth: int) -> bytes:
        nid = node.id
        if nid == "scalar":
            vtype, text = _yaml_scalar(node)
            return self._scalar(path, vtype, text, secret, line)
        if depth > MAX_DEPTH:
            raise _Limit
        if nid == "sequence":
            at = self._open(path, "list", line)
            parts = [b"list:"]
            for i, item in enumerate(node.value):
                parts.append(self.yaml_node(item, f"{path}[{i}]", item.start_mark.line + 1, secret, depth + 1))
            return self._close(at, b"".join(parts), len(node.value), secret)
        # mapping
        pairs = node.value
        if any(k.tag == _YAML_MERGE for k, _ in pairs):
            try:
                _YAML_CONSTRUCTOR.flatten_mapping(node)
                pairs = node.value
            except Exception:  # noqa: BLE001 - a bad merge leaves `<<` as an ordinary key
                pass
        items: dict[str, tuple] = {}
        for i, (k, v) in enumerate(pairs):
            name = k.value if k.id == "scalar" else f"<{k.id}-key-{i}>"
            items[name] = (k, v)
        secret_children = _k8s_secret_children_yaml(items)
        at = self._open(path, "map", line)
        entries = []
        for name, (k, v) in items.items():
            child_secret = secret or is_secret_key_name(name) or name in secret_children
            digest = self.yaml_node(v, child_path(path, name), k.start_mark.line + 1, child_secret, depth + 1)
            entries.append(f"{len(name)}:{name}".encode("utf-8", "surrogatepass") + digest)
        entries.sort()
        return self._close(at, b"map:" + b"".join(entries), len(items), secret)

    # ---- Python objects (json, toml, ini, env, properties, hcl, xml) -----------------
    def obj(self, value: Any, path: str, secret: bool, depth: int, item_line: int | None = None) -> bytes:
        line = self.lines.get(path, item_line) if self.lines else item_line
        if isinstance(value, dict):
            if depth > MAX_DEPTH:
                raise _Limit
            secret_children = _k8s_secret_children_obj(value)
            at = self._open(path, "map", line)
            entries = []
            for name, v in value.items():
                name = name if isinstance(name, str) else str(name)
                child_secret = secret or is_secret_key_name(name) or name in secret_children
                cpath = flat_key_path(name) if self.flat and depth == 0 else child_path(path, name)
                digest = self.obj(v, cpath, child_secret, depth + 1, line)
                entries.append(f"{len(name)}:{name}".encode("utf-8", "surrogatepass") + digest)
            entries.sort()
            return self._close(at, b"map:" + b"".join(entries), len(value), secret)
        if isinstance(value, (list, tuple)):
            if depth > MAX_DEPTH:
                raise _Limit
            at = self._open(path, "list", line)
            parts = [b"list:"]
            for i, item in enumerate(value):
                parts.append(self.obj(item, f"{path}[{i}]", secret, depth + 1, line))
            return self._close(at, b"".join(parts), len(value), secret)
        vtype, text = _scalar_text(value)
        return self._scalar(path, vtype, text, secret, line)


def _k8s_secret_children_yaml(items: dict) -> tuple:
    kind = items.get("kind")
    if kind is not None and kind[1].id == "scalar" and kind[1].value == "Secret" and "apiVersion" in items:
        return ("data", "stringData")
    return ()


def _k8s_secret_children_obj(value: dict) -> tuple:
    if value.get("kind") == "Secret" and "apiVersion" in value:
        return ("data", "stringData")
    return ()


# --------------------------------------------------------------------------------------
# YAML
# --------------------------------------------------------------------------------------
_YAML_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_YAML_MERGE = "tag:yaml.org,2002:merge"
_YAML_STR = "tag:yaml.org,2002:str"
_YAML_INT = "tag:yaml.org,2002:int"
_YAML_FLOAT = "tag:yaml.org,2002:float"
_YAML_BOOL = "tag:yaml.org,2002:bool"
_YAML_NULL = "tag:yaml.org,2002:null"


def _yaml_scalar(node) -> tuple[str, str]:
    tag = node.tag
    if tag == _YAML_STR:
        return "string", node.value
    try:
        if tag == _YAML_INT:
            return "int", str(_YAML_CONSTRUCTOR.construct_yaml_int(node))
        if tag == _YAML_FLOAT:
            return "float", repr(_YAML_CONSTRUCTOR.construct_yaml_float(node))
        if tag == _YAML_BOOL:
            return "bool", "true" if _YAML_CONSTRUCTOR.construct_yaml_bool(node) else "false"
    except (ValueError, KeyError, yaml.YAMLError):
        return "string", node.value
    if tag == _YAML_NULL:
        return "null", "null"
    return "string", node.value


def _yaml_to_py(node, memo: dict, budget: list) -> Any:
    """Node -> Python (for Kubernetes documents only); shared/recursive nodes are memoised."""
    got = memo.get(id(node))
    if got is not None:
        return got
    budget[0] -= 1
    if budget[0] < 0:
        raise _Limit
    if node.id == "scalar":
        vtype, text = _yaml_scalar(node)
        if vtype == "int":
            return int(text)
        if vtype == "float":
            return float(text)
        if vtype == "bool":
            return text == "true"
        if vtype == "null":
            return None
        return text
    if node.id == "sequence":
        out: list = []
        memo[id(node)] = out
        out.extend(_yaml_to_py(item, memo, budget) for item in node.value)
        return out
    out_map: dict = {}
    memo[id(node)] = out_map
    for k, v in node.value:
        if k.id == "scalar":
            out_map[k.value] = _yaml_to_py(v, memo, budget)
    return out_map


def _yaml_root_is_k8s(node) -> bool:
    if node.id != "mapping":
        return False
    found = 0
    for k, v in node.value:
        if k.id == "scalar" and k.value in ("apiVersion", "kind") and v.id == "scalar":
            found += 1
    return found >= 2


# libyaml's composer recurses on the C stack: a file nested some 10^4 levels deep crashes the
# process (SIGSEGV) instead of raising. Nesting depth is at most indentation + 2 x the block
# indicators (`- `, `? `) on one line + all flow openers (`[`, `{`) in the file, so files where
# that bound could pass ~1000 are composed by the pure-Python loader (RecursionError, caught).
_DEEP_INDENT_RE = re.compile(rb"(?m)^[ \t]{250}")
_MANY_INDICATORS_RE = re.compile(rb"(?m)^(?:[^-?\n]*[-?]){120}")


def _yaml_loader_for(content: bytes):
    if YAML_LOADER is yaml.SafeLoader:
        return YAML_LOADER
    if (content.count(b"[") + content.count(b"{") >= 500 or _DEEP_INDENT_RE.search(content)
            or (content.count(b"-") + content.count(b"?") >= 120 and _MANY_INDICATORS_RE.search(content))):
        return yaml.SafeLoader
    return YAML_LOADER


_TEMPLATE_ACTION_RE = re.compile(rb"(?m)^[ \t]*(?:-[ \t]+)?\{\{|:[ \t]+\{\{")
_TEMPLATE_ANY_RE = re.compile(rb"(?<!\$)\{\{")


def _extract_yaml(content: bytes, key: bytes, facts: ConfigFacts) -> None:
    if _TEMPLATE_ACTION_RE.search(content):
        facts.skipped = "template ({{ }} placeholders)"
        return
    rows: list = []
    k8s: list = []
    n = 0
    try:
        for n, root in enumerate(yaml.compose_all(content, Loader=_yaml_loader_for(content)), start=1):
            doc = n - 1
            if root is None:
                continue
            walker = _Walker(key, rows, doc)
            start = len(rows)
            try:
                walker.yaml_node(root, "", root.start_mark.line + 1, False, 0)
            except _Limit:
                facts.truncated = True
                break
            if _yaml_root_is_k8s(root):
                try:
                    obj = _yaml_to_py(root, {}, [MAX_KEY_ROWS * 4])
                except (_Limit, RecursionError):
                    obj = None
                if isinstance(obj, dict):
                    k8s.extend(_k8s_objects(doc, obj, rows[start:]))
    except yaml.YAMLError as exc:
        if _TEMPLATE_ANY_RE.search(content):
            facts.skipped = "template ({{ }} placeholders)"
            return
        if isinstance(exc, yaml.reader.ReaderError):
            line = content.count(b"\n", 0, max(0, exc.position)) + 1 if isinstance(exc.position, int) else None
            problem = f"unreadable character ({exc.reason})"
        else:
            mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
            line = mark.line + 1 if mark is not None else None
            problem = getattr(exc, "problem", None) or getattr(exc, "context", None) or type(exc).__name__
        _fail(facts, "YAMLError", line, str(problem))
        return
    facts.keys = rows
    facts.k8s = k8s
    facts.documents = n


# --------------------------------------------------------------------------------------
# Kubernetes
# --------------------------------------------------------------------------------------
_POD_SPEC_PATHS = (("spec", "template", "spec"), ("spec", "jobTemplate", "spec", "template", "spec"), ("spec",))


def _dig(obj: Any, keys: tuple) -> Any:
    for k in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(k)
    return obj


def _find_pod_spec(obj: dict) -> dict | None:
    for keys in _POD_SPEC_PATHS:
        spec = _dig(obj, keys)
        if isinstance(spec, dict) and isinstance(spec.get("containers"), list):
            return spec
    # anything else (Argo Rollouts, Knative, operators' CRDs): first map with a containers list
    todo = [(obj.get("spec"), 0)]
    while todo:
        node, depth = todo.pop(0)
        if depth > 8:
            continue
        if isinstance(node, dict):
            if isinstance(node.get("containers"), list):
                return node
            todo.extend((v, depth + 1) for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            todo.extend((v, depth + 1) for v in node if isinstance(v, (dict, list)))
    return None


def _quantities(value: Any) -> dict:
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items() if v is not None and not isinstance(v, (dict, list))}


def _k8s_one(doc: int, obj: dict, object_path: str, line: int | None) -> K8sObject:
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    name = meta.get("name")
    namespace = meta.get("namespace")
    labels = meta.get("labels")
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    replicas = spec.get("replicas")
    images: list[str] = []
    resources: dict = {}
    pod = _find_pod_spec(obj)
    if pod is not None:
        for group in ("initContainers", "containers", "ephemeralContainers"):
            containers = pod.get(group)
            if not isinstance(containers, list):
                continue
            for i, c in enumerate(containers):
                if not isinstance(c, dict):
                    continue
                image = c.get("image")
                if isinstance(image, str) and image not in images:
                    images.append(image)
                cname = c.get("name") if isinstance(c.get("name"), str) else f"{group}[{i}]"
                if cname in resources:
                    cname = f"{cname}#{i}"
                res = c.get("resources") if isinstance(c.get("resources"), dict) else {}
                resources[cname] = {"requests": _quantities(res.get("requests")),
                                    "limits": _quantities(res.get("limits"))}
    return K8sObject(
        doc_index=doc,
        api_version=str(obj.get("apiVersion")),
        kind=str(obj.get("kind")),
        name=name if isinstance(name, str) else (str(name) if name is not None else None),
        namespace=namespace if isinstance(namespace, str) else None,
        images=images,
        replicas=replicas if isinstance(replicas, int) and not isinstance(replicas, bool) else None,
        resources=resources,
        labels={str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {},
        object_path=object_path,
        line=line,
    )


def _k8s_objects(doc: int, obj: Any, doc_rows: list) -> list[K8sObject]:
    if not (isinstance(obj, dict) and isinstance(obj.get("apiVersion"), str) and isinstance(obj.get("kind"), str)):
        return []
    lines = {r.key_path: r.line for r in doc_rows[:1]}
    items = obj.get("items")
    if obj["kind"].endswith("List") and isinstance(items, list):
        item_lines = {r.key_path: r.line for r in doc_rows if r.key_path.startswith("items[")}
        out = []
        for i, item in enumerate(items):
            if isinstance(item, dict) and isinstance(item.get("kind"), str):
                out.append(_k8s_one(doc, item, f"items[{i}]", item_lines.get(f"items[{i}]")))
        return out
    return [_k8s_one(doc, obj, "", lines.get(""))]


# --------------------------------------------------------------------------------------
# the other formats -> (python object, {path: line})
# --------------------------------------------------------------------------------------
class _ParseError(Exception):
    def __init__(self, kind: str, line: int | None, message: str):
        super().__init__(message)
        self.kind = kind
        self.line = line
        self.message = message


def _decode(content: bytes, lenient: bool) -> str:
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        return content.decode("utf-16")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if lenient:
            return content.decode("latin-1")
        raise _ParseError("UnicodeDecodeError", content.count(b"\n", 0, exc.start) + 1,
                          f"invalid {exc.encoding} byte at offset {exc.start}") from None


_JSON_TOKEN_RE = re.compile(r'"(?:[^"\\\n]|\\.)*"|[{}\[\],:]|[^\s{}\[\],:"]+|\n')


def _json_lines(text: str) -> dict[str, int]:
    """{path: line} from a token scan of (already validated) JSON."""
    lines: dict[str, int] = {"": 1}
    line = 1
    stack: list[list] = []          # [is_object, path, next_index, current_key_path, expecting_key]
    started = False
    for m in _JSON_TOKEN_RE.finditer(text):
        tok = m.group()
        if tok == "\n":
            line += 1
            continue
        top = stack[-1] if stack else None
        if tok in ",:":
            if top is not None and tok == "," and top[0]:
                top[4] = True
            continue
        if tok in "}]":
            stack.pop()
            continue
        if top is not None and top[0] and top[4]:          # a key
            try:
                name = json.loads(tok)
            except ValueError:
                return lines
            top[3] = child_path(top[1], name)
            top[4] = False
            lines[top[3]] = line
            continue
        # a value
        if top is None:
            if started:
                return lines
            started = True
            path = ""
            lines[""] = line
        elif top[0]:
            path = top[3]
        else:
            path = f"{top[1]}[{top[2]}]"
            top[2] += 1
            lines[path] = line
        if tok == "{":
            stack.append([True, path, 0, "", True])
        elif tok == "[":
            stack.append([False, path, 0, "", False])
    return lines


def _parse_json(text: str) -> tuple[Any, dict | None]:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _ParseError("JSONDecodeError", exc.lineno, exc.msg) from None
    return obj, (_json_lines(text) if len(text) <= JSON_LINE_SCAN_MAX_CHARS else None)


_TOML_KEY_PART = r'(?:[A-Za-z0-9_\-]+|"(?:[^"\\]|\\.)*"|\'[^\']*\')'
_TOML_KEY_RE = re.compile(rf"\s*({_TOML_KEY_PART}(?:\s*\.\s*{_TOML_KEY_PART})*)\s*=")
_TOML_PART_RE = re.compile(_TOML_KEY_PART)


def _toml_key_parts(text: str) -> list[str]:
    out = []
    for p in _TOML_PART_RE.findall(text):
        if p.startswith('"'):
            try:
                p = json.loads(p)
            except ValueError:
                p = p[1:-1]
        elif p.startswith("'"):
            p = p[1:-1]
        out.append(p)
    return out


def _toml_lines(text: str) -> dict[str, int]:
    """{path: line} for table headers and `key =` lines (a scan, good for well-formed files)."""
    lines: dict[str, int] = {"": 1}
    aot_count: dict[str, int] = {}        # array-of-tables path -> items seen
    table = ""
    in_multiline = None
    for i, raw in enumerate(text.splitlines(), start=1):
        s = raw.strip()
        if in_multiline:
            if in_multiline in s:
                in_multiline = None
            continue
        if not s or s[0] == "#":
            continue
        if s.startswith("["):
            is_aot = s.startswith("[[")
            inner = s[2:s.find("]]")] if is_aot else s[1:s.find("]")]
            parts = _toml_key_parts(inner)
            concrete = ""
            for j, part in enumerate(parts):
                concrete = child_path(concrete, part)
                if j == len(parts) - 1 and is_aot:
                    idx = aot_count.get(concrete, 0)
                    aot_count[concrete] = idx + 1
                    lines.setdefault(concrete, i)
                    concrete = f"{concrete}[{idx}]"
                elif concrete in aot_count:
                    concrete = f"{concrete}[{aot_count[concrete] - 1}]"
                lines.setdefault(concrete, i)
            table = concrete
            continue
        m = _TOML_KEY_RE.match(s)
        if m:
            path = table
            for part in _toml_key_parts(m.group(1)):
                path = child_path(path, part)
                lines.setdefault(path, i)
            rest = s[m.end():].lstrip()
            for q in ('"""', "'''"):
                if rest.startswith(q) and rest.count(q) == 1:
                    in_multiline = q
    return lines


_TOML_LINE_RE = re.compile(r"line (\d+)")


def _parse_toml(text: str) -> tuple[Any, dict | None]:
    try:
        obj = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = _TOML_LINE_RE.search(msg)
        raise _ParseError("TOMLDecodeError", int(m.group(1)) if m else None, msg) from None
    return obj, _toml_lines(text)


_INI_SECTION_RE = re.compile(r"\[(?P<header>.+)\]")
_INI_OPTION_RE = re.compile(r"(?P<option>.*?)\s*[=:]")


def _parse_ini(text: str) -> tuple[Any, dict | None]:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # keep key case
    try:
        parser.read_string(text)
    except configparser.MissingSectionHeaderError as exc:
        raise _ParseError("MissingSectionHeaderError", exc.lineno, "key before any [section] header") from None
    except configparser.ParsingError as exc:
        errors = getattr(exc, "errors", None) or [(None, None)]
        first = errors[0][0]
        raise _ParseError("ParsingError", first, f"{len(errors)} line(s) not in `key = value` or "
                                                 "`[section]` form") from None
    except configparser.Error as exc:
        raise _ParseError(type(exc).__name__, getattr(exc, "lineno", None), type(exc).__name__) from None
    obj: dict = {}
    defaults = dict(parser.defaults())
    if defaults:
        obj[parser.default_section] = defaults
    own = getattr(parser, "_sections", None)
    for section in parser.sections():
        if own is not None and section in own:
            obj[section] = dict(own[section])
        else:
            obj[section] = {k: v for k, v in parser.items(section, raw=True) if k not in defaults}
    lines: dict[str, int] = {"": 1}
    section_path = None
    for i, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip()[:1] in ("#", ";"):
            continue
        m = _INI_SECTION_RE.match(raw)
        if m:
            section_path = child_path("", m.group("header"))
            lines.setdefault(section_path, i)
            continue
        if raw[:1] in (" ", "\t") or section_path is None:
            continue
        m = _INI_OPTION_RE.match(raw)
        if m and m.group("option"):
            lines[child_path(section_path, m.group("option").strip())] = i
    return obj, lines


_ENV_ASSIGN_RE = re.compile(r"[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_.\-]*)[ \t]*=[ \t]*")
_ENV_EXPORT_ONLY_RE = re.compile(r"[ \t]*export([ \t]+[A-Za-z_][A-Za-z0-9_]*)+[ \t]*(?:#.*)?\Z")
_DQ_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


def _parse_env(text: str) -> tuple[Any, dict | None]:
    obj: dict[str, str] = {}
    lines: dict[str, int] = {"": 1}
    src = text.splitlines()
    i = 0
    while i < len(src):
        raw = src[i]
        start = i + 1
        i += 1
        stripped = raw.strip()
        if not stripped or stripped[0] == "#" or _ENV_EXPORT_ONLY_RE.match(raw):
            continue
        m = _ENV_ASSIGN_RE.match(raw)
        if not m:
            raise _ParseError("EnvParseError", start, "expected KEY=value")
        name, rest = m.group(1), raw[m.end():]
        if rest[:1] in ('"', "'"):
            quote = rest[0]
            buf = rest[1:]
            while True:
                end = _closing_quote(buf, quote)
                if end >= 0:
                    break
                if i >= len(src):
                    raise _ParseError("EnvParseError", start, f"unterminated {quote} quoted value")
                buf += "\n" + src[i]
                i += 1
            value = buf[:end]
            if quote == '"':
                value = re.sub(r"\\(.)", lambda mm: _DQ_ESCAPES.get(mm.group(1), "\\" + mm.group(1)), value)
        else:
            value = "" if rest.startswith("#") else re.split(r"[ \t]+#", rest, maxsplit=1)[0].strip()
        obj[name] = value
        lines[flat_key_path(name)] = start
    return obj, lines


def _closing_quote(buf: str, quote: str) -> int:
    j = 0
    while True:
        j = buf.find(quote, j)
        if j < 0:
            return -1
        if quote == '"':
            backslashes = 0
            k = j - 1
            while k >= 0 and buf[k] == "\\":
                backslashes += 1
                k -= 1
            if backslashes % 2:
                j += 1
                continue
        return j


_PROP_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


def _prop_unescape(text: str) -> str:
    if "\\" not in text:
        return text
    out = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[i + 2:i + 6] or ""):
                out.append(chr(int(text[i + 2:i + 6], 16)))
                i += 6
                continue
            out.append(_PROP_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _parse_properties(text: str) -> tuple[Any, dict | None]:
    obj: dict[str, str] = {}
    lines: dict[str, int] = {"": 1}
    src = text.splitlines()
    i = 0
    while i < len(src):
        start = i + 1
        logical = src[i].lstrip(" \t\f")
        i += 1
        if not logical or logical[0] in "#!":
            continue
        while (len(logical) - len(logical.rstrip("\\"))) % 2 == 1:
            logical = logical[:-1]
            if i >= len(src):
                break
            logical += src[i].lstrip(" \t\f")
            i += 1
        j = 0
        while j < len(logical):
            ch = logical[j]
            if ch == "\\":
                j += 2
                continue
            if ch in "=: \t\f":
                break
            j += 1
        key = _prop_unescape(logical[:j])
        rest = logical[j:].lstrip(" \t\f")
        if rest[:1] in ("=", ":"):
            rest = rest[1:].lstrip(" \t\f")
        obj[key] = _prop_unescape(rest)
        lines[flat_key_path(key)] = start
    return obj, lines


_HCL_META = ("__is_block__", "__start_line__", "__end_line__", "__comments__", "__inline_comments__")


def _hcl_body(value: Any) -> Any:
    """python-hcl2 (explicit_blocks) -> plain maps: labelled blocks nested by label."""
    if isinstance(value, list):
        return [_hcl_body(v) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict = {}
    for k, v in value.items():
        if k in _HCL_META:
            continue
        if isinstance(v, list) and v and all(_hcl_is_block_item(item) for item in v):
            unlabelled = [item for item in v if item.get("__is_block__")]
            if not unlabelled:                          # labelled: merge by label
                merged: dict = {}
                for item in v:
                    _hcl_merge(merged, item)
                out[k] = merged
            elif len(v) == 1:
                out[k] = _hcl_body(v[0])
            else:
                out[k] = [_hcl_body(item) for item in v]
        else:
            out[k] = _hcl_body(v)
    return out


def _hcl_is_block_item(item: Any) -> bool:
    while isinstance(item, dict):
        if item.get("__is_block__"):
            return True
        if len(item) != 1:
            return False
        item = next(iter(item.values()))
    return False


def _hcl_merge(target: dict, item: dict) -> None:
    label, inner = next(iter(item.items()))
    if isinstance(inner, dict) and inner.get("__is_block__"):
        target[label] = _hcl_body(inner)
    else:
        _hcl_merge(target.setdefault(label, {}), inner)


def _parse_hcl(text: str) -> tuple[Any, dict | None]:
    import hcl2  # python-hcl2; imported lazily (slow to import, only .tf/.tfvars/.hcl need it)
    from hcl2.utils import SerializationOptions

    options = SerializationOptions(with_comments=False, explicit_blocks=True, strip_string_quotes=True,
                                   preserve_heredocs=False)
    try:
        raw = hcl2.loads(text, serialization_options=options)
    except Exception as exc:  # noqa: BLE001 - lark raises many types; none may quote content
        line = getattr(exc, "line", None)
        line = line if isinstance(line, int) and line > 0 else None
        what = {"UnexpectedToken": "unexpected token", "UnexpectedCharacters": "unexpected character",
                "UnexpectedEOF": "unexpected end of input"}.get(type(exc).__name__, type(exc).__name__)
        raise _ParseError("HCLParseError", line, what) from None
    return _hcl_body(raw), _hcl_lines(text)


_HCL_STRING_RE = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_HCL_HEAD_RE = re.compile(r'([A-Za-z_][\w-]*)((?:\s+(?:"[^"\n]*"|[A-Za-z_][\w-]*))*)\s*\{')
_HCL_ATTR_RE = re.compile(r'([A-Za-z_][\w-]*|"[^"\n]*")\s*(?:=(?!=)|:)\s*')
_HCL_LABEL_RE = re.compile(r'"([^"\n]*)"|([A-Za-z_][\w-]*)')
_HCL_HEREDOC_RE = re.compile(r"<<-?\s*([A-Za-z_][\w]*)\s*$")


def _hcl_lines(text: str) -> dict[str, int]:
    """{path: line} from a scan of block headers, attributes and braces. An unlabelled block is
    recorded both as `type` and `type[n]` (the walk uses one of them); good for ordinary files."""
    lines: dict[str, int] = {"": 1}
    stack: list[list[str]] = [[""]]            # candidate paths of each open brace/bracket
    counts: dict[tuple, int] = {}
    heredoc = None
    for i, raw in enumerate(text.splitlines(), start=1):
        s = raw.strip()
        if heredoc is not None:
            if s == heredoc:
                heredoc = None
            continue
        if not s or s[0] == "#" or s.startswith(("//", "/*", "*")):
            continue
        hd = _HCL_HEREDOC_RE.search(s)
        if hd:
            heredoc = hd.group(1)
        bare = _HCL_STRING_RE.sub('""', s)
        parents = stack[-1]
        opened: list[str] | None = None
        m = _HCL_HEAD_RE.match(s)
        a = None if m else _HCL_ATTR_RE.match(s)
        if m and parents:
            kind, labels = m.group(1), [x or y for x, y in _HCL_LABEL_RE.findall(m.group(2))]
            opened = []
            for parent in parents[:4]:
                path = child_path(parent, kind)
                lines.setdefault(path, i)
                if labels:
                    for label in labels:
                        path = child_path(path, label)
                        lines.setdefault(path, i)
                    opened.append(path)
                else:
                    n = counts.get((parent, kind), 0)
                    counts[(parent, kind)] = n + 1
                    lines.setdefault(f"{path}[{n}]", i)
                    opened.extend((path, f"{path}[{n}]"))
        elif a and parents:
            name = a.group(1)
            name = name[1:-1] if name.startswith('"') else name
            opened = []
            for parent in parents[:4]:
                path = child_path(parent, name)
                lines[path] = i
                opened.append(path)
            if not s[a.end():].startswith("{"):
                opened = []
        net = bare.count("{") + bare.count("[") - bare.count("}") - bare.count("]")
        if net > 0:
            stack.append(opened or [])
            stack.extend([] for _ in range(net - 1))
        elif net < 0:
            del stack[max(1, len(stack) + net):]
    return lines


class _XmlEl:
    __slots__ = ("tag", "attrs", "children", "text", "line")

    def __init__(self, tag, attrs, line):
        self.tag, self.attrs, self.children, self.text, self.line = tag, attrs, [], [], line


def _parse_xml(content: bytes) -> tuple[Any, dict | None]:
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    stack: list[_XmlEl] = []
    roots: list[_XmlEl] = []

    def start(tag, attrs):
        el = _XmlEl(tag, attrs, parser.CurrentLineNumber)
        (stack[-1].children if stack else roots).append(el)
        stack.append(el)

    def end(tag):
        stack.pop()

    def chars(data):
        if stack:
            stack[-1].text.append(data)

    def entity_decl(*args):
        raise _ParseError("XMLSyntaxError", parser.CurrentLineNumber, "entity declarations are not allowed")

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    parser.EntityDeclHandler = entity_decl
    try:
        parser.Parse(content, True)
    except expat.ExpatError as exc:
        raise _ParseError("XMLSyntaxError", exc.lineno, expat.ErrorString(exc.code)) from None
    lines: dict[str, int] = {"": 1}
    if not roots:
        return {}, lines
    root = roots[0]
    path = child_path("", root.tag)
    return {root.tag: _xml_value(root, path, lines)}, lines


def _xml_value(el: _XmlEl, path: str, lines: dict) -> Any:
    lines[path] = el.line
    text = "".join(el.text).strip()
    attrs = {k: v for k, v in el.attrs.items() if k != "xmlns" and not k.startswith("xmlns:")}
    if not attrs and not el.children:
        return text if text else None
    out: dict = {}
    for k, v in attrs.items():
        out["@" + k] = v
        lines[child_path(path, "@" + k)] = el.line
    groups: dict[str, list] = {}
    for c in el.children:
        groups.setdefault(c.tag, []).append(c)
    for tag, els in groups.items():
        cpath = child_path(path, tag)
        if len(els) == 1:
            out[tag] = _xml_value(els[0], cpath, lines)
        else:
            lines[cpath] = els[0].line
            out[tag] = [_xml_value(e, f"{cpath}[{i}]", lines) for i, e in enumerate(els)]
    if text:
        out["#text"] = text
    return out if out else None


_TEXT_PARSERS = {"json": (_parse_json, False), "toml": (_parse_toml, False), "ini": (_parse_ini, False),
                 "env": (_parse_env, True), "properties": (_parse_properties, True), "hcl": (_parse_hcl, False)}


def _fail(facts: ConfigFacts, kind: str, line: int | None, message: str) -> None:
    facts.keys, facts.k8s = [], []
    facts.error = f"{kind} line {line}: {message}" if line is not None else f"{kind}: {message}"
    facts.error_line = line


# --------------------------------------------------------------------------------------
# public: format, extraction
# --------------------------------------------------------------------------------------
CONFIG_FORMATS = ("yaml", "json", "toml", "ini", "env", "hcl", "xml", "properties")
_EXT_FORMAT = {"yaml": "yaml", "yml": "yaml", "json": "json", "toml": "toml", "ini": "ini", "cfg": "ini",
               "env": "env", "tf": "hcl", "tfvars": "hcl", "hcl": "hcl", "xml": "xml", "properties": "properties"}
_FILE_TYPE_FORMAT = {"yaml": "yaml", "json": "json", "toml": "toml", "ini": "ini", "dotenv": "env",
                     "terraform": "hcl", "hcl": "hcl", "xml": "xml", "properties": "properties"}
_INI_NAMES = {".pylintrc", "pylintrc", ".coveragerc", ".flake8", ".gitconfig", ".isort.cfg", ".bumpversion.cfg"}
_LOCK_NAMES = {"package-lock.json", "npm-shrinkwrap.json", "composer.lock", "pnpm-lock.yaml", "yarn.lock",
               "pipfile.lock", "poetry.lock", "cargo.lock", "gemfile.lock", "uv.lock", "pdm.lock",
               ".terraform.lock.hcl", "flake.lock", "packages.lock.json", "go.sum"}
_BACKUP_SUFFIXES = (".bak", ".orig", ".old", ".swp", ".tmp", "~", ".rej", ".backup", ".prev")
_EXAMPLE_SUFFIXES = (".example", ".sample", ".dist", ".default", ".template", ".tmpl", ".j2", ".jinja",
                     ".jinja2", ".tpl")
_FALLBACK_EXTS = {"", "conf", "config", "cnf"}


def _dirs_and_name(path: str) -> tuple[list[str], str]:
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
    return parts[:-1], (parts[-1] if parts else "")


def _is_helm_template_path(path: str) -> bool:
    dirs, _ = _dirs_and_name(path)
    return "templates" in dirs


def config_format_for(path: str, file_type: str | None) -> str | None:
    """yaml json toml ini env hcl xml properties, or None when the file is not a config file.

    By name first (extensions, `.env*`, `*.env`, rc-style ini names; `.example`/`.tpl`/`.j2`...
    suffixes are looked through; a bare `.tpl` under `templates/` is a Helm template -> yaml so
    that extraction reports it skipped), then by the sniffed `file_type` for names without a
    telling extension. Lock files, backups and notebooks are None."""
    dirs, name = _dirs_and_name(path)
    lower = name.lower()
    if not lower or lower in _LOCK_NAMES or lower.endswith((".lock", ".lock.json", ".lock.yaml")):
        return None
    if lower.endswith(_BACKUP_SUFFIXES):
        return None
    if lower == ".env" or lower.startswith(".env.") or lower.endswith(".env"):
        return "env"
    if lower in _INI_NAMES:
        return "ini"
    stem = lower
    for suffix in _EXAMPLE_SUFFIXES:
        if stem.endswith(suffix) and "." in stem[: -len(suffix)].lstrip("."):
            stem = stem[: -len(suffix)]
            break
    else:
        if lower.endswith(".tpl") and "templates" in dirs:
            return "yaml"
    ext = stem.rsplit(".", 1)[-1] if "." in stem.lstrip(".") else ""
    if ext in _EXT_FORMAT:
        return _EXT_FORMAT[ext]
    if ext in _FALLBACK_EXTS and file_type:
        return _FILE_TYPE_FORMAT.get(file_type)
    return None


def extract_config(path: str, content: bytes, fmt: str, fingerprint_key: bytes) -> ConfigFacts:
    """Key rows (and Kubernetes objects for yaml/json) of one config file. Never raises for bad
    content: a parse failure is `error`/`error_line`, a template is `skipped`."""
    if not isinstance(fingerprint_key, (bytes, bytearray)) or not fingerprint_key:
        raise ValueError("fingerprint_key must be non-empty bytes")
    key = bytes(fingerprint_key)
    facts = ConfigFacts()
    if fmt not in CONFIG_FORMATS:
        facts.skipped = f"unsupported format {fmt!r}"
        return facts
    if fmt == "yaml" and _is_helm_template_path(path):
        facts.skipped = "helm template"
        return facts
    try:
        if fmt == "yaml":
            _extract_yaml(content, key, facts)
            return facts
        if fmt == "xml":
            obj, lines = _parse_xml(content)
        else:
            parse, lenient = _TEXT_PARSERS[fmt]
            text = _decode(content, lenient)
            try:
                obj, lines = parse(text)
            except _ParseError:
                if _TEMPLATE_ANY_RE.search(content):
                    facts.skipped = "template ({{ }} placeholders)"
                    return facts
                raise
        rows: list = []
        facts.documents = 1
        try:
            _Walker(key, rows, 0, lines, flat=fmt in ("env", "properties")).obj(obj, "", False, 0)
        except _Limit:
            facts.truncated = True
        facts.keys = rows
        if fmt == "json":
            facts.k8s = _k8s_objects(0, obj, rows) if not facts.truncated else []
    except _ParseError as exc:
        _fail(facts, exc.kind, exc.line, exc.message)
    except RecursionError:
        _fail(facts, "RecursionError", None, "nesting too deep")
    except (ValueError, TypeError, UnicodeError, MemoryError) as exc:
        _fail(facts, type(exc).__name__, None, "could not read the file")
    return facts


# --------------------------------------------------------------------------------------
# environments and drift
# --------------------------------------------------------------------------------------
ENVIRONMENTS = ("local", "dev", "develop", "development", "test", "testing", "qa", "uat", "stage", "staging",
                "preprod", "prod", "production")
_ENV_ORDER = {e: i for i, e in enumerate(ENVIRONMENTS)}
_ENV_SET = frozenset(ENVIRONMENTS)
_ENV_IN_NAME_RE = re.compile(r"(?i)(?<![^._-])(" + "|".join(sorted(ENVIRONMENTS, key=len, reverse=True))
                             + r")(?![^._-])")
ENV_PLACEHOLDER = "{env}"


def environment_of(path: str) -> tuple[str, str] | None:
    """(environment, config_identity), or None when the path names no environment.

    By name first (`app.dev.yaml`, `app-prod.yaml`, `values-staging.yaml`, `.env.production`,
    `prod.tfvars`: the token must be set off by `.`, `-`, `_` or the ends of the name), else by
    the nearest folder named after an environment (`yaml_configs/dev/app.yaml`,
    `overlays/prod/kustomization.yaml`, `environments/staging/main.tf`). The environment is
    lower-cased as written (`production` stays `production`); the identity is the path with
    that token (in the name, and in any folder named the same) replaced by `{env}`, so
    `yaml_configs/dev/app.yaml` and `yaml_configs/prod/app.yaml` share
    `yaml_configs/{env}/app.yaml`. Tokens: local dev develop development test testing qa uat
    stage staging preprod prod production."""
    dirs, name = _dirs_and_name(path)
    if not name:
        return None
    matches = list(_ENV_IN_NAME_RE.finditer(name))
    if matches:
        m = matches[-1]
        env = m.group(1).lower()
        new_name = name[: m.start()] + ENV_PLACEHOLDER + name[m.end():]
        new_dirs = [ENV_PLACEHOLDER if d.lower() == env else d for d in dirs]
        return env, "/".join(new_dirs + [new_name])
    for i in range(len(dirs) - 1, -1, -1):
        if dirs[i].lower() in _ENV_SET:
            env = dirs[i].lower()
            new_dirs = [ENV_PLACEHOLDER if d.lower() == env else d for d in dirs]
            return env, "/".join(new_dirs + [name])
    return None


def _env_sorted(envs) -> list[str]:
    return sorted(envs, key=lambda e: (_ENV_ORDER.get(e, len(_ENV_ORDER)), e))


def folder_family(identity: str) -> str:
    """Files of one folder-based overlay directory are expected in the same environments."""
    head, sep, _ = identity.rpartition("/")
    if ENV_PLACEHOLDER in head.split("/"):
        return head + sep
    return identity


_INDEX_SUFFIX_RE = re.compile(r"\[\d+\]\Z")


class _Leaf(NamedTuple):
    fingerprint: str | None
    secret: bool
    text: str | None      # rendering for values_by_env (None for secrets)


def _drift_leaves(rows: list) -> dict[tuple, _Leaf]:
    """The rows drift compares: scalars, lists of scalars (whole), empty maps. Maps with keys
    are compared through their children, lists holding maps/lists through their items."""
    by_key = {}
    children: dict[tuple, list] = {}
    for r in rows:
        k = (r[0], r[1])
        by_key[k] = r
        p = parent_path(r[1])
        if p is not None:
            children.setdefault((r[0], p), []).append(r)
    scalar_lists = set()
    for k, r in by_key.items():
        if r[2] == "list" and all(c[2] not in ("list", "map") for c in children.get(k, ())):
            scalar_lists.add(k)
    leaves: dict[tuple, _Leaf] = {}
    for k, r in by_key.items():
        vtype, fp, secret = r[2], r[3], r[4]
        if vtype == "map":
            if r[5] != "0" and (r[5] is not None or k in children):
                continue
            leaves[k] = _Leaf(fp, secret, None if secret else "{}")
        elif vtype == "list":
            if k not in scalar_lists:
                continue
            items = children.get(k, [])
            if secret or any(c[4] for c in items):
                leaves[k] = _Leaf(fp, True, None)
            else:
                leaves[k] = _Leaf(fp, False, "[" + ", ".join(c[5] or "" for c in items) + "]")
        else:
            p = parent_path(r[1])
            if p is not None and (r[0], p) in scalar_lists and _INDEX_SUFFIX_RE.search(r[1]):
                continue
            leaves[k] = _Leaf(fp, secret, None if secret else r[5])
    return leaves


def compute_drift(keys_by_file: dict) -> list[DriftRow]:
    """Drift between environment variants of one config.

    Input: {path: that file's KeyRows}; pass None for a file that exists but did not parse
    (error/skipped): it counts as present but is left out of key comparisons. Files whose
    path names no environment are ignored. Files are grouped by `environment_of` identity.

    Output rows, sorted by identity, doc_index, key_path:
    * whole-file: (identity, None, "missing", envs_with_file, envs_without, {}, None) when a
      folder-based overlay directory (`yaml_configs/{env}/`) has the file in some of the
      environments it has files for but not in others (name-based variants only compare the
      environments they have);
    * per key, among the environments whose file parsed (needs two or more):
      "missing" when the key is absent in some (values_by_env shows the present ones, which may
      also differ), "differs" when present everywhere with different keyed fingerprints.
      values_by_env: {env: display text} — scalars as displayed, lists of scalars as
      "[a, b]", empty maps "{}", and "<fingerprint>" for secrets; where two different values
      render alike (cut display, types) " <fingerprint>" is appended.
    Compared are scalars, lists of scalars as a whole, and empty maps; maps are compared
    through their keys and lists of maps/lists through their items ([0], [1] ...). Key rows
    are matched by (doc_index, key_path). Environment lists follow local, dev, ..., staging,
    preprod, prod, production order."""
    groups: dict[str, dict[str, tuple]] = {}
    for path in sorted(keys_by_file):
        found = environment_of(path)
        if found is None:
            continue
        env, identity = found
        groups.setdefault(identity, {}).setdefault(env, (path, keys_by_file[path]))
    families: dict[str, set] = {}
    for identity, per_env in groups.items():
        families.setdefault(folder_family(identity), set()).update(per_env)
    out: list[DriftRow] = []
    for identity in sorted(groups):
        per_env = groups[identity]
        universe = _env_sorted(families[folder_family(identity)])
        present = [e for e in universe if e in per_env]
        absent = [e for e in universe if e not in per_env]
        if absent:
            out.append(DriftRow(identity, None, "missing", present, absent, {}, None))
        parsed = {e: _drift_leaves(per_env[e][1]) for e in present if per_env[e][1] is not None}
        if len(parsed) < 2:
            continue
        envs = [e for e in present if e in parsed]
        all_keys = set()
        for leaves in parsed.values():
            all_keys.update(leaves)
        for k in sorted(all_keys):
            here = [e for e in envs if k in parsed[e]]
            gone = [e for e in envs if k not in parsed[e]]
            leaves_here = {e: parsed[e][k] for e in here}
            fps = {leaf.fingerprint for leaf in leaves_here.values()}
            if not gone and len(fps) <= 1:
                continue
            texts = {leaf.text for leaf in leaves_here.values() if leaf.text is not None}
            plain = {leaf.fingerprint for leaf in leaves_here.values() if leaf.text is not None}
            ambiguous = len(texts) < len(plain)
            values = {}
            for e, leaf in leaves_here.items():
                if leaf.text is None:
                    values[e] = f"<{leaf.fingerprint}>"
                else:
                    values[e] = f"{leaf.text} <{leaf.fingerprint}>" if ambiguous else leaf.text
            out.append(DriftRow(identity, k[1], "missing" if gone else "differs", here, gone, values, k[0]))
    return out
