"""Vector stores for semantic search: the interface, the embedded store, and `open_vector_store`.

Every vector belongs to one ANFL index (code, config, docs, infra), one project, and carries the
sensitivity level of its chunk (0 public .. 3 restricted). `query(..., max_level=L, projects=P)`
returns the k nearest vectors *among those allowed* (level <= L, project in P): the filter is
applied inside the search (pre-filter), never to an unfiltered top-k afterwards.

The warehouse table of chunks is the source of truth; an index here is derived data that can be
rebuilt from it at any time.

Embedded store (`file:///folder`): one faiss HNSW graph (inner product over L2-normalised vectors,
i.e. cosine) per ANFL index, plus numpy arrays for level, project and liveness per graph node.
A query's filter becomes a bitmap (`faiss.IDSelectorBitmap`) that the graph search honours;
faiss runs it without the GIL, so client threads scale; the search widens its candidate list
(ef) as the filter narrows. Filters that allow few vectors (allowed x dim <= `exact_budget`,
about 1 ms of work) are answered exactly: faiss's inner-product kernel over just the allowed
rows, top-k with numpy. A graph search with a very selective filter visits mostly rejected
nodes and can come back short; a short answer from the graph also falls back to the exact
search, so a query always returns min(k, allowed) results. Deleted and
replaced vectors stay in the graph as dead nodes (masked out) until a flush compacts the index
(rebuild) once they pass a share of it.

Files: `<folder>/manifest.json` names, per index, the generation that is current and its two
files (`<index>.g<N>.faiss`, `<index>.g<N>.meta.npz`). `flush()` writes a new generation to
temporary files, fsyncs them, renames them into place, and only then replaces the manifest
(temp file + fsync + `os.replace`): a crash at any point leaves the previous generation current
and loadable; leftovers are removed on the next open. A file lock (`.lock`) serialises writers
across processes (Dagster runs partitions in separate processes): a flush that finds another
process's newer generation on disk loads it and replays its own pending changes on top, so no
update is lost. Readers notice a newer manifest (checked at most every `refresh_interval`
seconds) and reload.

Plain Python: no Dagster here.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import numpy as np

from anfl_assets.domain.vectors import LEVELS

MAX_LEVEL = len(LEVELS) - 1
MANIFEST = "manifest.json"
FORMAT = "anfl-vectors/1"
LOCK_FILE = ".lock"


class VectorStoreError(RuntimeError):
    """The store cannot do what was asked (corrupt or mismatched files, unknown index...)."""


class VectorStore(ABC):
    """Clearance-filtered nearest-neighbour search over per-project chunk vectors."""

    @abstractmethod
    def upsert(self, index: str, project: str, ids: Sequence[str], vectors: np.ndarray,
               levels: Sequence[int]) -> None:
        """Insert or replace `ids` (float32 (n, dim) vectors, one level 0..3 each)."""

    @abstractmethod
    def delete(self, index: str, project: str, ids: Sequence[str]) -> None:
        """Remove `ids` of `project` (unknown ids are ignored)."""

    @abstractmethod
    def query(self, index: str, vector: np.ndarray, k: int, max_level: int,
              projects: Sequence[str] | None = None) -> list[tuple[str, float]]:
        """The k nearest (id, cosine similarity), best first, among vectors with
        level <= max_level and project in `projects` (None: every project)."""

    @abstractmethod
    def ids(self, index: str, project: str) -> set[str]:
        """Every id stored for `project` in `index`."""

    @abstractmethod
    def count(self, index: str, project: str | None = None) -> int:
        """Number of vectors in `index` (of one project, or all)."""

    @abstractmethod
    def flush(self) -> None:
        """Make everything written so far durable (atomically)."""

    def close(self) -> None:
        """Release resources; nothing is flushed implicitly."""

    def __enter__(self) -> VectorStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------------------------------------
# Validation shared by the implementations


def check_index(index: str, dims: Mapping[str, int]) -> int:
    try:
        return dims[index]
    except KeyError:
        raise VectorStoreError(f"unknown vector index {index!r}; this store has {', '.join(sorted(dims))}") \
            from None


def check_project(project: str) -> None:
    if not isinstance(project, str) or not project:
        raise ValueError(f"project must be a non-empty string, not {project!r}")


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as a new float32 C-contiguous array."""
    x = np.array(x, dtype=np.float32, copy=True, order="C")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    np.divide(x, norms, out=x, where=norms > 0)
    return x


def check_batch(dim: int, ids: Sequence[str], vectors: np.ndarray,
                levels: Sequence[int]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Validated (ids, unit float32 vectors (n, dim), int8 levels); a repeated id keeps its last row."""
    ids = list(ids)
    vectors = np.asarray(vectors)
    if vectors.ndim == 1 and len(ids) == 1:
        vectors = vectors[None, :]
    if vectors.ndim != 2 or vectors.shape[1] != dim:
        raise ValueError(f"vectors must have shape (n, {dim}), not {vectors.shape}")
    lv = np.asarray(list(levels))
    if not (len(ids) == len(vectors) == len(lv)):
        raise ValueError(f"ids, vectors and levels differ in length: {len(ids)}, {len(vectors)}, {len(lv)}")
    if len(ids) == 0:
        return [], np.zeros((0, dim), np.float32), np.zeros(0, np.int8)
    if lv.dtype.kind not in "iu" or lv.min() < 0 or lv.max() > MAX_LEVEL:
        raise ValueError(f"levels must be integers 0..{MAX_LEVEL}")
    for i in ids:
        if not isinstance(i, str) or not i or "\x00" in i:
            raise ValueError(f"ids must be non-empty strings without NUL, not {i!r}")
    if not np.isfinite(vectors).all():
        raise ValueError("vectors contain NaN or infinity")
    if len(set(ids)) != len(ids):
        last = {i: n for n, i in enumerate(ids)}
        keep = sorted(last.values())
        ids = [ids[n] for n in keep]
        vectors, lv = vectors[keep], lv[keep]
    return ids, normalize_rows(vectors), lv.astype(np.int8)


def check_query(dim: int, vector: np.ndarray) -> np.ndarray:
    q = np.asarray(vector, dtype=np.float32).reshape(-1)
    if q.shape[0] != dim:
        raise ValueError(f"query vector must have {dim} dimensions, not {q.shape[0]}")
    if not np.isfinite(q).all():
        raise ValueError("query vector contains NaN or infinity")
    return normalize_rows(q[None, :])


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k largest scores, best first."""
    if k >= len(scores):
        return np.argsort(-scores, kind="stable")
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.argsort(-scores[part], kind="stable")]


# ---------------------------------------------------------------------------------------------
# Embedded store


class _RWLock:
    """Many readers or one writer; a waiting writer holds off new readers."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False
        self._waiting = 0

    @contextlib.contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextlib.contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._waiting += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


class _Allowed:
    """What one (max_level, projects) filter allows, for one version of a shard."""

    __slots__ = ("count", "everything", "mask", "_selector", "_labels")

    def __init__(self, mask: np.ndarray | None, count: int) -> None:
        self.mask = mask          # None: every node is allowed
        self.count = count
        self.everything = mask is None
        self._selector = self._labels = None

    def selector(self, faiss: Any) -> tuple[np.ndarray, Any]:
        """(bitmap, faiss selector over it): keep the pair referenced while the selector is used."""
        pair = self._selector
        if pair is None:
            bits = np.packbits(self.mask, bitorder="little")
            pair = self._selector = (bits, faiss.IDSelectorBitmap(len(self.mask), faiss.swig_ptr(bits)))
        return pair

    def labels(self, ntotal: int) -> np.ndarray:
        if self._labels is None:
            self._labels = np.arange(ntotal, dtype=np.int64) if self.mask is None \
                else np.flatnonzero(self.mask).astype(np.int64, copy=False)
        return self._labels


class _Shard:
    """One ANFL index: a faiss HNSW graph and per-node level/project/liveness arrays.

    Node labels are faiss's sequential ids (0..ntotal-1). Callers hold the store's locks."""

    def __init__(self, name: str, dim: int, params: _Params) -> None:
        import faiss

        self.name, self.dim, self.params = name, dim, params
        self.graph = faiss.IndexHNSWFlat(dim, params.m, faiss.METRIC_INNER_PRODUCT)
        self.graph.hnsw.efConstruction = params.ef_construction
        self.levels = np.zeros(0, np.int8)
        self.projs = np.zeros(0, np.int32)
        self.alive = np.zeros(0, bool)
        self.label_ids: list[str] = []
        self.projects: list[str] = []
        self.pcode: dict[str, int] = {}
        self.by_project: dict[int, dict[str, int]] = {}
        self.live = 0
        self.version = 0
        self.generation = 0           # the manifest generation this state derives from
        self.journal: list[tuple] = []  # changes since that generation, for merging at flush
        self.rw = _RWLock()
        self._allowed: dict[tuple, tuple[int, _Allowed]] = {}

    # --- reading -------------------------------------------------------------------------
    @property
    def ntotal(self) -> int:
        return int(self.graph.ntotal)

    def vectors(self) -> np.ndarray:
        """A view of the graph's stored (unit) vectors; valid until the next add."""
        import faiss

        n = self.ntotal
        if n == 0:
            return np.zeros((0, self.dim), np.float32)
        flat = faiss.downcast_index(self.graph.storage)
        return faiss.rev_swig_ptr(flat.get_xb(), n * self.dim).reshape(n, self.dim)

    def allowed(self, max_level: int, codes: tuple[int, ...] | None) -> _Allowed:
        key = (max_level, codes)
        hit = self._allowed.get(key)
        if hit is not None and hit[0] == self.version:
            return hit[1]
        dead = self.ntotal - self.live
        if max_level >= MAX_LEVEL and codes is None and not dead:
            entry = _Allowed(None, self.ntotal)
        else:
            mask = self.alive & (self.levels <= max_level)
            if codes is not None:
                mask &= np.isin(self.projs, np.asarray(codes, np.int32))
            entry = _Allowed(mask, int(np.count_nonzero(mask)))
        if len(self._allowed) > 256:
            self._allowed.clear()
        self._allowed[key] = (self.version, entry)
        return entry

    def query(self, q: np.ndarray, k: int, max_level: int,
              projects: Sequence[str] | None) -> list[tuple[str, float]]:
        import faiss

        if k <= 0 or max_level < 0 or self.live == 0:
            return []
        codes = None
        if projects is not None:
            codes = tuple(sorted({self.pcode[p] for p in projects if p in self.pcode}))
            if not codes:
                return []
        allowed = self.allowed(min(int(max_level), MAX_LEVEL), codes)
        if allowed.count == 0:
            return []
        k = min(k, allowed.count)
        p = self.params
        # Rejected nodes take places in faiss's candidate list, so the list widens as the filter
        # narrows: by 1/sqrt(share) down to a quarter allowed (measured: 1/share costs 2-3x there
        # for no recall gained), by 1/share below (where 1/sqrt lost a third of the recall).
        share = allowed.count / self.ntotal
        ef = p.ef_search / math.sqrt(share) if share >= 0.25 else p.ef_search / (2 * share)
        ef = max(k, min(p.ef_max, math.ceil(ef)))
        # Exact when it is cheap, or about as cheap as the graph search it replaces (which visits
        # some 2*M*ef nodes) and not over exact_max.
        work = allowed.count * self.dim
        exact = work <= p.exact_budget or (allowed.count <= 2 * p.m * ef and work <= p.exact_max)
        with _single_threaded(faiss):
            if not exact:
                params = faiss.SearchParametersHNSW(efSearch=ef)
                selector = None
                if not allowed.everything:
                    selector = allowed.selector(faiss)
                    params.sel = selector[1]
                scores, labels = self.graph.search(q, k, params=params)
                del selector
                got = labels[0] >= 0
                if np.count_nonzero(got) >= k:
                    return [(self.label_ids[n], float(s)) for n, s in zip(labels[0][got], scores[0][got])]
            # Exact: a small allowed subset, or the graph came back short. faiss's kernel scores
            # the allowed rows in place (numpy would copy them out first, and its BLAS matrix-
            # vector product goes multi-threaded, which costs ~15 ms on a busy 2-core machine).
            labels = allowed.labels(self.ntotal)
            scores = np.empty(len(labels), np.float32)
            flat = faiss.downcast_index(self.graph.storage)
            faiss.fvec_inner_products_by_idx(faiss.swig_ptr(scores), faiss.swig_ptr(q), flat.get_xb(),
                                             faiss.swig_ptr(labels), self.dim, 1, len(labels))
        best = top_k(scores, k)
        return [(self.label_ids[labels[n]], float(scores[n])) for n in best]

    def ids(self, project: str) -> set[str]:
        code = self.pcode.get(project)
        return set() if code is None else set(self.by_project.get(code, ()))

    def count(self, project: str | None) -> int:
        if project is None:
            return self.live
        code = self.pcode.get(project)
        return 0 if code is None else len(self.by_project.get(code, ()))

    # --- writing -------------------------------------------------------------------------
    def upsert(self, project: str, ids: list[str], vecs: np.ndarray, levels: np.ndarray) -> None:
        code = self.pcode.get(project)
        if code is None:
            code = self.pcode[project] = len(self.projects)
            self.projects.append(project)
        members = self.by_project.setdefault(code, {})
        stored = self.vectors()
        fresh = []
        for row, cid in enumerate(ids):
            old = members.get(cid)
            if old is not None and self.alive[old] and np.array_equal(stored[old], vecs[row]):
                self.levels[old] = levels[row]      # same vector, new level: no graph change
                continue
            if old is not None:
                self.alive[old] = False
                self.live -= 1
            fresh.append(row)
        if fresh:
            base = self.ntotal
            take = np.asarray(fresh)
            self.graph.add(np.ascontiguousarray(vecs[take]))
            n = len(fresh)
            self.levels = np.concatenate([self.levels, levels[take]])
            self.projs = np.concatenate([self.projs, np.full(n, code, np.int32)])
            self.alive = np.concatenate([self.alive, np.ones(n, bool)])
            for j, row in enumerate(fresh):
                self.label_ids.append(ids[row])
                members[ids[row]] = base + j
            self.live += n
        self.version += 1

    def delete(self, project: str, ids: Sequence[str]) -> None:
        code = self.pcode.get(project)
        members = self.by_project.get(code, {}) if code is not None else {}
        for cid in ids:
            label = members.pop(cid, None)
            if label is not None:
                self.alive[label] = False
                self.live -= 1
        self.version += 1

    def apply(self, op: tuple) -> None:
        if op[0] == "upsert":
            self.upsert(*op[1:])
        else:
            self.delete(*op[1:])

    def needs_compaction(self) -> bool:
        dead = self.ntotal - self.live
        return dead > 0 and dead >= max(self.params.compact_min, self.params.compact_ratio * self.ntotal)

    def compacted(self) -> _Shard:
        """A copy without dead nodes (the graph is rebuilt from the live vectors)."""
        out = _Shard(self.name, self.dim, self.params)
        keep = np.flatnonzero(self.alive)
        if len(keep):
            out.graph.add(np.ascontiguousarray(self.vectors()[keep]))
        out.levels, out.projs = self.levels[keep], self.projs[keep]
        out.alive = np.ones(len(keep), bool)
        out.label_ids = [self.label_ids[n] for n in keep]
        out.projects, out.pcode = list(self.projects), dict(self.pcode)
        for new, old in enumerate(keep):
            out.by_project.setdefault(int(self.projs[old]), {})[self.label_ids[old]] = new
        out.live = len(keep)
        out.generation = self.generation
        return out

    # --- files ---------------------------------------------------------------------------
    def write(self, graph_path: Path, meta_path: Path) -> None:
        import faiss

        faiss.write_index(self.graph, str(graph_path))
        _fsync_file(graph_path)
        blob = "\x00".join(self.label_ids).encode("utf-8")
        with open(meta_path, "wb") as fh:
            np.savez(fh, levels=self.levels, projs=self.projs, alive=self.alive,
                     ids=np.frombuffer(blob, np.uint8),
                     projects=np.frombuffer(json.dumps(self.projects).encode("utf-8"), np.uint8))
            fh.flush()
            os.fsync(fh.fileno())

    @classmethod
    def read(cls, name: str, dim: int, params: _Params, graph_path: Path, meta_path: Path,
             generation: int) -> _Shard:
        import faiss

        out = cls(name, dim, params)
        graph = faiss.read_index(str(graph_path))
        if graph.d != dim:
            raise VectorStoreError(f"vector index {name!r} on disk has {graph.d} dimensions, the embedder "
                                   f"{dim}: rebuild it (delete {graph_path.parent} and re-run the index assets)")
        graph.hnsw.efConstruction = params.ef_construction
        out.graph = graph
        with np.load(meta_path, allow_pickle=False) as meta:
            out.levels = meta["levels"].astype(np.int8)
            out.projs = meta["projs"].astype(np.int32)
            out.alive = meta["alive"].astype(bool)
            blob = meta["ids"].tobytes().decode("utf-8")
            out.projects = json.loads(meta["projects"].tobytes().decode("utf-8"))
        out.label_ids = blob.split("\x00") if out.ntotal else []
        if not (len(out.label_ids) == len(out.levels) == len(out.projs) == len(out.alive) == out.ntotal):
            raise VectorStoreError(f"vector index {name!r}: {meta_path.name} does not match {graph_path.name}")
        out.pcode = {p: n for n, p in enumerate(out.projects)}
        for label in np.flatnonzero(out.alive):
            out.by_project.setdefault(int(out.projs[label]), {})[out.label_ids[label]] = int(label)
        out.live = int(np.count_nonzero(out.alive))
        out.generation = generation
        return out


@contextlib.contextmanager
def _single_threaded(faiss: Any) -> Iterator[None]:
    """One OpenMP thread for faiss calls made by this thread (OpenMP settings are per thread):
    a single query gains nothing from a team, and on a busy machine waiting for the second
    thread of a team costs milliseconds."""
    before = faiss.omp_get_max_threads()
    if before == 1:
        yield
        return
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


class _Params:
    """Embedded-store settings (keyword arguments of `open_vector_store("file://...")`).

    m, ef_construction: HNSW graph degree and build width (new graphs; a loaded graph keeps its m).
    ef_search: search width with no filter; a filter allowing a share s of the nodes searches with
    ef_search / sqrt(s) (s >= 1/4) or ef_search / 2s, at most ef_max. exact_budget, exact_max: when
    the exact search replaces the graph (see `_Shard.query`). compact_ratio, compact_min:
    flush rebuilds a graph whose dead nodes reach both. refresh_interval: seconds between checks
    for a newer manifest written by another process."""

    def __init__(self, m: int = 16, ef_construction: int = 80, ef_search: int = 64, ef_max: int = 2048,
                 exact_budget: int = 4_000_000, exact_max: int = 16_000_000, compact_ratio: float = 0.25,
                 compact_min: int = 1000, refresh_interval: float = 2.0) -> None:
        self.m, self.ef_construction, self.ef_search, self.ef_max = m, ef_construction, ef_search, ef_max
        # Exact search always when (allowed vectors x dim) is at most exact_budget (4M floats: about
        # 1 ms, 10,000 vectors at 384 dimensions, 2,600 at 1536), never above exact_max (~4 ms).
        self.exact_budget, self.exact_max = exact_budget, exact_max
        self.compact_ratio, self.compact_min = compact_ratio, compact_min
        self.refresh_interval = refresh_interval


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        _fsync_file(path)


def _atomic_replace(src: Path, dst: Path) -> None:
    """The commit step of a save (a seam for crash tests)."""
    os.replace(src, dst)


_GEN_FILE = re.compile(r"^(?P<index>[A-Za-z0-9_-]+)\.g(?P<gen>\d+)\.(faiss|meta\.npz)(\.tmp)?$")


class EmbeddedVectorStore(VectorStore):
    """faiss HNSW graphs under one folder; see the module docstring."""

    def __init__(self, root: str | os.PathLike, dim_by_index: Mapping[str, int], **kw: Any) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.dims = dict(dim_by_index)
        self.params = _Params(**kw)
        self._mutex = threading.RLock()           # one writer (upsert/delete/flush) at a time
        self._lock_path = self.root / LOCK_FILE
        self._manifest_stat: tuple | None = None
        self._last_check = 0.0
        self._shards: dict[str, _Shard] = {}
        with self._file_lock(exclusive=True):
            self._remove_leftovers(self._read_manifest())
        self._load_all()

    # --- public API ------------------------------------------------------------------------
    def upsert(self, index, project, ids, vectors, levels):
        dim = check_index(index, self.dims)
        check_project(project)
        ids, vecs, lv = check_batch(dim, ids, vectors, levels)
        if not ids:
            return
        with self._mutex:
            shard = self._shards[index]
            op = ("upsert", project, ids, vecs, lv)
            with shard.rw.write():
                shard.apply(op)
                shard.journal.append(op)

    def delete(self, index, project, ids):
        check_index(index, self.dims)
        check_project(project)
        ids = list(ids)
        if not ids:
            return
        with self._mutex:
            shard = self._shards[index]
            op = ("delete", project, ids)
            with shard.rw.write():
                shard.apply(op)
                shard.journal.append(op)

    def query(self, index, vector, k, max_level, projects=None):
        dim = check_index(index, self.dims)
        q = check_query(dim, vector)
        if isinstance(projects, str):
            projects = [projects]
        self._maybe_refresh()
        shard = self._shards[index]
        with shard.rw.read():
            return shard.query(q, int(k), int(max_level), projects)

    def ids(self, index, project):
        check_index(index, self.dims)
        self._maybe_refresh()
        shard = self._shards[index]
        with shard.rw.read():
            return shard.ids(project)

    def count(self, index, project=None):
        check_index(index, self.dims)
        self._maybe_refresh()
        shard = self._shards[index]
        with shard.rw.read():
            return shard.count(project)

    def flush(self) -> None:
        with self._mutex:
            dirty = {name: s for name, s in self._shards.items() if s.journal}
            if not dirty:
                return
            with self._file_lock(exclusive=True):
                manifest = self._read_manifest()
                entries = manifest.setdefault("indexes", {})
                replaced: dict[str, _Shard] = {}
                for name, shard in dirty.items():
                    on_disk = int(entries.get(name, {}).get("generation", 0))
                    target = shard
                    if on_disk != shard.generation and name in entries:
                        # Another process committed since we loaded: start from its state.
                        target = self._load_shard(name, entries[name])
                        for op in shard.journal:
                            target.apply(op)
                    if target.needs_compaction():
                        target = target.compacted()
                    gen = on_disk + 1
                    files = {"graph": f"{name}.g{gen}.faiss", "meta": f"{name}.g{gen}.meta.npz"}
                    tmp = {key: self.root / (f + ".tmp") for key, f in files.items()}
                    with shard.rw.read():
                        target.write(tmp["graph"], tmp["meta"])
                    for key, f in files.items():
                        os.replace(tmp[key], self.root / f)
                    entries[name] = {"generation": gen, "dim": target.dim, "metric": "cosine",
                                     "count": target.live, "nodes": target.ntotal, "files": files,
                                     "sizes": {key: (self.root / f).stat().st_size for key, f in files.items()}}
                    replaced[name] = target
                _fsync_dir(self.root)            # the new files' names are durable before the manifest
                manifest["format"] = FORMAT
                manifest["written_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                self._write_manifest(manifest)   # the commit point
                for name, target in replaced.items():
                    shard = self._shards[name]
                    with shard.rw.write():
                        target.generation = int(entries[name]["generation"])
                        target.journal = []
                        if target is shard:
                            shard.version += 1
                        else:
                            target.version = shard.version + 1
                            self._shards[name] = target
                self._remove_leftovers(manifest)
                self._reload_stale(manifest)

    def refresh(self) -> None:
        """Reload indexes that another process has committed since (pending changes stay)."""
        with self._mutex:
            with self._file_lock(exclusive=False):
                self._reload_stale(self._read_manifest())
            self._last_check = time.monotonic()

    def _reload_stale(self, manifest: dict) -> None:
        """Swap in the manifest's generation of every index without pending changes (hold the
        mutex and a file lock); indexes with pending changes merge at their flush."""
        self._manifest_stat = self._stat_manifest()
        for name, entry in manifest.get("indexes", {}).items():
            shard = self._shards.get(name)
            if shard is None or shard.journal or int(entry.get("generation", 0)) == shard.generation:
                continue
            fresh = self._load_shard(name, entry)
            with shard.rw.write():
                fresh.version = shard.version + 1
                self._shards[name] = fresh

    def stats(self) -> dict[str, dict[str, int]]:
        return {name: {"count": s.live, "nodes": s.ntotal, "generation": s.generation,
                       "pending": len(s.journal)} for name, s in self._shards.items()}

    # --- files -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def _file_lock(self, exclusive: bool) -> Iterator[None]:
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)   # releases the lock

    def _stat_manifest(self) -> tuple | None:
        try:
            st = (self.root / MANIFEST).stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _read_manifest(self) -> dict:
        path = self.root / MANIFEST
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return {"format": FORMAT, "indexes": {}}
        except (OSError, ValueError) as exc:
            raise VectorStoreError(f"{path} is unreadable ({exc}); delete {self.root} to rebuild") from exc
        if data.get("format") != FORMAT:
            raise VectorStoreError(f"{path} has format {data.get('format')!r}, expected {FORMAT!r}")
        return data

    def _write_manifest(self, manifest: dict) -> None:
        path = self.root / MANIFEST
        tmp = self.root / (MANIFEST + ".tmp")
        with open(tmp, "w") as fh:
            json.dump(manifest, fh, indent=1, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        _atomic_replace(tmp, path)
        _fsync_dir(self.root)

    def _remove_leftovers(self, manifest: dict) -> None:
        """Delete temp files and generations the manifest no longer names (hold the lock)."""
        keep = {f for e in manifest.get("indexes", {}).values() for f in e.get("files", {}).values()}
        for path in self.root.iterdir():
            if path.name == MANIFEST + ".tmp" or (_GEN_FILE.match(path.name) and path.name not in keep):
                with contextlib.suppress(OSError):
                    path.unlink()

    def _load_shard(self, name: str, entry: Mapping[str, Any]) -> _Shard:
        files = entry["files"]
        paths = {key: self.root / f for key, f in files.items()}
        for key, path in paths.items():
            size = entry.get("sizes", {}).get(key)
            if not path.exists() or (size is not None and path.stat().st_size != size):
                raise VectorStoreError(f"vector index {name!r}: {path} is missing or truncated; "
                                       f"delete {self.root} and re-run the index assets to rebuild")
        return _Shard.read(name, self.dims[name], self.params, paths["graph"], paths["meta"],
                           int(entry["generation"]))

    def _load_all(self) -> None:
        with self._file_lock(exclusive=False):
            manifest = self._read_manifest()
            self._manifest_stat = self._stat_manifest()
            entries = manifest.get("indexes", {})
            for name, dim in self.dims.items():
                if name in entries:
                    self._shards[name] = self._load_shard(name, entries[name])
                else:
                    self._shards[name] = _Shard(name, dim, self.params)
        self._last_check = time.monotonic()

    def _maybe_refresh(self) -> None:
        now = time.monotonic()
        if now - self._last_check < self.params.refresh_interval:
            return
        self._last_check = now
        if self._stat_manifest() != self._manifest_stat and self._mutex.acquire(blocking=False):
            try:   # never wait behind a flush here: the next check will catch up
                self.refresh()
            finally:
                self._mutex.release()


# ---------------------------------------------------------------------------------------------


def open_vector_store(url: str, dim_by_index: Mapping[str, int], **kw: Any) -> VectorStore:
    """`file:///folder` (or a plain path): the embedded store; `pinecone://?index_prefix=anfl`:
    Pinecone, one index `{prefix}-{index}` per ANFL index (api_key= or PINECONE_API_KEY; host=
    overrides the control-plane host, index_hosts= maps index names to data-plane hosts).
    Keyword arguments configure the implementation (see `_Params` and `PineconeVectorStore`)."""
    if "://" not in url:
        return EmbeddedVectorStore(url, dim_by_index, **kw)
    parsed = urlparse(url)
    if parsed.scheme == "file":
        path = unquote(parsed.path)
        if parsed.netloc and parsed.netloc != "localhost":
            path = parsed.netloc + path   # file://relative/dir
        if not path:
            raise ValueError(f"no folder in {url!r}")
        return EmbeddedVectorStore(path, dim_by_index, **kw)
    if parsed.scheme == "pinecone":
        from anfl_assets.domain.vectors.pinecone_store import PineconeVectorStore

        options = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
        options.update(kw)
        return PineconeVectorStore(dim_by_index, **options)
    raise ValueError(f"unsupported vector store URL {url!r}: use file:///folder or pinecone://?index_prefix=NAME")
