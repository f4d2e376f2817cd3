"""Run the enrichment extractors incrementally against the warehouse, one function per asset.

Each `refresh_*` plans work with `incremental.plan_work` (files whose content
hash or extractor version changed), reads and extracts only those in worker
processes, and commits new rows plus the processed record in one transaction.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from anfl_assets.domain.enrich import classify, code_structure
from anfl_assets.domain.enrich.incremental import (
    PROCESSED_SCHEMA,
    commit_work,
    full_path,
    plan_work,
    pool_map,
    read_bytes,
)
from anfl_assets.domain.projects import Project
from anfl_assets.domain.warehouse import Warehouse

HEAD_BYTES = 8192
MAX_SOURCE_BYTES = 2_000_000  # bigger "source" files are generated or data; symbols are not useful there


@dataclass
class EnrichStats:
    files: int = 0
    processed: int = 0
    reused: int = 0
    errors: int = 0
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)


def _processed_table(project: str, extractor: str, version: str, paths: list[str], blake3s: list[str],
                     errors: list[str | None], error_lines: list[int | None],
                     skipped: list[str | None]) -> pa.Table:
    n = len(paths)
    return pa.table({
        "project": [project] * n, "extractor": [extractor] * n, "path": paths, "blake3": blake3s,
        "version": [version] * n, "error": errors, "error_line": error_lines, "skipped": skipped,
    }, schema=PROCESSED_SCHEMA)


# ---------------------------------------------------------------- classification

CLASSIFY_FILES_SQL = (
    "SELECT path, path_raw, blake3, file_type, is_text, size FROM inventory.files "
    "WHERE project = ? AND kind = 'file' AND blake3 IS NOT NULL"
)
_classifiers: dict[tuple, classify.Classifier] = {}


def _classifier(extra_rules: str | None) -> classify.Classifier:
    key = (extra_rules,)
    if key not in _classifiers:
        _classifiers[key] = classify.Classifier(extra_rules_path=Path(extra_rules) if extra_rules else None)
    return _classifiers[key]


def _classify_chunk(args: tuple) -> list[tuple]:
    root, extra_rules, rows = args
    clf = _classifier(extra_rules)
    out = []
    for path, path_raw, file_type, is_text, size in rows:
        head = read_bytes(full_path(root, path, path_raw), HEAD_BYTES) or b""
        c = clf.classify(path, head, file_type, is_text, size)
        out.append((c.category, c.language, c.config_format, c.infra_kind, c.rule))
    return out


def refresh_file_classes(wh: Warehouse, project: Project, extra_rules: str | None = None,
                         workers: int = 1) -> EnrichStats:
    t0 = time.perf_counter()
    version = _classifier(extra_rules).version
    work = plan_work(wh, project.name, "classify", version, CLASSIFY_FILES_SQL, [project.name])
    todo = work.todo
    rows = list(zip(*(todo[c].to_pylist() for c in ("path", "path_raw", "file_type", "is_text", "size"))))
    chunks = [(project.root, extra_rules, rows[i:i + 512]) for i in range(0, len(rows), 512)]
    results = [r for part in pool_map(_classify_chunk, chunks, workers) for r in part]
    cols = list(zip(*results)) if results else [[], [], [], [], []]
    n = todo.num_rows
    classes = pa.table({
        "project": [project.name] * n, "path": todo["path"],
        "category": pa.array(cols[0], pa.string()), "language": pa.array(cols[1], pa.string()),
        "config_format": pa.array(cols[2], pa.string()), "infra_kind": pa.array(cols[3], pa.string()),
        "rule": pa.array(cols[4], pa.string()),
    })
    processed = _processed_table(project.name, "classify", version, todo["path"].to_pylist(),
                                 todo["blake3"].to_pylist(), [None] * n, [None] * n, [None] * n)
    commit_work(wh, project.name, "classify", work, {"enrich.file_classes": classes}, processed)
    return EnrichStats(files=work.current.num_rows, processed=n, reused=work.reused,
                       seconds=time.perf_counter() - t0)


# ---------------------------------------------------------------- code structure

CODE_FILES_SQL = (
    "SELECT f.path, f.path_raw, f.blake3, f.size, f.file_type, c.language FROM inventory.files f "
    "JOIN enrich.file_classes c ON c.project = f.project AND c.path = f.path "
    "WHERE f.project = ? AND f.kind = 'file' AND f.blake3 IS NOT NULL AND c.category = 'code'"
)


def _structure_chunk(args: tuple) -> list[tuple]:
    root, rows = args
    out = []
    for path, path_raw, size, file_type, language in rows:
        lang = code_structure.language_for(path, file_type)
        if lang is None:
            out.append((None, None, None, None, "no structure extractor for this language"))
            continue
        if (size or 0) > MAX_SOURCE_BYTES:
            out.append((lang, None, None, None, f"larger than {MAX_SOURCE_BYTES:,} bytes"))
            continue
        source = read_bytes(full_path(root, path, path_raw), MAX_SOURCE_BYTES + 1)
        if source is None:
            out.append((lang, None, "unreadable", None, None))
            continue
        s = code_structure.extract_structure(lang, source)
        out.append((lang, s, s.error, _error_line(s.error), None))
    return out


def _error_line(message: str | None) -> int | None:
    import re

    if not message:
        return None
    m = re.search(r"line (\d+)", message)
    return int(m.group(1)) if m else None


def refresh_code_structure(wh: Warehouse, project: Project, workers: int = 1) -> EnrichStats:
    t0 = time.perf_counter()
    version = str(code_structure.EXTRACTOR_VERSION)
    work = plan_work(wh, project.name, "code_structure", version, CODE_FILES_SQL, [project.name])
    todo = work.todo
    rows = list(zip(*(todo[c].to_pylist() for c in ("path", "path_raw", "size", "file_type", "language"))))
    chunks = [(project.root, rows[i:i + 128]) for i in range(0, len(rows), 128)]
    results = [r for part in pool_map(_structure_chunk, chunks, workers) for r in part]

    sym_cols: dict[str, list] = {k: [] for k in ("path", "language", "kind", "name", "qualified_name",
                                                 "start_line", "end_line", "doc", "parent")}
    imp_cols: dict[str, list] = {k: [] for k in ("path", "language", "module", "name", "line")}
    errors, error_lines, skipped = [], [], []
    for (path, *_), (lang, structure, error, error_line, skip) in zip(rows, results):
        errors.append(error)
        error_lines.append(error_line)
        skipped.append(skip)
        if structure is None:
            continue
        for kind, name, qualified, start, end, doc, parent in structure.symbols:
            for k, v in zip(sym_cols, (path, lang, kind, name, qualified, start, end, doc, parent)):
                sym_cols[k].append(v)
        for module, name, line in structure.imports:
            for k, v in zip(imp_cols, (path, lang, module, name, line)):
                imp_cols[k].append(v)
    symbols = pa.table({"project": [project.name] * len(sym_cols["path"]), **sym_cols})
    imports = pa.table({"project": [project.name] * len(imp_cols["path"]), **imp_cols})
    processed = _processed_table(project.name, "code_structure", version, todo["path"].to_pylist(),
                                 todo["blake3"].to_pylist(), errors, error_lines, skipped)
    commit_work(wh, project.name, "code_structure", work,
                {"enrich.code_symbols": symbols, "enrich.code_imports": imports}, processed)
    return EnrichStats(files=work.current.num_rows, processed=todo.num_rows, reused=work.reused,
                       errors=sum(e is not None for e in errors), seconds=time.perf_counter() - t0,
                       extra={"symbols": symbols.num_rows, "imports": imports.num_rows})

