"""Run the enrichment extractors incrementally against the warehouse, one function per asset.

Each `refresh_*` plans work with `incremental.plan_work` (files whose content
hash or extractor version changed), reads and extracts only those in worker
processes, and commits new rows plus the processed record in one transaction.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from anfl_assets.domain.enrich import classify, code_structure, config_patterns, dependencies
from anfl_assets.domain.enrich.incremental import (
    UNREADABLE,
    WorkStats,
    commit_work,
    full_path,
    plan_work,
    processed_table,
    pool_map,
    read_bytes,
)
from anfl_assets.domain.projects import Project
from anfl_assets.domain.warehouse import Warehouse, insert_rows

HEAD_BYTES = 8192
MAX_SOURCE_BYTES = 2_000_000  # bigger "source" files are generated or data; symbols are not useful there


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
    root = os.fsencode(root)  # once, not per file
    clf = _classifier(extra_rules)
    out = []
    for path, path_raw, file_type, is_text, size in rows:
        head = read_bytes(full_path(root, path, path_raw), HEAD_BYTES) or b""
        c = clf.classify(path, head, file_type, is_text, size)
        out.append((c.category, c.language, c.config_format, c.infra_kind, c.rule))
    return out


def refresh_file_classes(wh: Warehouse, project: Project, extra_rules: str | None = None,
                         workers: int = 1) -> WorkStats:
    t0 = time.perf_counter()
    version = _classifier(extra_rules).version
    with plan_work(wh, project.name, "classify", version, CLASSIFY_FILES_SQL, [project.name], hold=True) as work:
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
        processed = processed_table(project.name, "classify", version, todo["path"].to_pylist(),
                                     todo["blake3"].to_pylist(), [None] * n, [None] * n, [None] * n)
        commit_work(wh, project.name, "classify", work, {"enrich.file_classes": classes}, processed, stamp=True)
    return WorkStats(files=work.files, processed=n, reused=work.reused,
                       seconds=time.perf_counter() - t0)


# ---------------------------------------------------------------- code structure

CODE_FILES_SQL = (
    "SELECT f.path, f.path_raw, f.blake3, f.size, f.file_type, c.language FROM inventory.files f "
    "JOIN enrich.file_classes c ON c.project = f.project AND c.path = f.path "
    "WHERE f.project = ? AND f.kind = 'file' AND f.blake3 IS NOT NULL "
    "AND (c.category = 'code' OR c.infra_kind = 'terraform')"
)


_SYMBOL_SCHEMA = pa.schema([
    ("path", pa.string()), ("language", pa.string()), ("kind", pa.string()), ("name", pa.string()),
    ("qualified_name", pa.string()), ("start_line", pa.int64()), ("end_line", pa.int64()),
    ("doc", pa.string()), ("parent", pa.string()),
])
_IMPORT_SCHEMA = pa.schema([
    ("path", pa.string()), ("language", pa.string()), ("module", pa.string()), ("name", pa.string()),
    ("line", pa.int64()),
])
# Work is cut into chunks of about this many source bytes (and at most CHUNK_FILES files), so
# the chunks cost about the same and the two ends of a pool finish together.
CHUNK_BYTES = 1_000_000
CHUNK_FILES = 128
# Less than this in all is parsed in this process: forking workers and loading grammars in
# each would cost more than it saves (an incremental run touches a few files).
IN_PROCESS_BYTES = 2_000_000


def _workers_for(total_bytes: int | None, workers: int) -> int:
    """1 (this process) for less than IN_PROCESS_BYTES of files, else `workers`."""
    return 1 if (total_bytes or 0) < IN_PROCESS_BYTES else workers


def _structure_chunk(args: tuple) -> tuple[list, list, list, list, list, pa.Table, pa.Table]:
    """Extract one chunk of files: (errors, error lines, skipped, symbols per file, imports per
    file, symbols, imports), the rows as Arrow tables built here in the worker rather than row
    by row in the parent."""
    root, rows = args
    root = os.fsencode(root)  # once, not per file
    errors, error_lines, skipped, n_symbols, n_imports = [], [], [], [], []
    sym_cols: list[list] = [[] for _ in _SYMBOL_SCHEMA]
    imp_cols: list[list] = [[] for _ in _IMPORT_SCHEMA]
    s_path, s_lang, s_kind, s_name, s_qual, s_start, s_end, s_doc, s_parent = sym_cols
    i_path, i_lang, i_module, i_name, i_line = imp_cols
    for path, path_raw, size, file_type in rows:
        before_s, before_i = len(s_path), len(i_path)
        _extract_one(root, path, path_raw, size, file_type, errors, error_lines, skipped, sym_cols, imp_cols)
        n_symbols.append(len(s_path) - before_s)
        n_imports.append(len(i_path) - before_i)
    symbols = pa.Table.from_arrays([pa.array(c, f.type) for c, f in zip(sym_cols, _SYMBOL_SCHEMA)],
                                   schema=_SYMBOL_SCHEMA)
    imports = pa.Table.from_arrays([pa.array(c, f.type) for c, f in zip(imp_cols, _IMPORT_SCHEMA)],
                                   schema=_IMPORT_SCHEMA)
    return errors, error_lines, skipped, n_symbols, n_imports, symbols, imports


def _extract_one(root, path, path_raw, size, file_type, errors, error_lines, skipped, sym_cols, imp_cols) -> None:
    """One file's outcome appended to the per-file lists and its rows to the columns."""
    s_path, s_lang, s_kind, s_name, s_qual, s_start, s_end, s_doc, s_parent = sym_cols
    i_path, i_lang, i_module, i_name, i_line = imp_cols
    lang = code_structure.language_for(path, file_type)
    if lang is None:
        errors.append(None)
        error_lines.append(None)
        skipped.append("no structure extractor for this language")
        return
    if (size or 0) > MAX_SOURCE_BYTES:
        errors.append(None)
        error_lines.append(None)
        skipped.append(f"larger than {MAX_SOURCE_BYTES:,} bytes")
        return
    source = read_bytes(full_path(root, path, path_raw), MAX_SOURCE_BYTES + 1)
    if source is None:
        errors.append(UNREADABLE)
        error_lines.append(None)
        skipped.append(None)
        return
    st = code_structure.extract_structure(lang, source)
    errors.append(st.error)
    error_lines.append(_error_line(st.error))
    skipped.append(None)
    if st.symbols:
        n = len(st.symbols)
        s_path.extend([path] * n)
        s_lang.extend([lang] * n)
        kind, name, qual, start, end, doc, parent = zip(*st.symbols)
        s_kind.extend(kind)
        s_name.extend(name)
        s_qual.extend(qual)
        s_start.extend(start)
        s_end.extend(end)
        s_doc.extend(doc)
        s_parent.extend(parent)
    if st.imports:
        n = len(st.imports)
        i_path.extend([path] * n)
        i_lang.extend([lang] * n)
        module, name, line = zip(*st.imports)
        i_module.extend(module)
        i_name.extend(name)
        i_line.extend(line)


_LINE_RE = re.compile(r"line (\d+)")


def _error_line(message: str | None) -> int | None:
    if not message:
        return None
    m = _LINE_RE.search(message)
    return int(m.group(1)) if m else None


def _byte_chunks(rows: list[tuple], sizes: list[int | None], max_bytes: int, max_files: int) -> list[list[tuple]]:
    """Consecutive runs of rows (order kept) of at most `max_files` rows and, unless a single
    row is bigger, at most `max_bytes` bytes."""
    chunks: list[list[tuple]] = []
    current: list[tuple] = []
    total = 0
    for row, size in zip(rows, sizes):
        size = min(size or 0, MAX_SOURCE_BYTES)
        if current and (len(current) >= max_files or total + size > max_bytes):
            chunks.append(current)
            current, total = [], 0
        current.append(row)
        total += size
    if current:
        chunks.append(current)
    return chunks


def _with_project(table: pa.Table, project: str) -> pa.Table:
    return table.add_column(0, "project", pa.array([project] * table.num_rows, pa.string()))


def _same_content(todo: pa.Table) -> list[int]:
    """For each row, the first row with the same content and language (itself when none):
    extraction depends on (language, bytes) only, so identical files are extracted once."""
    first: dict[tuple, int] = {}
    canon = []
    for i, (b3, path, file_type, size) in enumerate(zip(*(todo[c].to_pylist() for c in
                                                          ("blake3", "path", "file_type", "size")))):
        lang = code_structure.language_for(path, file_type)
        if lang is None or b3 is None or (size or 0) > MAX_SOURCE_BYTES:
            canon.append(i)
        else:
            canon.append(first.setdefault((b3, lang), i))
    return canon


def _expand(table: pa.Table, counts: list[int], source: list[int], paths: list[str]) -> pa.Table:
    """Rows for every file from the rows of the file it shares content with: `table` holds
    `counts[k]` rows for extracted file k in order; file i takes those of `source[i]`, path its own."""
    counts_np = np.asarray(counts, dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(counts_np)[:-1])) if len(counts_np) else counts_np
    src = np.asarray(source, dtype=np.int64)
    lens = counts_np[src]
    total = int(lens.sum())
    ends = np.cumsum(lens)
    idx = np.arange(total, dtype=np.int64) - np.repeat(ends - lens, lens) + np.repeat(starts[src], lens)
    out = table.take(pa.array(idx))
    owner = np.repeat(np.arange(len(paths), dtype=np.int64), lens)
    return out.set_column(out.schema.get_field_index("path"), "path",
                          pa.array(paths, pa.string()).take(pa.array(owner)))


def refresh_code_structure(wh: Warehouse, project: Project, workers: int = 1) -> WorkStats:
    t0 = time.perf_counter()
    version = str(code_structure.EXTRACTOR_VERSION)
    with plan_work(wh, project.name, "code_structure", version, CODE_FILES_SQL, [project.name], hold=True) as work:
        todo = work.todo
        rows = list(zip(*(todo[c].to_pylist() for c in ("path", "path_raw", "size", "file_type"))))
        canon = _same_content(todo)
        unique = [i for i, c in enumerate(canon) if c == i]
        run_rows = [rows[i] for i in unique] if len(unique) < len(rows) else rows
        sizes = [min(r[2] or 0, MAX_SOURCE_BYTES) for r in run_rows]
        chunks = [(project.root, chunk) for chunk in _byte_chunks(run_rows, sizes, CHUNK_BYTES, CHUNK_FILES)]
        parts = pool_map(_structure_chunk, chunks, _workers_for(sum(sizes), workers))
        errors, error_lines, skipped, n_symbols, n_imports = (
            [v for part in parts for v in part[k]] for k in range(5))
        symbols = pa.concat_tables([part[5] for part in parts]) if parts else _SYMBOL_SCHEMA.empty_table()
        imports = pa.concat_tables([part[6] for part in parts]) if parts else _IMPORT_SCHEMA.empty_table()
        del parts

        if len(unique) < len(rows):
            # A copy whose original could not be read is tried on its own.
            position = {row: k for k, row in enumerate(unique)}
            retry = [i for i, c in enumerate(canon) if c != i and errors[position[c]] == UNREADABLE]
            if retry:
                extra = _structure_chunk((project.root, [rows[i] for i in retry]))
                for i, k in zip(retry, range(len(retry))):
                    position[i] = len(errors) + k
                for lst, add in zip((errors, error_lines, skipped, n_symbols, n_imports), extra[:5]):
                    lst.extend(add)
                symbols = pa.concat_tables([symbols, extra[5]])
                imports = pa.concat_tables([imports, extra[6]])
                for i in retry:
                    canon[i] = i
            source = [position[c] for c in canon]
            paths = [r[0] for r in rows]
            errors, error_lines, skipped = ([lst[k] for k in source] for lst in (errors, error_lines, skipped))
            symbols = _expand(symbols, n_symbols, source, paths)
            imports = _expand(imports, n_imports, source, paths)
        symbols = _with_project(symbols, project.name)
        imports = _with_project(imports, project.name)
        processed = processed_table(project.name, "code_structure", version, todo["path"].to_pylist(),
                                     todo["blake3"].to_pylist(), errors, error_lines, skipped)
        commit_work(wh, project.name, "code_structure", work,
                    {"enrich.code_symbols": symbols, "enrich.code_imports": imports}, processed)
    return WorkStats(files=work.files, processed=todo.num_rows, reused=work.reused,
                       errors=sum(e is not None for e in errors), seconds=time.perf_counter() - t0,
                       extra={"symbols": symbols.num_rows, "imports": imports.num_rows})


# ---------------------------------------------------------------- config patterns

CONFIG_FILES_SQL = (
    "SELECT f.path, f.path_raw, f.blake3, f.size, f.file_type FROM inventory.files f "
    "JOIN enrich.file_classes c ON c.project = f.project AND c.path = f.path "
    "WHERE f.project = ? AND f.kind = 'file' AND f.blake3 IS NOT NULL "
    "AND c.category IN ('config', 'infrastructure')"
)
MAX_CONFIG_BYTES = 5_000_000


def _config_chunk(args: tuple) -> list[tuple]:
    """(format, facts or None, error, error_line, skipped) per file."""
    root, key, rows = args
    out = []
    for path, path_raw, size, file_type in rows:
        fmt = config_patterns.config_format_for(path, file_type)
        if fmt is None:
            out.append((None, None, None, None, "not a config format"))
        elif fmt == "hcl" and path.endswith(".tf"):
            out.append((fmt, None, None, None, "terraform source: structure comes from code_structure"))
        elif (size or 0) > MAX_CONFIG_BYTES:
            out.append((fmt, None, None, None, f"larger than {MAX_CONFIG_BYTES:,} bytes"))
        else:
            content = read_bytes(full_path(root, path, path_raw), MAX_CONFIG_BYTES + 1)
            if content is None:
                out.append((fmt, None, UNREADABLE, None, None))
                continue
            facts = config_patterns.extract_config(path, content, fmt, key)
            out.append((fmt, facts, facts.error, facts.error_line, facts.skipped))
    return out


def refresh_config_patterns(wh: Warehouse, project: Project, fingerprint_key: bytes,
                            workers: int = 1) -> WorkStats:
    t0 = time.perf_counter()
    version = str(config_patterns.EXTRACTOR_VERSION)
    work = plan_work(wh, project.name, "config_patterns", version, CONFIG_FILES_SQL, [project.name])
    todo = work.todo
    rows = list(zip(*(todo[c].to_pylist() for c in ("path", "path_raw", "size", "file_type"))))
    chunks = [(project.root, fingerprint_key, rows[i:i + 64]) for i in range(0, len(rows), 64)]
    in_bytes = pc.sum(todo["size"]).as_py()
    results = [r for part in pool_map(_config_chunk, chunks, _workers_for(in_bytes, workers)) for r in part]

    key_cols: dict[str, list] = {k: [] for k in ("path", "format", "doc_index", "key_path", "value_type",
                                                 "value_fingerprint", "is_secret_key", "display_value", "line")}
    k8s_cols: dict[str, list] = {k: [] for k in ("path", "doc_index", "object_path", "api_version", "kind", "name",
                                                 "namespace", "images", "replicas", "resources", "labels", "line")}
    errors, error_lines, skipped = [], [], []
    for (path, *_), (fmt, facts, error, error_line, skip) in zip(rows, results):
        errors.append(error)
        error_lines.append(error_line)
        skipped.append(skip)
        if facts is None:
            continue
        for k in facts.keys:
            for col, v in zip(key_cols, (path, fmt, *k)):
                key_cols[col].append(v)
        for o in facts.k8s:
            values = (path, o.doc_index, o.object_path, o.api_version, o.kind, o.name, o.namespace, o.images,
                      o.replicas, json.dumps(o.resources, sort_keys=True), json.dumps(o.labels, sort_keys=True),
                      o.line)
            for col, v in zip(k8s_cols, values):
                k8s_cols[col].append(v)
    keys = pa.table({"project": [project.name] * len(key_cols["path"]), **key_cols})
    k8s = pa.table({"project": [project.name] * len(k8s_cols["path"]), **{
        c: pa.array(v, pa.list_(pa.string())) if c == "images" else v for c, v in k8s_cols.items()}})
    processed = processed_table(project.name, "config_patterns", version, todo["path"].to_pylist(),
                                 todo["blake3"].to_pylist(), errors, error_lines, skipped)
    commit_work(wh, project.name, "config_patterns", work,
                {"enrich.config_keys": keys, "enrich.k8s_resources": k8s}, processed)
    drift = _refresh_drift(wh, project.name, work.stale["path"].to_pylist())
    return WorkStats(files=work.files, processed=todo.num_rows, reused=work.reused,
                       errors=sum(e is not None for e in errors), seconds=time.perf_counter() - t0,
                       extra={"keys": keys.num_rows, "k8s objects": k8s.num_rows, "drift": drift})


def _drift_family(path: str) -> str | None:
    found = config_patterns.environment_of(path)
    return config_patterns.folder_family(found[1]) if found is not None else None


def _refresh_drift(wh: Warehouse, project: str, changed_paths: list[str]) -> int:
    """Drift of the overlay families that `changed_paths` (re-processed or gone) belong to,
    recomputed from their stored key rows; every other family's rows stay as they are.

    A family is what `compute_drift` compares together (one config across environments, and the
    other files of a folder-based overlay, which share its environment list), so its rows depend
    on its own files only: recomputing the changed families gives the same table as recomputing
    everything, without reading the key rows of the rest of the project. Returns the number of
    drift rows the project now has."""
    families = {f for f in map(_drift_family, changed_paths) if f is not None}
    if not families:
        with wh.read() as con:
            return con.execute("SELECT count(*) FROM enrich.config_drift WHERE project = ?",
                               [project]).fetchall()[0][0]
    with wh.read() as con:  # the stored rows of the changed families (this step alone writes them)
        stored_paths = con.sql("SELECT DISTINCT path FROM enrich.config_keys WHERE project = ?",
                               params=[project]).to_arrow_table()["path"].to_pylist()
        failed = con.sql("SELECT path FROM enrich.processed WHERE project = ? AND extractor = 'config_patterns' "
                         "AND (error IS NOT NULL OR (skipped IS NOT NULL AND skipped <> 'not a config format'))",
                         params=[project]).to_arrow_table()["path"].to_pylist()
        old_identities = con.sql("SELECT DISTINCT config_identity FROM enrich.config_drift WHERE project = ?",
                                 params=[project]).to_arrow_table()["config_identity"].to_pylist()
        # only the rows of files in the changed families are turned into Python objects (in order)
        family_paths = [path for path in stored_paths if _drift_family(path) in families]
        keys_by_file: dict[str, list | None] = {}
        if family_paths:
            con.register("family_paths", pa.table({"path": family_paths}))
            rows = con.sql(
                "SELECT path, doc_index, key_path, value_type, value_fingerprint, is_secret_key, display_value, line "
                "FROM enrich.config_keys WHERE project = ? AND path IN (SELECT path FROM family_paths) "
                "ORDER BY path, rowid", params=[project]).to_arrow_table()
            key_row = config_patterns.KeyRow._make
            for path, *values in zip(*(rows[c].to_pylist() for c in rows.column_names)):
                keys_by_file.setdefault(path, []).append(key_row(values))
    for path in failed:
        if _drift_family(path) in families:
            keys_by_file[path] = None
    # compared outside the lock (seconds on a full run): other steps write meanwhile
    drift = config_patterns.compute_drift(keys_by_file)
    table = pa.table({
        "project": [project] * len(drift),
        "config_identity": [d.config_identity for d in drift],
        "key_path": [d.key_path for d in drift],
        "drift_kind": [d.kind for d in drift],
        "environments_present": pa.array([d.environments_present for d in drift], pa.list_(pa.string())),
        "environments_missing": pa.array([d.environments_missing for d in drift], pa.list_(pa.string())),
        "values_by_env": [json.dumps(d.values_by_env, sort_keys=True, default=str) for d in drift],
        "doc_index": pa.array([d.doc_index for d in drift], pa.int32()),
    })
    replaced = [i for i in old_identities if config_patterns.folder_family(i) in families]
    with wh.write() as con:
        if replaced:
            con.register("replaced_identities", pa.table({"config_identity": pa.array(replaced, pa.string())}))
            con.execute("DELETE FROM enrich.config_drift WHERE project = ? AND config_identity IN "
                        "(SELECT config_identity FROM replaced_identities)", [project])
        insert_rows(con, "enrich.config_drift", table)
        return con.execute("SELECT count(*) FROM enrich.config_drift WHERE project = ?", [project]).fetchall()[0][0]


# ---------------------------------------------------------------- dependency map

DEPENDENCY_FILES_SQL = (
    "SELECT path, path_raw, blake3, size, file_type FROM inventory.files "
    "WHERE project = ? AND kind = 'file' AND blake3 IS NOT NULL"
)
SBOM_LAYOUT_VERSION = 1  # bump when the SBOM built from the same rows changes shape
MAX_MANIFEST_BYTES = 20_000_000  # lockfiles run large; beyond this it is not a hand-kept manifest


def _dependency_sources(files: pa.Table) -> pa.Table:
    keep = [dependencies.is_dependency_source(p, t) for p, t in
            zip(files["path"].to_pylist(), files["file_type"].to_pylist())]
    return files.filter(pa.array(keep, pa.bool_()))


def _dependency_chunk(args: tuple) -> list[tuple]:
    """(DeclaredDeps or None, error, skipped) per file."""
    root, rows = args
    out = []
    for path, path_raw, size, file_type in rows:
        if (size or 0) > MAX_MANIFEST_BYTES:
            out.append((None, None, f"larger than {MAX_MANIFEST_BYTES:,} bytes"))
            continue
        content = read_bytes(full_path(root, path, path_raw), MAX_MANIFEST_BYTES + 1)
        if content is None:
            out.append((None, UNREADABLE, None))
            continue
        deps = dependencies.extract_declared(path, content, file_type)
        out.append((deps, deps.error, None))
    return out


def _python_import_module(module: str | None, name: str | None) -> str | None:
    """`from pkg import mod` may import a module: resolve `pkg.mod` (the resolver falls back to pkg)."""
    if module is None or not name or name == "*":
        return module
    return module + name if module.endswith(".") else f"{module}.{name}"


def refresh_dependencies(wh: Warehouse, project: Project, store, workers: int = 1) -> WorkStats:
    """Manifests, lockfiles and infrastructure files parsed incrementally into
    `enrich.declared_dependencies` (+ lockfile edges and what the project publishes); import
    edges and usage marks derived from all stored rows; the CycloneDX SBOM rebuilt only when
    its inputs changed."""
    t0 = time.perf_counter()
    version = str(dependencies.EXTRACTOR_VERSION)
    work = plan_work(wh, project.name, "dependencies", version, DEPENDENCY_FILES_SQL, [project.name],
                     select=_dependency_sources)
    todo = work.todo
    rows = list(zip(*(todo[c].to_pylist() for c in ("path", "path_raw", "size", "file_type"))))
    chunks = [(project.root, rows[i:i + 32]) for i in range(0, len(rows), 32)]
    in_bytes = pc.sum(todo["size"]).as_py()
    results = [r for part in pool_map(_dependency_chunk, chunks, _workers_for(in_bytes, workers)) for r in part]

    dep_cols: dict[str, list] = {k: [] for k in ("path", "scope", "ecosystem", "name", "version_spec", "kind",
                                                 "scope_detail", "line", "target_path", "details")}
    edge_cols: dict[str, list] = {k: [] for k in ("path", "ecosystem", "parent", "parent_version", "child",
                                                  "child_version")}
    prov_cols: dict[str, list] = {k: [] for k in ("path", "ecosystem", "name")}
    errors, skipped = [], []
    for (path, *_), (deps, error, skip) in zip(rows, results):
        errors.append(error)
        skipped.append(skip)
        if deps is None:
            continue
        details: dict[int, dict] = {}
        for idx, key, value in deps.attrs:
            details.setdefault(idx, {})[key] = value
        for i, (_, _, scope, eco, name, spec, kind, detail, line, target) in enumerate(
                dependencies.dependency_rows(project.name, path, deps)):
            values = (path, scope, eco, name, spec, kind, detail, line, target,
                      json.dumps(details[i], sort_keys=True) if i in details else None)
            for col, v in zip(dep_cols, values):
                dep_cols[col].append(v)
        for edge in deps.edges:
            for col, v in zip(edge_cols, (path, *edge)):
                edge_cols[col].append(v)
        for eco, name in deps.provides:
            for col, v in zip(prov_cols, (path, eco, name)):
                prov_cols[col].append(v)
    declared = pa.table({"project": [project.name] * len(dep_cols["path"]),
                         **{c: pa.array(v, pa.int64()) if c == "line" else v for c, v in dep_cols.items()}})
    edges = pa.table({"project": [project.name] * len(edge_cols["path"]), **edge_cols})
    provides = pa.table({"project": [project.name] * len(prov_cols["path"]), **prov_cols})
    processed = processed_table(project.name, "dependencies", version, todo["path"].to_pylist(),
                                 todo["blake3"].to_pylist(), errors,
                                 [_error_line(e) for e in errors], skipped)
    commit_work(wh, project.name, "dependencies", work,
                {"enrich.declared_dependencies": declared, "enrich.dependency_edges": edges,
                 "enrich.dependency_provides": provides}, processed)
    derived = _refresh_import_edges_and_usage(wh, project.name)
    sbom = _refresh_sbom(wh, project.name, store)
    return WorkStats(files=work.files, processed=todo.num_rows, reused=work.reused,
                       errors=sum(e is not None for e in errors), seconds=time.perf_counter() - t0,
                       extra={**derived, **sbom})


def _refresh_import_edges_and_usage(wh: Warehouse, project: str) -> dict:
    """Resolution depends on the whole file set, so it is recomputed from stored rows (no file is read)."""
    with wh.read() as con:
        paths = con.sql("SELECT path FROM inventory.files WHERE project = ? AND kind = 'file'",
                        params=[project]).to_arrow_table()["path"].to_pylist()
        imports = con.sql("SELECT path, language, module, name, line FROM enrich.code_imports "
                          "WHERE project = ? AND module IS NOT NULL", params=[project]).to_arrow_table()
        declared = con.sql("SELECT ecosystem, name, path FROM enrich.declared_dependencies "
                           "WHERE project = ? AND kind = 'declared' AND scope = 'external'",
                           params=[project]).to_arrow_table()
        provides = con.sql("SELECT path, ecosystem, name FROM enrich.dependency_provides WHERE project = ?",
                           params=[project]).to_arrow_table()
    src, lang, module, name, line = (imports[c].to_pylist() for c in ("path", "language", "module", "name", "line"))
    resolvable = [(s, lg, _python_import_module(m, n) if lg == "python" else m, ln)
                  for s, lg, m, n, ln in zip(src, lang, module, name, line)]
    go_modules = {posixpath.dirname(p): n for p, e, n in zip(*(provides[c].to_pylist() for c in
                                                               ("path", "ecosystem", "name")))
                  if e == "go" and p.endswith("go.mod")}
    path_set = set(paths)
    edges = dependencies.import_rows(project, resolvable, path_set, go_modules or None)
    own = dependencies.python_top_level_names(paths) | set(provides["name"].to_pylist())
    never, undeclared = dependencies.usage_status(
        list(zip(*(declared[c].to_pylist() for c in ("ecosystem", "name", "path")))),
        list(zip(lang, module, src)), own)
    edge_table = pa.table({
        "project": [project] * len(edges), "source_path": [e[1] for e in edges],
        "language": [e[3] for e in edges], "module": [e[4] for e in edges],
        "line": pa.array([e[8] for e in edges], pa.int64()), "target_path": [e[9] for e in edges]})
    usage = pa.table({
        "project": [project] * (len(never) + len(undeclared)),
        "status": ["declared-unused"] * len(never) + ["imported-undeclared"] * len(undeclared),
        "ecosystem": [n[0] for n in never] + [u[0] for u in undeclared],
        "name": [n[1] for n in never] + [u[1] for u in undeclared],
        "source_path": [n[2] for n in never] + [u[3] for u in undeclared],
        "module": pa.array([None] * len(never) + [u[2] for u in undeclared], pa.string())})
    wh.replace_project_rows({"enrich.import_edges": edge_table, "enrich.dependency_usage": usage}, project)
    return {"internal import edges": edge_table.num_rows, "declared but never imported": len(never),
            "imported but undeclared": len(undeclared)}


def _refresh_sbom(wh: Warehouse, project: str, store) -> dict:
    """Write `sbom/<project>/cyclonedx.json` unless the stored one was built from the same rows."""
    with wh.read() as con:
        rows = con.sql(
            "SELECT path AS source_path, ecosystem, name, version_spec, kind, scope_detail, line, details "
            "FROM enrich.declared_dependencies WHERE project = ? ORDER BY ALL", params=[project]).to_arrow_table()
        edges = con.sql("SELECT ecosystem, parent, parent_version, child, child_version "
                        "FROM enrich.dependency_edges WHERE project = ? ORDER BY ALL",
                        params=[project]).to_arrow_table()
        previous = con.sql("SELECT input_digest, object_key, uri, components FROM enrich.sboms WHERE project = ?",
                           params=[project]).to_arrow_table().to_pylist()
    h = hashlib.sha256(f"{dependencies.EXTRACTOR_VERSION}/{SBOM_LAYOUT_VERSION}".encode())
    for table in (rows, edges):
        for batch in table.to_batches():
            for col in batch.columns:
                h.update(repr(col.to_pylist()).encode())
    digest = h.hexdigest()
    key = f"sbom/{project}/cyclonedx.json"
    if previous and previous[0]["input_digest"] == digest and store.exists(previous[0]["object_key"]):
        return {"sbom": previous[0]["uri"], "sbom components": previous[0]["components"], "sbom rebuilt": False}
    repositories: dict[tuple[str, str], str] = {}
    for eco, name, details in zip(*(rows[c].to_pylist() for c in ("ecosystem", "name", "details"))):
        repo = json.loads(details).get("repository") if details else None
        if repo and not repo.startswith("file://"):
            repositories.setdefault((eco, name), repo)
    sbom = dependencies.build_sbom(project, rows.drop_columns(["details"]).to_pylist(), edges.to_pylist(),
                                   repositories=repositories)
    components = len(json.loads(sbom).get("components", []))
    uri = store.put_bytes(key, sbom)
    with wh.write() as con:
        con.execute("DELETE FROM enrich.sboms WHERE project = ?", [project])
        con.execute("INSERT INTO enrich.sboms VALUES (?, ?, ?, ?, ?, now())", [project, digest, key, uri, components])
    return {"sbom": uri, "sbom components": components, "sbom rebuilt": True}
