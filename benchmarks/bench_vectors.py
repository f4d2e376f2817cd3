#!/usr/bin/env python3
"""Benchmark the embedded vector store (clearance-filtered k-NN) and the libraries it was chosen from.

Data: N random unit vectors (default 100,000) at 384 and 1536 dimensions, each with a level
drawn uniformly from 0..3 (public..restricted) and a project: "tiny" holds 0.1% of the
vectors, "small" 5%, and 18 others share the rest. `--data clustered` draws vectors and
queries from a mixture of N/100 Gaussian clusters instead (closer to real embeddings, where
neighbours are much nearer than random pairs); uniform random vectors at these dimensions are
the hardest case for any graph index, which shows in recall.

Cases (k = 10): `L3` every vector allowed; `L1` clearance internal (50% allowed); `L0`
public only (25%); `proj5%` one project of 5% at L3; `sel0.05%` the tiny project at L1
(0.05% allowed: the exact fallback). For each: single-query latency p50/p99 over
`--queries` (>= 2000) queries in one thread, throughput with `--threads` (2) client threads,
and recall@10 against exact numpy search over the same allowed subset (up to 200 queries).
Timings are repeated `--repeat` times; the tables show medians.

Candidates compared in the same run, on the same data, with the same HNSW settings
(M=16, ef_construction=80, ef_search=64):
  faiss    anfl's EmbeddedVectorStore (faiss IndexHNSWFlat, IDSelectorBitmap pre-filter,
           ef widened as the allowed share shrinks, exact search for small subsets), all its
           Python overhead included
  hnswlib  raw hnswlib.Index.knn_query(filter=callable): the filter is a Python callback,
           called for every candidate with the GIL held
  usearch  raw usearch.Index: its Python API has no filter, so the only way to pre-filter by
           level is one index per level, searching levels 0..L and merging (no project filter)

Targets: p99 <= 10 ms single-query latency with a clearance filter; >= 1000 queries/s with
2 client threads.

Usage (from the repository root):
  .venv/bin/python benchmarks/bench_vectors.py                         # 100k x 384 (+ candidates) and 1536
  .venv/bin/python benchmarks/bench_vectors.py --dims 384 --candidates faiss
  .venv/bin/python benchmarks/bench_vectors.py --n 20000 --queries 2000 --repeat 3 --data clustered

Built indexes are cached under benchmarks/.work/vectors/ (git-ignored) and reused by later
runs with the same data and settings (`--rebuild` to build afresh); raw figures go to
benchmarks/.work/vectors/last-run.json. This script does not write benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shutil
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
WORK = BENCH_DIR / ".work" / "vectors"
sys.path.insert(0, str(REPO_ROOT))

K = 10
M, EF_CONSTRUCTION, EF_SEARCH = 16, 80, 64
RECALL_QUERIES = 200
CASES = [  # name, max_level, project filter
    ("L3", 3, None),
    ("L1", 1, None),
    ("L0", 0, None),
    ("proj5%", 3, ["small"]),
    ("sel0.05%", 1, ["tiny"]),
]


# --- data ------------------------------------------------------------------------------------


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def make_data(n: int, dim: int, kind: str, n_queries: int, seed: int = 42):
    rng = np.random.default_rng(seed)
    if kind == "uniform":
        x = unit(rng.standard_normal((n, dim), dtype=np.float32))
        q = unit(rng.standard_normal((n_queries, dim), dtype=np.float32))
    else:
        centers = unit(rng.standard_normal((max(1, n // 100), dim), dtype=np.float32))
        sigma = 1.0 / np.sqrt(dim)

        def draw(m: int) -> np.ndarray:
            out = np.empty((m, dim), np.float32)
            for start in range(0, m, 20000):
                stop = min(m, start + 20000)
                pick = rng.integers(0, len(centers), stop - start)
                out[start:stop] = unit(centers[pick] + sigma * rng.standard_normal((stop - start, dim),
                                                                                    dtype=np.float32))
            return out
        x, q = draw(n), draw(n_queries)
    levels = rng.integers(0, 4, n).astype(np.int8)
    projects = np.empty(n, dtype=object)
    order = rng.permutation(n)
    tiny, small = max(1, n // 1000), max(1, n // 20)
    projects[order[:tiny]] = "tiny"
    projects[order[tiny:tiny + small]] = "small"
    rest = order[tiny + small:]
    for i in range(18):
        projects[rest[i::18]] = f"project-{i:02d}"
    return x, q, levels, projects.astype(str)


def allowed_mask(levels, projects, max_level, wanted):
    mask = levels <= max_level
    if wanted is not None:
        mask &= np.isin(projects, wanted)
    return mask


def exact_topk(x, q, mask, k=K) -> list[list[int]]:
    rows = np.flatnonzero(mask)
    scores = q @ x[rows].T
    out = []
    for s in scores:
        kk = min(k, len(rows))
        top = np.argpartition(-s, kk - 1)[:kk]
        out.append(rows[top[np.argsort(-s[top])]].tolist())
    return out


# --- timing ----------------------------------------------------------------------------------


def latencies(fn, queries) -> list[float]:
    out = []
    for q in queries:
        t = time.perf_counter()
        fn(q)
        out.append(time.perf_counter() - t)
    return out


def throughput(fn, queries, threads: int) -> tuple[float, float]:
    """(queries per second, CPU seconds per query) with `threads` client threads."""
    parts = [queries[i::threads] for i in range(threads)]
    barrier = threading.Barrier(threads + 1)

    def run(part):
        barrier.wait()
        for q in part:
            fn(q)

    workers = [threading.Thread(target=run, args=(p,)) for p in parts]
    for w in workers:
        w.start()
    barrier.wait()
    t, cpu = time.perf_counter(), time.process_time()
    for w in workers:
        w.join()
    return len(queries) / (time.perf_counter() - t), (time.process_time() - cpu) / len(queries)


def measure(fn, queries, threads, repeat, truth, to_index, budget_s) -> dict:
    """Latency and throughput over `queries` (cut so one pass takes about `budget_s`), recall on `truth`."""
    probe = latencies(fn, queries[:20])
    per_query = statistics.mean(probe)
    if per_query * len(queries) > budget_s:
        queries = queries[:max(50, int(budget_s / per_query))]
    p50s, p99s, qps, cpus = [], [], [], []
    for _ in range(repeat):
        gc.collect()
        lat = latencies(fn, queries)
        p50s.append(float(np.percentile(lat, 50)) * 1e3)
        p99s.append(float(np.percentile(lat, 99)) * 1e3)
        rate, cpu = throughput(fn, queries, threads)
        qps.append(rate)
        cpus.append(cpu * 1e3)
    hits = total = 0
    for q, want in list(zip(queries, truth))[:max(50, len(queries) // 10)]:
        got = to_index(fn(q))
        hits += len(set(got) & set(want))
        total += len(want)
    return {"p50_ms": statistics.median(p50s), "p99_ms": statistics.median(p99s),
            "qps": statistics.median(qps), "cpu_ms": statistics.median(cpus), "recall": hits / max(1, total),
            "queries": len(queries), "samples": {"p50_ms": p50s, "p99_ms": p99s, "qps": qps, "cpu_ms": cpus}}


# --- candidates ------------------------------------------------------------------------------


class StoreCandidate:
    name = "faiss"
    mechanism = "EmbeddedVectorStore: IDSelectorBitmap inside the HNSW search; exact search for small subsets"

    def __init__(self, folder: Path, x, levels, projects, rebuild: bool, **params):
        from anfl_assets.domain.vectors.store import EmbeddedVectorStore

        self.ids = [str(i) for i in range(len(x))]
        complete = (folder / "manifest.json").exists() and not rebuild
        if not complete:
            shutil.rmtree(folder, ignore_errors=True)
        t = time.perf_counter()
        params = {"ef_search": EF_SEARCH, **params}
        self.store = EmbeddedVectorStore(folder, {"code": x.shape[1]}, m=M, ef_construction=EF_CONSTRUCTION,
                                         refresh_interval=3600, **params)
        self.load_s = time.perf_counter() - t
        self.build_s = None
        self.flush_s = None
        if not complete:
            t = time.perf_counter()
            for project in sorted(set(projects)):
                rows = np.flatnonzero(projects == project)
                for start in range(0, len(rows), 10000):
                    part = rows[start:start + 10000]
                    self.store.upsert("code", project, [self.ids[i] for i in part], x[part], levels[part])
            self.build_s = time.perf_counter() - t
            t = time.perf_counter()
            self.store.flush()
            self.flush_s = time.perf_counter() - t
            t = time.perf_counter()
            self.store = EmbeddedVectorStore(folder, {"code": x.shape[1]}, m=M, ef_construction=EF_CONSTRUCTION,
                                             refresh_interval=3600, **params)
            self.load_s = time.perf_counter() - t
        self.disk_mb = sum(p.stat().st_size for p in folder.iterdir()) / 1e6

    def search_fn(self, max_level, wanted):
        store = self.store
        return lambda q: store.query("code", q, K, max_level, wanted)

    @staticmethod
    def to_index(result):
        return [int(i) for i, _ in result]


class HnswlibCandidate:
    name = "hnswlib"
    mechanism = "knn_query(filter=python callable), called per candidate with the GIL"

    def __init__(self, folder: Path, x, levels, projects, rebuild: bool):
        import hnswlib

        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "index.bin"
        self.index = hnswlib.Index(space="ip", dim=x.shape[1])
        self.build_s = None
        t = time.perf_counter()
        if path.exists() and not rebuild:
            self.index.load_index(str(path), max_elements=len(x))
        else:
            self.index.init_index(max_elements=len(x), ef_construction=EF_CONSTRUCTION, M=M)
            self.index.add_items(x, np.arange(len(x)), num_threads=2)
            self.build_s = time.perf_counter() - t
            self.index.save_index(str(path))
        self.load_s = time.perf_counter() - t if self.build_s is None else None
        self.index.set_ef(EF_SEARCH)
        self.levels, self.projects = levels, projects
        self.disk_mb = path.stat().st_size / 1e6

    def search_fn(self, max_level, wanted):
        allowed = allowed_mask(self.levels, self.projects, max_level, wanted).tolist()
        check = allowed.__getitem__
        index = self.index
        kk = min(K, sum(allowed))
        return lambda q: index.knn_query(q, k=kk, num_threads=1, filter=check)

    @staticmethod
    def to_index(result):
        return result[0][0].tolist()


class UsearchCandidate:
    name = "usearch"
    mechanism = "no filter in the Python API: one index per level, levels 0..L searched and merged"

    def __init__(self, folder: Path, x, levels, projects, rebuild: bool):
        from usearch.index import Index

        folder.mkdir(parents=True, exist_ok=True)
        self.parts = []
        self.build_s = None
        t = time.perf_counter()
        built = False
        for level in range(4):
            path = folder / f"level{level}.usearch"
            index = Index(ndim=x.shape[1], metric="ip", dtype="f32", connectivity=M,
                          expansion_add=EF_CONSTRUCTION, expansion_search=EF_SEARCH)
            if path.exists() and not rebuild:
                index.load(str(path))
            else:
                rows = np.flatnonzero(levels == level)
                index.add(rows, x[rows], threads=2)
                index.save(str(path))
                built = True
            self.parts.append(index)
        elapsed = time.perf_counter() - t
        self.build_s, self.load_s = (elapsed, None) if built else (None, elapsed)
        self.disk_mb = sum(p.stat().st_size for p in folder.iterdir()) / 1e6

    def search_fn(self, max_level, wanted):
        if wanted is not None:
            return None          # no project filter possible
        parts = self.parts[:max_level + 1]

        def search(q):
            keys, dists = [], []
            for part in parts:
                m = part.search(q, K, threads=1)
                keys.append(m.keys)
                dists.append(m.distances)
            keys, dists = np.concatenate(keys), np.concatenate(dists)
            order = np.argsort(dists, kind="stable")[:K]
            return keys[order]
        return search

    @staticmethod
    def to_index(result):
        return result.tolist()


CANDIDATES = {"faiss": StoreCandidate, "hnswlib": HnswlibCandidate, "usearch": UsearchCandidate}


# --- main ------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dims", default="384,1536")
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", choices=["uniform", "clustered"], default="uniform")
    ap.add_argument("--candidates", default="faiss,hnswlib,usearch",
                    help="compared at the first of --dims; later dims run faiss (the store) only")
    ap.add_argument("--cases", default=",".join(c[0] for c in CASES))
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--case-budget", type=float, default=30.0,
                    help="seconds one timing pass of one case may take: slower cases run fewer queries "
                         "(at least 200; the table says how many)")
    ap.add_argument("--exact-budget", type=int, default=None, help="store setting (allowed x dim)")
    ap.add_argument("--ef", type=int, default=None, help="store setting ef_search (default %d)" % EF_SEARCH)
    args = ap.parse_args()
    if args.queries < RECALL_QUERIES:
        ap.error(f"--queries must be at least {RECALL_QUERIES}")

    import faiss

    WORK.mkdir(parents=True, exist_ok=True)
    dims = [int(d) for d in args.dims.split(",")]
    wanted_cases = [c for c in CASES if c[0] in args.cases.split(",")]
    wanted_candidates = [c for c in args.candidates.split(",") if c]
    print(f"# bench_vectors: n={args.n} dims={dims} data={args.data} queries={args.queries} "
          f"repeat={args.repeat} threads={args.threads} k={K} M={M} efC={EF_CONSTRUCTION} ef={EF_SEARCH}")
    print(f"# {platform.platform()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, "
          f"faiss {faiss.__version__}, numpy {np.__version__}", flush=True)
    rows, builds = [], []
    for d_i, dim in enumerate(dims):
        t = time.perf_counter()
        x, q, levels, projects = make_data(args.n, dim, args.data, max(args.queries, RECALL_QUERIES))
        print(f"\n## {args.n} x {dim} ({args.data}); data in {time.perf_counter() - t:.1f}s", flush=True)
        truths = {}
        for name, max_level, wanted in wanted_cases:
            mask = allowed_mask(levels, projects, max_level, wanted)
            truths[name] = (exact_topk(x, q[:RECALL_QUERIES], mask), int(mask.sum()))
        names = wanted_candidates if d_i == 0 else [c for c in wanted_candidates if c == "faiss"]
        for cname in names:
            folder = WORK / f"{cname}-{args.data}-{args.n}x{dim}-M{M}-efc{EF_CONSTRUCTION}"
            extra = {}
            if cname == "faiss":
                extra = {key: v for key, v in (("exact_budget", args.exact_budget), ("ef_search", args.ef))
                         if v is not None}
            t = time.perf_counter()
            try:
                cand = CANDIDATES[cname](folder, x, levels, projects, args.rebuild, **extra)
            except ImportError as exc:   # hnswlib and usearch are not dependencies of anfl
                print(f"{cname}: skipped ({exc}; pip install it to compare)", flush=True)
                continue
            build = {"dim": dim, "candidate": cname, "build_s": cand.build_s, "load_s": cand.load_s,
                     "flush_s": getattr(cand, "flush_s", None), "disk_mb": cand.disk_mb,
                     "mechanism": cand.mechanism}
            builds.append(build)
            print(f"{cname}: ready in {time.perf_counter() - t:.1f}s "
                  f"(build {fmt(cand.build_s)}s, flush {fmt(build['flush_s'])}s, load {fmt(cand.load_s)}s, "
                  f"{cand.disk_mb:.0f} MB on disk)", flush=True)
            for case, max_level, wanted in wanted_cases:
                fn = cand.search_fn(max_level, wanted)
                if fn is None:
                    continue
                truth, allowed = truths[case]
                r = measure(fn, list(q[:args.queries]), args.threads, args.repeat, truth, cand.to_index,
                            args.case_budget)
                r.update(dim=dim, candidate=cname, case=case, allowed=allowed)
                rows.append(r)
                print(f"  {case:9} allowed {allowed:>6}: p50 {r['p50_ms']:.3f} ms  p99 {r['p99_ms']:.3f} ms  "
                      f"{r['qps']:.0f} q/s ({args.threads} threads, {r['cpu_ms']:.2f} CPU ms/query)  "
                      f"recall@10 {r['recall']:.3f}  "
                      f"[{r['queries']} queries]", flush=True)
            del cand
            gc.collect()

    print("\n### Results (medians of", args.repeat, "repeats)\n")
    print("| dim | library | case | allowed | queries | p50 ms | p99 ms | q/s (%d threads) | CPU ms/query "
          "| recall@10 |" % args.threads)
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['dim']} | {r['candidate']} | {r['case']} | {r['allowed']} | {r['queries']} | "
              f"{r['p50_ms']:.3f} | {r['p99_ms']:.3f} | {r['qps']:.0f} | {r['cpu_ms']:.2f} | {r['recall']:.3f} |")
    print("\n| dim | library | build s | flush s | load s | disk MB | filter mechanism |")
    print("|---|---|---:|---:|---:|---:|---|")
    for b in builds:
        print(f"| {b['dim']} | {b['candidate']} | {fmt(b['build_s'])} | {fmt(b['flush_s'])} | {fmt(b['load_s'])} | "
              f"{b['disk_mb']:.0f} | {b['mechanism']} |")
    print(f"\nLoad average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs. CPU ms/query is the "
          f"process CPU time of the {args.threads}-thread run per query: an idle machine with C cores serves "
          f"about C / (CPU ms/query) x 1000 q/s.")
    targets = [r for r in rows if r["candidate"] == "faiss" and r["case"] == "L1"]
    if targets:
        print("\nTargets (faiss store, clearance L1):", "; ".join(
            f"{r['dim']}d p99 {r['p99_ms']:.2f} ms ({'ok' if r['p99_ms'] <= 10 else 'MISSED'}), "
            f"{r['qps']:.0f} q/s ({'ok' if r['qps'] >= 1000 else 'MISSED'})" for r in targets))
    (WORK / "last-run.json").write_text(json.dumps({"args": vars(args), "rows": rows, "builds": builds}, indent=1))
    return 0


def fmt(v) -> str:
    return "-" if v is None else f"{v:.1f}"


if __name__ == "__main__":
    sys.exit(main())
