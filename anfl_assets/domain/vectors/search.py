"""Security-aware hybrid search over the chunk indexes.

Dense (the vector store, clearance filter inside the query) and lexical (BM25 over the
chunks the caller may see) rankings are fused with reciprocal rank fusion. Every hit is
checked again against the warehouse before it is returned (defence in depth); no clearance
means public only; every search is written to `vectors.search_audit`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pyarrow as pa

from anfl_assets.domain.vectors import INDEXES
from anfl_assets.domain.vectors.pipeline import LEVEL_RANK, LEVELS
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
    sensitivity: str
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


def tokenize(text: str) -> list[str]:
    """Words for BM25: identifiers also split at camelCase and snake_case boundaries, English
    stopwords dropped, Snowball-stemmed (so "connections" meets "connection pool")."""
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
    return _STEMMER.stemWords(out)


_STOP: frozenset[str] = frozenset()


class _Lexical:
    """BM25 (bm25s) over one project's chunks of every index, rebuilt when they change."""

    def __init__(self, ids: list[str], ranks: np.ndarray, index_names: np.ndarray, texts: list[str]):
        import bm25s

        self.ids = ids
        self.ranks = ranks
        self.index_names = index_names
        self.model = bm25s.BM25()
        if ids:
            self.model.index([tokenize(t) for t in texts], show_progress=False)

    def top(self, query_tokens: list[str], k: int, max_rank: int, indexes: Sequence[str]) -> list[tuple[str, float]]:
        if not self.ids or not query_tokens:
            return []
        scores = np.asarray(self.model.get_scores(query_tokens), dtype=np.float32)
        # pre-filter: nothing above the clearance (or outside the asked indexes) competes
        scores[(self.ranks > max_rank) | ~np.isin(self.index_names, list(indexes))] = -1.0
        n = min(k, int((scores > 0).sum()))
        if n == 0:
            return []
        best = np.argpartition(-scores, n - 1)[:n]
        best = best[np.argsort(-scores[best])]
        return [(self.ids[i], float(scores[i])) for i in best]


class SearchService:
    """One per process: holds the vector store, the embedders and the lexical indexes."""

    def __init__(self, wh: Warehouse, store, embedders: Mapping[str, object], query_cache=None):
        self.wh = wh
        self.store = store
        self.embedders = dict(embedders)
        self.query_cache = query_cache
        self._lexical: dict[str, tuple[tuple, _Lexical]] = {}
        self._lock = threading.Lock()

    # -- pieces

    def _query_vector(self, embedder, query: str) -> np.ndarray:
        key = hashlib.sha256(f"query\0{embedder.model_id}\0{query}".encode()).hexdigest()
        if self.query_cache is not None:
            hit = self.query_cache.get_many([key]).get(key)
            if hit is not None:
                return np.asarray(hit, dtype=np.float32)
        vec = np.asarray(embedder.embed([query])[0], dtype=np.float32)
        if self.query_cache is not None:
            self.query_cache.set_many({key: vec})
        return vec

    def _lexical_for(self, project: str) -> _Lexical:
        with self.wh.read() as con:
            stamp = con.sql("SELECT count(*), coalesce(sum(hash(chunk_id || sensitivity_rank::VARCHAR)), 0) "
                            "FROM vectors.chunks WHERE project = ?", params=[project]).fetchall()[0]
            cached = self._lexical.get(project)
            if cached and cached[0] == stamp:
                return cached[1]
            rows = con.sql("SELECT chunk_id, sensitivity_rank, index_name, text FROM vectors.chunks "
                           "WHERE project = ? ORDER BY chunk_id", params=[project]).to_arrow_table()
        lex = _Lexical(rows["chunk_id"].to_pylist(), rows["sensitivity_rank"].to_numpy(zero_copy_only=False),
                       np.asarray(rows["index_name"].to_pylist(), dtype=object), rows["text"].to_pylist())
        with self._lock:
            self._lexical[project] = (stamp, lex)
        return lex

    def _projects(self, projects: Sequence[str] | None) -> list[str]:
        with self.wh.read() as con:
            known = [r[0] for r in con.sql("SELECT name FROM inventory.projects ORDER BY name").fetchall()]
        if projects:
            unknown = sorted(set(projects) - set(known))
            if unknown:
                raise SearchError(f"unknown project(s): {', '.join(unknown)}")
            return list(projects)
        return known

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
        names = self._projects(projects)
        depth = max(k * 8, 40)  # deep enough that one-hit-per-file still fills k
        rankings: list[list[tuple[str, float]]] = []
        if mode in ("hybrid", "dense"):
            # one dense ranking across the asked indexes: cosine scores of one model compare directly
            by_model: dict[str, list[tuple[str, float]]] = {}
            for index in indexes:
                embedder = self.embedders.get(index)
                if embedder is not None:
                    vec = self._query_vector(embedder, query)
                    by_model.setdefault(embedder.model_id, []).extend(
                        self.store.query(index, vec, depth, max_rank, names))
            rankings += [sorted(found, key=lambda t: -t[1])[:depth] for found in by_model.values()]
        if mode in ("hybrid", "lexical"):
            tokens = tokenize(query)
            lexical = [hit for project in names for hit in self._lexical_for(project).top(tokens, depth, max_rank,
                                                                                         indexes)]
            rankings.append(sorted(lexical, key=lambda t: -t[1])[:depth])
        fused: dict[str, float] = {}
        for ranking in rankings:
            for rank, (cid, _score) in enumerate(ranking):
                fused[cid] = fused.get(cid, 0.0) + 1.0 / (RRF_K + rank + 1)
        ordered = sorted(fused.items(), key=lambda kv: -kv[1])[: depth]
        hits, withheld = self._verify(ordered, names, max_rank, k, distinct_files)
        self._audit(caller, level, query, indexes, names, k, len(hits), withheld, time.perf_counter() - t0)
        return hits

    def _verify(self, ordered: list[tuple[str, float]], projects: list[str], max_rank: int,
                k: int, distinct_files: bool = True) -> tuple[list[SearchHit], int]:
        """Re-read every candidate from the warehouse; anything above the clearance (or gone) is withheld."""
        if not ordered:
            return [], 0
        with self.wh.read() as con:
            con.register("candidates", pa.table({"chunk_id": [c for c, _ in ordered]}))
            con.register("allowed_projects", pa.table({"project": projects}))
            rows = con.sql(
                "SELECT c.chunk_id, c.project, c.path, c.start_line, c.end_line, c.index_name, c.text, c.sensitivity, "
                "c.sensitivity_rank, c.symbol, h.last_commit, h.last_author FROM vectors.chunks c "
                "LEFT JOIN inventory.file_history h ON h.project = c.project AND h.path = c.path "
                "WHERE c.chunk_id IN (SELECT chunk_id FROM candidates)").to_arrow_table().to_pylist()
        by_id = {r["chunk_id"]: r for r in rows}
        hits, withheld, seen_paths = [], 0, set()
        for cid, score in ordered:
            r = by_id.get(cid)
            if r is None:
                continue  # deleted since it was indexed: not a leak, just stale
            if r["sensitivity_rank"] > max_rank or r["project"] not in projects:
                withheld += 1
                continue
            if r["path"] in seen_paths and distinct_files:
                continue
            seen_paths.add(r["path"])
            if len(hits) < k:
                body = r["text"].split("\n", 1)[1] if "\n" in r["text"] else r["text"]
                hits.append(SearchHit(r["project"], r["path"], r["start_line"], r["end_line"], r["index_name"],
                                      round(score, 6), body[:SNIPPET_CHARS], r["sensitivity"], r["symbol"],
                                      r["last_commit"], r["last_author"], cid))
        return hits, withheld

    def _audit(self, caller, level, query, indexes, projects, k, returned, withheld, seconds) -> None:
        row = pa.table({
            "searched_at": pa.array([dt.datetime.now(dt.timezone.utc)], pa.timestamp("us", tz="UTC")),
            "caller": [caller], "clearance": [level],
            "query_hash": [hashlib.sha256(query.encode("utf-8", "surrogatepass")).hexdigest()],
            "indexes": pa.array([list(indexes)], pa.list_(pa.string())),
            "projects": pa.array([list(projects)], pa.list_(pa.string())),
            "k": pa.array([k], pa.int32()), "results_returned": pa.array([returned], pa.int32()),
            "results_withheld": pa.array([withheld], pa.int32()), "ms": [seconds * 1000.0]})
        with self.wh.write() as con:
            con.register("audit_row", row)
            con.execute("INSERT INTO vectors.search_audit SELECT * FROM audit_row")
            con.unregister("audit_row")
