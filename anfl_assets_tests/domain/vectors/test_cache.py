"""Embedding caches (in-process, Redis), the warehouse store, and embed_with_cache."""

from __future__ import annotations

import hashlib
import threading
import time
import uuid

import numpy as np
import pytest

from anfl_assets.domain.vectors.cache import (
    EmbeddingStore,
    InProcessCache,
    RedisCache,
    cache_key,
    embed_with_cache,
)
from anfl_assets.domain.warehouse import Warehouse

REDIS_URL = "redis://127.0.0.1:6379/0"
DIM = 384
VEC_BYTES = DIM * 4


def vec(seed, dim=DIM) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


def h(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


class CountingEmbedder:
    """Deterministic vectors per text; remembers every text it was asked to embed."""

    def __init__(self, model_id="test:counting", dim=DIM):
        self.model_id, self.dim, self.max_tokens = model_id, dim, 512
        self.calls: list[list[str]] = []

    def count_tokens(self, texts):
        return [len(t.split()) for t in texts]

    def embed(self, texts):
        self.calls.append(list(texts))
        return np.stack([vec(int(h(t)[:8], 16), self.dim) for t in texts]) if texts else np.zeros((0, self.dim),
                                                                                                 np.float32)

    @property
    def embedded(self) -> list[str]:
        return [t for call in self.calls for t in call]


# ------------------------------------------------------------------------------------------------


def test_cache_key_is_sha256_of_model_and_content_hash():
    assert cache_key("st:all-MiniLM-L6-v2", "abc") == hashlib.sha256(b"st:all-MiniLM-L6-v2\0abc").hexdigest()
    assert cache_key("m1", "abc") != cache_key("m2", "abc")


def test_in_process_cache_is_lru():
    c = InProcessCache(max_items=3)
    c.set_many({"a": vec(1), "b": vec(2), "c": vec(3)})
    assert set(c.get_many(["a"])) == {"a"}  # a is now the most recently used
    c.set_many({"d": vec(4)})
    assert set(c.get_many(["a", "b", "c", "d"])) == {"a", "c", "d"}
    assert len(c) == 3
    got = c.get_many(["a"])["a"]
    assert got.dtype == np.float32 and not got.flags.writeable
    np.testing.assert_array_equal(got, vec(1))


def test_in_process_cache_ttl_with_an_injected_clock():
    clock = Clock()
    c = InProcessCache(ttl_s=10, clock=clock)
    c.set_many({"a": vec(1)})
    clock.t += 9.9
    assert "a" in c.get_many(["a"])  # reads do not extend the TTL
    clock.t += 0.1
    assert c.get_many(["a"]) == {} and len(c) == 0
    c.set_many({"a": vec(1)})
    clock.t += 5
    c.set_many({"a": vec(2)})  # a write restarts it
    clock.t += 9
    np.testing.assert_array_equal(c.get_many(["a"])["a"], vec(2))


def test_in_process_cache_is_thread_safe():
    c = InProcessCache(max_items=50)
    errors = []

    def work(n):
        try:
            for i in range(300):
                c.set_many({f"{n}-{i}": vec(i, 8)})
                c.get_many([f"{n}-{i}", f"{n}-{i - 1}", "missing"])
        except Exception as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(c) == 50


# ------------------------------------------------------------------------------------------------
# Redis (the real server at 127.0.0.1:6379)


@pytest.fixture
def redis_client():
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis unreachable at {REDIS_URL}: {exc}")
    return client


@pytest.fixture
def prefix(redis_client):
    p = f"anfl:test:{uuid.uuid4().hex}:"
    yield p
    keys = list(redis_client.scan_iter(match=p + "*", count=1000))
    if keys:
        redis_client.delete(*keys)


def data_keys(client, prefix):
    return sorted(k.decode()[len(prefix):] for k in client.scan_iter(match=prefix + "*", count=1000)
                  if not k.decode()[len(prefix):].startswith("__"))


def test_redis_cache_round_trip_with_a_ttl_on_every_key(redis_client, prefix):
    c = RedisCache(REDIS_URL, ttl_s=600, prefix=prefix)
    c.set_many({f"k{i}": vec(i) for i in range(5)})
    got = c.get_many(["k0", "k3", "nope"])
    assert set(got) == {"k0", "k3"}
    np.testing.assert_array_equal(got["k3"], vec(3))
    assert got["k3"].dtype == np.float32
    assert redis_client.get(prefix + "k1") == vec(1).tobytes()
    for i in range(5):
        assert 0 < redis_client.pttl(prefix + f"k{i}") <= 600_000
    assert data_keys(redis_client, prefix) == [f"k{i}" for i in range(5)]  # no bookkeeping unbounded
    redis_client.set(prefix + "junk", b"abc", px=60_000)  # not whole float32s: a miss, not an error
    assert c.get_many(["junk", "k0"]).keys() == {"k0"}
    assert c.clear() == 6 and data_keys(redis_client, prefix) == []


def test_redis_cache_keys_expire_and_hits_slide_the_ttl(redis_client, prefix):
    c = RedisCache(REDIS_URL, ttl_s=0.6, prefix=prefix)
    c.set_many({"hot": vec(1), "cold": vec(2)})
    time.sleep(0.35)
    assert set(c.get_many(["hot"])) == {"hot"}
    assert redis_client.pttl(prefix + "hot") > 450  # refreshed by the hit
    time.sleep(0.4)
    assert set(c.get_many(["hot", "cold"])) == {"hot"}  # cold expired, hot lives on


def test_redis_cache_size_bound_evicts_least_recently_used(redis_client, prefix):
    c = RedisCache(REDIS_URL, ttl_s=600, prefix=prefix, max_bytes=10 * VEC_BYTES)
    c.set_many({f"k{i:02d}": vec(i) for i in range(8)})
    assert c.get_many(["k00"])  # k00 becomes the most recently used
    c.set_many({f"k{i:02d}": vec(i) for i in range(8, 14)})
    c.set_many({f"k{i:02d}": vec(i) for i in range(14, 16)})
    kept = data_keys(redis_client, prefix)
    assert len(kept) == 10
    assert kept == ["k00"] + [f"k{i:02d}" for i in range(7, 16)]
    actual = sum(redis_client.strlen(prefix + k) for k in kept)
    assert c.stored_bytes() == actual == 10 * VEC_BYTES
    for meta in ("__lru", "__size", "__bytes"):
        assert 0 < redis_client.pttl(prefix + meta) <= 600_000
    assert redis_client.zcard(prefix + "__lru") == 10
    c.set_many({"k15": vec(99)})  # rewriting a key does not double count it
    assert c.stored_bytes() == 10 * VEC_BYTES


def test_redis_cache_bound_forgets_expired_entries(redis_client, prefix):
    c = RedisCache(REDIS_URL, ttl_s=0.3, prefix=prefix, max_bytes=4 * VEC_BYTES)
    c.set_many({f"old{i}": vec(i) for i in range(4)})
    time.sleep(0.45)
    c.set_many({"new": vec(9)})
    assert c.stored_bytes() == VEC_BYTES
    assert data_keys(redis_client, prefix) == ["new"]


def test_redis_cache_fails_open_when_redis_is_down(caplog):
    c = RedisCache("redis://127.0.0.1:1/0", socket_timeout_s=0.5)
    assert c.get_many(["a"]) == {}
    c.set_many({"a": vec(1)})  # no exception
    assert any("continuing without it" in r.getMessage() for r in caplog.records)


# ------------------------------------------------------------------------------------------------
# the warehouse store


@pytest.fixture
def store(tmp_path):
    return EmbeddingStore(Warehouse(tmp_path / "warehouse.duckdb"))


def test_store_round_trip_per_model(store):
    assert store.get_many("m", ["x"]) == {}
    store.put_many("m", {"h1": vec(1), "h2": vec(2)})
    store.put_many("m2", {"h1": vec(3, 8)})
    got = store.get_many("m", ["h1", "h2", "h3", "h1"])
    assert set(got) == {"h1", "h2"} and got["h1"].dtype == np.float32
    np.testing.assert_array_equal(got["h2"], vec(2))
    np.testing.assert_array_equal(store.get_many("m2", ["h1"])["h1"], vec(3, 8))
    store.put_many("m", {"h1": vec(7), "h4": vec(4)})  # an existing (model, content) keeps its vector
    np.testing.assert_array_equal(store.get_many("m", ["h1"])["h1"], vec(1))
    assert store.count("m") == 3 and store.count() == 4


def test_store_table_layout(store):
    store.put_many("m", {"h": vec(1)})
    cols = dict(store.wh.query(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'vectors' AND table_name = 'embeddings' ORDER BY ordinal_position"
    ).to_pylist()[i].values() for i in range(5))
    assert cols == {"model_id": "VARCHAR", "content_hash": "VARCHAR", "dim": "INTEGER", "vector": "FLOAT[]",
                    "created_at": "TIMESTAMP WITH TIME ZONE"}
    row = store.wh.query("SELECT dim, len(vector) AS n, created_at IS NOT NULL AS t FROM vectors.embeddings")
    assert row.to_pylist() == [{"dim": DIM, "n": DIM, "t": True}]
    with pytest.raises(Exception):  # unique per (model_id, content_hash)
        with store.wh.write() as con:
            con.execute("INSERT INTO vectors.embeddings VALUES ('m', 'h', 1, [0.5], now())")


# ------------------------------------------------------------------------------------------------
# embed_with_cache


TEXTS = ["def acquire(pool): ...", "pool.max_size = 20", "body { margin: 0 }", "def acquire(pool): ..."]


def test_second_call_embeds_nothing(store):
    emb = CountingEmbedder()
    hashes = [h(t) for t in TEXTS]
    out1, s1 = embed_with_cache(emb, TEXTS, hashes, InProcessCache(), store)
    assert s1 == {"inputs": 4, "distinct": 3, "cache_hits": 0, "store_hits": 0, "embedded": 3}
    assert emb.embedded == TEXTS[:3]  # the duplicate went to the model once
    np.testing.assert_array_equal(out1[0], out1[3])
    np.testing.assert_array_equal(out1, emb.embed(TEXTS))
    emb.calls.clear()
    out2, s2 = embed_with_cache(emb, TEXTS, hashes, InProcessCache(), store)  # a new process: empty cache
    assert s2["embedded"] == 0 and s2["store_hits"] == 3 and emb.calls == []
    np.testing.assert_array_equal(out1, out2)
    assert out2.dtype == np.float32 and out2.shape == (4, DIM)


def test_cache_hits_then_store_fallback(store):
    emb = CountingEmbedder()
    cache = InProcessCache()
    hashes = [h(t) for t in TEXTS]
    embed_with_cache(emb, TEXTS, hashes, cache, store)
    emb.calls.clear()
    _, s = embed_with_cache(emb, TEXTS, hashes, cache, store)
    assert (s["cache_hits"], s["store_hits"], s["embedded"]) == (3, 0, 0)
    cache2 = InProcessCache(max_items=1)  # too small: most lookups miss the cache
    _, s = embed_with_cache(emb, TEXTS, hashes, cache2, store)
    assert (s["cache_hits"], s["store_hits"], s["embedded"]) == (0, 3, 0) and emb.calls == []
    assert len(cache2) == 1  # store hits were copied into the cache (within its bound)


def test_cache_miss_falls_back_to_the_store_and_refills_the_cache(store):
    emb = CountingEmbedder()
    hashes = [h(t) for t in TEXTS]
    embed_with_cache(emb, TEXTS, hashes, InProcessCache(), store)
    emb.calls.clear()
    clock = Clock()
    cache = InProcessCache(ttl_s=60, clock=clock)
    embed_with_cache(emb, TEXTS, hashes, cache, store)
    clock.t += 61  # every cache entry expired
    _, s = embed_with_cache(emb, TEXTS, hashes, cache, store)
    assert (s["cache_hits"], s["store_hits"], s["embedded"]) == (0, 3, 0) and emb.calls == []
    _, s = embed_with_cache(emb, TEXTS, hashes, cache, store)
    assert s["cache_hits"] == 3


def test_only_new_content_is_embedded(store):
    emb = CountingEmbedder()
    embed_with_cache(emb, TEXTS[:2], [h(t) for t in TEXTS[:2]], InProcessCache(), store)
    emb.calls.clear()
    more = TEXTS + ["new text", "new text", "another"]
    out, s = embed_with_cache(emb, more, [h(t) for t in more], InProcessCache(), store)
    assert emb.embedded == ["body { margin: 0 }", "new text", "another"]
    assert s["store_hits"] == 2 and s["embedded"] == 3
    np.testing.assert_array_equal(out, emb.embed(more))


def test_models_do_not_share_vectors(store):
    cache = InProcessCache()
    a, b = CountingEmbedder("test:a"), CountingEmbedder("test:b", dim=16)
    embed_with_cache(a, TEXTS, [h(t) for t in TEXTS], cache, store)
    out, s = embed_with_cache(b, TEXTS, [h(t) for t in TEXTS], cache, store)
    assert s["embedded"] == 3 and out.shape == (4, 16)


def test_embed_with_cache_edge_cases(store):
    emb = CountingEmbedder()
    out, s = embed_with_cache(emb, [], [], InProcessCache(), store)
    assert out.shape == (0, DIM) and s["embedded"] == 0 and emb.calls == []
    with pytest.raises(ValueError, match="2 texts but 1 content hashes"):
        embed_with_cache(emb, ["a", "b"], ["x"], None, store)
    out, s = embed_with_cache(emb, ["a", "a"], ["x", "x"], None, None)  # neither cache nor store
    assert s["embedded"] == 1 and out.shape == (2, DIM)
    cache = InProcessCache()
    cache.set_many({cache_key(emb.model_id, "bad"): np.zeros(7, np.float32)})  # wrong width: ignored
    _, s = embed_with_cache(emb, ["b"], ["bad"], cache, None)
    assert s["cache_hits"] == 0 and s["embedded"] == 1


def test_embed_with_cache_through_redis(redis_client, prefix, store):
    emb = CountingEmbedder()
    cache = RedisCache(REDIS_URL, prefix=prefix, ttl_s=60)
    hashes = [h(t) for t in TEXTS]
    out1, _ = embed_with_cache(emb, TEXTS, hashes, cache, store)
    emb.calls.clear()
    out2, s = embed_with_cache(emb, TEXTS, hashes, RedisCache(REDIS_URL, prefix=prefix, ttl_s=60), store)
    assert s["cache_hits"] == 3 and emb.calls == []
    np.testing.assert_array_equal(out1, out2)
    assert redis_client.exists(prefix + cache_key(emb.model_id, hashes[0]))


@pytest.mark.slow
def test_embed_with_cache_with_minilm(store, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from anfl_assets.domain.vectors.embedders import SentenceTransformerEmbedder

    emb = SentenceTransformerEmbedder()
    texts = ["database connection pool", "CSS grid layout", "database connection pool"]
    out, s = embed_with_cache(emb, texts, [h(t) for t in texts], InProcessCache(), store)
    assert s["embedded"] == 2
    np.testing.assert_allclose(out, emb.embed(texts), atol=1e-5)
    out2, s = embed_with_cache(emb, texts, [h(t) for t in texts], InProcessCache(), store)
    assert s["store_hits"] == 2 and s["embedded"] == 0
    np.testing.assert_array_equal(out, out2)
