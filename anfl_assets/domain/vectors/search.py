"""Security-aware hybrid search over the chunk indexes.

Dense (the vector store, clearance filter inside the query) and lexical (BM25 over the
chunks the caller may see) rankings are fused with reciprocal rank fusion. Every hit is
checked again against the warehouse before it is returned (defence in depth); no clearance
means public only; every search is written to `vectors.search_audit` (see `audit`).

What search reads from the warehouse is held in memory and reloaded only when the warehouse
file changed (a ~20 microsecond check per search), so a warm search opens no connection.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import re
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pyarrow as pa

from anfl_assets.domain.security import LEVEL_RANK, LEVELS, Level
from anfl_assets.domain.vectors import INDEXES
from anfl_assets.domain.vectors.audit import AuditLog, audit_row, warehouse_stamp
from anfl_assets.domain.warehouse import Warehouse

RRF_K = 60
SNIPPET_CHARS = 400
_TOKEN = re.compile(r"[A-Za-z0-9]+")


class SearchError(ValueError):
    """A search that cannot be run as asked (unknown index or clearance)."""


@dataclass(frozen=True, slots=True)
class SearchHit:
    project: str
    path: str
    start_line: int
    end_line: int
    index: str
    score: float
    snippet: str
    sensitivity: Level
    symbol: str | None
    last_commit: str | None
    last_author: str | None
    chunk_id: str

    def as_dict(self) -> dict:
        return asdict(self)


_STEMMER = None


def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN_PLUS

    return frozenset(STOPWORDS_EN_PLUS)


# Abbreviations common in code, configs and infrastructure, spelled out for BM25 on both sides
# (a document's "prod" also counts as "production", a query's "production" then meets it).
ABBREVIATIONS = {
    "addr": "address", "args": "arguments", "auth": "authentication", "authn": "authentication",
    "authz": "authorization", "cfg": "configuration", "ci": "continuous integration", "conf": "configuration",
    "config": "configuration", "configs": "configurations", "ctx": "context", "db": "database",
    "dbs": "databases", "dev": "development", "dir": "directory", "doc": "document", "docs": "documents",
    "env": "environment", "envs": "environments", "eval": "evaluation", "iac": "infrastructure as code",
    "img": "image", "impl": "implementation", "info": "information", "k8s": "kubernetes",
    "kb": "kilobytes", "gb": "gigabytes", "lib": "library", "max": "maximum", "mb": "megabytes",
    "msg": "message", "ms": "milliseconds", "ns": "namespace", "num": "number", "params": "parameters",
    "passwd": "password", "pg": "postgres", "pkg": "package", "postgresql": "postgres", "prod": "production",
    "pwd": "password", "repo": "repository", "repos": "repositories", "req": "request", "resp": "response",
    "sso": "single sign on", "stats": "statistics", "svc": "service", "tf": "terraform", "tmp": "temporary",
    "ttl": "time to live",
}


def tokenize(text: str) -> list[str]:
    """Words for BM25: identifiers also split at camelCase and snake_case boundaries, common
    abbreviations also spelled out (`ABBREVIATIONS`), English stopwords dropped, Snowball-stemmed
    (so "connections" meets "connection pool")."""
    global _STEMMER, _STOP
    if _STEMMER is None:
        import Stemmer

        _STEMMER = Stemmer.Stemmer("english")
        _STOP = _stopwords()
    out = []
    for word in _TOKEN.findall(text):
        parts = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", word)
        for w in ([word] + parts if len(parts) > 1 else [word]):
            w = w.lower()
            if w not in _STOP and len(w) > 1:
                out.append(w)
                if w in ABBREVIATIONS:
                    out += ABBREVIATIONS[w].split()
    return _STEMMER.stemWords(out)


_STOP: frozenset[str] = frozenset()


class _Lexical:
    """BM25 (bm25s) over one project's chunks of every index. Built once per set of chunk ids:
    an id names fixed text (it hashes the content), so only a changed set means a rebuild."""

    def __init__(self, ids: tuple[str, ...], texts: list[str]):
        import bm25s

        self.ids = ids
        self.model = bm25s.BM25()
        if ids:
            self.model.index([tokenize(t) for t in texts], show_progress=False)

    def top(self, query_tokens: list[str], k: int, allowed: np.ndarray) -> list[tuple[str, float]]:
        """`allowed`: one bool per id (clearance and index), applied before ranking."""
        if not self.ids or not query_tokens:
            return []
        scores = np.asarray(self.model.get_scores(query_tokens), dtype=np.float32)
        scores[~allowed] = -1.0  # pre-filter: nothing above the clearance (or outside the indexes) competes
        n = min(k, int((scores > 0).sum()))
        if n == 0:
            return []
        best = np.argpartition(-scores, n - 1)[:n]
        best = best[np.argsort(-scores[best])]
        return [(self.ids[i], float(scores[i])) for i in best]


@dataclass(frozen=True, slots=True)
class _Chunk:
    """What never changes for a chunk id (the id hashes project, index, path, lines and text)."""

    project: str
    path: str
    start_line: int
    end_line: int
    index: str
    symbol: str | None
    snippet: str


@dataclass(frozen=True, slots=True)
class _ProjectIndex:
    lexical: _Lexical
    ranks: np.ndarray        # sensitivity rank per lexical id
    index_names: np.ndarray  # ANFL index per lexical id


@dataclass(frozen=True)
class _Snapshot:
    """Everything search reads from the warehouse, as of warehouse stamp `stamp`."""

    stamp: tuple | None
    projects: tuple[str, ...]
    chunks: dict[str, _Chunk]
    levels: dict[str, tuple[int, str]]                     # chunk id -> (sensitivity rank, sensitivity)
    history: dict[tuple[str, str], tuple[str | None, str | None]]  # (project, path) -> last commit, author
    by_project: dict[str, _ProjectIndex]


@contextlib.contextmanager
def _one_torch_thread() -> Iterator[None]:
    """One intra-op thread for a query embedding made by this thread (the setting is per thread
    under OpenMP): a ten-word query gains nothing from a team, and on a busy 2-core machine
    waiting for the team's second thread took ~500 ms instead of ~25 ms (measured)."""
    torch = sys.modules.get("torch")
    if torch is None or torch.get_num_threads() == 1:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class SearchService:
    """One per process: holds the vector store, the embedders and a snapshot of the warehouse.

    The snapshot (projects, chunk metadata and sensitivity, file history, BM25 indexes) is
    checked against `warehouse_stamp` on every search, which costs microseconds and no
    connection, and reloaded before the search whenever the warehouse changed, so the re-check
    of every hit is always against what the warehouse holds at the start of the search.

    `audit_flush_s`: None writes each audit row before `search` returns; a number journals the
    rows and inserts them in batches that often (see `audit.AuditLog`): call `flush_audit()`
    before reading `vectors.search_audit`, and `close()` at the end."""

    def __init__(self, wh: Warehouse, store, embedders: Mapping[str, object], query_cache=None,
                 audit_flush_s: float | None = None):
        self.wh = wh
        self.store = store
        self.embedders = dict(embedders)
        self.query_cache = query_cache
        self._snap: _Snapshot | None = None
        self._reload_lock = threading.Lock()
        self._swap_lock = threading.Lock()
        self.audit = AuditLog(wh, audit_flush_s, on_write=self._audit_written)

    def flush_audit(self) -> int:
        return self.audit.flush()

    def warm(self) -> None:
        """Read the snapshot (BM25 indexes included) and warm each model once (`Embedder.warm`:
        a local model runs, a remote one is left alone), so that the first search pays for neither."""
        self._snapshot()
        for embedder in {e.model_id: e for e in self.embedders.values()}.values():
            with _one_torch_thread():
                embedder.warm()

    def refresh(self) -> None:
        """Reload the snapshot now if the warehouse changed. A server calls this from a background
        thread so that the first search after a scan does not pay for the reload (a search still
        checks, and reloads itself if it gets there first)."""
        self._snapshot()

    def close(self) -> None:
        self.audit.close()

    # -- the warehouse snapshot

    def _current(self, snap: _Snapshot | None) -> bool:
        """Is `snap` what the warehouse holds now? Also while our own audit insert is changing the
        file, if the snapshot was current when that insert took the write lock."""
        if snap is None or snap.stamp is None:
            return False
        return snap.stamp == warehouse_stamp(self.wh.path) or snap.stamp == self.audit.in_flight

    def _snapshot(self) -> _Snapshot:
        snap = self._snap
        if self._current(snap):
            return snap
        with self._reload_lock:  # one reload at a time; the others wait for it
            snap = self._snap
            if not self._current(snap):
                snap = self._load(snap)
                with self._swap_lock:
                    self._snap = snap
            return snap

    def _audit_written(self, before: tuple | None, after: tuple | None) -> None:
        """Our own audit insert changed the file, not what search reads: a snapshot that was
        current just before it is current just after it. (Runs under the warehouse write lock:
        takes only the swap lock, which nobody holds while waiting for the warehouse.)"""
        with self._swap_lock:
            snap = self._snap
            if snap is not None and before is not None and snap.stamp == before:
                self._snap = dataclasses.replace(snap, stamp=after)

    def _load(self, prev: _Snapshot | None) -> _Snapshot:
        """Read the snapshot in one read connection; reuse what an unchanged chunk id allows."""
        with self.wh.read() as con:
            stamp = warehouse_stamp(self.wh.path)  # under the read lock: no write in between
            projects = tuple(r[0] for r in con.sql("SELECT name FROM inventory.projects ORDER BY name").fetchall())
            state = con.sql("SELECT project, chunk_id, index_name, sensitivity, sensitivity_rank FROM vectors.chunks "
                            "ORDER BY project, chunk_id").to_arrow_table()
            ids_by_project: dict[str, list[str]] = {}
            for project, cid in zip(state["project"].to_pylist(), state["chunk_id"].to_pylist()):
                ids_by_project.setdefault(project, []).append(cid)
            changed = [p for p, ids in ids_by_project.items()
                       if prev is None or p not in prev.by_project or prev.by_project[p].lexical.ids != tuple(ids)]
            texts = None
            if changed:
                con.register("changed_projects", pa.table({"project": changed}))
                texts = con.sql("SELECT project, chunk_id, path, start_line, end_line, index_name, symbol, text "
                                "FROM vectors.chunks WHERE project IN (SELECT project FROM changed_projects) "
                                "ORDER BY project, chunk_id").to_arrow_table()
                con.unregister("changed_projects")
            history = con.sql("SELECT h.project, h.path, h.last_commit, h.last_author FROM inventory.file_history h "
                              "WHERE EXISTS (SELECT 1 FROM vectors.chunks c WHERE c.project = h.project "
                              "AND c.path = h.path)").fetchall()
        chunks: dict[str, _Chunk] = {}
        lexical: dict[str, _Lexical] = {}
        if prev is not None:
            for p, ids in ids_by_project.items():
                if p not in changed:
                    lexical[p] = prev.by_project[p].lexical
                    chunks.update((cid, prev.chunks[cid]) for cid in ids)
        if texts is not None:
            cols = [texts[c].to_pylist() for c in ("project", "chunk_id", "path", "start_line", "end_line",
                                                   "index_name", "symbol", "text")]
            text_by_project: dict[str, list[str]] = {}
            for project, cid, path, start, end, index, symbol, text in zip(*cols):
                body = text.split("\n", 1)[1] if "\n" in text else text
                chunks[cid] = _Chunk(project, path, start, end, index, symbol, body[:SNIPPET_CHARS])
                text_by_project.setdefault(project, []).append(text)
            for p in changed:
                lexical[p] = _Lexical(tuple(ids_by_project[p]), text_by_project.get(p, []))
        ranks = state["sensitivity_rank"].to_numpy(zero_copy_only=False)
        index_names = np.asarray(state["index_name"].to_pylist(), dtype=object)
        by_project, pos = {}, 0
        for p, ids in ids_by_project.items():  # rows are ordered by project, so each is one slice
            by_project[p] = _ProjectIndex(lexical[p], ranks[pos:pos + len(ids)], index_names[pos:pos + len(ids)])
            pos += len(ids)
        levels = dict(zip(state["chunk_id"].to_pylist(),
                          zip(ranks.tolist(), state["sensitivity"].to_pylist())))
        return _Snapshot(stamp, projects, chunks, levels, {(p, path): (c, a) for p, path, c, a in history},
                         by_project)

    # -- pieces

    def _query_vector(self, embedder, query: str) -> np.ndarray:
        key = hashlib.sha256(f"query\0{embedder.model_id}\0{query}".encode()).hexdigest()
        if self.query_cache is not None:
            hit = self.query_cache.get_many([key]).get(key)
            if hit is not None:
                return np.asarray(hit, dtype=np.float32)
        with _one_torch_thread():
            vec = np.asarray(embedder.embed([query])[0], dtype=np.float32)
        if self.query_cache is not None:
            self.query_cache.set_many({key: vec})
        return vec

    @staticmethod
    def _projects(snap: _Snapshot, projects: Sequence[str] | None) -> list[str]:
        if projects:
            unknown = sorted(set(projects) - set(snap.projects))
            if unknown:
                raise SearchError(f"unknown project(s): {', '.join(unknown)}")
            return list(dict.fromkeys(projects))  # a name given twice must not count twice in the fusion
        return list(snap.projects)

    # -- the search

    def search(self, query: str, *, indexes: Sequence[str] | None = None, projects: Sequence[str] | None = None,
               clearance: str | None = None, k: int = 10, caller: str | None = None,
               mode: str = "hybrid", distinct_files: bool = True) -> list[SearchHit]:
        """Top-k hits; with `distinct_files` (default) one hit per file, its best chunk."""
        t0 = time.perf_counter()
        level = clearance or "public"  # fail closed
        if level not in LEVEL_RANK:
            raise SearchError(f"clearance must be one of {', '.join(LEVELS)}, not {clearance!r}")
        indexes = list(indexes or INDEXES)
        bad = [i for i in indexes if i not in INDEXES]
        if bad:
            raise SearchError(f"unknown index(es): {', '.join(bad)}; known: {', '.join(INDEXES)}")
        if mode not in ("hybrid", "dense", "lexical"):
            raise SearchError(f"mode must be hybrid, dense or lexical, not {mode!r}")
        max_rank = LEVEL_RANK[level]
        snap = self._snapshot()
        names = self._projects(snap, projects)
        depth = max(k * 8, 40)  # deep enough that one-hit-per-file still fills k
        rankings: list[list[tuple[str, float]]] = []
        if mode in ("hybrid", "dense"):
            # one dense ranking across the asked indexes: cosine scores of one model compare directly
            by_model: dict[str, list[tuple[str, float]]] = {}
            vectors: dict[str, np.ndarray] = {}  # the query embedded once per model, not per index
            for index in indexes:
                embedder = self.embedders.get(index)
                if embedder is not None:
                    if embedder.model_id not in vectors:
                        vectors[embedder.model_id] = self._query_vector(embedder, query)
                    by_model.setdefault(embedder.model_id, []).extend(
                        self.store.query(index, vectors[embedder.model_id], depth, max_rank, names))
            rankings += [sorted(found, key=lambda t: -t[1])[:depth] for found in by_model.values()]
        if mode in ("hybrid", "lexical"):
            tokens = tokenize(query)
            lexical = []
            for project in names:
                part = snap.by_project.get(project)
                if part is not None:
                    allowed = (part.ranks <= max_rank) & np.isin(part.index_names, indexes)
                    lexical += part.lexical.top(tokens, depth, allowed)
            rankings.append(sorted(lexical, key=lambda t: -t[1])[:depth])
        rankings, withheld = self._verify(snap, rankings, names, max_rank)
        hits = self._fuse(snap, rankings, k, distinct_files)
        self.audit.record(audit_row(caller, level, query, indexes, names, k, len(hits), withheld,
                                    time.perf_counter() - t0))
        return hits

    @staticmethod
    def _verify(snap: _Snapshot, rankings: list[list[tuple[str, float]]], projects: list[str],
                max_rank: int) -> tuple[list[list[tuple[str, float]]], int]:
        """Check every candidate against the warehouse (the snapshot, current as of this search)
        before it can count: anything above the clearance or outside the projects is withheld
        (and counted), anything gone since it was indexed is dropped (stale, not a leak)."""
        allowed_projects = set(projects)
        verdict: dict[str, bool] = {}
        withheld = 0
        for ranking in rankings:
            for cid, _ in ranking:
                if cid not in verdict:
                    c, level = snap.chunks.get(cid), snap.levels.get(cid)
                    ok = c is not None and level is not None
                    if ok and (level[0] > max_rank or c.project not in allowed_projects):
                        ok = False
                        withheld += 1
                    verdict[cid] = ok
        return [[(cid, score) for cid, score in ranking if verdict[cid]] for ranking in rankings], withheld

    @staticmethod
    def _fuse(snap: _Snapshot, rankings: list[list[tuple[str, float]]], k: int,
              distinct_files: bool) -> list[SearchHit]:
        """Reciprocal rank fusion of the (verified) rankings. With `distinct_files` the ranks fused
        are those of files (a file ranks where its best chunk does), so a file that one ranking
        finds by one chunk and the other by another counts as found by both; each file is shown
        by its chunk with the best chunk-level fused score."""
        by_chunk: dict[str, float] = {}
        for ranking in rankings:
            for rank, (cid, _score) in enumerate(ranking):
                by_chunk[cid] = by_chunk.get(cid, 0.0) + 1.0 / (RRF_K + rank + 1)
        if distinct_files:
            by_file: dict[tuple[str, str], float] = {}
            best: dict[tuple[str, str], str] = {}
            for ranking in rankings:
                seen: set[tuple[str, str]] = set()
                for cid, _score in ranking:
                    c = snap.chunks[cid]
                    key = (c.project, c.path)
                    if key not in best or by_chunk[cid] > by_chunk[best[key]]:
                        best[key] = cid
                    if key not in seen:
                        by_file[key] = by_file.get(key, 0.0) + 1.0 / (RRF_K + len(seen) + 1)
                        seen.add(key)
            ordered = [(best[key], score) for key, score in sorted(by_file.items(), key=lambda kv: -kv[1])[:k]]
        else:
            ordered = sorted(by_chunk.items(), key=lambda kv: -kv[1])[:k]
        hits = []
        for cid, score in ordered:
            c, level = snap.chunks[cid], snap.levels[cid]
            last_commit, last_author = snap.history.get((c.project, c.path), (None, None))
            hits.append(SearchHit(c.project, c.path, c.start_line, c.end_line, c.index, round(score, 6),
                                  c.snippet, level[1], c.symbol, last_commit, last_author, cid))
        return hits
