"""One behavioural suite for every VectorStore: the embedded store (with its default settings,
and forced through the HNSW graph for every query) and Pinecone against a local fake server.

The yardstick is numpy brute force over the allowed subset: the clearance filter must be a
pre-filter (the k nearest *allowed* vectors), so a very selective filter still yields
min(k, allowed) results, equal to brute force.
"""

from __future__ import annotations

import itertools
import multiprocessing
import threading

import numpy as np
import pytest

from anfl_assets.domain.vectors import INDEXES, LEVELS
from anfl_assets.domain.vectors import store as store_mod
from anfl_assets.domain.vectors.store import EmbeddedVectorStore, VectorStoreError, open_vector_store
from anfl_assets_tests.domain.vectors.fake_pinecone import FakePinecone

DIM = 16
DIMS = {"code": DIM, "docs": 8}
KINDS = ["embedded", "embedded-graph", "pinecone"]
_prefixes = itertools.count()


def unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


class Corpus:
    """Random vectors with levels and projects, plus the brute-force answer."""

    def __init__(self, n: int = 1500, seed: int = 7, projects=("alpha", "beta", "gamma"), levels=None):
        rng = np.random.default_rng(seed)
        self.vectors = rng.standard_normal((n, DIM)).astype(np.float32)
        self.ids = [f"chunk-{i:05d}" for i in range(n)]
        self.levels = rng.integers(0, 4, n) if levels is None else np.asarray(levels)
        self.projects = np.array([projects[i % len(projects)] for i in range(n)])
        self.rng = rng

    def load(self, store, index="code"):
        for project in sorted(set(self.projects)):
            rows = np.flatnonzero(self.projects == project)
            store.upsert(index, str(project), [self.ids[i] for i in rows], self.vectors[rows],
                         self.levels[rows].tolist())

    def query_vector(self) -> np.ndarray:
        return self.rng.standard_normal(DIM).astype(np.float32)

    def exact(self, q, k, max_level, projects=None) -> list[str]:
        mask = self.levels <= max_level
        if projects is not None:
            mask &= np.isin(self.projects, list(projects))
        rows = np.flatnonzero(mask)
        scores = unit(self.vectors[rows]) @ unit(q)
        order = np.argsort(-scores, kind="stable")[:k]
        return [self.ids[rows[o]] for o in order]

    def level_of(self, cid: str) -> int:
        return int(self.levels[self.ids.index(cid)])


@pytest.fixture(scope="module")
def fake():
    with FakePinecone(api_key="test-key") as server:
        yield server


@pytest.fixture(params=KINDS)
def kind(request):
    return request.param


@pytest.fixture
def make_store(kind, tmp_path, request):
    opened = []

    def make(dims=DIMS, folder=None, **kw):
        if kind == "pinecone":
            server = request.getfixturevalue("fake")
            s = open_vector_store(f"pinecone://?index_prefix=t{next(_prefixes)}", dims,
                                  api_key=server.api_key, host=server.url, **kw)
        else:
            if kind == "embedded-graph":
                kw.setdefault("exact_budget", 0)   # every query goes through the HNSW graph
                kw.setdefault("exact_max", 0)
            s = open_vector_store(f"file://{folder or tmp_path / 'vectors'}", dims, **kw)
        opened.append(s)
        return s

    yield make
    for s in opened:
        s.close()


def recall(got: list[str], want: list[str]) -> float:
    return len(set(got) & set(want)) / max(1, len(want))


# --- the behavioural suite (every kind) ------------------------------------------------------


def test_nearest_matches_brute_force(make_store, kind):
    s = make_store()
    corpus = Corpus()
    corpus.load(s)
    recalls = []
    for _ in range(40):
        q = corpus.query_vector()
        got = s.query("code", q, 10, 3)
        want = corpus.exact(q, 10, 3)
        assert len(got) == 10
        scores = [score for _, score in got]
        assert scores == sorted(scores, reverse=True)
        assert got[0][1] == pytest.approx(float(unit(corpus.vectors[corpus.ids.index(got[0][0])]) @ unit(q)),
                                          abs=1e-4)
        if kind == "embedded-graph":
            recalls.append(recall([i for i, _ in got], want))
        else:
            assert [i for i, _ in got] == want
    if recalls:
        assert np.mean(recalls) >= 0.95


def test_query_by_own_vector_finds_itself(make_store):
    s = make_store()
    corpus = Corpus(n=300)
    corpus.load(s)
    for i in (0, 17, 299):
        got = s.query("code", corpus.vectors[i], 1, 3)
        assert got[0][0] == corpus.ids[i]
        assert got[0][1] == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("max_level", [0, 1, 2, 3])
def test_clearance_never_returns_a_higher_level(make_store, kind, max_level):
    s = make_store()
    corpus = Corpus()
    corpus.load(s)
    for _ in range(15):
        q = corpus.query_vector()
        got = [i for i, _ in s.query("code", q, 20, max_level)]
        assert len(got) == 20
        assert all(corpus.level_of(cid) <= max_level for cid in got)
        want = corpus.exact(q, 20, max_level)
        if kind == "embedded-graph":
            assert recall(got, want) >= 0.8
        else:
            assert got == want


def test_very_selective_filter_returns_min_k_allowed_and_equals_brute_force(make_store):
    """0.2% of the vectors are public: the k nearest public ones, never fewer than exist."""
    n = 3000
    levels = np.full(n, 3)
    public = [5, 600, 1234, 2222, 2999, 17]
    levels[public] = 0
    levels[[40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59]] = 1  # 0.7% internal
    s = make_store()
    corpus = Corpus(n=n, levels=levels)
    corpus.load(s)
    for _ in range(10):
        q = corpus.query_vector()
        got = s.query("code", q, 10, 0)
        assert len(got) == len(public)
        assert [i for i, _ in got] == corpus.exact(q, 10, 0)
        got = s.query("code", q, 10, 1)
        assert len(got) == 10
        assert [i for i, _ in got] == corpus.exact(q, 10, 1)
        # One project and one level at once: an even smaller subset.
        got = s.query("code", q, 10, 0, ["beta"])
        assert [i for i, _ in got] == corpus.exact(q, 10, 0, ["beta"])


def test_project_filter(make_store, kind):
    s = make_store()
    corpus = Corpus()
    corpus.load(s)
    for _ in range(10):
        q = corpus.query_vector()
        got = [i for i, _ in s.query("code", q, 10, 3, ["alpha", "gamma"])]
        assert len(got) == 10
        assert {str(corpus.projects[corpus.ids.index(c)]) for c in got} <= {"alpha", "gamma"}
        want = corpus.exact(q, 10, 3, ["alpha", "gamma"])
        if kind == "embedded-graph":
            assert recall(got, want) >= 0.8
        else:
            assert got == want
    q = corpus.query_vector()
    assert s.query("code", q, 10, 3, []) == []
    assert s.query("code", q, 10, 3, ["nobody"]) == []
    assert [i for i, _ in s.query("code", q, 5, 1, ["beta", "nobody"])] == corpus.exact(q, 5, 1, ["beta"])


def test_no_clearance_and_empty_index(make_store):
    s = make_store()
    q = np.ones(DIM, np.float32)
    assert s.query("code", q, 10, 3) == []
    Corpus(n=50).load(s)
    assert s.query("code", q, 10, -1) == []
    assert s.query("code", q, 0, 3) == []
    assert s.query("docs", np.ones(8, np.float32), 10, 3) == []
    assert len(s.query("code", q, 500, 3)) == 50          # k above the number of vectors


def test_delete_removes(make_store):
    s = make_store()
    corpus = Corpus(n=600)
    corpus.load(s)
    q = corpus.query_vector()
    first = [i for i, _ in s.query("code", q, 5, 3)]
    by_project: dict[str, list[str]] = {}
    for cid in first:
        by_project.setdefault(str(corpus.projects[corpus.ids.index(cid)]), []).append(cid)
    for project, ids in by_project.items():
        s.delete("code", project, ids + ["never-existed"])
    s.delete("code", "alpha", [])
    after = [i for i, _ in s.query("code", q, 10, 3)]
    assert not set(first) & set(after)
    assert len(after) == 10
    assert s.count("code") == 600 - 5
    for project, ids in by_project.items():
        assert not set(ids) & s.ids("code", project)
    # Deleting another project's id does nothing.
    victim = sorted(s.ids("code", "beta"))[0]
    s.delete("code", "alpha", [victim])
    assert s.count("code") == 600 - 5
    assert victim in s.ids("code", "beta")


def test_upsert_replaces(make_store):
    s = make_store()
    corpus = Corpus(n=400)
    corpus.load(s)
    target = corpus.ids[10]
    project = str(corpus.projects[10])
    new_vec = corpus.query_vector()
    s.upsert("code", project, [target], new_vec[None, :], [2])
    assert s.count("code") == 400
    got = s.query("code", new_vec, 1, 3)
    assert got[0][0] == target and got[0][1] == pytest.approx(1.0, abs=1e-4)
    # Its new level now applies...
    assert target not in [i for i, _ in s.query("code", new_vec, 50, 1)]
    # ...and the old vector no longer leads to it.
    old = s.query("code", corpus.vectors[10], 3, 3)
    assert old[0][0] != target or old[0][1] < 0.99
    # Same vector, new level only.
    s.upsert("code", project, [target], new_vec[None, :], [0])
    assert s.query("code", new_vec, 1, 0)[0][0] == target
    assert s.count("code") == 400
    # A repeated id within one call: the last row wins.
    a, b = corpus.query_vector(), corpus.query_vector()
    s.upsert("code", project, ["dup", "dup"], np.stack([a, b]), [0, 0])
    assert s.query("code", b, 1, 0)[0] == ("dup", pytest.approx(1.0, abs=1e-4))
    assert s.count("code") == 401


def test_ids_and_count(make_store):
    s = make_store()
    corpus = Corpus(n=330)          # > 100 ids per project: Pinecone lists them in pages
    corpus.load(s)
    for project in ("alpha", "beta", "gamma"):
        want = {c for c, p in zip(corpus.ids, corpus.projects) if p == project}
        assert s.ids("code", project) == want
        assert s.count("code", project) == len(want)
    assert s.count("code") == 330
    assert s.ids("code", "nobody") == set()
    assert s.count("code", "nobody") == 0
    assert s.count("docs") == 0
    s.upsert("docs", "alpha", ["d1", "d2"], np.eye(8, dtype=np.float32)[:2], [0, 3])
    assert s.ids("docs", "alpha") == {"d1", "d2"}
    assert s.count("code") == 330


def test_bad_input_is_refused(make_store):
    s = make_store()
    with pytest.raises(VectorStoreError):
        s.upsert("nope", "alpha", ["a"], np.ones((1, DIM), np.float32), [0])
    with pytest.raises(ValueError):
        s.upsert("code", "alpha", ["a"], np.ones((1, DIM + 1), np.float32), [0])
    with pytest.raises(ValueError):
        s.upsert("code", "alpha", ["a"], np.ones((1, DIM), np.float32), [4])
    with pytest.raises(ValueError):
        s.upsert("code", "alpha", ["a", "b"], np.ones((1, DIM), np.float32), [0, 0])
    with pytest.raises(ValueError):
        s.upsert("code", "alpha", ["a"], np.full((1, DIM), np.nan, np.float32), [0])
    with pytest.raises(ValueError):
        s.upsert("code", "", ["a"], np.ones((1, DIM), np.float32), [0])
    with pytest.raises(ValueError):
        s.query("code", np.ones(DIM - 1, np.float32), 3, 3)
    with pytest.raises(VectorStoreError):
        s.query("nope", np.ones(DIM, np.float32), 3, 3)
    s.upsert("code", "alpha", [], np.zeros((0, DIM), np.float32), [])
    assert s.count("code") == 0


def test_two_threads_query_concurrently(make_store, kind):
    s = make_store()
    corpus = Corpus()
    corpus.load(s)
    queries = [(corpus.query_vector(), level, projects)
               for level, projects in itertools.product(range(4), (None, ["alpha"], ["beta", "gamma"]))
               for _ in range(2)]
    expected = [s.query("code", q, 10, lv, pr) for q, lv, pr in queries]
    results: dict[int, list] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def client(offset: int):
        try:
            barrier.wait()
            for rnd in range(3):
                for j in range(len(queries)):
                    n = (j + offset) % len(queries)
                    q, lv, pr = queries[n]
                    got = s.query("code", q, 10, lv, pr)
                    assert all(corpus.level_of(c) <= lv for c, _ in got)
                    results[(offset, rnd, n)] = got
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(o,)) for o in (0, 7)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    for (_, _, n), got in results.items():
        assert [c for c, _ in got] == [c for c, _ in expected[n]]


# --- embedded store only ---------------------------------------------------------------------

embedded_only = pytest.mark.parametrize("kind", ["embedded", "embedded-graph"], indirect=True)


@embedded_only
def test_persistence_and_reload(make_store, tmp_path):
    folder = tmp_path / "store"
    s = make_store(folder=folder)
    corpus = Corpus()
    corpus.load(s)
    s.upsert("docs", "alpha", ["d1"], np.ones((1, 8), np.float32), [1])
    s.delete("code", "alpha", corpus.ids[0:9:3])     # three of alpha's
    queries = [corpus.query_vector() for _ in range(10)]
    before = [s.query("code", q, 10, lv) for q, lv in zip(queries, itertools.cycle(range(4)))]
    s.flush()
    s.flush()                                   # nothing pending: no new generation
    manifest = (folder / "manifest.json").read_text()
    assert '"generation": 1' in manifest and "code.g1.faiss" in manifest
    s.upsert("code", "alpha", ["unflushed"], corpus.query_vector()[None, :], [0])   # never flushed

    again = make_store(folder=folder)
    assert again.count("code") == len(corpus.ids) - 3
    assert again.count("docs", "alpha") == 1
    assert "unflushed" not in again.ids("code", "alpha")
    assert again.ids("code", "beta") == {c for c, p in zip(corpus.ids, corpus.projects) if p == "beta"}
    after = [again.query("code", q, 10, lv) for q, lv in zip(queries, itertools.cycle(range(4)))]
    for b, a in zip(before, after):
        assert [c for c, _ in b] == [c for c, _ in a]
        assert np.allclose([x for _, x in b], [x for _, x in a], atol=1e-5)
    # An index the caller no longer configures stays on disk untouched.
    code_only = make_store(dims={"code": DIM}, folder=folder)
    code_only.upsert("code", "beta", ["x"], np.ones((1, DIM), np.float32), [0])
    code_only.flush()
    assert make_store(folder=folder).count("docs") == 1


@embedded_only
@pytest.mark.parametrize("crash_at", ["manifest", "graph"])
def test_crash_during_save_keeps_previous_index(make_store, tmp_path, monkeypatch, crash_at):
    folder = tmp_path / "store"
    s = make_store(folder=folder)
    corpus = Corpus(n=500)
    corpus.load(s)
    s.flush()
    q = corpus.query_vector()
    before = s.query("code", q, 10, 3)
    s.delete("code", "alpha", list(s.ids("code", "alpha")))
    s.upsert("code", "beta", ["new"], q[None, :], [0])

    class Crash(Exception):
        pass

    if crash_at == "manifest":      # temp manifest written and fsynced, never renamed into place
        def crash(src, dst):
            raise Crash()
        monkeypatch.setattr(store_mod, "_atomic_replace", crash)
    else:                           # dies half-way through writing the new graph file
        def crash(self, graph_path, meta_path):
            graph_path.write_bytes(b"half a graph")
            raise Crash()
        monkeypatch.setattr(store_mod._Shard, "write", crash)
    with pytest.raises(Crash):
        s.flush()
    monkeypatch.undo()
    assert any(p.name.endswith(".tmp") or ".g2." in p.name for p in folder.iterdir())

    again = make_store(folder=folder)              # the previous generation, intact
    assert again.count("code") == 500
    assert "new" not in again.ids("code", "beta")
    assert again.query("code", q, 10, 3) == before
    assert not any(p.name.endswith(".tmp") or ".g2." in p.name for p in folder.iterdir())  # cleaned up
    s.flush()                                       # the crashed writer can still commit afterwards
    assert make_store(folder=folder).count("code") == 500 - len(corpus.ids[0::3]) + 1


@embedded_only
def test_corrupt_or_mismatched_files_are_reported(make_store, tmp_path):
    folder = tmp_path / "store"
    s = make_store(folder=folder)
    Corpus(n=100).load(s)
    s.flush()
    with pytest.raises(VectorStoreError, match="dimensions"):
        make_store(dims={"code": DIM * 2}, folder=folder)
    graph = folder / "code.g1.faiss"
    graph.write_bytes(graph.read_bytes()[:100])
    with pytest.raises(VectorStoreError, match="truncated"):
        make_store(folder=folder)


def _writer_process(folder: str, project: str, seed: int) -> None:
    s = EmbeddedVectorStore(folder, DIMS)
    rng = np.random.default_rng(seed)
    s.upsert("code", project, [f"{project}-{i}" for i in range(50)], rng.standard_normal((50, DIM)), [0] * 50)
    s.flush()


@embedded_only
def test_writers_in_separate_processes_do_not_lose_updates(make_store, tmp_path):
    """Dagster runs partitions in separate processes: each flush merges with what is on disk."""
    folder = tmp_path / "store"
    a = make_store(folder=folder, refresh_interval=3600)
    b = make_store(folder=folder, refresh_interval=3600)
    a.upsert("code", "alpha", ["a1", "a2"], np.eye(DIM, dtype=np.float32)[:2], [0, 1])
    b.upsert("code", "beta", ["b1"], np.eye(DIM, dtype=np.float32)[2:3], [2])
    b.upsert("code", "beta", ["b2"], np.eye(DIM, dtype=np.float32)[3:4], [2])
    b.delete("code", "beta", ["b2"])
    a.flush()
    b.flush()                             # loads a's generation, replays its own changes
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer_process, args=(str(folder), f"proc{i}", i)) for i in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    merged = make_store(folder=folder)
    assert merged.ids("code", "alpha") == {"a1", "a2"}
    assert merged.ids("code", "beta") == {"b1"}
    assert merged.count("code", "proc0") == merged.count("code", "proc1") == 50
    assert merged.count("code") == 103
    # A store picks up the newer generation on disk when asked to refresh...
    a.refresh()
    assert a.count("code") == 103 and a.ids("code", "proc1")
    # ...when its own flush commits (for the indexes it did not change)...
    c = make_store(folder=folder, refresh_interval=3600)
    c.upsert("docs", "gamma", ["g1"], np.ones((1, 8), np.float32), [0])
    c.flush()
    a.upsert("code", "alpha", ["a3"], np.eye(DIM, dtype=np.float32)[4:5], [0])
    a.flush()
    assert a.ids("docs", "gamma") == {"g1"}
    assert a.count("code") == 104
    # ...and by itself, checking the manifest at most every refresh_interval seconds.
    reader = make_store(folder=folder, refresh_interval=0)
    c.upsert("docs", "gamma", ["g2"], np.ones((1, 8), np.float32), [1])
    c.flush()
    assert reader.ids("docs", "gamma") == {"g1", "g2"}
    assert reader.query("docs", np.ones(8, np.float32), 5, 3, ["gamma"])[0][0] in {"g1", "g2"}


@embedded_only
def test_dead_nodes_are_compacted_at_flush(make_store, tmp_path):
    folder = tmp_path / "store"
    s = make_store(folder=folder, compact_min=10, compact_ratio=0.2)
    corpus = Corpus(n=300)
    corpus.load(s)
    rng = np.random.default_rng(3)
    for _ in range(2):     # new vectors for every id: the old nodes become dead
        corpus.vectors = rng.standard_normal(corpus.vectors.shape).astype(np.float32)
        corpus.load(s)
    assert s.stats()["code"]["nodes"] == 900
    for _ in range(5):
        q = corpus.query_vector()
        assert [i for i, _ in s.query("code", q, 10, 2)] == corpus.exact(q, 10, 2) or \
            s.params.exact_budget == 0
    s.flush()
    assert s.stats()["code"] == {"count": 300, "nodes": 300, "generation": 1, "pending": 0}
    again = make_store(folder=folder)
    assert again.stats()["code"]["nodes"] == 300
    for _ in range(5):
        q = corpus.query_vector()
        got = [i for i, _ in again.query("code", q, 10, 2)]
        assert recall(got, corpus.exact(q, 10, 2)) >= (0.8 if again.params.exact_budget == 0 else 1.0)


@embedded_only
def test_queries_run_while_another_thread_writes(make_store):
    s = make_store()
    corpus = Corpus(n=800)
    corpus.load(s)
    stop = threading.Event()
    errors: list[BaseException] = []

    def reader():
        try:
            while not stop.is_set():
                q = corpus.query_vector()
                got = s.query("code", q, 10, 1, ["alpha", "beta"])
                assert len(got) == 10 and all(c.startswith(("chunk-", "w-")) for c, _ in got)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    rng = np.random.default_rng(9)
    for i in range(20):
        s.upsert("code", "alpha", [f"w-{i}-{j}" for j in range(20)], rng.standard_normal((20, DIM)), [0] * 20)
        s.delete("code", "alpha", [f"w-{i - 1}-{j}" for j in range(10)])
        if i % 5 == 4:
            s.flush()
    stop.set()
    for t in threads:
        t.join(60)
    assert not errors, errors


def test_open_vector_store_urls(tmp_path):
    s = open_vector_store(str(tmp_path / "plain"), {"code": 4})
    assert isinstance(s, EmbeddedVectorStore) and s.root == tmp_path / "plain"
    with pytest.raises(ValueError):
        open_vector_store("redis://x", {"code": 4})
    assert INDEXES == ("code", "config", "docs", "infra")
    assert LEVELS == ("public", "internal", "confidential", "restricted")


# --- Pinecone only ---------------------------------------------------------------------------


def _pinecone(fake, dims=DIMS, **kw):
    return open_vector_store(f"pinecone://?index_prefix=p{next(_prefixes)}", dims, api_key=fake.api_key,
                             host=fake.url, **kw)


def test_pinecone_batches_upserts_by_count_and_size(fake):
    s = _pinecone(fake, {"docs": 1536})
    start = len(fake.requests)
    rng = np.random.default_rng(0)
    s.upsert("docs", "alpha", [f"d{i}" for i in range(230)], rng.standard_normal((230, 1536)), [1] * 230)
    ups = [r for r in fake.requests[start:] if r.get("path") == "/vectors/upsert"]
    assert sum(r["items"] for r in ups) == 230
    assert all(r["items"] <= 100 and r["bytes"] <= 2_000_000 for r in ups)
    assert max(r["bytes"] for r in ups) > 1_500_000     # size, not the count of 100, split these
    s2 = _pinecone(fake, {"code": 8})
    start = len(fake.requests)
    s2.upsert("code", "alpha", [f"c{i}" for i in range(250)], rng.standard_normal((250, 8)), [0] * 250)
    assert [r["items"] for r in fake.requests[start:] if r.get("path") == "/vectors/upsert"] == [100, 100, 50]
    start = len(fake.requests)
    s2.delete("code", "alpha", [f"c{i}" for i in range(250)] + [f"x{i}" for i in range(1000)])
    assert [r["items"] for r in fake.requests[start:] if r.get("path") == "/vectors/delete"] == [1000, 250]
    assert s2.count("code") == 0


def test_pinecone_index_per_anfl_index_and_dimension_check(fake, monkeypatch):
    fake.create_index("pre-code", 32)
    with pytest.raises(VectorStoreError, match="dimensions"):
        s = open_vector_store("pinecone://?index_prefix=pre", {"code": 16}, api_key=fake.api_key, host=fake.url)
        s.count("code")
    s = _pinecone(fake, {"code": 16, "infra": 8})
    s.upsert("infra", "alpha", ["i"], np.ones((1, 8)), [3])
    assert fake.indexes[s.index_name("infra")].dimension == 8
    assert s.index_name("code") not in fake.indexes          # created on first use only
    with pytest.raises(VectorStoreError, match="does not exist"):
        _pinecone(fake, {"code": 16}, create_indexes="false").count("code")
    monkeypatch.delenv("PINECONE_API_KEY", raising=False)
    with pytest.raises(VectorStoreError, match="API key"):
        open_vector_store("pinecone://?index_prefix=x", {"code": 16}, host=fake.url)
    monkeypatch.setenv("PINECONE_API_KEY", fake.api_key)
    assert open_vector_store("pinecone://?index_prefix=x", {"code": 16}, host=fake.url).count("code") == 0


def test_fake_pinecone_filter_language():
    from anfl_assets_tests.domain.vectors.fake_pinecone import matches_filter

    meta = {"level": 1, "kind": "doc"}
    assert matches_filter(meta, {"level": {"$lte": 1}})
    assert not matches_filter(meta, {"level": {"$lt": 1}})
    assert matches_filter(meta, {"level": {"$in": [0, 1]}, "kind": "doc"})
    assert matches_filter(meta, {"$or": [{"level": {"$eq": 3}}, {"kind": {"$eq": "doc"}}]})
    assert not matches_filter(meta, {"$and": [{"level": {"$gte": 2}}, {"kind": {"$ne": "code"}}]})
    assert not matches_filter(meta, {"missing": {"$lte": 3}})
