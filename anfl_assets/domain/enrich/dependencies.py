"""Dependencies: what a project declares, locks, pulls and imports (`enrich.dependencies`).

Pure functions, no dagster: one file's path and bytes in, rows out, so results can be
cached by content hash and `EXTRACTOR_VERSION`.

External dependencies
---------------------
`is_dependency_source(path, file_type)` is the cheap filename test for which files to read;
`extract_declared(path, content)` parses one of them with a real parser (`tomllib`, `json`,
`yaml` node graphs for line numbers, `xml.etree`, `configparser`, `ast`, `packaging`,
`hcl2` with a regex fallback) into a `DeclaredDeps`:

    rows   (ecosystem, name, version_spec, kind, scope_detail, line)

    ecosystem     pypi | npm | go | cargo | maven | docker | helm | terraform | github-actions
    name          as written, except: maven `groupId:artifactId`; terraform providers their
                  source address (`hashicorp/aws`); images the repository without tag/digest;
                  Cargo renamed deps the registry crate (`package = ...`)
    version_spec  as written, whitespace removed for PEP 440 (`>=1.26,<3`); None when absent or
                  `*`. kind 'locked': the exact resolved version. Images: `tag`, `sha256:...` or
                  `tag@sha256:...`. VCS/URL references: the URL (with `@ref`). A project-local
                  reference (pip `-r`/`-e ./x`, Poetry/Cargo `path`, npm `file:`, compose build,
                  local Terraform module, Helm `file://`): `path:<path relative to the project
                  root>`. Maven `${prop}` is substituted from the same pom; unknown ones stay.
    kind          declared | locked | image | chart | provider | module | action | include
                  ('action': a GitHub Actions `uses:`; 'include': a file the manifest pulls in,
                  e.g. `-r base.txt`, `-c constraints.txt`, `file: requirements.txt`, a
                  compose service's Dockerfile, a local `uses: ./action`)
    scope_detail  runtime | dev | build | peer | optional | optional:<extra> | group:<name> |
                  indirect (go) | workspace (cargo) | provided | system | import | managed |
                  parent (maven) | build-stage | copy-from | init | ephemeral | ci (images) |
                  requirements | constraints (includes) | unknown (lockfiles that do not say)
    line          1-based line of the entry in the file (None when it cannot be placed)

    error  None, or what could not be parsed; rows then hold whatever was parsed before/around it
    attrs  (row index, key, value): per-row details that are not columns: extras, marker, url,
           editable, platform, stage, alias, repository, condition, replace, features, ...
    edges  (ecosystem, parent, parent_version, child, child_version): the resolved graph a
           lockfile records (package-lock, yarn.lock, poetry.lock, Cargo.lock); child_version
           None when the lockfile does not resolve it
    provides (ecosystem, name): what the manifest itself publishes (its own package name, go
           module path, chart name): the project's own packages, not dependencies

`dependency_rows` turns a `DeclaredDeps` into `DEPENDENCY_COLUMNS` rows for the warehouse; rows
whose version_spec is `path:...` are scope 'internal' with that path as target_path.

Internal dependencies
---------------------
`resolve_internal(imports, project_paths, go_module)` resolves code-structure import rows
(source_path, language, module, line) to project files; `import_rows` gives the same as
`DEPENDENCY_COLUMNS` rows (scope 'internal', kind 'import').

Usage
-----
`usage_status(declared, imported, own_packages)` marks declared-never-imported and
imported-undeclared packages (pypi, npm, go).

SBOM
----
`build_sbom(project, rows, edges)` writes a CycloneDX 1.6 JSON SBOM with cyclonedx-python-lib
and validates it against the 1.6 schema (raises `SbomError` when invalid).
"""

from __future__ import annotations

import ast
import bisect
import codecs
import configparser
import datetime
import hashlib
import json
import posixpath
import re
import sys
import tomllib
import types
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

EXTRACTOR_VERSION = 2

# (ecosystem, name, version_spec, kind, scope_detail, line)
DepRow = tuple[str, str, "str | None", str, str, "int | None"]

DEPENDENCY_COLUMNS = ("project", "source_path", "scope", "ecosystem", "name", "version_spec",
                      "kind", "scope_detail", "line", "target_path")
"""Columns of `enrich.dependencies` as produced by `dependency_rows` and `import_rows`:
project, source_path (the manifest or importing file), scope ('external' | 'internal'),
ecosystem (for imports: the language), name (for imports: the module as written),
version_spec, kind ('import' for resolved imports), scope_detail, line, target_path (the
project path an internal row points at, else None)."""

SBOM_ROW_FIELDS = ("source_path", "ecosystem", "name", "version_spec", "kind", "scope_detail", "line")
EDGE_FIELDS = ("ecosystem", "parent", "parent_version", "child", "child_version")


@dataclass(slots=True)
class DeclaredDeps:
    """Dependencies found in one manifest, lockfile or infrastructure file (see module doc)."""
    rows: list[DepRow]
    error: str | None = None
    attrs: list[tuple[int, str, str]] = field(default_factory=list)
    edges: list[tuple[str, str, str | None, str, str | None]] = field(default_factory=list)
    provides: list[tuple[str, str]] = field(default_factory=list)


class SbomError(ValueError):
    """The SBOM did not validate against the CycloneDX 1.6 schema."""


# ======================================================================================
# which files
# ======================================================================================
# Third-party trees and caches: their manifests are not the project's.
SKIP_DIRS = frozenset({"node_modules", "site-packages", "dist-packages", "__pycache__", ".git",
                       "bower_components", "vendor", ".terraform", ".tox", ".nox"})
_DEV_TOKENS = frozenset({"dev", "develop", "development", "test", "tests", "testing", "lint", "docs",
                         "doc", "ci", "typing", "style"})
_REQ_NAME = re.compile(r"^(?:.*[-_.])?requirements(?:[-_.].*)?\.(?:txt|in)$|^constraints(?:[-_.].*)?\.txt$")
_DOCKERFILE_NAME = re.compile(r"^(?:docker|container)file(?:[.-][\w.-]+)?$|^[\w.-]+\.(?:docker|container)file$")
_NOT_DOCKERFILE = (".md", ".txt", ".rst", ".sh", ".py", ".json", ".yaml", ".yml", ".bak", ".orig")


def _classify(path: str, file_type: str | None = None) -> str | None:
    parts = path.replace("\\", "/").split("/")
    if any(p in SKIP_DIRS for p in parts[:-1]):
        return None
    base = parts[-1]
    lower = base.lower()
    parent = parts[-2].lower() if len(parts) > 1 else ""
    if _REQ_NAME.match(lower) or (parent == "requirements" and lower.endswith((".txt", ".in"))):
        return "requirements"
    exact = {"pyproject.toml": "pyproject", "setup.cfg": "setup.cfg", "setup.py": "setup.py",
             "pipfile": "pipfile", "pipfile.lock": "pipfile.lock", "poetry.lock": "poetry.lock",
             "package.json": "package.json", "package-lock.json": "package-lock",
             "npm-shrinkwrap.json": "package-lock", "yarn.lock": "yarn.lock", "go.mod": "go.mod",
             "cargo.toml": "cargo.toml", "cargo.lock": "cargo.lock", "pom.xml": "pom",
             "chart.yaml": "chart", "chart.yml": "chart", "chart.lock": "chart.lock",
             ".terraform.lock.hcl": "terraform.lock"}
    if lower in exact:
        return exact[lower]
    if _DOCKERFILE_NAME.match(lower) and not lower.endswith(_NOT_DOCKERFILE):
        return "dockerfile"
    if lower.endswith(".tf"):
        return "terraform"
    if lower.endswith((".yaml", ".yml")) or (file_type == "yaml" and "." not in lower):
        return "yaml"
    return None


def is_dependency_source(path: str, file_type: str | None) -> bool:
    """Whether `path` (project-relative, '/'-separated) is worth reading for dependencies.

    By name only: Python/npm/Go/Cargo/Maven manifests and lockfiles, Dockerfiles
    (`Dockerfile`, `Dockerfile.prod`, `api.dockerfile`, `Containerfile`), Terraform `.tf` and
    `.terraform.lock.hcl`, and every YAML file (Kubernetes manifests, compose files, CI files,
    Helm charts and values are told apart by content). Nothing under node_modules,
    site-packages, vendor, .git, caches.
    """
    return _classify(path, file_type) is not None


# ======================================================================================
# small helpers
# ======================================================================================
def _decode(content: bytes) -> str:
    if content.startswith(codecs.BOM_UTF8):
        return content[3:].decode("utf-8", "replace")
    if content[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return content.decode("utf-16", "replace")
    return content.decode("utf-8", "replace")


class _Text:
    """Text with offset→line conversion and a forward-moving search cursor (placing entries
    of parsers that give no positions: tomllib, json, ElementTree)."""

    def __init__(self, text: str):
        self.text = text
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.pos = 0

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset)

    def find(self, pattern: str | re.Pattern, start: int | None = None, regex: bool = False) -> int | None:
        """Line of the first match at or after `start` (default: the cursor), moving the cursor
        past it; falls back to a search from the start of the text."""
        begin = self.pos if start is None else start
        for frm in (begin, 0) if begin else (0,):
            if regex:
                rx = pattern if isinstance(pattern, re.Pattern) else re.compile(pattern, re.M)
                m = rx.search(self.text, frm)
                off = m.start() if m else -1
                end = m.end() if m else -1
            else:
                off = self.text.find(pattern, frm)
                end = off + len(pattern)
            if off >= 0:
                self.pos = end
                # a regex may start on the preceding newline (leading \s*): report the entry's line
                while off < len(self.text) and self.text[off] in "\r\n":
                    off += 1
                return self.line_of(off)
        return None

    def offset(self, pattern: str, regex: bool = True) -> int:
        if regex:
            m = re.search(pattern, self.text, re.M)
            return m.start() if m else 0
        i = self.text.find(pattern)
        return i if i >= 0 else 0


def _local(manifest_path: str, ref: str) -> str:
    """`path:` spec for a reference relative to the manifest's directory."""
    ref = ref.strip()
    if ref.startswith("file://"):
        ref = ref[7:]
    elif ref.startswith(("file:", "link:", "portal:")):
        ref = ref.split(":", 1)[1]
    if ref.startswith("/"):
        return "path:" + posixpath.normpath(ref)
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(manifest_path), ref))
    return "path:" + joined


def _json_object_line(t: _Text, key: str) -> int | None:
    """Line of `"key": {` (an object-valued member), searching forward from the cursor."""
    return t.find(re.compile(re.escape(json.dumps(key)) + r"\s*:\s*\{"), regex=True)


def _toml_key_line(t: _Text, section_pattern: str | None, key: str) -> int | None:
    """Line of `key = ...` (or a `[section.key]` table) after the section header."""
    start = t.offset(section_pattern) if section_pattern else 0
    k = re.escape(key)
    line = t.find(re.compile(rf"^[ \t]*[\"']?{k}[\"']?[ \t]*(?:=|\.[\w-]+[ \t]*=)", re.M), start, regex=True)
    if line is None:
        line = t.find(re.compile(rf"^[ \t]*\[[^\]\n]*\.[\"']?{k}[\"']?[ \t]*\]", re.M), 0, regex=True)
    return line


def _section_re(*names: str) -> str:
    return r"^[ \t]*\[[ \t]*" + r"[ \t]*\.[ \t]*".join(
        rf"(?:{re.escape(n)}|\"{re.escape(n)}\"|'{re.escape(n)}')" for n in names) + r"[ \t]*\]"


class _Builder:
    def __init__(self, path: str):
        self.path = path
        self.rows: list[DepRow] = []
        self.attrs: list[tuple[int, str, str]] = []
        self.edges: list[tuple[str, str, str | None, str, str | None]] = []
        self.provides: list[tuple[str, str]] = []
        self.errors: list[str] = []

    def add(self, eco: str, name: str, spec: str | None, kind: str, detail: str, line: int | None,
            **attrs) -> int:
        if isinstance(spec, str):
            spec = spec.strip() or None
        self.rows.append((eco, name, spec, kind, detail, line))
        i = len(self.rows) - 1
        for key, value in attrs.items():
            if value not in (None, "", False):
                self.attrs.append((i, key, value if isinstance(value, str) else
                                   ",".join(value) if isinstance(value, (list, tuple)) else str(value).lower()
                                   if isinstance(value, bool) else str(value)))
        return i

    def result(self) -> DeclaredDeps:
        """Rows in file order (stable; rows without a line last), attrs re-indexed to match."""
        order = sorted(range(len(self.rows)), key=lambda i: (self.rows[i][5] is None, self.rows[i][5] or 0, i))
        remap = {old: new for new, old in enumerate(order)}
        rows = [self.rows[i] for i in order]
        attrs = sorted(((remap[i], k, v) for i, k, v in self.attrs), key=lambda a: a[0])
        err = "; ".join(self.errors[:5]) + (f"; ... {len(self.errors) - 5} more" if len(self.errors) > 5 else "")
        return DeclaredDeps(rows, err or None, attrs, self.edges, self.provides)


# ======================================================================================
# Python
# ======================================================================================
_PEP508_HEAD = re.compile(r"^\s*[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?\s*(?:\[[^\]]*\])?")
_ARCHIVE = re.compile(r"([A-Za-z0-9][A-Za-z0-9._]*?)-(\d[^-/]*?)(?:-[^/]*)?\.(?:whl|tar\.gz|tar\.bz2|zip|tgz)$")


def _pep508(text: str) -> tuple[str, str | None, dict]:
    """(name, version_spec, attrs) of a PEP 508 string; raises InvalidRequirement."""
    req = Requirement(text)
    attrs: dict = {}
    if req.extras:
        attrs["extras"] = ",".join(sorted(req.extras))
    if req.marker is not None:
        attrs["marker"] = str(req.marker)
    if req.url:
        return req.name, req.url, attrs
    head = _PEP508_HEAD.match(text)
    rest = text[head.end():] if head else ""
    rest = rest.split(";", 1)[0]
    spec = re.sub(r"[\s()]", "", rest)
    return req.name, spec or None, attrs


def _url_name(url: str) -> tuple[str, str | None]:
    """Name and version of a bare URL/path requirement (`#egg=`, wheel/sdist file name)."""
    egg = re.search(r"[#&]egg=([A-Za-z0-9._-]+)", url)
    if egg:
        return egg.group(1), None
    m = _ARCHIVE.search(url.split("#", 1)[0].split("?", 1)[0])
    if m:
        return m.group(1).replace("_", "-"), m.group(2)
    tail = url.rstrip("/").rsplit("/", 1)[-1]
    return (tail[:-4] if tail.endswith(".git") else tail) or url, None


def _requirements_detail(path: str) -> str:
    parts = path.lower().rsplit("/", 2)
    stem = parts[-1].rsplit(".", 1)[0]
    tokens = set(re.split(r"[-_.]", stem))
    if len(parts) > 1 and parts[-2] == "requirements":
        tokens |= set(re.split(r"[-_.]", parts[-2]))
    return "dev" if tokens & _DEV_TOKENS else "runtime"


def _is_url_or_path(s: str) -> bool:
    return ("://" in s or s.startswith((".", "/", "~", "file:", "git+", "hg+", "svn+", "bzr+"))
            or (re.search(r"\.(whl|tar\.gz|zip|tgz|tar\.bz2)$", s) is not None and "/" in s))


def _parse_requirements(b: _Builder, text: str) -> None:
    detail = _requirements_detail(b.path)
    logical: list[tuple[int, str]] = []
    buf, start = "", 0
    for i, raw in enumerate(text.splitlines(), 1):
        if not buf:
            start = i
        if raw.endswith("\\"):
            buf += raw[:-1]
            continue
        buf += raw
        logical.append((start, buf))
        buf = ""
    if buf:
        logical.append((start, buf))
    for line, raw in logical:
        s = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if not s:
            continue
        opt = re.match(r"^(-r|--requirement|-c|--constraint|-e|--editable)(?:\s*=\s*|\s+|(?=[^-\s]))(.+)$", s)
        if opt:
            flag, arg = opt.group(1), opt.group(2).strip().strip("'\"")
            if flag in ("-r", "--requirement", "-c", "--constraint"):
                what = "requirements" if flag in ("-r", "--requirement") else "constraints"
                spec = arg if "://" in arg else _local(b.path, arg)
                b.add("pypi", arg, spec, "include", what, line)
                continue
            # editable: a VCS URL (#egg=name) or a local directory, optionally with [extras]
            extras = None
            m = re.match(r"^(.*?)(\[[^\]]*\])$", arg)
            if m and "://" not in arg:
                arg, extras = m.group(1), m.group(2)[1:-1]
            if "://" in arg or re.match(r"^(git|hg|svn|bzr)\+", arg):
                name, _ = _url_name(arg)
                b.add("pypi", name, arg, "declared", detail, line, editable=True, extras=extras)
            else:
                b.add("pypi", arg, _local(b.path, arg), "declared", detail, line, editable=True, extras=extras)
            continue
        if s.startswith("-"):
            continue  # index/find-links/global options
        s = re.split(r"\s+(?=--?[A-Za-z])", s, maxsplit=1)[0].strip()  # per-requirement --hash etc.
        if _is_url_or_path(s) and not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*\s*(\[[^\]]*\])?\s*@", s):
            if "://" in s and not s.startswith("file:"):
                name, _ = _url_name(s)
                b.add("pypi", name, s, "declared", detail, line)
            else:
                name, _ = _url_name(s)
                b.add("pypi", name, _local(b.path, s), "declared", detail, line)
            continue
        try:
            name, spec, attrs = _pep508(s)
        except InvalidRequirement as exc:
            b.errors.append(f"line {line}: invalid requirement {s!r}: {str(exc).splitlines()[0]}")
            continue
        b.add("pypi", name, spec, "declared", detail, line, **attrs)


def _pep508_list(b: _Builder, t: _Text, items, detail: str, section: str | None) -> None:
    if not isinstance(items, list):
        b.errors.append(f"{detail}: expected a list of requirements")
        return
    if section:
        t.pos = t.offset(section)
    for item in items:
        if not isinstance(item, str):
            continue  # PEP 735 {include-group = ...}
        line = t.find(re.compile(r"[\"']" + re.escape(item) + r"[\"']"), regex=True)
        try:
            name, spec, attrs = _pep508(item)
        except InvalidRequirement as exc:
            b.errors.append(f"line {line}: invalid requirement {item!r}: {str(exc).splitlines()[0]}")
            continue
        if line is None:  # escaped quotes inside the TOML string: place it by its name
            line = t.find(re.compile(r"[\"']" + re.escape(name) + r"\b"), regex=True)
        b.add("pypi", name, spec, "declared", detail, line, **attrs)


def _poetry_spec(b: _Builder, value) -> tuple[str | None, dict]:
    attrs: dict = {}
    if isinstance(value, str):
        return (None if value.strip() == "*" else value), attrs
    if isinstance(value, list):
        specs = [_poetry_spec(b, v)[0] for v in value if isinstance(v, dict)]
        markers = [v.get("markers") or (f"python {v['python']}" if v.get("python") else None)
                   for v in value if isinstance(v, dict)]
        if any(markers):
            attrs["marker"] = " || ".join(m or "" for m in markers)
        return " || ".join(s or "*" for s in specs) or None, attrs
    if not isinstance(value, dict):
        return None, attrs
    if value.get("extras"):
        attrs["extras"] = ",".join(value["extras"])
    if value.get("markers"):
        attrs["marker"] = value["markers"]
    if value.get("python"):
        attrs["python"] = value["python"]
    if value.get("develop") or value.get("editable"):
        attrs["editable"] = True
    if "path" in value:
        return _local(b.path, value["path"]), attrs
    for vcs in ("git", "hg", "svn", "bzr"):
        if vcs in value:
            url = value[vcs]
            url = url if url.startswith(vcs + "+") else f"{vcs}+{url}"
            ref = value.get("tag") or value.get("rev") or value.get("ref") or value.get("branch")
            return url + (f"@{ref}" if ref else ""), attrs
    if "url" in value:
        return value["url"], attrs
    if "file" in value:
        return _local(b.path, value["file"]), attrs
    v = value.get("version")
    return (None if v in (None, "*", "") else v), attrs


def _parse_pyproject(b: _Builder, text: str) -> None:
    data = tomllib.loads(text)
    t = _Text(text)
    project = data.get("project") or {}
    tool = data.get("tool") or {}
    poetry = tool.get("poetry") or {}
    if isinstance(project.get("name"), str):
        b.provides.append(("pypi", project["name"]))
    elif isinstance(poetry.get("name"), str):
        b.provides.append(("pypi", poetry["name"]))
    if "dependencies" in project:
        _pep508_list(b, t, project["dependencies"], "runtime", _section_re("project"))
    for extra, items in (project.get("optional-dependencies") or {}).items():
        _pep508_list(b, t, items, f"optional:{extra}", _section_re("project", "optional-dependencies"))
    for group, items in (data.get("dependency-groups") or {}).items():
        _pep508_list(b, t, items, f"group:{group}", _section_re("dependency-groups"))
    uv_dev = (tool.get("uv") or {}).get("dev-dependencies")
    if uv_dev:
        _pep508_list(b, t, uv_dev, "dev", _section_re("tool", "uv"))
    for group, items in ((tool.get("pdm") or {}).get("dev-dependencies") or {}).items():
        _pep508_list(b, t, items, "dev", _section_re("tool", "pdm", "dev-dependencies"))
    # Poetry
    extras_of: dict[str, list[str]] = {}
    for extra, names in (poetry.get("extras") or {}).items():
        for n in names or []:
            extras_of.setdefault(canonicalize_name(n), []).append(extra)
    tables: list[tuple[str, dict, tuple[str, ...]]] = []
    if isinstance(poetry.get("dependencies"), dict):
        tables.append(("runtime", poetry["dependencies"], ("tool", "poetry", "dependencies")))
    if isinstance(poetry.get("dev-dependencies"), dict):
        tables.append(("dev", poetry["dev-dependencies"], ("tool", "poetry", "dev-dependencies")))
    for group, body in (poetry.get("group") or {}).items():
        if isinstance(body, dict) and isinstance(body.get("dependencies"), dict):
            tables.append((f"group:{group}", body["dependencies"], ("tool", "poetry", "group", group, "dependencies")))
    for detail, deps, section in tables:
        for name, value in deps.items():
            if name.lower() == "python":
                continue
            spec, attrs = _poetry_spec(b, value)
            d = detail
            if isinstance(value, dict) and value.get("optional"):
                ex = extras_of.get(canonicalize_name(name))
                d = "optional:" + ",".join(ex) if ex else "optional"
            b.add("pypi", name, spec, "declared", d, _toml_key_line(t, _section_re(*section), name), **attrs)
    build = (data.get("build-system") or {}).get("requires")
    if build:
        _pep508_list(b, t, build, "build", _section_re("build-system"))


def _parse_setup_cfg(b: _Builder, text: str) -> None:
    cp = configparser.ConfigParser(interpolation=None, strict=False)
    cp.read_string(text)
    t = _Text(text)
    if cp.has_option("metadata", "name"):
        b.provides.append(("pypi", cp.get("metadata", "name").strip()))

    def one(section: str, key: str, detail: str) -> None:
        value = cp.get(section, key)
        t.pos = t.offset(rf"^[ \t]*\[{re.escape(section)}\]")
        if value.strip().startswith("file:"):
            for ref in value.strip()[5:].split(","):
                if ref.strip():
                    b.add("pypi", ref.strip(), _local(b.path, ref.strip()), "include", "requirements",
                          t.find(ref.strip()))
            return
        for item in [ln for ln in (re.sub(r"(^|\s)#.*$", "", x).strip() for x in value.splitlines()) if ln]:
            line = t.find(item)
            try:
                name, spec, attrs = _pep508(item)
            except InvalidRequirement as exc:
                b.errors.append(f"line {line}: invalid requirement {item!r}: {str(exc).splitlines()[0]}")
                continue
            b.add("pypi", name, spec, "declared", detail, line, **attrs)

    for key, detail in (("install_requires", "runtime"), ("setup_requires", "build"), ("tests_require", "dev")):
        if cp.has_option("options", key):
            one("options", key, detail)
    if cp.has_section("options.extras_require"):
        for extra in cp.options("options.extras_require"):
            one("options.extras_require", extra, f"optional:{extra}")


def _parse_setup_py(b: _Builder, text: str) -> None:
    tree = ast.parse(text)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        fn = node.func
        fname = fn.id if isinstance(fn, ast.Name) else fn.attr if isinstance(fn, ast.Attribute) else ""
        if fname != "setup":
            continue
        for kw in node.keywords:
            if kw.arg == "name" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
                b.provides.append(("pypi", kw.value.value))
            targets: list[tuple[str, ast.AST]] = []
            if kw.arg in ("install_requires", "setup_requires", "tests_require"):
                targets.append(({"install_requires": "runtime", "setup_requires": "build",
                                 "tests_require": "dev"}[kw.arg], kw.value))
            elif kw.arg == "extras_require" and isinstance(kw.value, ast.Dict):
                for k, v in zip(kw.value.keys, kw.value.values):
                    if isinstance(k, ast.Constant) and isinstance(k.value, str):
                        targets.append((f"optional:{k.value}", v))
            for detail, value in targets:
                if not isinstance(value, (ast.List, ast.Tuple)):
                    continue
                for elt in value.elts:
                    if isinstance(elt, ast.Constant) and isinstance(elt.value, str):
                        try:
                            name, spec, attrs = _pep508(elt.value)
                        except InvalidRequirement as exc:
                            b.errors.append(f"line {elt.lineno}: invalid requirement {elt.value!r}: "
                                            f"{str(exc).splitlines()[0]}")
                            continue
                        b.add("pypi", name, spec, "declared", detail, elt.lineno, **attrs)


def _pipfile_spec(b: _Builder, value) -> tuple[str | None, dict]:
    if isinstance(value, str):
        return (None if value.strip() == "*" else value), {}
    if not isinstance(value, dict):
        return None, {}
    attrs: dict = {}
    if value.get("extras"):
        attrs["extras"] = ",".join(value["extras"])
    if value.get("markers"):
        attrs["marker"] = value["markers"]
    if value.get("editable"):
        attrs["editable"] = True
    if value.get("index"):
        attrs["index"] = value["index"]
    if "path" in value:
        return _local(b.path, value["path"]), attrs
    for vcs in ("git", "hg", "svn", "bzr"):
        if vcs in value:
            url = value[vcs] if value[vcs].startswith(vcs + "+") else f"{vcs}+{value[vcs]}"
            ref = value.get("ref") or value.get("tag")
            return url + (f"@{ref}" if ref else ""), attrs
    if "file" in value:
        return value["file"], attrs
    v = value.get("version")
    return (None if v in (None, "*", "") else v), attrs


def _parse_pipfile(b: _Builder, text: str) -> None:
    data = tomllib.loads(text)
    t = _Text(text)
    for section, body in data.items():
        if section in ("source", "requires", "scripts", "pipenv") or not isinstance(body, dict):
            continue
        detail = {"packages": "runtime", "dev-packages": "dev"}.get(section, f"group:{section}")
        for name, value in body.items():
            spec, attrs = _pipfile_spec(b, value)
            b.add("pypi", name, spec, "declared", detail, _toml_key_line(t, _section_re(section), name), **attrs)


def _parse_pipfile_lock(b: _Builder, text: str) -> None:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("Pipfile.lock is not a JSON object")
    t = _Text(text)
    for section, body in data.items():
        if section == "_meta" or not isinstance(body, dict):
            continue
        detail = {"default": "runtime", "develop": "dev"}.get(section, f"group:{section}")
        t.pos = t.offset(f'"{section}"', regex=False)
        for name, meta in body.items():
            meta = meta if isinstance(meta, dict) else {}
            spec, attrs = _pipfile_spec(b, {k: v for k, v in meta.items() if k != "version"})
            if spec is None and isinstance(meta.get("version"), str):
                spec = meta["version"].lstrip("=")
            b.add("pypi", name, spec, "locked", detail, _json_object_line(t, name), **attrs)


def _parse_poetry_lock(b: _Builder, text: str) -> None:
    data = tomllib.loads(text)
    t = _Text(text)
    packages = [p for p in data.get("package") or [] if isinstance(p, dict) and "name" in p]
    versions: dict[str, str] = {}
    for p in packages:
        versions.setdefault(canonicalize_name(p["name"]), str(p.get("version")))
    for p in packages:
        name, version = p["name"], p.get("version")
        cat, groups = p.get("category"), p.get("groups")
        if cat == "dev":
            detail = "dev"
        elif p.get("optional"):
            detail = "optional"
        elif cat == "main" or (isinstance(groups, list) and "main" in groups):
            detail = "runtime"
        elif isinstance(groups, list) and groups:
            detail = "group:" + ",".join(groups)
        else:
            detail = "unknown"
        line = t.find(re.compile(rf"^name\s*=\s*[\"']{re.escape(name)}[\"']", re.M), regex=True)
        src = p.get("source") or {}
        b.add("pypi", name, str(version) if version is not None else None, "locked", detail, line,
              source=f"{src.get('type')}:{src.get('url')}" if src.get("type") else None)
        for child in (p.get("dependencies") or {}):
            b.edges.append(("pypi", name, version, child, versions.get(canonicalize_name(child))))


# ======================================================================================
# npm
# ======================================================================================
_NPM_SECTIONS = (("dependencies", "runtime"), ("devDependencies", "dev"), ("peerDependencies", "peer"),
                 ("optionalDependencies", "optional"))


def _npm_spec(b: _Builder, spec) -> tuple[str | None, dict]:
    if not isinstance(spec, str):
        return None, {}
    s = spec.strip()
    if s in ("", "*"):
        return None, {}
    if s.startswith(("file:", "link:", "portal:")):
        return _local(b.path, s), {}
    if s.startswith("npm:"):  # "npm:real-name@^1.0": installed under the key, fetched as real-name
        target = s[4:]
        at = target.find("@", 1)
        return s, {"alias": target[:at] if at > 0 else target}
    return s, {}


def _parse_package_json(b: _Builder, text: str) -> None:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("package.json is not a JSON object")
    t = _Text(text)
    if isinstance(data.get("name"), str):
        b.provides.append(("npm", data["name"]))
    peer_meta = data.get("peerDependenciesMeta") if isinstance(data.get("peerDependenciesMeta"), dict) else {}
    for section, detail in _NPM_SECTIONS:
        deps = data.get(section)
        if deps is None:
            continue
        if not isinstance(deps, dict):
            b.errors.append(f"{section} is not an object")
            continue
        t.pos = t.offset(rf'"{section}"\s*:')
        for name, spec in deps.items():
            line = t.find(re.compile(rf'"{re.escape(name)}"\s*:'), regex=True)
            s, attrs = _npm_spec(b, spec)
            d = detail
            if section == "peerDependencies" and isinstance(peer_meta.get(name), dict) and peer_meta[name].get("optional"):
                attrs["optional"] = True
            b.add("npm", name, s, "declared", d, line, **attrs)


def _npm_detail(meta: dict) -> str:
    if meta.get("dev") or meta.get("devOptional"):
        return "dev"
    if meta.get("optional"):
        return "optional"
    if meta.get("peer"):
        return "peer"
    return "runtime"


def _parse_package_lock(b: _Builder, text: str) -> None:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("package-lock.json is not a JSON object")
    t = _Text(text)
    if isinstance(data.get("name"), str):
        b.provides.append(("npm", data["name"]))
    packages = data.get("packages")
    if isinstance(packages, dict):  # lockfileVersion 2 and 3
        t.pos = t.offset(r'"packages"\s*:')
        for key, meta in packages.items():
            if not key or "node_modules/" not in key or not isinstance(meta, dict) or meta.get("link"):
                continue  # the root, workspace folders and workspace links are the project's own
            name = meta.get("name") or key.rsplit("node_modules/", 1)[1]
            line = _json_object_line(t, key)
            b.add("npm", name, meta.get("version"), "locked", _npm_detail(meta), line)
        for key, meta in packages.items():
            if not key or "node_modules/" not in key or not isinstance(meta, dict) or meta.get("link"):
                continue
            name = meta.get("name") or key.rsplit("node_modules/", 1)[1]
            for section in ("dependencies", "optionalDependencies", "peerDependencies"):
                for child in (meta.get(section) or {}):
                    found = _node_resolve(packages, key, child)
                    if found is None and section == "peerDependencies":
                        continue
                    cv = found.get("version") if found else None
                    b.edges.append(("npm", name, meta.get("version"), child, cv))
        return
    deps = data.get("dependencies")  # lockfileVersion 1: nested trees
    if isinstance(deps, dict):
        def walk(tree: dict, chain: list[dict]) -> None:
            for name, meta in tree.items():
                if not isinstance(meta, dict):
                    continue
                line = _json_object_line(t, name)
                version = meta.get("version")
                if isinstance(version, str) and version.startswith("file:"):
                    continue
                b.add("npm", name, version, "locked", _npm_detail(meta), line)
                scopes = chain + [meta.get("dependencies") or {}]
                for child in (meta.get("requires") or {}):
                    cv = None
                    for scope in reversed(scopes):
                        if child in scope and isinstance(scope[child], dict):
                            cv = scope[child].get("version")
                            break
                    b.edges.append(("npm", name, version, child, cv))
                if isinstance(meta.get("dependencies"), dict):
                    walk(meta["dependencies"], scopes)
        walk(deps, [deps])


def _node_resolve(packages: dict, from_key: str, child: str) -> dict | None:
    """Node's lookup: <from>/node_modules/<child>, then each enclosing node_modules, then the root."""
    cur = from_key
    while True:
        cand = (cur + "/" if cur else "") + "node_modules/" + child
        meta = packages.get(cand)
        if isinstance(meta, dict):
            return meta
        if not cur:
            return None
        cur = cur.rsplit("/node_modules/", 1)[0] if "/node_modules/" in cur else ""


def _yarn_name(spec: str) -> str:
    spec = spec.strip().strip('"')
    at = spec.find("@", 1)
    return spec[:at] if at > 0 else spec


def _parse_yarn_lock(b: _Builder, text: str) -> None:
    if re.search(r"^__metadata:", text, re.M):
        return _parse_yarn_berry(b, text)
    entries: list[tuple[list[str], dict, dict, int]] = []  # (specs, fields, deps, line)
    cur: tuple[list[str], dict, dict, int] | None = None
    in_deps = False
    for i, raw in enumerate(text.splitlines(), 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        s = raw.strip()
        if indent == 0:
            if not s.endswith(":"):
                b.errors.append(f"line {i}: unexpected {s[:60]!r}")
                cur = None
                continue
            specs = [x.strip().strip('"') for x in s[:-1].split(",") if x.strip()]
            cur = (specs, {}, {}, i)
            entries.append(cur)
            in_deps = False
        elif cur is None:
            continue
        elif indent <= 2:
            in_deps = s.rstrip(":") in ("dependencies", "optionalDependencies") and s.endswith(":")
            if not in_deps:
                m = re.match(r'^("?[^\s"]+"?)\s+(.*)$', s)
                if m:
                    cur[1][m.group(1).strip('"')] = m.group(2).strip().strip('"')
        elif in_deps:
            m = re.match(r'^("?[^\s"]+"?)\s+(.*)$', s)
            if m:
                cur[2][m.group(1).strip('"')] = m.group(2).strip().strip('"')
    version_of: dict[str, str] = {}
    for specs, fields, _, _ in entries:
        for spec in specs:
            version_of[spec] = fields.get("version")
    for specs, fields, deps, line in entries:
        name = _yarn_name(specs[0])
        version = fields.get("version")
        b.add("npm", name, version, "locked", "unknown", line)
        for child, rng in deps.items():
            b.edges.append(("npm", name, version, child, version_of.get(f"{child}@{rng}")))


def _parse_yarn_berry(b: _Builder, text: str) -> None:
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError("yarn.lock is not a mapping")
    t = _Text(text)
    version_of: dict[str, str] = {}
    items = [(k, v) for k, v in data.items() if k != "__metadata" and isinstance(v, dict)]
    for key, meta in items:
        for spec in str(key).split(","):
            version_of[spec.strip()] = str(meta.get("version"))
    for key, meta in items:
        specs = [s.strip() for s in str(key).split(",")]
        if any("@workspace:" in s or "@link:" in s or "@portal:" in s for s in specs):
            continue
        name = _yarn_name(specs[0])
        version = str(meta.get("version")) if meta.get("version") is not None else None
        line = t.find(str(key).split(",")[0])
        b.add("npm", name, version, "locked", "unknown", line)
        for child, rng in (meta.get("dependencies") or {}).items():
            rng = str(rng)
            cv = version_of.get(f"{child}@{rng}") or version_of.get(f"{child}@npm:{rng}")
            b.edges.append(("npm", name, version, child, cv))


# ======================================================================================
# Go, Cargo, Maven
# ======================================================================================
def go_module_path(content: bytes | str) -> str | None:
    """The `module` path a go.mod declares."""
    text = content if isinstance(content, str) else _decode(content)
    m = re.search(r"^\s*module\s+(\"[^\"]+\"|`[^`]+`|\S+)", text, re.M)
    return m.group(1).strip('"`') if m else None


def _parse_go_mod(b: _Builder, text: str) -> None:
    block = None
    replaces: list[tuple[str, str]] = []
    for i, raw in enumerate(text.splitlines(), 1):
        comment = ""
        if "//" in raw:
            raw, comment = raw.split("//", 1)
        s = raw.strip()
        if not s:
            continue
        if block:
            if s == ")":
                block = None
                continue
            directive, rest = block, s
        else:
            m = re.match(r"^(\w+)\s*(.*)$", s)
            if not m:
                continue
            directive, rest = m.group(1), m.group(2).strip()
            if rest == "(":
                block = directive
                continue
        words = [w.strip('"`') for w in rest.split()]
        if directive == "module" and words:
            b.provides.append(("go", words[0]))
        elif directive == "require" and len(words) >= 2:
            indirect = re.search(r"\bindirect\b", comment) is not None
            b.add("go", words[0], words[1], "declared", "indirect" if indirect else "runtime", i)
        elif directive == "tool" and words:
            b.add("go", words[0], None, "declared", "tool", i)
        elif directive == "replace" and "=>" in rest:
            left, right = (x.split() for x in rest.split("=>", 1))
            if left and right:
                replaces.append((left[0].strip('"`'), " ".join(right)))
    for old, new in replaces:
        target = new.split()[0]
        local = target.startswith((".", "/"))
        for idx, row in enumerate(b.rows):
            if row[1] == old:
                b.attrs.append((idx, "replace", _local(b.path, target) if local else new))


def _cargo_dep(b: _Builder, t: _Text, key: str, value, detail: str, section: tuple[str, ...], target: str | None) -> None:
    attrs: dict = {}
    name, spec = key, None
    if isinstance(value, str):
        spec = value
    elif isinstance(value, dict):
        if isinstance(value.get("package"), str):
            name = value["package"]
            attrs["rename"] = key
        if value.get("features"):
            attrs["features"] = ",".join(value["features"])
        if value.get("workspace") is True:
            attrs["workspace"] = True
        if value.get("optional"):
            detail = "optional" if detail == "runtime" else detail
        if "path" in value:
            spec = _local(b.path, value["path"])
        elif "git" in value:
            ref = value.get("tag") or value.get("rev") or value.get("branch")
            spec = value["git"] + (f"@{ref}" if ref else "")
            if value.get("version"):
                attrs["version"] = value["version"]
        else:
            spec = value.get("version")
    if target:
        attrs["target"] = target
    b.add("cargo", name, spec, "declared", detail, _toml_key_line(t, _section_re(*section), key), **attrs)


def _parse_cargo_toml(b: _Builder, text: str) -> None:
    data = tomllib.loads(text)
    t = _Text(text)
    pkg = data.get("package") or {}
    if isinstance(pkg.get("name"), str):
        b.provides.append(("cargo", pkg["name"]))
    kinds = (("dependencies", "runtime"), ("dev-dependencies", "dev"), ("build-dependencies", "build"))

    def tables(root: dict, prefix: tuple[str, ...], target: str | None):
        for sec, detail in kinds:
            body = root.get(sec) or root.get(sec.replace("-", "_"))
            if isinstance(body, dict):
                for key, value in body.items():
                    _cargo_dep(b, t, key, value, detail, prefix + (sec,), target)

    tables(data, (), None)
    for cfg, body in (data.get("target") or {}).items():
        if isinstance(body, dict):
            tables(body, ("target", cfg), cfg)
    ws = (data.get("workspace") or {}).get("dependencies")
    if isinstance(ws, dict):
        for key, value in ws.items():
            _cargo_dep(b, t, key, value, "workspace", ("workspace", "dependencies"), None)


def _parse_cargo_lock(b: _Builder, text: str) -> None:
    data = tomllib.loads(text)
    t = _Text(text)
    packages = [p for p in data.get("package") or [] if isinstance(p, dict) and "name" in p]
    by_name: dict[str, list[str]] = {}
    for p in packages:
        by_name.setdefault(p["name"], []).append(str(p.get("version")))
    for p in packages:
        line = t.find(re.compile(rf"^name\s*=\s*\"{re.escape(p['name'])}\"", re.M), regex=True)
        if "source" not in p:
            continue  # workspace members: the project's own crates
        b.add("cargo", p["name"], p.get("version"), "locked", "unknown", line,
              source=p["source"] if not str(p["source"]).startswith("registry+") else None)
        for dep in p.get("dependencies") or []:
            words = str(dep).split()
            cv = words[1] if len(words) > 1 else (by_name.get(words[0]) or [None])[0]
            b.edges.append(("cargo", p["name"], p.get("version"), words[0], cv))


_MAVEN_SCOPE = {"compile": "runtime", "runtime": "runtime", "test": "dev", "provided": "provided",
                "system": "system", "import": "import"}


def _local_tag(el: ET.Element) -> str:
    return el.tag.rsplit("}", 1)[-1] if isinstance(el.tag, str) else ""


def _child(el: ET.Element, name: str) -> ET.Element | None:
    for c in el:
        if _local_tag(c) == name:
            return c
    return None


def _ctext(el: ET.Element | None, name: str) -> str | None:
    c = _child(el, name) if el is not None else None
    return c.text.strip() if c is not None and c.text and c.text.strip() else None


def _parse_pom(b: _Builder, text: str) -> None:
    parser = ET.XMLParser()  # expat: no DTD loading, no external entities
    parser.feed(text)
    root = parser.close()
    if _local_tag(root) != "project":
        raise ValueError(f"pom root element is <{_local_tag(root)}>, not <project>")
    t = _Text(text)
    parent = _child(root, "parent")
    props: dict[str, str] = {}
    for k, tag in (("groupId", "groupId"), ("artifactId", "artifactId"), ("version", "version")):
        v = _ctext(root, tag) or (_ctext(parent, tag) if k != "artifactId" else None)
        if v:
            props[f"project.{k}"] = props[f"pom.{k}"] = v
            if k == "version":
                props["version"] = v
    for k in ("groupId", "artifactId", "version"):
        v = _ctext(parent, k)
        if v:
            props[f"project.parent.{k}"] = v
    p_el = _child(root, "properties")
    if p_el is not None:
        for c in p_el:
            if _local_tag(c):
                props[_local_tag(c)] = (c.text or "").strip()

    def sub(value: str | None) -> str | None:
        if value is None:
            return None
        for _ in range(10):
            new = re.sub(r"\$\{([^}]+)\}", lambda m: props.get(m.group(1), m.group(0)), value)
            if new == value:
                break
            value = new
        return value

    if props.get("project.groupId") and props.get("project.artifactId"):
        b.provides.append(("maven", f"{sub(props['project.groupId'])}:{sub(props['project.artifactId'])}"))
    managed: dict[str, str] = {}
    dm = _child(root, "dependencyManagement")
    deps = _child(dm, "dependencies") if dm is not None else None
    for d in (deps if deps is not None else []):
        g, a, v = sub(_ctext(d, "groupId")), sub(_ctext(d, "artifactId")), sub(_ctext(d, "version"))
        if g and a and v:
            managed[f"{g}:{a}"] = v

    def emit(el: ET.Element, detail: str, profile: str | None, default_group: str | None = None) -> None:
        g = sub(_ctext(el, "groupId")) or default_group
        a = sub(_ctext(el, "artifactId"))
        if not a:
            return
        name = f"{g}:{a}" if g else a
        v = sub(_ctext(el, "version"))
        from_managed = None
        if v is None and name in managed and detail not in ("managed", "import"):
            v, from_managed = managed[name], "dependencyManagement"
        scope = _ctext(el, "scope")
        if detail == "runtime" and scope:
            detail = _MAVEN_SCOPE.get(scope, scope)
        elif detail == "managed" and scope == "import":
            detail = "import"
        if (_ctext(el, "optional") or "").lower() == "true" and detail == "runtime":
            detail = "optional"
        line = t.find(re.compile(rf"<artifactId>\s*{re.escape(_ctext(el, 'artifactId') or '')}\s*</artifactId>"),
                      regex=True)
        b.add("maven", name, v, "declared", detail, line, type=_ctext(el, "type"),
              classifier=_ctext(el, "classifier"), profile=profile, version_from=from_managed)

    def walk(el: ET.Element, path: tuple[str, ...], profile: str | None) -> None:
        for c in el:
            tag = _local_tag(c)
            if not tag:
                continue
            p = path + (tag,)
            if p == ("parent",):
                emit(c, "parent", profile)
            elif tag == "dependency" and path[-1:] == ("dependencies",):
                if "plugin" in path:
                    detail = "build"
                elif path[-2:-1] == ("dependencyManagement",):
                    detail = "managed"
                else:
                    detail = "runtime"
                emit(c, detail, profile)
            elif tag in ("plugin", "extension") and path[-1:] in (("plugins",), ("extensions",)):
                emit(c, "build", profile, "org.apache.maven.plugins" if tag == "plugin" else None)
                walk(c, p, profile)
            elif tag == "profile":
                walk(c, p, _ctext(c, "id") or "profile")
            elif tag in ("dependencies", "dependencyManagement", "build", "plugins", "pluginManagement",
                         "extensions", "profiles", "reporting"):
                walk(c, p, profile)

    walk(root, (), None)


# ======================================================================================
# containers
# ======================================================================================
def split_image(ref: str) -> tuple[str, str | None]:
    """`registry/repo:tag@sha256:..` -> (repository, tag / digest / tag@digest / None)."""
    ref = ref.strip().strip("'\"")
    digest = None
    if "@" in ref:
        ref, digest = ref.split("@", 1)
    tag = None
    slash, colon = ref.rfind("/"), ref.rfind(":")
    if colon > slash:
        ref, tag = ref[:colon], ref[colon + 1:]
    spec = f"{tag}@{digest}" if tag and digest else (tag or digest)
    return ref, spec or None


def _subst_vars(value: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
    """Docker/compose variable substitution: $V, ${V}, ${V:-d}, ${V-d}; unknown ones kept."""
    missing: list[str] = []

    def rep(m: re.Match) -> str:
        name = m.group(1) or m.group(4)
        op, default = m.group(2), m.group(3)
        if name in env and (env[name] != "" or not op or not op.startswith(":")):
            if op in (":+", "+"):
                return default or ""
            return env[name]
        if op in (":-", "-"):
            return default or ""
        if op in (":+", "+"):
            return ""
        missing.append(name)
        return m.group(0)

    out = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)", rep, value)
    return out, missing


def _parse_dockerfile(b: _Builder, text: str) -> None:
    escape = "\\"
    m = re.match(r"(?:\s*#\s*\w+\s*=.*\n)*?\s*#\s*escape\s*=\s*([`\\])", text, re.I)
    if m:
        escape = m.group(1)
    instructions: list[tuple[int, str]] = []
    buf, start = "", 0
    for i, raw in enumerate(text.splitlines(), 1):
        s = raw.strip()
        if not buf:
            if not s or s.startswith("#"):
                continue
            start = i
        elif not s or s.startswith("#"):
            continue  # blank and comment lines inside a continuation are dropped
        if raw.rstrip().endswith(escape):
            buf += raw.rstrip()[:-1] + " "
            continue
        buf += raw
        instructions.append((start, buf.strip()))
        buf = ""
    if buf:
        instructions.append((start, buf.strip()))
    global_args: dict[str, str] = {}
    stages: list[dict] = []  # {alias, image(name,spec,line,attrs) or parent stage index}
    copies: list[tuple[int, str]] = []
    for line, ins in instructions:
        parts = ins.split(None, 1)
        op, rest = parts[0].upper(), (parts[1] if len(parts) > 1 else "")
        if op == "ARG" and not stages:
            for decl in rest.split():
                k, eq, v = decl.partition("=")
                if eq:  # an ARG without a default stays unresolved (marked), not empty
                    global_args[k] = v.strip("'\"")
        elif op == "FROM":
            words = rest.split()
            platform = None
            while words and words[0].startswith("--"):
                flag = words.pop(0)
                if flag.startswith("--platform="):
                    platform = flag.split("=", 1)[1]
                elif flag == "--platform" and words:
                    platform = words.pop(0)
            if not words:
                b.errors.append(f"line {line}: FROM without an image")
                continue
            ref = words[0]
            alias = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            resolved, missing = _subst_vars(ref, global_args)
            known = {s["alias"]: n for n, s in enumerate(stages) if s["alias"]}
            stage = {"alias": alias.lower() if alias else None, "line": line, "parent": None, "image": None}
            if resolved.lower() in known:
                stage["parent"] = known[resolved.lower()]
            elif resolved.lower() != "scratch":
                name, spec = split_image(resolved)
                stage["image"] = (name, spec, line, {"platform": platform, "stage": alias,
                                                      "unresolved": ",".join(missing) or None})
            stages.append(stage)
        elif op == "COPY" and stages:
            for w in rest.split():
                if w.startswith("--from="):
                    copies.append((line, w.split("=", 1)[1]))
    if not stages:
        if instructions:
            b.errors.append("no FROM instruction")
        return
    runtime = len(stages) - 1
    while stages[runtime]["parent"] is not None:
        runtime = stages[runtime]["parent"]
    for n, stage in enumerate(stages):
        if stage["image"]:
            name, spec, line, attrs = stage["image"]
            b.add("docker", name, spec, "image", "runtime" if n == runtime else "build-stage", line, **attrs)
    aliases = {s["alias"] for s in stages if s["alias"]}
    for line, ref in copies:
        if ref.lower() in aliases or ref.isdigit():
            continue
        resolved, missing = _subst_vars(ref, global_args)
        name, spec = split_image(resolved)
        b.add("docker", name, spec, "image", "copy-from", line, unresolved=",".join(missing) or None)


# -------------------------------------------------------------------------------------- YAML
def _yaml_docs(text: str) -> list[yaml.Node]:
    return [d for d in yaml.compose_all(text, Loader=yaml.SafeLoader) if d is not None]


def _ymap(node) -> list[tuple[str, yaml.Node, yaml.Node]]:
    if not isinstance(node, yaml.MappingNode):
        return []
    return [(k.value if isinstance(k, yaml.ScalarNode) else "", k, v) for k, v in node.value]


def _yget(node, key: str):
    for k, _, v in _ymap(node):
        if k == key:
            return v
    return None


def yaml_scalar(node) -> str | None:
    """The text of a YAML scalar node; None for null, a mapping or a sequence."""
    if isinstance(node, yaml.ScalarNode) and node.tag != "tag:yaml.org,2002:null":
        return str(node.value)
    return None


def _yline(node) -> int:
    return node.start_mark.line + 1


def _yseq(node) -> list:
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def _image_row(b: _Builder, node, detail: str, env: Mapping[str, str] | None = None, **attrs) -> None:
    ref = yaml_scalar(node)
    if not ref or "{{" in ref:
        return
    missing: list[str] = []
    if env is not None and "$" in ref:
        ref, missing = _subst_vars(ref, env)
    name, spec = split_image(ref)
    if name:
        b.add("docker", name, spec, "image", detail, _yline(node), unresolved=",".join(missing) or None, **attrs)


_CONTAINER_KEYS = {"containers": "runtime", "initContainers": "init", "ephemeralContainers": "ephemeral"}


def _k8s_images(b: _Builder, root) -> None:
    seen: set[int] = set()
    stack = [root]
    order: list[tuple[int, yaml.Node, str]] = []
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key, _, v in _ymap(node):
                if key in _CONTAINER_KEYS:
                    for c in _yseq(v):
                        img = _yget(c, "image")
                        if img is not None:
                            order.append((_yline(img), img, _CONTAINER_KEYS[key]))
            stack.extend(v for _, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    for _, img, detail in sorted(order, key=lambda x: x[0]):
        _image_row(b, img, detail)


def _compose(b: _Builder, root) -> None:
    for svc, _, body in _ymap(_yget(root, "services")):
        img = _yget(body, "image")
        if img is not None:
            _image_row(b, img, "runtime", {}, service=svc, platform=yaml_scalar(_yget(body, "platform")))
        build = build_key = None
        for key, knode, v in _ymap(body):
            if key == "build":
                build, build_key = v, knode
        if build is not None:
            context = (yaml_scalar(build) if isinstance(build, yaml.ScalarNode)
                       else yaml_scalar(_yget(build, "context")) or ".")
            dockerfile = yaml_scalar(_yget(build, "dockerfile")) if isinstance(build, yaml.MappingNode) else None
            if context and "://" not in context and not context.startswith("git@"):
                df = dockerfile or "Dockerfile"
                target = _local(b.path, posixpath.join(context, df))
                b.add("docker", df, target, "include", "build", _yline(build_key), service=svc)


def _gha(b: _Builder, root) -> None:
    for job, _, body in _ymap(_yget(root, "jobs")):
        uses = _yget(body, "uses")
        if yaml_scalar(uses):
            _uses_row(b, uses, job)
        container = _yget(body, "container")
        if container is not None:
            _image_row(b, container if isinstance(container, yaml.ScalarNode) else _yget(container, "image"),
                       "ci", job=job)
        for svc, _, sbody in _ymap(_yget(body, "services")):
            img = _yget(sbody, "image")
            if img is not None:
                _image_row(b, img, "ci", job=job, service=svc)
        for step in _yseq(_yget(body, "steps")):
            u = _yget(step, "uses")
            if yaml_scalar(u):
                _uses_row(b, u, job)


def _uses_row(b: _Builder, node, job: str) -> None:
    ref = yaml_scalar(node).strip()
    if ref.startswith("docker://"):
        name, spec = split_image(ref[9:])
        b.add("docker", name, spec, "image", "ci", _yline(node), job=job)
    elif ref.startswith("./"):
        b.add("github-actions", ref, "path:" + posixpath.normpath(ref), "include", "ci", _yline(node), job=job)
    else:
        name, _, version = ref.partition("@")
        b.add("github-actions", name, version or None, "action", "ci", _yline(node), job=job)


_GITLAB_RESERVED = {"stages", "variables", "include", "workflow", "default", "image", "services", "cache",
                    "before_script", "after_script", "spec"}


def _gitlab(b: _Builder, root) -> None:
    env = {k: yaml_scalar(v) for k, _, v in _ymap(_yget(root, "variables")) if yaml_scalar(v) is not None}

    def image(node, job: str | None, **attrs) -> None:
        node = node if isinstance(node, yaml.ScalarNode) else _yget(node, "name")
        if node is not None:  # `$CI_REGISTRY_IMAGE/...` stays, marked unresolved
            _image_row(b, node, "ci", env, job=job, **attrs)

    def job_images(body, job: str | None) -> None:
        for key, _, v in _ymap(body):
            if key == "image":
                image(v, job)
            elif key == "services":
                for svc in _yseq(v):
                    image(svc, job, service=True)

    for key, _, body in _ymap(root):
        if key == "image":
            image(body, None)
        elif key == "services":
            for svc in _yseq(body):
                image(svc, None, service=True)
        elif key == "default":
            job_images(body, None)
        elif key not in _GITLAB_RESERVED and isinstance(body, yaml.MappingNode):
            job_images(body, key)


def _helm_values(b: _Builder, root) -> None:
    seen: set[int] = set()
    found: list[tuple[int, str, str | None, dict]] = []

    def walk(node, key: str) -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            repo = yaml_scalar(_yget(node, "repository"))
            if key.lower().endswith("image") and repo:
                reg = yaml_scalar(_yget(node, "registry"))
                name = f"{reg.rstrip('/')}/{repo}" if reg else repo
                tag = yaml_scalar(_yget(node, "tag"))
                digest = yaml_scalar(_yget(node, "digest"))
                spec = f"{tag}@{digest}" if tag and digest else (tag or digest)
                # Helm convention: an empty tag means the chart's appVersion, not `latest`
                found.append((_yline(_yget(node, "repository")), name, spec or None,
                              {} if spec else {"tag_default": "chart appVersion"}))
                return
            for k, _, v in _ymap(node):
                if k.lower().endswith("image") and _looks_like_image(yaml_scalar(v)):
                    n, s = split_image(yaml_scalar(v))
                    if n:
                        found.append((_yline(v), n, s, {}))
                else:
                    walk(v, k)
        elif isinstance(node, yaml.SequenceNode):
            for v in node.value:
                walk(v, key)

    walk(root, "")
    for line, name, spec, attrs in sorted(found, key=lambda f: f[0]):
        b.add("docker", name, spec, "image", "runtime", line, **attrs)


_IMAGE_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:-]*(?:@sha256:[0-9a-fA-F]{16,})?$")


def _looks_like_image(ref: str | None) -> bool:
    return bool(ref) and _IMAGE_REF.match(ref) is not None and (":" in ref or "/" in ref)


def _chart(b: _Builder, root, kind: str) -> None:
    name = yaml_scalar(_yget(root, "name"))
    if name and kind == "chart":
        b.provides.append(("helm", name))
    for dep in _yseq(_yget(root, "dependencies")):
        n = yaml_scalar(_yget(dep, "name"))
        if not n:
            continue
        repo = yaml_scalar(_yget(dep, "repository"))
        version = yaml_scalar(_yget(dep, "version"))
        spec = _local(b.path, repo) if repo and repo.startswith("file://") else version
        b.add("helm", n, spec, kind, "runtime", _yline(_yget(dep, "name")),
              repository=repo, condition=yaml_scalar(_yget(dep, "condition")), alias=yaml_scalar(_yget(dep, "alias")))


def _parse_yaml(b: _Builder, text: str, kind: str) -> None:
    base = b.path.rsplit("/", 1)[-1].lower()
    in_workflows = "/.github/workflows/" in "/" + b.path
    known = kind in ("chart", "chart.lock") or in_workflows or base in (".gitlab-ci.yml", ".gitlab-ci.yaml") \
        or re.match(r"^(docker-)?compose([.-].*)?\.ya?ml$", base) is not None
    try:
        docs = _yaml_docs(text)
    except yaml.YAMLError:
        if known or ("{{" not in text and re.search(r"^\s*-?\s*image\s*:", text, re.M)):
            raise
        return  # a templated (Helm/Jinja) file or some other YAML that is not a manifest
    for doc in docs:
        if kind in ("chart", "chart.lock"):
            _chart(b, doc, "chart" if kind == "chart" else "locked")
        elif base in ("requirements.yaml", "requirements.lock") and _yget(doc, "dependencies") is not None:
            _chart(b, doc, "chart" if base.endswith(".yaml") else "locked")
        elif in_workflows:
            _gha(b, doc)
        elif base in (".gitlab-ci.yml", ".gitlab-ci.yaml"):
            _gitlab(b, doc)
        elif base.startswith("values") and isinstance(doc, yaml.MappingNode) and _yget(doc, "apiVersion") is None:
            _helm_values(b, doc)
        elif _yget(doc, "apiVersion") is not None and _yget(doc, "kind") is not None:
            _k8s_images(b, doc)
        elif isinstance(_yget(doc, "services"), yaml.MappingNode):
            _compose(b, doc)


# ======================================================================================
# Terraform
# ======================================================================================
def _tf_lines(t: _Text):
    def provider_line(local: str) -> int | None:
        start = t.offset(r"required_providers\s*\{")
        return t.find(re.compile(rf"^[ \t]*\"?{re.escape(local)}\"?[ \t]*=", re.M), start, regex=True)

    def module_line(label: str) -> int | None:
        return t.find(re.compile(rf"^[ \t]*module[ \t]+\"{re.escape(label)}\"", re.M), 0, regex=True)

    return provider_line, module_line


def _module_row(b: _Builder, label: str, source: str | None, version: str | None, line: int | None) -> None:
    if not source:
        b.errors.append(f"module {label!r} has no source")
        return
    if source.startswith(("./", "../")) or source in (".", ".."):
        b.add("terraform", source, _local(b.path, source), "module", "runtime", line, label=label)
        return
    ref = None
    m = re.search(r"[?&]ref=([^&]+)", source)
    if m:
        ref = m.group(1)
        source = re.sub(r"[?&]ref=[^&]+", "", source).rstrip("?&")
    b.add("terraform", source, version or ref, "module", "runtime", line, label=label)


def _provider_row(b: _Builder, local: str, value, line: int | None) -> None:
    if isinstance(value, str):
        source, version = f"hashicorp/{local}", value
    elif isinstance(value, dict):
        source = value.get("source") or f"hashicorp/{local}"
        version = value.get("version")
    else:
        return
    b.add("terraform", source, version if isinstance(version, str) else None, "provider", "runtime", line,
          local_name=local if source.rsplit("/", 1)[-1] != local else None)


def _parse_terraform(b: _Builder, text: str) -> None:
    t = _Text(text)
    provider_line, module_line = _tf_lines(t)
    try:
        import hcl2  # lazy: lark grammar compilation on first import
        data = hcl2.loads(text, serialization_options=hcl2.SerializationOptions(
            strip_string_quotes=True, with_comments=False))
    except Exception as exc:  # noqa: BLE001 - any parser failure: fall back to regexes
        b.errors.append(f"hcl2: {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}; "
                        "regex fallback used")
        return _parse_terraform_regex(b, text, provider_line, module_line)
    for block in data.get("terraform") or []:
        for rp in (block.get("required_providers") or []) if isinstance(block, dict) else []:
            for local, value in rp.items() if isinstance(rp, dict) else []:
                if local.startswith("__"):
                    continue
                _provider_row(b, local, value, provider_line(local))
    for block in data.get("module") or []:
        for label, body in block.items() if isinstance(block, dict) else []:
            if not isinstance(body, dict):
                continue
            src, ver = body.get("source"), body.get("version")
            _module_row(b, label, src if isinstance(src, str) else None, ver if isinstance(ver, str) else None,
                        module_line(label))


def _braced(text: str, open_at: int) -> tuple[str, int]:
    """(inside of the brace block opening at `open_at`, offset just past its closing brace)."""
    depth = 0
    for i in range(open_at, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[open_at + 1:i], i + 1
    return text[open_at + 1:], len(text)


def strip_hcl_comments(text: str) -> str:
    """Blank out `#`, `//` and `/* */` comments outside double-quoted strings (keeps offsets)."""
    out = list(text)
    i, n, in_str = 0, len(text), False
    while i < n:
        ch = text[i]
        if in_str:
            if ch == "\\":
                i += 2
                continue
            if ch == '"' or ch == "\n":
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch == "#" or text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out[i:j] = " " * (j - i)
            i = j
            continue
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out[i:j] = [c if c == "\n" else " " for c in text[i:j]]
            i = j
            continue
        i += 1
    return "".join(out)


def _parse_terraform_regex(b: _Builder, text: str, provider_line, module_line) -> None:
    clean = strip_hcl_comments(text)
    entry = re.compile(r"(?m)^[ \t]*\"?([\w-]+)\"?[ \t]*=[ \t]*(\{|\"([^\"]*)\")")
    for m in re.finditer(r"required_providers\s*\{", clean):
        body, _ = _braced(clean, m.end() - 1)
        pos = 0
        while (pm := entry.search(body, pos)) is not None:
            local, pos = pm.group(1), pm.end()
            if pm.group(2) == "{":
                inner, pos = _braced(body, pm.end() - 1)  # skip the block: only top-level entries
                src = re.search(r"\bsource\s*=\s*\"([^\"]*)\"", inner)
                ver = re.search(r"\bversion\s*=\s*\"([^\"]*)\"", inner)
                value = {"source": src.group(1) if src else None, "version": ver.group(1) if ver else None}
            else:
                value = pm.group(3)
            _provider_row(b, local, value, provider_line(local))
    for m in re.finditer(r"(?m)^\s*module\s+\"([^\"]+)\"\s*\{", clean):
        body, _ = _braced(clean, m.end() - 1)
        src = re.search(r"(?m)^\s*source\s*=\s*\"([^\"]*)\"", body)
        ver = re.search(r"(?m)^\s*version\s*=\s*\"([^\"]*)\"", body)
        _module_row(b, m.group(1), src.group(1) if src else None, ver.group(1) if ver else None,
                    module_line(m.group(1)))


def _parse_terraform_lock(b: _Builder, text: str) -> None:
    for m in re.finditer(r"(?m)^provider\s+\"([^\"]+)\"\s*\{", text):
        body, _ = _braced(text, m.end() - 1)
        ver = re.search(r"(?m)^\s*version\s*=\s*\"([^\"]*)\"", body)
        cons = re.search(r"(?m)^\s*constraints\s*=\s*\"([^\"]*)\"", body)
        source = re.sub(r"^registry\.terraform\.io/", "", m.group(1))
        b.add("terraform", source, ver.group(1) if ver else None, "locked", "runtime",
              text.count("\n", 0, m.start()) + 1, constraints=cons.group(1) if cons else None)


# ======================================================================================
# entry point
# ======================================================================================
_PARSERS = {
    "requirements": _parse_requirements, "pyproject": _parse_pyproject, "setup.cfg": _parse_setup_cfg,
    "setup.py": _parse_setup_py, "pipfile": _parse_pipfile, "pipfile.lock": _parse_pipfile_lock,
    "poetry.lock": _parse_poetry_lock, "package.json": _parse_package_json,
    "package-lock": _parse_package_lock, "yarn.lock": _parse_yarn_lock, "go.mod": _parse_go_mod,
    "cargo.toml": _parse_cargo_toml, "cargo.lock": _parse_cargo_lock, "pom": _parse_pom,
    "dockerfile": _parse_dockerfile, "terraform": _parse_terraform, "terraform.lock": _parse_terraform_lock,
}


def extract_declared(path: str, content: bytes, file_type: str | None = None) -> DeclaredDeps:
    """Dependencies declared, locked or pulled by one file (see the module doc for the shapes).

    Never raises: a file that cannot be parsed gives its rows so far and `error` set to
    `"<parser>: <message>"`. A file `is_dependency_source` rejects gives no rows.
    """
    kind = _classify(path, file_type)
    b = _Builder(path)
    if kind is None:
        return b.result()
    try:
        text = _decode(content)
        if kind in ("yaml", "chart", "chart.lock"):
            _parse_yaml(b, text, kind)
        else:
            _PARSERS[kind](b, text)
    except RecursionError:
        b.errors.insert(0, f"{kind}: nesting too deep")
    except Exception as exc:  # noqa: BLE001 - malformed input is data, not a crash
        msg = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        b.errors.insert(0, f"{kind}: {type(exc).__name__}: {msg}")
    return b.result()


def dependency_scope(version_spec: str | None) -> tuple[str, str | None]:
    """('internal', target path) for a project-local reference (`path:...`), else ('external', None)."""
    if isinstance(version_spec, str) and version_spec.startswith("path:"):
        return "internal", version_spec[5:]
    return "external", None


def dependency_rows(project: str, source_path: str, deps: DeclaredDeps) -> list[tuple]:
    """`DEPENDENCY_COLUMNS` rows for one file's `DeclaredDeps`."""
    out = []
    for eco, name, spec, kind, detail, line in deps.rows:
        scope, target = dependency_scope(spec)
        out.append((project, source_path, scope, eco, name, spec, kind, detail, line, target))
    return out


# ======================================================================================
# internal edges
# ======================================================================================
_JS_LANGS = frozenset({"javascript", "typescript", "js", "ts", "jsx", "tsx", "mjs", "cjs"})
_SHELL_LANGS = frozenset({"shell", "bash", "sh", "zsh", "ksh"})
_JS_EXTS = (".ts", ".tsx", ".d.ts", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts", ".json")
_PY_ROOT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg")


def _norm_path(p: str) -> str:
    p = p.replace("\\", "/")
    while p.startswith("./"):
        p = p[2:]
    return p


class _Resolver:
    def __init__(self, project_paths: Iterable[str], go_module: str | Mapping[str, str] | None):
        self.paths = {_norm_path(p) for p in project_paths}
        self._py_roots: list[str] | None = None
        self._parents_by_name: dict[str, set[str]] | None = None
        self._go_mods: dict[str, str] | None = None
        self._go_module = go_module
        self._by_dir: dict[str, list[str]] | None = None

    # -- python
    @property
    def py_roots(self) -> list[str]:
        if self._py_roots is None:
            pkg_dirs = {posixpath.dirname(p) for p in self.paths if p.rsplit("/", 1)[-1] == "__init__.py"}
            roots = {""}
            for p in self.paths:
                base = p.rsplit("/", 1)[-1]
                if p.endswith((".py", ".pyi")):
                    d = posixpath.dirname(p)
                    while d in pkg_dirs:
                        d = posixpath.dirname(d)
                    roots.add(d)
                elif base in _PY_ROOT_MARKERS:
                    d = posixpath.dirname(p)
                    roots.add(d)
                    roots.add(posixpath.join(d, "src") if d else "src")
                parts = p.split("/")
                if "src" in parts[:-1]:
                    roots.add("/".join(parts[:parts.index("src") + 1]))
            self._py_roots = sorted(roots)
        return self._py_roots

    def _roots_holding(self, name: str) -> list[str]:
        """Python roots R (in `py_roots` order) where `R/name` is a module, stub or directory:
        an index built once, so each import looks at a handful of roots, not all of them."""
        if self._parents_by_name is None:
            parents: dict[str, set[str]] = {}
            for path in self.paths:
                stem = path[:-4] if path.endswith(".pyi") else path[:-3] if path.endswith(".py") else None
                entries = [stem] if stem else []
                d = posixpath.dirname(path)
                while d:
                    entries.append(d)
                    d = posixpath.dirname(d)
                for entry in entries:
                    parent, _, base = entry.rpartition("/")
                    parents.setdefault(base, set()).add(parent)
            self._parents_by_name = parents
            self._roots_memo: dict[str, list[str]] = {}
        hit = self._roots_memo.get(name)
        if hit is None:
            holders = self._parents_by_name.get(name, set())
            hit = self._roots_memo[name] = [r for r in self.py_roots if r in holders]
        return hit

    def _py_at(self, base: str, parts: list[str], min_k: int = 1) -> str | None:
        for k in range(len(parts), min_k - 1, -1):
            stem = posixpath.join(base, *parts[:k]) if base else "/".join(parts[:k])
            for cand in (stem + ".py", stem + "/__init__.py", stem + ".pyi", stem + "/__init__.pyi"):
                if cand in self.paths:
                    return cand
        return None

    def python(self, src: str, module: str) -> list[str]:
        module = module.strip()
        if not module:
            return []
        if module.startswith("."):
            dots = len(module) - len(module.lstrip("."))
            rest = [p for p in module[dots:].split(".") if p]
            base = posixpath.dirname(src)
            for _ in range(dots - 1):
                if not base:
                    return []
                base = posixpath.dirname(base)
            if rest:
                hit = self._py_at(base, rest)
                if hit and hit != src:
                    return [hit]
            # `from . import name`: the package's __init__ (executed by any relative import anyway)
            init = posixpath.join(base, "__init__.py") if base else "__init__.py"
            return [init] if init in self.paths and init != src else []
        parts = [p for p in module.split(".") if p]
        if not parts:
            return []
        src_dir = posixpath.dirname(src)
        # only roots holding `parts[0]` (a module, a .pyi or a directory) can resolve it
        roots = self._roots_holding(parts[0])
        ancestors = [r for r in roots if r == "" or src_dir == r or src_dir.startswith(r + "/")]
        ancestors.sort(key=len, reverse=True)
        order = list(ancestors)
        if parts[0] not in sys.stdlib_module_names:
            others = [r for r in roots if r not in ancestors]
            others.sort(key=lambda r: (-len(posixpath.commonpath([r, src_dir])) if r and src_dir else 0, r))
            order += others
        for root in order:
            hit = self._py_at(root, parts)
            if hit and hit != src:
                return [hit]
        return []

    # -- javascript / typescript
    def js(self, src: str, spec: str) -> list[str]:
        spec = spec.strip().split("?", 1)[0].split("#", 1)[0]
        if not (spec.startswith(("./", "../")) or spec in (".", "..")):
            return []
        target = posixpath.normpath(posixpath.join(posixpath.dirname(src), spec))
        if target == ".":
            target = ""
        if target == ".." or target.startswith("../"):
            return []
        cands = [target] if target else []
        cands += [target + ext for ext in _JS_EXTS]
        root, ext = posixpath.splitext(target)
        if ext in (".js", ".jsx", ".mjs", ".cjs"):
            cands += [root + e for e in (".ts", ".tsx", ".mts", ".cts")]
        cands += [posixpath.join(target, "index" + e) if target else "index" + e for e in _JS_EXTS]
        for c in cands:
            if c in self.paths:
                return [c]
        return []

    # -- go
    @property
    def go_mods(self) -> dict[str, str]:
        if self._go_mods is None:
            gm = self._go_module
            if isinstance(gm, Mapping):
                self._go_mods = {_norm_path(k).rstrip("/") if k not in ("", ".") else "": v for k, v in gm.items()}
            elif isinstance(gm, str) and gm:
                dirs = sorted(posixpath.dirname(p) for p in self.paths if p.rsplit("/", 1)[-1] == "go.mod")
                self._go_mods = {(dirs[0] if len(dirs) == 1 else ""): gm}
            else:
                self._go_mods = {}
        return self._go_mods

    @property
    def by_dir(self) -> dict[str, list[str]]:
        if self._by_dir is None:
            self._by_dir = {}
            for p in sorted(self.paths):
                self._by_dir.setdefault(posixpath.dirname(p), []).append(p)
        return self._by_dir

    def go(self, src: str, imp: str) -> list[str]:
        imp = imp.strip().strip('"`')
        best = None
        for d, mod in self.go_mods.items():
            if (imp == mod or imp.startswith(mod + "/")) and (best is None or len(mod) > len(best[1])):
                best = (d, mod)
        if best is None:
            return []
        d, mod = best
        rel = imp[len(mod):].lstrip("/")
        pkg = posixpath.join(d, rel) if d and rel else (d or rel)
        return [p for p in self.by_dir.get(pkg, []) if p.endswith(".go") and not p.endswith("_test.go") and p != src]

    # -- shell
    def shell(self, src: str, arg: str) -> list[str]:
        s = arg.strip().strip("'\"")
        prefix_dir = False
        if s.startswith("$("):
            depth = 0
            for i, ch in enumerate(s):
                depth += ch == "("
                depth -= ch == ")"
                if depth == 0 and ch == ")":
                    s = s[i + 1:]
                    break
            prefix_dir = True
        elif s.startswith("${"):
            s = s[s.find("}") + 1:] if "}" in s else ""
            prefix_dir = True
        elif s.startswith("$"):
            m = re.match(r"^\$[A-Za-z_][A-Za-z0-9_]*", s)
            s = s[m.end():] if m else ""
            prefix_dir = True
        s = s.strip("'\"")
        if prefix_dir:
            if not s.startswith("/"):
                return []
            s = s.lstrip("/")
        if not s or "$" in s or s.startswith(("/", "~")):
            return []
        here = posixpath.dirname(src)
        for base in ((here,) if prefix_dir else (here, "")):
            cand = posixpath.normpath(posixpath.join(base, s)) if base else posixpath.normpath(s)
            if cand in self.paths and cand != src:
                return [cand]
        return []

    def resolve(self, src: str, language: str, module: str) -> list[str]:
        lang = (language or "").lower()
        src = _norm_path(src)
        if not isinstance(module, str):
            return []
        if lang == "python":
            return self.python(src, module)
        if lang in _JS_LANGS:
            return self.js(src, module)
        if lang == "go":
            return self.go(src, module)
        if lang in _SHELL_LANGS:
            return self.shell(src, module)
        return []


def _resolved(imports, project_paths, go_module) -> Iterator[tuple[str, str, str, int, str]]:
    r = _Resolver(project_paths, go_module)
    seen: set[tuple] = set()
    for src, language, module, line in imports:
        try:
            targets = r.resolve(src, language, module)
        except (ValueError, TypeError):
            continue
        for target in targets:
            key = (src, target, line)
            if key not in seen:
                seen.add(key)
                yield src, language, module, line, target


def resolve_internal(imports: list[tuple[str, str, str, int]], project_paths: set[str],
                     go_module: str | Mapping[str, str] | None = None) -> list[tuple[str, str, int]]:
    """Import rows (source_path, language, module, line) -> (source_path, target_path, line).

    module as the code-structure extractor writes it:
    - python: dotted, relative ones with their leading dots (`pkg.mod`, `.mod`, `..pkg.mod`,
      `.` for `from . import x`); a trailing imported name (`pkg.mod.func`) is tolerated.
      Absolute imports resolve against package roots: the directory above each top-level
      package (`__init__.py` chains), directories holding loose modules, directories with
      pyproject.toml/setup.py/setup.cfg and their `src/`, every `src/`, and the project root;
      roots enclosing the importing file first (nearest first), then the others (stdlib
      names only resolve against enclosing roots). Relative imports resolve against the
      importing file's package.
    - javascript/typescript: relative specifiers only (`./x`, `../y`) -> x, x.ts, x.tsx, x.d.ts,
      x.js, x.jsx, x.mjs, x.cjs, x.json, x/index.*; `./x.js` also finds x.ts (TS ESM style).
    - go: import paths inside the module; go_module is the module path (its go.mod found among
      project_paths, else the root) or a {go.mod directory: module path} mapping. One row per
      non-test .go file of the imported package directory.
    - shell: `source`/`.` paths, relative to the script then to the project root;
      `$(dirname "$0")/x`, `${BASH_SOURCE%/*}/x`, `$DIR/x` resolve relative to the script.
    Unresolvable imports (third-party, stdlib, dynamic) give no row. Duplicates are dropped.
    """
    return [(src, target, line) for src, _, _, line, target in _resolved(imports, project_paths, go_module)]


def import_rows(project: str, imports: list[tuple[str, str, str, int]], project_paths: set[str],
                go_module: str | Mapping[str, str] | None = None) -> list[tuple]:
    """Resolved imports as `DEPENDENCY_COLUMNS` rows: scope 'internal', ecosystem the language,
    name the module as written, kind and scope_detail 'import', target_path the file."""
    return [(project, src, "internal", lang, module, None, "import", "import", line, target)
            for src, lang, module, line, target in _resolved(imports, project_paths, go_module)]


def python_top_level_names(project_paths: Iterable[str]) -> set[str]:
    """Import names the project itself provides: top-level packages (above `__init__.py`
    chains, src/ layouts included) and loose modules. For `usage_status(own_packages=...)`."""
    paths = {_norm_path(p) for p in project_paths}
    pkg_dirs = {posixpath.dirname(p) for p in paths if p.rsplit("/", 1)[-1] == "__init__.py"}
    names: set[str] = set()
    for p in paths:
        if not p.endswith((".py", ".pyi")):
            continue
        d = posixpath.dirname(p)
        top = None
        while d in pkg_dirs:
            top = d
            d = posixpath.dirname(d)
        names.add((top.rsplit("/", 1)[-1]) if top else p.rsplit("/", 1)[-1].rsplit(".", 1)[0])
    names.discard("__init__")
    return names


# ======================================================================================
# usage: declared vs imported
# ======================================================================================
# import name (dotted prefix) -> distribution(s) that provide it, where they differ
IMPORT_TO_DIST: dict[str, tuple[str, ...]] = {
    "yaml": ("pyyaml",), "sklearn": ("scikit-learn",), "cv2": ("opencv-python", "opencv-python-headless",
                                                                 "opencv-contrib-python"),
    "PIL": ("pillow",), "bs4": ("beautifulsoup4",), "dateutil": ("python-dateutil",),
    "google.protobuf": ("protobuf",), "attr": ("attrs",), "jwt": ("pyjwt",), "dotenv": ("python-dotenv",),
    "magic": ("python-magic",), "serial": ("pyserial",), "usb": ("pyusb",),
    "Crypto": ("pycryptodome", "pycrypto"), "Cryptodome": ("pycryptodomex",), "OpenSSL": ("pyopenssl",),
    "git": ("gitpython",), "docx": ("python-docx",), "pptx": ("python-pptx",), "skimage": ("scikit-image",),
    "MySQLdb": ("mysqlclient",), "psycopg2": ("psycopg2", "psycopg2-binary"),
    "psycopg": ("psycopg", "psycopg-binary"), "zmq": ("pyzmq",),
    "win32api": ("pywin32",), "win32com": ("pywin32",), "gi": ("pygobject",),
    "Levenshtein": ("python-levenshtein", "levenshtein"), "slugify": ("python-slugify",),
    "multipart": ("python-multipart",), "jose": ("python-jose",), "socketio": ("python-socketio",),
    "engineio": ("python-engineio",), "telegram": ("python-telegram-bot",), "ldap": ("python-ldap",),
    "fitz": ("pymupdf",), "faiss": ("faiss-cpu", "faiss-gpu"), "umap": ("umap-learn",),
    "Bio": ("biopython",), "nacl": ("pynacl",), "kafka": ("kafka-python",),
    "pkg_resources": ("setuptools",), "mpl_toolkits": ("matplotlib",), "IPython": ("ipython",),
    "websocket": ("websocket-client",), "OpenGL": ("pyopengl",), "wx": ("wxpython",),
    "grpc": ("grpcio",), "hcl2": ("python-hcl2",), "packageurl": ("packageurl-python",),
    "cyclonedx": ("cyclonedx-python-lib",), "sentence_transformers": ("sentence-transformers",),
    "onnxruntime": ("onnxruntime", "onnxruntime-gpu"), "tensorflow": ("tensorflow", "tensorflow-cpu"),
    "Xlib": ("python-xlib",), "ruamel.yaml": ("ruamel-yaml",), "lxml": ("lxml",),
    "jinja2": ("jinja2",), "markdown": ("markdown",), "docker": ("docker",), "github": ("pygithub",),
    "gitlab": ("python-gitlab",), "jenkins": ("python-jenkins",), "snappy": ("python-snappy",),
    "pyarrow": ("pyarrow",), "duckdb": ("duckdb",), "tree_sitter": ("tree-sitter",),
    "azure.storage.blob": ("azure-storage-blob",),
    "googleapiclient": ("google-api-python-client",), "apiclient": ("google-api-python-client",),
    "dns": ("dnspython",), "Image": ("pillow",), "pydispatch": ("pydispatcher",),
    "discord": ("discord-py",), "openpyxl": ("openpyxl",), "xlrd": ("xlrd",),
}
_NAMESPACE_TOPS = frozenset({"google", "azure", "zope", "jaraco", "sphinxcontrib", "backports", "ruamel",
                             "opentelemetry", "flufl", "plone", "collective", "oslo", "dagster_cloud"})

NODE_BUILTINS = frozenset({
    "assert", "async_hooks", "buffer", "child_process", "cluster", "console", "constants", "crypto",
    "dgram", "diagnostics_channel", "dns", "domain", "events", "fs", "http", "http2", "https", "inspector",
    "module", "net", "os", "path", "perf_hooks", "process", "punycode", "querystring", "readline", "repl",
    "stream", "string_decoder", "sys", "timers", "tls", "trace_events", "tty", "url", "util", "v8", "vm",
    "wasi", "worker_threads", "zlib", "test", "sea", "sqlite"})


def python_dist_candidates(module: str) -> list[str]:
    """Normalised (PEP 503) distribution names that could provide import `module`, most
    likely first: the known-mismatch table, namespace packages (`google.cloud.storage` ->
    google-cloud-storage), the top-level name itself and its `python-`/`py` variants."""
    parts = [p for p in module.split(".") if p]
    if not parts:
        return []
    out: list[str] = []
    for k in range(len(parts), 0, -1):
        hit = IMPORT_TO_DIST.get(".".join(parts[:k]))
        if hit:
            out += [canonicalize_name(h) for h in hit]
            break
    if parts[0] in _NAMESPACE_TOPS:
        for k in range(min(len(parts), 3), 1, -1):
            out.append(canonicalize_name("-".join(parts[:k])))
    top = canonicalize_name(parts[0])
    out += [top, "python-" + top, "py" + top, top + "-python"]
    seen: set[str] = set()
    return [x for x in out if not (x in seen or seen.add(x))]


def npm_package_of(specifier: str) -> str | None:
    """Package a bare JS specifier names (`lodash/fp` -> lodash, `@s/n/x` -> @s/n); None for
    relative, absolute, URL, `node:` and Node built-in specifiers."""
    s = specifier.strip()
    if not s or s.startswith((".", "/", "node:", "data:", "http:", "https:", "file:", "#", "~", "$")):
        return None
    parts = s.split("/")
    if s.startswith("@"):
        return "/".join(parts[:2]) if len(parts) >= 2 and parts[1] else None
    if parts[0] in NODE_BUILTINS:
        return None
    return parts[0]


def _go_package_guess(path: str) -> str:
    parts = path.split("/")
    if parts[0] in ("github.com", "gitlab.com", "bitbucket.org", "golang.org", "go.googlesource.com") and len(parts) >= 3:
        return "/".join(parts[:3])
    if parts[0] in ("gopkg.in", "go.uber.org", "google.golang.org", "k8s.io", "sigs.k8s.io", "go.opentelemetry.io"):
        return "/".join(parts[:2])
    return path


_DIST_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
_LANG_ECO = {"python": "pypi", "pypi": "pypi", "go": "go", "golang": "go", "npm": "npm"}
_LANG_ECO.update({lang: "npm" for lang in _JS_LANGS})


def _manifest_scope(manifest_path: str) -> str:
    d = posixpath.dirname(_norm_path(manifest_path))
    if d.rsplit("/", 1)[-1] == "requirements":
        d = posixpath.dirname(d)
    return d


def _governs(scope: str, path: str) -> bool:
    return scope == "" or path.startswith(scope + "/")


def usage_status(declared: list[tuple[str, str, str]], imported: list[tuple[str, str, str]],
                 own_packages: set[str]) -> tuple[list[tuple[str, str, str]], list[tuple[str, str, str, str]]]:
    """Declared-but-never-imported and imported-but-undeclared packages (pypi, npm, go).

    declared:     (ecosystem, name, manifest_path), e.g. the 'declared' rows of every manifest
                  (other ecosystems are ignored).
    imported:     (language or ecosystem, module as imported, source_path): python (dotted,
                  relative ones start with '.'), javascript/typescript (specifiers), go (paths).
    own_packages: the project's own names, never reported: Python top-level import names
                  (`python_top_level_names`), its distribution/npm package names and go module
                  paths (`DeclaredDeps.provides`).

    A manifest governs the files under its directory (a `requirements/` directory counts as its
    parent's); a file no manifest of that ecosystem governs is checked against all of them.
    Python names compare PEP 503-normalised, imports mapped to distributions with
    `python_dist_candidates`; stdlib modules, relative imports and own packages are skipped.
    npm specifiers reduce to their package (`npm_package_of`); `@types/x` counts as used when x
    is. Go imports match the longest declared module prefix; stdlib (no dot in the first element)
    and the own module are skipped.

    Returns (declared_never_imported: (ecosystem, name, manifest_path),
             imported_undeclared:     (ecosystem, package, module, source_path)),
    each sorted and without duplicates; `package` is the best-guess distribution/package name.
    """
    own_norm = {canonicalize_name(o) for o in own_packages} | set(own_packages)
    manifests: dict[str, dict[str, list[tuple[str, str, str]]]] = {}  # eco -> manifest -> [(norm, name, path)]
    for eco, name, mpath in declared:
        eco = (eco or "").lower()
        if eco not in ("pypi", "npm", "go") or not name:
            continue
        if eco == "pypi" and not _DIST_NAME.match(name):
            continue  # `-e .`, local paths: not a distribution
        norm = canonicalize_name(name) if eco == "pypi" else name
        manifests.setdefault(eco, {}).setdefault(mpath, []).append((norm, name, mpath))

    # Which manifests govern a file depends on its directory only: worked out once per
    # (ecosystem, directory), with each manifest's scope computed once.
    scopes = {eco: [(mpath, _manifest_scope(mpath)) for mpath in by_manifest]
              for eco, by_manifest in manifests.items()}
    names = {eco: {mpath: {norm for norm, _, _ in entries} for mpath, entries in by_manifest.items()}
             for eco, by_manifest in manifests.items()}
    governing: dict[tuple[str, str], list[str]] = {}
    used: set[tuple[str, str, str]] = set()  # (eco, manifest, norm)
    undeclared: set[tuple[str, str, str, str]] = set()
    for lang, module, src in imported:
        eco = _LANG_ECO.get((lang or "").lower())
        if eco is None or not isinstance(module, str) or not module.strip():
            continue
        module = module.strip()
        src_n = _norm_path(src)
        if eco == "pypi":
            if module.startswith("."):
                continue
            top = module.split(".", 1)[0]
            if top in sys.stdlib_module_names or top in own_norm or canonicalize_name(top) in own_norm \
                    or top == "__main__":
                continue
            cands = python_dist_candidates(module)
            package = cands[0] if cands else canonicalize_name(top)
            keys = set(cands)
        elif eco == "npm":
            package = npm_package_of(module)
            if package is None or package in own_packages:
                continue
            keys = {package, "@types/" + (package[1:].replace("/", "__") if package.startswith("@") else package)}
        else:
            first = module.split("/", 1)[0]
            if "." not in first or any(module == o or module.startswith(o + "/") for o in own_packages):
                continue
            package = _go_package_guess(module)
            keys = {module}
        where = (eco, posixpath.dirname(src_n))
        gov = governing.get(where)
        if gov is None:  # every file of a directory gets the same answer as this one
            gov = [m for m, scope in scopes.get(eco, ()) if _governs(scope, src_n)] or [m for m, _ in scopes.get(eco, ())]
            governing[where] = gov
        found = False
        for mpath in gov:
            if eco == "go":
                hits = [norm for norm in names[eco][mpath] if module == norm or module.startswith(norm + "/")]
            else:  # npm keys hold the package itself (and its @types twin)
                hits = names[eco][mpath] & keys
            for norm in hits:
                used.add((eco, mpath, norm))
                found = True
        if not found:
            undeclared.add((eco, package, module, src))
    never: set[tuple[str, str, str]] = set()
    for eco, by_manifest in manifests.items():
        for mpath, entries in by_manifest.items():
            for norm, name, _ in entries:
                if (eco, mpath, norm) in used or norm in own_norm:
                    continue
                never.add((eco, name, mpath))
    return sorted(never), sorted(undeclared)


# ======================================================================================
# SBOM
# ======================================================================================
_SEMVER_EXACT = re.compile(r"^=?\s*v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)$")
_PLAIN_VERSION = re.compile(r"^v?\d+(?:\.\d+)*(?:[-+.][0-9A-Za-z.-]+)?$")


def exact_version(ecosystem: str, kind: str, spec: str | None) -> str | None:
    """The one version a spec pins, else None (ranges, URLs, local paths, unresolved ${...})."""
    if not spec or spec.startswith(("path:", "workspace:")) or "${" in spec or "://" in spec \
            or re.match(r"^(git|hg|svn|bzr)\+", spec) or " " in spec.strip():
        return None
    spec = spec.strip()
    if kind == "locked" or ecosystem in ("go", "docker", "github-actions"):
        return spec
    if ecosystem == "pypi":
        m = re.fullmatch(r"===?([A-Za-z0-9][A-Za-z0-9.+!_-]*)", spec)
        if m and "*" not in spec:
            return m.group(1)
        return spec if re.fullmatch(r"\d[A-Za-z0-9.+!_-]*", spec) else None  # Poetry/Pipfile bare = exact
    if ecosystem == "npm":
        m = _SEMVER_EXACT.match(spec)
        return m.group(1) if m else None
    if ecosystem == "cargo":
        m = re.fullmatch(r"=\s*(\d[0-9A-Za-z.+-]*)", spec)
        return m.group(1) if m else None
    if ecosystem == "maven":
        return None if any(c in spec for c in "[](),") else spec
    if ecosystem in ("helm", "terraform"):
        m = re.fullmatch(r"=?\s*(v?\d[0-9A-Za-z.+-]*)", spec)
        return m.group(1) if m and _PLAIN_VERSION.match(m.group(1)) else None
    return None


def _canon(eco: str, name: str) -> str:
    if eco == "pypi":
        return canonicalize_name(name)
    if eco == "docker":
        n = re.sub(r"^(?:docker\.io|index\.docker\.io|registry-1\.docker\.io)/", "", name)
        return re.sub(r"^library/", "", n) if n.count("/") == 1 else n
    if eco == "terraform":
        return re.sub(r"^registry\.terraform\.io/", "", name)
    return name


def _purl(eco: str, name: str, version: str | None, kind: str, repository: str | None = None):
    from packageurl import PackageURL

    if not name or "${" in name or "{{" in name or name.startswith("$") or " " in name:
        return None
    q: dict[str, str] = {}
    if eco == "pypi":
        return PackageURL(type="pypi", name=canonicalize_name(name), version=version)
    if eco == "npm":
        ns, _, n = name.rpartition("/") if name.startswith("@") else ("", "", name)
        return PackageURL(type="npm", namespace=ns or None, name=n, version=version)
    if eco == "go":
        ns, _, n = name.rpartition("/")
        return PackageURL(type="golang", namespace=ns or None, name=n, version=version)
    if eco == "cargo":
        return PackageURL(type="cargo", name=name, version=version)
    if eco == "maven":
        g, _, a = name.rpartition(":")
        return PackageURL(type="maven", namespace=g or None, name=a, version=version)
    if eco == "docker":
        n = _canon("docker", name)
        parts = n.split("/")
        if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
            q["repository_url"] = parts[0]
            parts = parts[1:]
        if version and "@" in version:
            tag, version = version.split("@", 1)
            q["tag"] = tag
        return PackageURL(type="docker", namespace="/".join(parts[:-1]) or None, name=parts[-1],
                          version=version, qualifiers=q or None)
    if eco == "helm":
        if repository:
            q["repository_url"] = repository
        return PackageURL(type="helm", name=name, version=version, qualifiers=q or None)
    if eco == "terraform":
        n = _canon("terraform", name)
        if "::" in n or "://" in n or n.startswith(("git@", "github.com/", "bitbucket.org/", "s3::", "gcs::")):
            tail = re.sub(r"\.git$", "", n.split("//", 2)[-1].rstrip("/").rsplit("/", 1)[-1]) or "module"
            return PackageURL(type="generic", name=tail, version=version,
                              qualifiers={"vcs_url": n})
        parts = n.split("/")
        if len(parts) >= 3 and "." in parts[0]:
            q["repository_url"] = parts[0]
            parts = parts[1:]
        subpath = kind if kind in ("provider", "module") else None
        if kind == "locked":
            subpath = "provider"
        return PackageURL(type="terraform", namespace="/".join(parts[:-1]) or None, name=parts[-1],
                          version=version, qualifiers=q or None, subpath=subpath)
    if eco == "github-actions":
        parts = name.split("/")
        if len(parts) < 2:
            return None
        return PackageURL(type="github", namespace=parts[0], name=parts[1], version=version,
                          subpath="/".join(parts[2:]) or None)
    return PackageURL(type="generic", namespace=eco or None, name=name, version=version)


def _as_row(row) -> tuple:
    if isinstance(row, Mapping):
        return tuple(row.get(k) for k in SBOM_ROW_FIELDS)
    row = tuple(row)
    if len(row) == len(DEPENDENCY_COLUMNS):
        return row[1:2] + row[3:9]
    if len(row) != len(SBOM_ROW_FIELDS):
        raise ValueError(f"SBOM row has {len(row)} fields, expected {SBOM_ROW_FIELDS}")
    return row


def _as_edge(edge) -> tuple:
    if isinstance(edge, Mapping):
        return tuple(edge.get(k) for k in EDGE_FIELDS)
    return tuple(edge)


_REQUIRED_DETAILS = frozenset({"runtime", "init", "ephemeral", "indirect", "workspace", "system"})
_EXCLUDED_DETAILS = frozenset({"dev", "build", "build-stage", "copy-from", "ci", "managed", "parent",
                               "provided", "import", "tool"})


def _component_scope(details: set[str]):
    from cyclonedx.model.component import ComponentScope

    if details & _REQUIRED_DETAILS:
        return ComponentScope.REQUIRED
    if any(d in ("optional", "peer") or d.startswith("optional:") for d in details):
        return ComponentScope.OPTIONAL
    known = {d for d in details if d != "unknown"}
    if known and all(d in _EXCLUDED_DETAILS or d.startswith("group:") for d in known):
        return ComponentScope.EXCLUDED
    return None


def _spec_admits(eco: str, spec: str, version: str) -> bool:
    """Whether a declared range admits a version (PEP 440 only; other ecosystems: assume yes)."""
    if eco != "pypi":
        return True
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    try:
        return SpecifierSet(spec).contains(Version(version), prereleases=True)
    except (InvalidSpecifier, InvalidVersion):
        return True


def sbom_repositories(files: Iterable[DeclaredDeps]) -> dict[tuple[str, str], str]:
    """{(ecosystem, name): repository} from the 'repository' attrs (Helm chart repositories),
    for `build_sbom(repositories=...)`."""
    out: dict[tuple[str, str], str] = {}
    for deps in files:
        for idx, key, value in deps.attrs:
            if key == "repository" and 0 <= idx < len(deps.rows) and not value.startswith("file://"):
                eco, name = deps.rows[idx][0], deps.rows[idx][1]
                out.setdefault((eco, name), value)
    return out


_VALIDATOR = None


def build_sbom(project: str, rows: Iterable, edges: Iterable = (), *,
               timestamp: datetime.datetime | None = None,
               repositories: Mapping[tuple[str, str], str] | None = None) -> bytes:
    """CycloneDX 1.6 JSON SBOM of a project's external dependencies, schema-validated.

    rows:  (source_path, ecosystem, name, version_spec, kind, scope_detail, line) tuples,
           `DEPENDENCY_COLUMNS` tuples, or mappings with those keys (Arrow `to_pylist()`).
           Internal rows (version_spec `path:...`, kind 'include'/'import') are skipped.
    edges: `DeclaredDeps.edges` tuples (ecosystem, parent, parent_version, child, child_version)
           or mappings with those keys.
    repositories: optional {(ecosystem, name): repository URL} (`sbom_repositories`): Helm
           chart repositories for the purl `repository_url` qualifier.

    One component per purl. A pinned or locked version makes a versioned component
    (`pkg:pypi/requests@2.31.0`); a declared range attaches to the versioned components of the
    same package it admits, or makes one unversioned component when no version is known
    anywhere in the project. Images are `container` components (`pkg:docker/...`, registry
    host as `repository_url`), Helm charts `application` (`pkg:helm/...`), Terraform providers
    and registry modules `pkg:terraform/<namespace>/<name>@v#provider|module`, VCS modules
    `pkg:generic/...?vcs_url=`, GitHub actions `pkg:github/...`. Properties: `anfl:source`
    (path:line), `anfl:scope` (scope details), `anfl:version_spec` (non-exact specs).
    CycloneDX scope: required (any runtime use), optional, excluded (dev/build/ci only).
    Dependency graph: project -> every directly declared component; lockfile edges between
    components; locked components that nothing reaches hang off the project.
    The serial number is derived from the content; `timestamp` defaults to now (UTC).
    Raises `SbomError` when the document does not validate.
    """
    from cyclonedx.model import Property
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.model.dependency import Dependency
    from cyclonedx.output.json import JsonV1Dot6

    repositories = dict(repositories or {})
    groups: dict[tuple[str, str], dict] = {}
    for raw in rows:
        src, eco, name, spec, kind, detail, line = _as_row(raw)
        if not eco or not name or kind in ("include", "import") or dependency_scope(spec)[0] == "internal":
            continue
        key = (eco, _canon(eco, name))
        g = groups.setdefault(key, {"name": name, "kind": kind, "versions": set(), "direct_versions": set(),
                                    "ranges": set(), "declared": False, "sources": set(), "details": set()})
        if kind != "locked":
            g["declared"] = True
            if g["kind"] == "locked":
                g["name"], g["kind"] = name, kind
        v = exact_version(eco, kind, spec)
        if v:
            g["versions"].add(v)
            if kind != "locked":
                g["direct_versions"].add(v)
        elif spec and kind != "locked":
            g["ranges"].add(spec)
        g["sources"].add(f"{src}:{line}" if line else str(src))
        g["details"].add(detail or "unknown")

    components: dict[tuple[str, str, str | None], Component] = {}
    direct: dict[str, Component] = {}
    for key in sorted(groups):
        eco, cname = key
        g = groups[key]
        scope = _component_scope(g["details"])
        for version in sorted(g["versions"]) or [None]:
            purl = _purl(eco, g["name"], version, g["kind"], repositories.get((eco, g["name"])))
            if purl is None:
                continue
            ref = purl.to_string()
            props = [Property(name="anfl:source", value=s) for s in sorted(g["sources"])]
            props += [Property(name="anfl:scope", value=d) for d in sorted(g["details"])]
            props += [Property(name="anfl:version_spec", value=s) for s in sorted(g["ranges"])]
            ctype = {"docker": ComponentType.CONTAINER, "helm": ComponentType.APPLICATION}.get(
                eco, ComponentType.LIBRARY)
            group, name = None, g["name"]
            if eco == "maven" and ":" in name:
                group, name = name.split(":", 1)
            elif eco == "npm" and name.startswith("@") and "/" in name:
                group, name = name.split("/", 1)
            elif eco in ("pypi", "docker", "terraform"):
                name = cname
            comp = Component(name=name, group=group, version=version, type=ctype, purl=purl, bom_ref=ref,
                             scope=scope, properties=props)
            components[(eco, cname, version)] = comp
            if g["declared"] and (version is None or version in g["direct_versions"]
                                  or any(_spec_admits(eco, r, version) for r in g["ranges"])
                                  or (not g["ranges"] and not g["direct_versions"])):
                direct[ref] = comp

    by_ref = {str(c.bom_ref): c for c in components.values()}
    by_pkg: dict[tuple[str, str], list] = {}
    for (eco, cname, _), comp in components.items():
        by_pkg.setdefault((eco, cname), []).append(comp)
    children: dict[str, set[str]] = {}
    reached: set[str] = set(direct)
    for raw in edges:
        try:
            eco, parent, pver, child, cver = _as_edge(raw)
        except ValueError:
            continue
        if not eco or not parent or not child:
            continue
        pc = components.get((eco, _canon(eco, parent), pver))
        if pc is None:
            continue
        cc = components.get((eco, _canon(eco, child), cver)) if cver else None
        if cc is None:
            options = by_pkg.get((eco, _canon(eco, child))) or []
            cc = options[0] if len(options) == 1 else None
        if cc is None or cc is pc:
            continue
        children.setdefault(str(pc.bom_ref), set()).add(str(cc.bom_ref))
        reached.add(str(cc.bom_ref))
    top = set(direct) | (set(by_ref) - reached)  # locked-only packages nothing reaches: direct as far as known
    if not top:
        top = set(by_ref)  # only lockfile cycles: no entry point is known, so all of them

    root_ref = f"project:{project}"
    root = Component(name=project, type=ComponentType.APPLICATION, bom_ref=root_ref)
    refs = {root_ref: root.bom_ref, **{r: c.bom_ref for r, c in by_ref.items()}}
    graph = [Dependency(ref=refs[r], dependencies=[Dependency(ref=refs[k]) for k in sorted(kids)])
             for r, kids in [(root_ref, top)] + sorted((r, children.get(r, set())) for r in by_ref)]
    digest = hashlib.sha256("\n".join([project] + sorted(by_ref)).encode()).hexdigest()
    bom = Bom(serial_number=uuid.uuid5(uuid.NAMESPACE_URL, f"anfl:sbom:{project}:{digest}"),
              components=components.values(), dependencies=graph)
    bom.metadata.component = root
    bom.metadata.timestamp = timestamp or datetime.datetime.now(datetime.timezone.utc)
    # The JSON outputter's Bom.validate() re-registers every component through a linear scan of
    # the dependency set (O(n^2) in the library); on this one instance, look them up by ref instead.
    index = {d.ref: d for d in graph}
    bom.register_dependency = types.MethodType(_indexed_register(index), bom)
    text = JsonV1Dot6(bom).output_as_string(indent=None)
    validate_sbom(text, project)
    return text.encode("utf-8")


def _indexed_register(index: dict):
    from cyclonedx.model.dependency import Dependency

    def register_dependency(self, target, depends_on=None) -> None:
        dep = index.get(target.bom_ref)
        if dep is None:
            dep = index[target.bom_ref] = Dependency(ref=target.bom_ref)
            self.dependencies.add(dep)
        for other in depends_on or ():
            dep.dependencies.add(Dependency(ref=other.bom_ref))
            self.register_dependency(other)

    return register_dependency


_VALIDATE_WHOLE_UP_TO = 200   # array items validated in one document; more go in chunks
_VALIDATE_CHUNK = 64


def validate_sbom(text: str | bytes, project: str = "") -> None:
    """Raise `SbomError` unless `text` is valid CycloneDX 1.6 JSON (message: what and where).

    Validated with cyclonedx-python-lib's `JsonStrictValidator(SchemaVersion.V1_6)`. jsonschema
    checks `uniqueItems` on arrays of objects pairwise (quadratic), so a large document is
    validated as its skeleton plus chunks of its top-level `components`/`dependencies`/`services`
    arrays, with their uniqueness checked exactly here: those arrays carry no other array-level
    constraint in the 1.6 schema (only `type`, `items`, `uniqueItems`), so this is equivalent.
    """
    global _VALIDATOR
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    if _VALIDATOR is None:
        _VALIDATOR = JsonStrictValidator(SchemaVersion.V1_6)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    who = f" for project {project!r}" if project else ""

    def check(doc_text: str, offset_key: str | None = None, offset: int = 0) -> None:
        err = _VALIDATOR.validate_str(doc_text)
        if err is None:
            return
        data = getattr(err, "data", None)
        path = list(getattr(data, "absolute_path", []) or [])
        if offset_key and len(path) >= 2 and path[0] == offset_key and isinstance(path[1], int):
            path[1] += offset
        what = getattr(data, "message", None) or str(err).split("\n", 1)[0]
        where = "/".join(str(p) for p in path)
        raise SbomError(f"CycloneDX 1.6 validation failed{who}: {what}" + (f" at /{where}" if where else ""))

    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise SbomError(f"CycloneDX 1.6 validation failed{who}: not JSON: {exc}") from None
    arrays = {k: v for k, v in doc.items() if k in ("components", "dependencies", "services")
              and isinstance(v, list)} if isinstance(doc, dict) else {}
    if sum(len(v) for v in arrays.values()) <= _VALIDATE_WHOLE_UP_TO:
        return check(text)
    for key, items in arrays.items():
        seen: set[str] = set()
        for i, item in enumerate(items):
            canon = json.dumps(item, sort_keys=True)
            if canon in seen:
                raise SbomError(f"CycloneDX 1.6 validation failed{who}: non-unique items at /{key}/{i}")
            seen.add(canon)
    skeleton = {k: v for k, v in doc.items() if k not in arrays}
    check(json.dumps(skeleton))
    for key, items in arrays.items():
        for i in range(0, len(items), _VALIDATE_CHUNK):
            check(json.dumps({**skeleton, key: items[i:i + _VALIDATE_CHUNK]}), key, i)
