#!/usr/bin/env python3
"""Benchmark the embedding pipeline against the bare model it wraps.

`embed_with_cache` (content hashing, cache lookup, warehouse-store lookup, embedding the
misses, writing store and cache) on N realistic chunk texts of about 200 word pieces, with an
EMPTY cache and store, against `SentenceTransformer.encode` on the same texts with the same
batch size. Same process, same model object, interleaved (the order flips every repetition),
medians of --repeat runs. Target: pipeline throughput >= 0.8x of the bare encode.

Also shown, for information: a re-run over a full store with an empty cache (what a fresh
process sees for already-known content: nothing is embedded).

Usage (from the repository root):

  .venv/bin/python benchmarks/bench_embed.py                       # N=512, 3 repetitions
  .venv/bin/python benchmarks/bench_embed.py --n 512 --repeat 5 --cache inprocess,redis
  .venv/bin/python benchmarks/bench_embed.py --strict             # exit 1 when the target fails

Prints a Markdown table; writes nothing but temporary warehouses (removed at exit).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from anfl_assets.domain.vectors.cache import EmbeddingStore, InProcessCache, RedisCache, embed_with_cache  # noqa: E402
from anfl_assets.domain.vectors.embedders import SentenceTransformerEmbedder  # noqa: E402
from anfl_assets.domain.warehouse import Warehouse  # noqa: E402

TARGET = 0.8

WORDS = ("pool connection retry timeout config service handler request response cache token "
         "user account billing invoice deploy cluster node replica metrics tracing queue worker "
         "schema migration index query session auth secret rotate backoff limit payload event").split()
LANG_LINES = {
    "python": [
        "def {f}({a}, {b}=None):",
        "    \"\"\"{s}\"\"\"",
        "    if {a} is None:",
        "        raise ValueError(\"{a} is required for {f}\")",
        "    {c} = self.{d}.get({a}, {n})",
        "    for item in {c}.{e}():",
        "        logger.debug(\"{f}: %s\", item.{d})",
        "    return {c}",
        "class {C}({D}):",
        "    {d}: int = {n}",
    ],
    "yaml": [
        "{d}:",
        "  {e}: {n}",
        "  {a}_{b}: \"{f}-{n}\"",
        "  - name: {c}",
        "    image: registry.local/{c}:{n}.{n}",
        "    resources: {{limits: {{cpu: {n}m, memory: {n}Mi}}}}",
    ],
    "markdown": [
        "## {C} {D}",
        "{s}",
        "Set `{a}_{b}` to control how the {c} {d} handles {e}.",
        "- `{f}`: {s}",
    ],
}


def _fill(line: str, rng: random.Random) -> str:
    w = lambda: rng.choice(WORDS)  # noqa: E731
    sentence = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14))).capitalize() + "."
    return line.format(f=f"{w()}_{w()}", a=w(), b=w(), c=w(), d=w(), e=w(), n=rng.randint(1, 4096),
                       C=w().capitalize() + w().capitalize(), D=w().capitalize(), s=sentence)


def make_chunks(n: int, tokens: int, count_tokens, seed: int = 7) -> list[str]:
    """n distinct chunk texts of about `tokens` word pieces, each headed like the chunker's."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        lang = rng.choice(list(LANG_LINES))
        ext = {"python": "py", "yaml": "yaml", "markdown": "md"}[lang]
        path = f"services/{rng.choice(WORDS)}/{rng.choice(WORDS)}_{i}.{ext}"
        lines = [f"{path} :: {rng.choice(WORDS)}_{rng.choice(WORDS)}"]
        while count_tokens(["\n".join(lines)])[0] < tokens:
            lines.append(_fill(rng.choice(LANG_LINES[lang]), rng))
        while len(lines) > 2 and count_tokens(["\n".join(lines)])[0] > tokens + 15:
            lines.pop()
        out.append("\n".join(lines))
    return out


def timed(fn):
    gc.collect()
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=512)
    ap.add_argument("--tokens", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--cache", default="inprocess,redis", help="inprocess and/or redis (skipped if unreachable)")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--strict", action="store_true")
    args = ap.parse_args(argv)

    import torch

    embedder = SentenceTransformerEmbedder(batch_size=args.batch_size)
    model = embedder.model
    texts = make_chunks(args.n, args.tokens, embedder.count_tokens)
    tok = embedder.count_tokens(texts)

    caches = [c.strip() for c in args.cache.split(",") if c.strip()]
    if "redis" in caches:
        try:
            import redis

            redis.Redis.from_url(args.redis_url, socket_connect_timeout=1).ping()
        except Exception as exc:  # noqa: BLE001
            print(f"(redis variant skipped: {type(exc).__name__}: {exc})", file=sys.stderr)
            caches.remove("redis")

    tmp = Path(tempfile.mkdtemp(prefix="bench_embed_"))
    prefixes = []

    def new_store() -> EmbeddingStore:
        store = EmbeddingStore(Warehouse(tmp / f"wh-{uuid.uuid4().hex}.duckdb"))
        store.count()  # warehouse + schema exist, empty: creating them is not per-embedding work
        return store

    def new_cache(kind):
        if kind == "redis":
            prefix = f"anfl:bench:{uuid.uuid4().hex}:"
            prefixes.append(prefix)
            return RedisCache(args.redis_url, prefix=prefix, ttl_s=600)
        return InProcessCache()

    def run_direct():
        return model.encode(texts, batch_size=args.batch_size, convert_to_numpy=True,
                            normalize_embeddings=True, show_progress_bar=False)

    def run_pipeline(cache, store):
        hashes = [hashlib.sha256(t.encode()).hexdigest() for t in texts]
        return embed_with_cache(embedder, texts, hashes, cache, store)

    times: dict[str, list[float]] = {"encode": [], **{f"pipeline/{c}": [] for c in caches}}
    rerun: list[float] = []
    try:
        model.encode(texts[:64], batch_size=args.batch_size, show_progress_bar=False)  # warm-up
        reference = None
        for rep in range(args.repeat):
            order = ["encode", *caches]
            if rep % 2:
                order.reverse()
            for what in order:
                if what == "encode":
                    dt_, out = timed(run_direct)
                    times["encode"].append(dt_)
                    reference = out
                else:
                    cache, store = new_cache(what), new_store()
                    dt_, (out, stats) = timed(lambda: run_pipeline(cache, store))
                    assert stats["embedded"] == args.n, stats
                    times[f"pipeline/{what}"].append(dt_)
                    if rep == 0 and what == caches[0]:
                        dt2, (_, stats2) = timed(lambda: run_pipeline(new_cache(what), store))
                        assert stats2["embedded"] == 0 and stats2["store_hits"] == args.n, stats2
                        rerun.append(dt2)
            if reference is not None and caches:
                np.testing.assert_allclose(out, reference, atol=1e-4)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if prefixes:
            import redis

            r = redis.Redis.from_url(args.redis_url)
            for p in prefixes:
                keys = list(r.scan_iter(match=p + "*", count=1000))
                if keys:
                    r.delete(*keys)

    base = statistics.median(times["encode"])
    print(f"\n### bench_embed: {args.n} chunks, {args.tokens}-token target "
          f"(word pieces: median {int(statistics.median(tok))}, min {min(tok)}, max {max(tok)}), "
          f"batch size {args.batch_size}, {args.repeat} runs, interleaved\n")
    print(f"model {embedder.model_id} on {embedder.device}; torch {torch.__version__} "
          f"({torch.get_num_threads()} threads); {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs\n")
    print("| variant | median s | texts/s | ratio vs encode | target | runs (s) |")
    print("|---|---:|---:|---:|---|---|")
    ok = True
    for name, ts in times.items():
        med = statistics.median(ts)
        ratio = base / med
        target = "-" if name == "encode" else (f">= {TARGET} " + ("PASS" if ratio >= TARGET else "FAIL"))
        if name != "encode":
            ok &= ratio >= TARGET
        label = "SentenceTransformer.encode (reference)" if name == "encode" else \
            f"embed_with_cache, empty {name.split('/')[1]} cache + empty store"
        print(f"| {label} | {med:.2f} | {args.n / med:.1f} | {ratio:.2f} | {target} | "
              f"{', '.join(f'{t:.2f}' for t in ts)} |")
    if rerun:
        med = statistics.median(rerun)
        print(f"| re-run: empty {caches[0]} cache, full store (0 embedded) | {med:.3f} | {args.n / med:.0f} | "
              f"{base / med:.1f} | info | {', '.join(f'{t:.3f}' for t in rerun)} |")
    print(f"\nratio = median encode time / median pipeline time (throughput ratio); "
          f"{'all targets met' if ok else 'TARGET MISSED'}")
    return 1 if (args.strict and not ok) else 0


if __name__ == "__main__":
    sys.exit(main())
