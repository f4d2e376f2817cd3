"""Chunks and the four vector indexes, refreshed incrementally against the warehouse.

`vectors.chunks` is the source of truth; each vector index is derived from it. A file is
re-chunked only when its content, the chunker, the tokenizer or the secret rules changed
(`enrich.processed`, extractor 'chunks'); a chunk is embedded only when no embedding of its
(model, content hash) is stored; the index gets exactly the current chunks (upserts for new
ones and changed sensitivity, deletes for vanished ones), and `vectors.indexed` records what
it holds.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np
import pyarrow as pa

from anfl_assets.domain.enrich.incremental import (
    UNREADABLE,
    WorkStats,
    commit_work,
    full_path,
    plan_work,
    processed_table,
    read_bytes,
)
from anfl_assets.domain.projects import Project
from anfl_assets.domain.security import LEVEL_RANK, LEVELS
from anfl_assets.domain.vectors import INDEXES
from anfl_assets.domain.vectors.chunker import CHUNKER_VERSION, chunk_text, index_for, redact
from anfl_assets.domain.warehouse import Warehouse, insert_rows

MAX_CHUNK_FILE_BYTES = 1_000_000  # bigger "text" is data or generated; its chunks would drown the index
CHUNK_FILES_SQL = (  # input_key: the index and the cut depend on the class (a reclassified file is re-chunked)
    "SELECT f.path, f.path_raw, f.blake3, f.size, f.is_text, c.category, c.config_format, c.infra_kind, "
    "concat_ws('|', c.category, coalesce(c.config_format, ''), coalesce(c.infra_kind, '')) AS input_key "
    "FROM inventory.files f JOIN enrich.file_classes c ON c.project = f.project AND c.path = f.path "
    "WHERE f.project = ? AND f.kind = 'file' AND f.blake3 IS NOT NULL "
    "AND c.category IN ('code', 'config', 'documentation', 'infrastructure')"
)
CHUNK_SCHEMA = pa.schema([
    ("project", pa.string()), ("chunk_id", pa.string()), ("index_name", pa.string()), ("path", pa.string()),
    ("start_line", pa.int64()), ("end_line", pa.int64()), ("symbol", pa.string()), ("kind", pa.string()),
    ("content_hash", pa.string()), ("tokens", pa.int64()), ("file_level", pa.string()),
    ("sensitivity", pa.string()), ("sensitivity_rank", pa.int32()), ("text", pa.string()),
])


def chunks_version(tokenizers: Mapping[str, object], secret_rules_version: str) -> str:
    """Changes when the chunker, any index's tokenizer or limit, or the secret rules change."""
    measured = "|".join(f"{index}={t.model_id}:{t.max_tokens}" for index, t in sorted(tokenizers.items()))
    return f"chunker-{CHUNKER_VERSION}|{measured}|{secret_rules_version}"


def refresh_chunks(wh: Warehouse, project: Project, tokenizers: Mapping[str, object], scanner) -> WorkStats:
    """`tokenizers`: per index, the embedder that will embed its chunks (count_tokens, max_tokens,
    model_id): each file is cut to fit the model of the index it lands in.
    `scanner`: the `SecretScanner` whose matches are redacted before chunking."""
    t0 = time.perf_counter()
    missing = sorted(set(INDEXES) - set(tokenizers))
    if missing:
        raise ValueError(f"no tokenizer for index(es) {', '.join(missing)}")
    version = chunks_version(tokenizers, scanner.version)
    work = plan_work(wh, project.name, "chunks", version, CHUNK_FILES_SQL, [project.name])
    todo = work.todo
    paths = todo["path"].to_pylist()
    symbols_by_path: dict[str, list[tuple]] = {}
    if paths:
        with wh.read() as con:
            con.register("todo_paths", pa.table({"path": paths}))
            rows = con.sql("SELECT path, kind, qualified_name, start_line, end_line, parent FROM enrich.code_symbols "
                           "WHERE project = ? AND path IN (SELECT path FROM todo_paths) ORDER BY path, start_line",
                           params=[project.name]).fetchall()
        for path, kind, qual, start, end, parent in rows:
            symbols_by_path.setdefault(path, []).append((kind, qual, start, end, parent))

    chunk_rows: list[tuple] = []
    skipped: list[tuple[str, str]] = []
    errors: list[str | None] = []
    cols = ("path", "path_raw", "size", "is_text", "category", "config_format", "infra_kind")
    for path, path_raw, size, is_text, category, config_format, infra_kind in zip(*(todo[c].to_pylist() for c in cols)):
        index = index_for(category)
        reason = None
        if not is_text:
            reason = "binary"
        elif (size or 0) > MAX_CHUNK_FILE_BYTES:
            reason = f"larger than {MAX_CHUNK_FILE_BYTES:,} bytes"
        content = None if reason else read_bytes(full_path(project.root, path, path_raw), MAX_CHUNK_FILE_BYTES + 1)
        if reason is None and content is None:
            reason = UNREADABLE
        errors.append(UNREADABLE if reason == UNREADABLE else None)  # an error is tried again next run
        if reason:
            skipped.append((path, reason))
            continue
        text = content.decode("utf-8", "replace")
        text = redact(text, scanner.scan_text(path, text))
        tokenizer = tokenizers[index]
        try:
            chunks = chunk_text(index, path, text, tokenizer.count_tokens, max_tokens=tokenizer.max_tokens,
                                config_format=config_format, infra_kind=infra_kind,
                                symbols=symbols_by_path.get(path, ()))
        except Exception as exc:  # noqa: BLE001 - one odd file must not stop the project
            errors[-1] = f"{type(exc).__name__}: {str(exc)[:200]}"
            skipped.append((path, "chunker error"))
            continue
        for c in chunks:  # stored at the top level until refresh_chunk_sensitivity lowers it: fail closed
            chunk_rows.append((project.name, c.chunk_id(project.name), c.index, c.path, c.start_line, c.end_line,
                               c.symbol, c.kind, c.content_hash, c.tokens, LEVELS[-1], LEVELS[-1],
                               LEVEL_RANK[LEVELS[-1]], c.text))
    table = pa.table({name: [r[i] for r in chunk_rows] for i, name in enumerate(CHUNK_SCHEMA.names)},
                     schema=CHUNK_SCHEMA)
    skipped_table = pa.table({"project": [project.name] * len(skipped), "path": [p for p, _ in skipped],
                              "reason": [r for _, r in skipped]})
    processed = processed_table(project.name, "chunks", version, todo["path"], todo["blake3"], errors,
                                input_keys=todo["input_key"])
    commit_work(wh, project.name, "chunks", work, {"vectors.chunks": table, "vectors.skipped_files": skipped_table},
                processed)
    levels = refresh_chunk_sensitivity(wh, project.name)
    with wh.read() as con:
        per_index = dict(con.sql("SELECT index_name, count(*) FROM vectors.chunks WHERE project = ? GROUP BY 1",
                                 params=[project.name]).fetchall())
    return WorkStats(files=work.files, processed=todo.num_rows, reused=work.reused,
                       seconds=time.perf_counter() - t0,
                       extra={"chunks new": table.num_rows, "files skipped (new)": len(skipped),
                              "chunks per index": per_index, "chunks per sensitivity": levels})


def refresh_chunk_sensitivity(wh: Warehouse, project: str) -> dict[str, int]:
    """A chunk is as sensitive as its file, raised by unsuppressed findings on any of its lines."""
    from anfl_assets.domain.security import sensitivity

    with wh.read() as con:
        chunks = con.sql(
            "SELECT c.chunk_id, c.path, c.start_line, c.end_line, coalesce(s.level, 'internal') AS level, "
            "coalesce(s.path_rule, 'default') AS rule FROM vectors.chunks c LEFT JOIN security.file_sensitivity s "
            "ON s.project = c.project AND s.path = c.path WHERE c.project = ?", params=[project]).fetchall()
        findings = con.sql("SELECT path, line, greatest(line, coalesce(end_line, line)), rule, severity, source "
                           "FROM security.findings WHERE project = ? AND location = 'file' AND NOT suppressed "
                           "AND line IS NOT NULL", params=[project]).fetchall()
    by_path: dict[str, list[tuple]] = {}
    for path, line, last, rule, severity, source in findings:
        by_path.setdefault(path, []).append((line, last, rule, severity, source))
    ids, file_levels, levels = [], [], []
    for chunk_id, path, start, end, level, rule in chunks:
        # any line of the finding counts: a chunk may hold only the tail of a multi-line key
        inside = [(r, s, src) for line, last, r, s, src in by_path.get(path, ()) if line <= end and start <= last]
        chunk_level = sensitivity.combine((level, rule), inside)[0] if inside else level
        chunk_level = max(chunk_level, level, key=LEVEL_RANK.__getitem__)
        ids.append(chunk_id)
        file_levels.append(level)
        levels.append(chunk_level)
    update = pa.table({"chunk_id": ids, "file_level": file_levels, "sensitivity": levels,
                       "sensitivity_rank": pa.array([LEVEL_RANK[x] for x in levels], pa.int32())})
    with wh.write() as con:
        con.register("chunk_levels", update)
        con.execute("UPDATE vectors.chunks c SET file_level = l.file_level, sensitivity = l.sensitivity, "
                    "sensitivity_rank = l.sensitivity_rank FROM chunk_levels l "
                    "WHERE c.project = ? AND c.chunk_id = l.chunk_id AND (c.sensitivity_rank <> l.sensitivity_rank "
                    "OR c.file_level <> l.file_level)", [project])
    counts: dict[str, int] = {}
    for level in levels:
        counts[level] = counts.get(level, 0) + 1
    return counts


def refresh_index(wh: Warehouse, project: str, index: str, embedder, store, cache, embedding_store) -> WorkStats:
    """Make `index` hold exactly the project's current chunks of that index.

    New chunks are embedded through cache -> persistent store -> model (known content is never
    re-embedded); chunks whose sensitivity changed are re-upserted with their stored vector;
    vanished chunks are deleted from the index."""
    from anfl_assets.domain.vectors.cache import embed_with_cache

    t0 = time.perf_counter()
    with wh.read() as con:
        current = con.sql("SELECT chunk_id, content_hash, sensitivity_rank, text FROM vectors.chunks "
                          "WHERE project = ? AND index_name = ? ORDER BY chunk_id",
                          params=[project, index]).to_arrow_table()
        indexed = dict(con.sql("SELECT chunk_id, sensitivity_rank FROM vectors.indexed WHERE project = ? "
                               "AND index_name = ? AND model_id = ?",
                               params=[project, index, embedder.model_id]).fetchall())
    present = store.ids(index, project)
    ids = current["chunk_id"].to_pylist()
    ranks = current["sensitivity_rank"].to_pylist()
    wanted = set(ids)
    todo = [i for i, (cid, rank) in enumerate(zip(ids, ranks)) if cid not in present or indexed.get(cid) != rank]
    stale = sorted((present | set(indexed)) - wanted)
    stats = {"cache_hits": 0, "store_hits": 0, "embedded": 0}
    if todo:
        texts = current["text"].take(pa.array(todo, pa.int64())).to_pylist()
        hashes = current["content_hash"].take(pa.array(todo, pa.int64())).to_pylist()
        vectors, stats = embed_with_cache(embedder, texts, hashes, cache, embedding_store)
        for start in range(0, len(todo), 1000):
            part = todo[start:start + 1000]
            store.upsert(index, project, [ids[i] for i in part], np.asarray(vectors[start:start + len(part)],
                                                                             dtype=np.float32),
                         [ranks[i] for i in part])
    if stale:
        store.delete(index, project, stale)
    store.flush()
    table = pa.table({"project": [project] * len(ids), "index_name": [index] * len(ids), "chunk_id": ids,
                      "model_id": [embedder.model_id] * len(ids), "sensitivity_rank": pa.array(ranks, pa.int32())})
    with wh.write() as con:
        con.execute("DELETE FROM vectors.indexed WHERE project = ? AND index_name = ?", [project, index])
        insert_rows(con, "vectors.indexed", table)
    return WorkStats(files=len(ids), processed=len(todo), reused=len(ids) - len(todo),
                       seconds=time.perf_counter() - t0,
                       extra={"chunks": len(ids), "upserted": len(todo), "deleted": len(stale),
                              "embedded": stats.get("embedded", 0), "cache hits": stats.get("cache_hits", 0),
                              "store hits": stats.get("store_hits", 0)})


def index_matches_chunks(wh: Warehouse, project: str, index: str, store) -> dict:
    """For the asset check: the index holds exactly the current chunk ids."""
    with wh.read() as con:
        wanted = set(r[0] for r in con.sql("SELECT chunk_id FROM vectors.chunks WHERE project = ? AND index_name = ?",
                                           params=[project, index]).fetchall())
    present = store.ids(index, project)
    return {"chunks": len(wanted), "vectors": len(present), "missing": len(wanted - present),
            "extra": len(present - wanted)}
