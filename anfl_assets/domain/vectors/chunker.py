"""Cut files into retrievable chunks along their own structure.

Code follows `code_structure` symbols (functions, classes, methods; a class too big for
one chunk gives its header and one chunk per method), documentation follows headings,
configs follow YAML documents and top-level keys (sections for TOML/INI), infrastructure
follows resources and blocks (Terraform blocks, Kubernetes objects, Dockerfile stages).
Units too big for the model are split into line windows with overlap; tiny neighbours
are merged. Every chunk is headed by its path and enclosing symbol, and is measured with
the embedding model's own tokenizer (`count_tokens`), so nothing is silently truncated.

Secrets are replaced by `[REDACTED:<rule>]` before any of this (`redact`), so no chunk
text, and therefore no embedding request, ever holds one.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

CHUNKER_VERSION = 3
CATEGORY_INDEX = {"code": "code", "config": "config", "documentation": "docs", "infrastructure": "infra"}
YAML_INFRA = {"kubernetes", "helm", "compose", "ci", "ansible"}

CountTokens = Callable[[Sequence[str]], list[int]]


@dataclass(frozen=True, slots=True)
class Chunk:
    index: str          # code | config | docs | infra
    path: str
    start_line: int     # 1-based, inclusive
    end_line: int
    symbol: str | None  # enclosing symbol, heading, document/key or resource
    kind: str           # symbol | module | section | document | key | block | stage | window
    text: str           # header line + content, secrets redacted
    tokens: int

    @property
    def content_hash(self) -> str:
        return hashlib.blake2b(self.text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()

    def chunk_id(self, project: str) -> str:
        """Stable: the same text at the same place of the same project is the same id."""
        key = f"{project}\0{self.index}\0{self.path}\0{self.start_line}\0{self.end_line}\0{self.content_hash}"
        return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Unit:
    start: int
    end: int
    label: str | None
    kind: str
    mergeable: bool = True


def index_for(category: str | None) -> str | None:
    return CATEGORY_INDEX.get(category or "")


def redact(text: str, matches: Sequence) -> str:
    """Replace every secret match (objects with line, column, value, rule, context) in `text`.

    A value found verbatim on its line is replaced wherever it occurs there. A value that is not
    (a PEM key spread over lines, a key written with JSON escapes) takes every line it spans
    with it; an encoded one (base64 blob, notebook JSON escaping) the whole token at its column;
    if neither can be placed, the whole line goes, so a secret can never survive redaction.
    """
    if not matches:
        return text
    lines = text.split("\n")
    for m in sorted(matches, key=lambda m: (m.line, -len(m.value))):
        i = m.line - 1
        if not 0 <= i < len(lines):
            continue
        tag = f"[REDACTED:{m.rule}]"
        line = lines[i]
        if m.value and m.value in line:
            lines[i] = line.replace(m.value, tag)
            continue
        last = min(len(lines), getattr(m, "end_line", None) or m.line) - 1
        if last > i or getattr(m, "context", "text") == "text":  # assembled from lines or escapes
            lines[i:last + 1] = [tag] * (last + 1 - i)
            continue
        col = max(0, (m.column or 1) - 1)
        if col < len(line) and not line[col].isspace():
            start = col
            while start > 0 and not line[start - 1].isspace() and line[start - 1] not in "\"'=:":
                start -= 1
            end = col
            while end < len(line) and not line[end].isspace() and line[end] not in "\"',":
                end += 1
            lines[i] = line[:start] + tag + line[end:]
        else:
            lines[i] = tag
    return "\n".join(lines)


# ------------------------------------------------------------------ units per kind of file

_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_RST_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+])\1{2,}\s*$")
_YAML_TOP_KEY = re.compile(r"^([A-Za-z0-9_.\-\"'/$]+)\s*:(\s|$)")
_SECTION = re.compile(r"^\s*\[\[?([^\]]+)\]\]?\s*$")
_FROM = re.compile(r"^\s*FROM\s+(\S+)(?:\s+AS\s+(\S+))?", re.I)
_JSON_TOP_KEY = re.compile(r'^\s{0,4}"([^"]+)"\s*:')


def _gapped(units: list[Unit], n_lines: int, gap_kind: str = "module") -> list[Unit]:
    """Units in order, with the lines between them as their own (unlabelled) units."""
    out, pos = [], 1
    for u in sorted(units, key=lambda u: (u.start, -u.end)):
        if u.end < pos:
            continue  # nested inside the previous unit
        start = max(u.start, pos)
        if start > pos:
            out.append(Unit(pos, start - 1, None, gap_kind))
        out.append(Unit(start, u.end, u.label, u.kind, u.mergeable))
        pos = u.end + 1
    if pos <= n_lines:
        out.append(Unit(pos, n_lines, None, gap_kind))
    return out


def _symbol_units(symbols: Sequence[tuple], n_lines: int, line_tokens: list[int], budget: int) -> list[Unit]:
    """Top-level symbols; a class too big for one chunk becomes its header plus its methods."""
    top = [s for s in symbols if not s[4]]
    by_parent: dict[str, list[tuple]] = {}
    for s in symbols:
        if s[4]:
            by_parent.setdefault(s[4], []).append(s)
    units = []
    for kind, qual, start, end, _parent in top:
        start, end = max(1, int(start)), min(n_lines, int(end or start))
        size = sum(line_tokens[start - 1:end])
        members = sorted(by_parent.get(qual, []), key=lambda s: s[2])
        if size > budget and members:
            pos = start
            for m in members:
                m_start, m_end = max(pos, int(m[2])), min(end, int(m[3] or m[2]))
                if m_start > pos:
                    units.append(Unit(pos, m_start - 1, qual, "symbol"))
                if m_end >= m_start:
                    units.append(Unit(m_start, m_end, m[1], "symbol"))
                    pos = m_end + 1
            if pos <= end:
                units.append(Unit(pos, end, qual, "symbol"))
        else:
            units.append(Unit(start, end, qual, "symbol"))
    return _gapped(units, n_lines)


def _heading_units(lines: list[str]) -> list[Unit]:
    starts: list[tuple[int, str]] = []
    in_fence = False
    for i, line in enumerate(lines, 1):
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        m = _MD_HEADING.match(line)
        if m:
            starts.append((i, m.group(2)))
        elif i > 1 and _RST_UNDERLINE.match(line) and lines[i - 2].strip() and not _RST_UNDERLINE.match(lines[i - 2]):
            starts.append((i - 1, lines[i - 2].strip()))
    return _split_at(starts, len(lines), "section")


def _split_at(starts: list[tuple[int, str]], n_lines: int, kind: str) -> list[Unit]:
    if not starts:
        return [Unit(1, n_lines, None, "window")]
    units = []
    if starts[0][0] > 1:
        units.append(Unit(1, starts[0][0] - 1, None, kind))
    for (s, label), nxt in zip(starts, starts[1:] + [(n_lines + 1, "")]):
        if nxt[0] - 1 >= s:
            units.append(Unit(s, nxt[0] - 1, label, kind))
    return units


def _yaml_units(lines: list[str], by_document: bool) -> list[Unit]:
    """YAML documents (`---`); within a document, its top-level keys."""
    docs: list[tuple[int, int]] = []
    start = 1
    for i, line in enumerate(lines, 1):
        if line.startswith("---") and line[3:].strip() in ("", "|", ">") or line.rstrip() == "---":
            if i > start:
                docs.append((start, i - 1))
            start = i + 1
    if start <= len(lines):
        docs.append((start, len(lines)))
    units = []
    for d_start, d_end in docs:
        name = None
        for line in lines[d_start - 1:d_end]:
            m = re.match(r"^\s{2,4}name:\s*(\S+)", line)
            k = re.match(r"^kind:\s*(\S+)", line)
            if k:
                name = k.group(1) + (f"/{name}" if name else "")
            elif m and name and "/" not in name:
                name = f"{name}/{m.group(1)}"
        if by_document:
            units.append(Unit(d_start, d_end, name, "document", mergeable=False))
            continue
        keys = [(i, m.group(1).strip("\"'")) for i in range(d_start, d_end + 1)
                if (m := _YAML_TOP_KEY.match(lines[i - 1]))]
        if not keys:
            units.append(Unit(d_start, d_end, name, "document"))
            continue
        if keys[0][0] > d_start:
            units.append(Unit(d_start, keys[0][0] - 1, None, "key"))
        for (s, label), nxt in zip(keys, keys[1:] + [(d_end + 1, "")]):
            units.append(Unit(s, nxt[0] - 1, label, "key"))
    return units


def _section_units(lines: list[str]) -> list[Unit]:
    starts = [(i, m.group(1).strip()) for i, line in enumerate(lines, 1) if (m := _SECTION.match(line))]
    return _split_at(starts, len(lines), "section")


def _json_units(lines: list[str]) -> list[Unit]:
    starts = []
    depth = 0
    for i, line in enumerate(lines, 1):
        if depth == 1 and (m := _JSON_TOP_KEY.match(line)):
            starts.append((i, m.group(1)))
        depth += line.count("{") + line.count("[") - line.count("}") - line.count("]")
    return _split_at(starts, len(lines), "key")


def _dockerfile_units(lines: list[str]) -> list[Unit]:
    starts = [(i, f"stage {m.group(2) or m.group(1)}") for i, line in enumerate(lines, 1) if (m := _FROM.match(line))]
    return [Unit(u.start, u.end, u.label, "stage", mergeable=False) for u in _split_at(starts, len(lines), "stage")]


def units_for(index: str, path: str, lines: list[str], line_tokens: list[int], budget: int, *,
              config_format: str | None = None, infra_kind: str | None = None,
              symbols: Sequence[tuple] = ()) -> list[Unit]:
    """The structural units of one file (line ranges covering it), before packing."""
    n = len(lines)
    name = path.rsplit("/", 1)[-1].lower()
    if index == "code" or (index == "infra" and infra_kind == "terraform" and symbols):
        if symbols:
            units = _symbol_units(symbols, n, line_tokens, budget)
            if index == "infra":
                return [Unit(u.start, u.end, u.label, "block", u.mergeable) for u in units]
            return units
        return [Unit(1, n, None, "window")]
    if index == "infra":
        if infra_kind == "dockerfile" or "dockerfile" in name or name.endswith(".dockerfile"):
            return _dockerfile_units(lines)
        if infra_kind in YAML_INFRA or name.endswith((".yaml", ".yml")):
            return _yaml_units(lines, by_document=True)
        return [Unit(1, n, None, "window")]
    if index == "config":
        fmt = config_format or ""
        if fmt == "yaml" or name.endswith((".yaml", ".yml")):
            return _yaml_units(lines, by_document=False)
        if fmt in ("toml", "ini") or name.endswith((".toml", ".ini", ".cfg", ".conf")):
            return _section_units(lines)
        if fmt == "json" or name.endswith(".json"):
            return _json_units(lines)
        return [Unit(1, n, None, "window")]
    return _heading_units(lines)


# ------------------------------------------------------------------ notebooks

def notebook_text(raw: str) -> tuple[str, list[int]] | None:
    """A Jupyter notebook as readable text (markdown as is, code fenced, text outputs), and for
    each of its lines the line of the .ipynb where that cell starts. None if it is not one."""
    import json

    try:
        nb = json.loads(raw)
        cells = nb["cells"]
    except (ValueError, KeyError, TypeError):
        return None
    cell_lines = [i for i, line in enumerate(raw.split("\n"), 1) if '"cell_type"' in line]
    lines: list[str] = []
    origin: list[int] = []
    for n, cell in enumerate(cells if isinstance(cells, list) else []):
        if not isinstance(cell, dict):
            continue
        at = cell_lines[n] if n < len(cell_lines) else (origin[-1] if origin else 1)
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        if cell.get("cell_type") == "code":
            block = ["```python", *source.split("\n"), "```"]
            for out in cell.get("outputs") or []:
                text = out.get("text") or (out.get("data") or {}).get("text/plain") if isinstance(out, dict) else None
                if text:
                    text = "".join(text) if isinstance(text, list) else str(text)
                    block += ["Output:", *text.split("\n")[:40]]
        else:
            block = source.split("\n")
        lines += block + [""]
        origin += [at] * (len(block) + 1)
    return "\n".join(lines), origin


# ------------------------------------------------------------------ packing

def _header(path: str, label: str | None) -> str:
    return f"{path} :: {label}" if label else path


def chunk_text(index: str, path: str, text: str, count_tokens: CountTokens, *, max_tokens: int = 256,
               min_tokens: int = 48, overlap_lines: int = 2, config_format: str | None = None,
               infra_kind: str | None = None, symbols: Sequence[tuple] = ()) -> list[Chunk]:
    """Chunks of one (already redacted) file. `symbols`: (kind, qualified_name, start, end, parent).

    `max_tokens` is the model's input limit in its own word pieces; two are kept for its
    special tokens. Every chunk's `tokens` is measured on its final text.
    """
    origin = None
    if path.endswith(".ipynb"):
        converted = notebook_text(text)
        if converted is not None:
            text, origin = converted
            index_kind = "docs"  # cells read as prose with code: split them by headings
        else:
            index_kind = index
    else:
        index_kind = index
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not any(line.strip() for line in lines):
        return []
    line_tokens = count_tokens(lines)
    limit = max_tokens - 2
    header_tokens = count_tokens([path + " :: " + "x" * 24])[0]
    budget = max(16, limit - header_tokens)
    units = units_for(index_kind, path, lines, line_tokens, budget, config_format=config_format,
                      infra_kind=infra_kind, symbols=() if origin is not None else symbols)

    pieces: list[Unit] = []
    for u in units:
        if not any(lines[i].strip() for i in range(u.start - 1, u.end)):
            continue
        if sum(line_tokens[u.start - 1:u.end]) <= budget:
            pieces.append(u)
        else:
            pieces.extend(_windows(u, line_tokens, budget, overlap_lines))
    merged: list[Unit] = []
    for u in pieces:
        if merged:
            prev = merged[-1]
            prev_tokens = sum(line_tokens[prev.start - 1:prev.end])
            tokens = sum(line_tokens[u.start - 1:u.end])
            small = prev_tokens < min_tokens or tokens < min_tokens
            if (small and prev.mergeable and u.mergeable and prev.end + 1 >= u.start
                    and prev_tokens + tokens + sum(line_tokens[prev.end:u.start - 1]) <= budget):
                label = prev.label or u.label
                if prev.label and u.label and prev.label != u.label:
                    label = f"{prev.label}, {u.label}"
                merged[-1] = Unit(prev.start, u.end, label, prev.kind if prev.label else u.kind)
                continue
        merged.append(u)

    texts = []  # (order key, unit, body)
    for n, u in enumerate(merged):
        body = "\n".join(lines[u.start - 1:u.end])
        if sum(line_tokens[u.start - 1:u.end]) > budget:  # one line longer than the budget: cut it
            texts.extend(((n, i), u, part) for i, part in enumerate(_cut_long(body, line_tokens[u.start - 1:u.end],
                                                                              budget)))
        else:
            texts.append(((n,), u, body))
    done = []
    while texts:
        headed = [f"{_header(path, u.label)}\n{body}" for _, u, body in texts]
        again = []
        for (order, u, body), full, tokens in zip(texts, headed, count_tokens(headed)):
            if tokens <= limit or len(body) < 2:
                done.append((order, Chunk(index, path, u.start, u.end, u.label, u.kind, full, tokens)))
            else:  # denser than estimated: halve until it fits
                half = len(body) // 2
                again += [(order + (0,), u, body[:half]), (order + (1,), u, body[half:])]
        texts = again
    chunks = [c for _, c in sorted(done, key=lambda t: t[0])]
    if origin is not None:  # notebook: report the .ipynb lines the chunk's cells start on
        chunks = [Chunk(c.index, c.path, origin[min(c.start_line, len(origin)) - 1],
                        origin[min(c.end_line, len(origin)) - 1], c.symbol, c.kind, c.text, c.tokens) for c in chunks]
    return chunks


def _windows(u: Unit, line_tokens: list[int], budget: int, overlap: int) -> list[Unit]:
    out = []
    start = u.start
    while start <= u.end:
        total, end = 0, start
        while end <= u.end and (total + line_tokens[end - 1] <= budget or end == start):
            total += line_tokens[end - 1]
            end += 1
        out.append(Unit(start, end - 1, u.label, u.kind if u.kind != "symbol" else "symbol", mergeable=False))
        if end > u.end:
            break
        start = max(start + 1, end - overlap)
    return out


def _cut_long(body: str, line_tokens: list[int], budget: int) -> list[str]:
    total = max(1, sum(line_tokens))
    chars = max(16, int(len(body) * budget / total * 0.9))
    return [body[i:i + chars] for i in range(0, len(body), chars)]
