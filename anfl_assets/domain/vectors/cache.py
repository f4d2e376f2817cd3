"""Embeddings are computed once per (model, content): a cache in front of a persistent store.

    embed_with_cache(embedder, texts, content_hashes, cache, store)
        1. cache (in-process LRU or Redis)          -> hits
        2. EmbeddingStore (DuckDB warehouse table)  -> hits, copied into the cache
        3. the embedder, for the rest only, each distinct content once
           -> written to the store, then the cache

Cache keys are `cache_key(model_id, content_hash)` = sha256(model_id + "\\0" + content_hash) hex;
values are the vector's float32 bytes (native little-endian). The store keeps every vector for
good, keyed by (model_id, content_hash) in `vectors.embeddings`.

A cache is an optimisation: a Redis that is down or full only costs speed (logged, never raised).
Nothing here logs texts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pyarrow as pa

log = logging.getLogger(__name__)


def cache_key(model_id: str, content_hash: str) -> str:
    """The cache key of one (model, content): sha256(model_id + NUL + content hash), hex."""
    return hashlib.sha256(f"{model_id}\0{content_hash}".encode()).hexdigest()


def _as_vector(v) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(v, dtype=np.float32).reshape(-1))


class EmbeddingCache(ABC):
    """A bounded, expiring map from cache keys to float32 vectors."""

    @abstractmethod
    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """The vectors cached under `keys` (absent keys are simply missing from the result)."""

    @abstractmethod
    def set_many(self, items: Mapping[str, np.ndarray]) -> None:
        """Cache each vector under its key (replacing any previous value)."""


# ---------------------------------------------------------------------------------------------


class InProcessCache(EmbeddingCache):
    """LRU + TTL map in this process, thread-safe.

    At most `max_items` entries (least recently read or written evicted first); an entry
    expires `ttl_s` seconds after it was written (reads do not extend it). `clock` (monotonic
    seconds) is injectable for tests. Returned vectors are read-only views of the cached ones.
    """

    def __init__(self, max_items: int = 100_000, ttl_s: float = 3600, *,
                 clock: Callable[[], float] = time.monotonic):
        if max_items < 1:
            raise ValueError("max_items must be >= 1")
        self.max_items = max_items
        self.ttl_s = ttl_s
        self._clock = clock
        self._items: OrderedDict[str, tuple[float, np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        now = self._clock()
        out: dict[str, np.ndarray] = {}
        with self._lock:
            for k in keys:
                entry = self._items.get(k)
                if entry is None:
                    continue
                if entry[0] <= now:
                    del self._items[k]
                    continue
                self._items.move_to_end(k)
                out[k] = entry[1]
        return out

    def set_many(self, items: Mapping[str, np.ndarray]) -> None:
        expires = self._clock() + self.ttl_s
        prepared = []
        for k, v in items.items():
            vec = _as_vector(v).copy()
            vec.flags.writeable = False
            prepared.append((k, vec))
        with self._lock:
            for k, vec in prepared:
                self._items[k] = (expires, vec)
                self._items.move_to_end(k)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)


# ---------------------------------------------------------------------------------------------

# Bounded mode bookkeeping, all under the cache's prefix:
#   <prefix>__lru    sorted set: key -> server time (us, strictly increasing) of its last write or hit
#   <prefix>__size   hash: key -> value bytes
#   <prefix>__bytes  counter: sum of the hash
# KEYS = [lru, size, bytes, k1, k2, ...]; ARGV = [ttl_ms, max_bytes, v1, v2, ...]
_NEXT_SCORE = """
local function next_score(lru)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local top = redis.call('ZRANGE', lru, -1, -1, 'WITHSCORES')
  if top[2] and tonumber(top[2]) >= now then now = tonumber(top[2]) + 1 end
  return now
end
"""
_SET_BOUNDED = _NEXT_SCORE + """
local lru, sizes, total = KEYS[1], KEYS[2], KEYS[3]
local ttl, maxb = tonumber(ARGV[1]), tonumber(ARGV[2])
local now = next_score(lru)
-- forget entries whose TTL has run out (Redis already dropped the keys themselves)
local gone = redis.call('ZRANGEBYSCORE', lru, '-inf', now - ttl * 1000, 'LIMIT', 0, 5000)  -- bounded work
for _, k in ipairs(gone) do
  local s = redis.call('HGET', sizes, k)
  if s then redis.call('DECRBY', total, s); redis.call('HDEL', sizes, k) end
  redis.call('ZREM', lru, k)
end
for i = 4, #KEYS do
  local k, v = KEYS[i], ARGV[i - 1]
  local old = redis.call('HGET', sizes, k)
  if old then redis.call('DECRBY', total, old) end
  redis.call('SET', k, v, 'PX', ttl)
  redis.call('HSET', sizes, k, #v)
  redis.call('INCRBY', total, #v)
  redis.call('ZADD', lru, now, k)
  now = now + 1
end
-- evict least recently used until the values fit in max_bytes
local evicted = 0
while tonumber(redis.call('GET', total) or '0') > maxb do
  local popped = redis.call('ZPOPMIN', lru, 1)
  if #popped == 0 then redis.call('SET', total, 0); break end
  local k = popped[1]
  local s = redis.call('HGET', sizes, k)
  if s then redis.call('DECRBY', total, s); redis.call('HDEL', sizes, k) end
  redis.call('DEL', k)
  evicted = evicted + 1
end
-- the bookkeeping outlives its newest entry by one TTL at most
redis.call('PEXPIRE', lru, ttl); redis.call('PEXPIRE', sizes, ttl); redis.call('PEXPIRE', total, ttl)
return evicted
"""

# A hit refreshes the key's TTL and its LRU position. KEYS = [lru, k1, k2, ...]; ARGV = [ttl_ms]
_TOUCH_BOUNDED = _NEXT_SCORE + """
local ttl = tonumber(ARGV[1])
local now = next_score(KEYS[1])
for i = 2, #KEYS do
  if redis.call('PEXPIRE', KEYS[i], ttl) == 1 then
    redis.call('ZADD', KEYS[1], 'XX', now, KEYS[i])
    now = now + 1
  end
end
return 0
"""


class RedisCache(EmbeddingCache):
    """Vectors in Redis under `prefix` + key, each with a TTL.

    * Reads: MGET in slices of 1,000 keys. A hit slides the key's TTL forward (the hot set stays).
    * Writes without `max_bytes`: SET .. PX ttl (= SETEX) for every item in one pipeline.
    * `max_bytes` bounds the sum of this cache's value bytes (Redis adds roughly 60-100 bytes of
      its own per key on top). Writes then run one Lua script each that stores the items, keeps
      a sorted-set LRU index (`<prefix>__lru`, scored by last write/hit), a size hash and a byte
      counter, forgets entries whose TTL ran out, and evicts least-recently-used keys until the
      total fits. Hits refresh their LRU score. Meant for one standalone Redis (the script
      touches keys it reads from the index, which Redis Cluster would not allow).
    * For a hard bound on the server as a whole, also set Redis's `maxmemory` with
      `maxmemory-policy volatile-lru` (every key here has a TTL, so they are all candidates).
    * Fail-open: a Redis error is logged and treated as a miss / a skipped write.
    """

    CHUNK = 1000

    def __init__(self, url: str = "redis://127.0.0.1:6379/0", ttl_s: float = 3600,
                 prefix: str = "anfl:emb:", max_bytes: int | None = None, *, client=None,
                 socket_timeout_s: float = 5.0):
        if ttl_s <= 0:
            raise ValueError("ttl_s must be > 0")
        if max_bytes is not None and max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        self.url = url
        self.ttl_s = ttl_s
        self.ttl_ms = max(1, int(round(ttl_s * 1000)))
        self.prefix = prefix
        self.max_bytes = max_bytes
        if client is None:
            import redis

            client = redis.Redis.from_url(url, socket_timeout=socket_timeout_s,
                                          socket_connect_timeout=socket_timeout_s)
        self._r = client
        self._lru_key = prefix + "__lru"
        self._size_key = prefix + "__size"
        self._bytes_key = prefix + "__bytes"
        self._set_script = client.register_script(_SET_BOUNDED)
        self._touch_script = client.register_script(_TOUCH_BOUNDED)

    def _fail(self, op: str, exc: Exception) -> None:
        log.warning("Redis embedding cache %s failed (%s: %s); continuing without it",
                    op, type(exc).__name__, str(exc)[:200])

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        import redis

        keys = list(dict.fromkeys(keys))
        out: dict[str, np.ndarray] = {}
        try:
            for i in range(0, len(keys), self.CHUNK):
                part = keys[i:i + self.CHUNK]
                full = [self.prefix + k for k in part]
                values = self._r.mget(full)
                # a value that is not whole float32s is not ours: a miss
                hits = [(k, fk, v) for k, fk, v in zip(part, full, values) if v and len(v) % 4 == 0]
                for k, _, v in hits:
                    out[k] = np.frombuffer(v, dtype=np.float32)
                if not hits:
                    continue
                if self.max_bytes is not None:
                    self._touch_script(keys=[self._lru_key, *(fk for _, fk, _ in hits)], args=[self.ttl_ms])
                else:
                    pipe = self._r.pipeline(transaction=False)
                    for _, fk, _ in hits:
                        pipe.pexpire(fk, self.ttl_ms)
                    pipe.execute()
        except redis.RedisError as exc:
            self._fail("read", exc)
        return out

    def set_many(self, items: Mapping[str, np.ndarray]) -> None:
        import redis

        entries = [(self.prefix + k, _as_vector(v).tobytes()) for k, v in items.items()]
        try:
            for i in range(0, len(entries), self.CHUNK):
                part = entries[i:i + self.CHUNK]
                if self.max_bytes is not None:
                    self._set_script(keys=[self._lru_key, self._size_key, self._bytes_key, *(k for k, _ in part)],
                                     args=[self.ttl_ms, self.max_bytes, *(v for _, v in part)])
                else:
                    pipe = self._r.pipeline(transaction=False)
                    for k, v in part:
                        pipe.set(k, v, px=self.ttl_ms)
                    pipe.execute()
        except redis.RedisError as exc:
            self._fail("write", exc)

    def stored_bytes(self) -> int | None:
        """Value bytes under this prefix as the bounded mode counts them (None when unbounded)."""
        if self.max_bytes is None:
            return None
        return int(self._r.get(self._bytes_key) or 0)

    def clear(self) -> int:
        """Delete every key under this prefix (SCAN + UNLINK); the number deleted."""
        n = 0
        batch = []
        for k in self._r.scan_iter(match=_glob_escape(self.prefix) + "*", count=1000):
            batch.append(k)
            if len(batch) >= 1000:
                n += self._r.unlink(*batch)
                batch = []
        if batch:
            n += self._r.unlink(*batch)
        return n


def _glob_escape(s: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in s)


# ---------------------------------------------------------------------------------------------

class EmbeddingStore:
    """Every vector ever computed, in the warehouse: `vectors.embeddings`, one row per
    (model_id, content_hash). Rows are never replaced: the first vector stored for a content wins
    (a model's output for a content does not change, and `model_id` names the model)."""

    def __init__(self, wh):
        self.wh = wh  # the table is part of the warehouse schema (warehouse.SCHEMA_SQL)

    def get_many(self, model_id: str, content_hashes: Sequence[str]) -> dict[str, np.ndarray]:
        wanted = list(dict.fromkeys(content_hashes))
        if not wanted:
            return {}
        with self.wh.read() as con:
            con.register("wanted_hashes", pa.table({"content_hash": pa.array(wanted, pa.string())}))
            try:
                table = con.sql(
                    "SELECT e.content_hash, e.dim, e.vector FROM vectors.embeddings e "
                    "JOIN wanted_hashes w ON w.content_hash = e.content_hash WHERE e.model_id = ?",
                    params=[model_id]).to_arrow_table()
            finally:
                con.unregister("wanted_hashes")
        if table.num_rows == 0:
            return {}
        hashes = table.column("content_hash").to_pylist()
        dims = table.column("dim").to_numpy()
        lists = table.column("vector").combine_chunks()
        offsets = lists.offsets.to_numpy()
        values = lists.values.to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
        out: dict[str, np.ndarray] = {}
        for i, h in enumerate(hashes):
            vec = values[offsets[i]:offsets[i + 1]]
            if len(vec) == dims[i]:
                out[h] = vec
        return out

    def put_many(self, model_id: str, items: Mapping[str, np.ndarray]) -> None:
        if not items:
            return
        hashes = list(items)
        vecs = [_as_vector(items[h]) for h in hashes]
        lengths = np.fromiter((len(v) for v in vecs), dtype=np.int32, count=len(vecs))
        offsets = np.zeros(len(vecs) + 1, dtype=np.int32)
        np.cumsum(lengths, out=offsets[1:])
        values = np.concatenate(vecs) if vecs else np.zeros(0, np.float32)
        rows = pa.table({
            "model_id": pa.array([model_id] * len(hashes), pa.string()),
            "content_hash": pa.array(hashes, pa.string()),
            "dim": pa.array(lengths, pa.int32()),
            "vector": pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), pa.array(values, pa.float32())),
            "created_at": pa.array([dt.datetime.now(dt.timezone.utc)] * len(hashes), pa.timestamp("us", "UTC")),
        })
        with self.wh.write() as con:
            con.register("incoming_embeddings", rows)
            try:
                con.execute("INSERT INTO vectors.embeddings (model_id, content_hash, dim, vector, created_at) "
                            "SELECT model_id, content_hash, dim, vector, created_at FROM incoming_embeddings "
                            "ON CONFLICT DO NOTHING")
            finally:
                con.unregister("incoming_embeddings")

    def count(self, model_id: str | None = None) -> int:
        with self.wh.read() as con:
            if model_id is None:
                return con.execute("SELECT count(*) FROM vectors.embeddings").fetchone()[0]
            return con.execute("SELECT count(*) FROM vectors.embeddings WHERE model_id = ?",
                               [model_id]).fetchone()[0]


# ---------------------------------------------------------------------------------------------

EMBED_SLICE = 2048  # misses are embedded and persisted this many at a time (a crash loses one slice)


def embed_with_cache(embedder, texts: Sequence[str], content_hashes: Sequence[str],
                     cache: EmbeddingCache | None, store: EmbeddingStore | None) -> tuple[np.ndarray, dict]:
    """Vectors for `texts` (row i for texts[i]), computing only what neither cache nor store has.

    `content_hashes[i]` identifies texts[i]'s content (equal hashes = equal texts: the first
    text of a hash is the one embedded). Lookup: cache, then store (hits copied into the cache),
    then the embedder for the rest, each distinct content once; new vectors go to the store,
    then the cache. `cache` or `store` may be None.

    Stats count DISTINCT contents: {"cache_hits", "store_hits", "embedded"} (they add up to
    "distinct"), plus "inputs" (len(texts)).
    """
    texts = list(texts)
    hashes = list(content_hashes)
    if len(texts) != len(hashes):
        raise ValueError(f"{len(texts)} texts but {len(hashes)} content hashes")
    dim = embedder.dim
    model_id = embedder.model_id
    first: dict[str, int] = {}
    for i, h in enumerate(hashes):
        first.setdefault(h, i)
    distinct = list(first)
    found: dict[str, np.ndarray] = {}
    stats = {"inputs": len(texts), "distinct": len(distinct), "cache_hits": 0, "store_hits": 0, "embedded": 0}

    if cache is not None and distinct:
        keys = {cache_key(model_id, h): h for h in distinct}
        for k, vec in cache.get_many(list(keys)).items():
            if vec.shape == (dim,):
                found[keys[k]] = vec
        stats["cache_hits"] = len(found)

    missing = [h for h in distinct if h not in found]
    if store is not None and missing:
        from_store = {h: v for h, v in store.get_many(model_id, missing).items() if v.shape == (dim,)}
        found.update(from_store)
        stats["store_hits"] = len(from_store)
        if cache is not None and from_store:
            cache.set_many({cache_key(model_id, h): v for h, v in from_store.items()})
        missing = [h for h in missing if h not in from_store]

    for start in range(0, len(missing), EMBED_SLICE):
        part = missing[start:start + EMBED_SLICE]
        vecs = embedder.embed([texts[first[h]] for h in part])
        if vecs.shape != (len(part), dim):
            raise ValueError(f"{type(embedder).__name__} returned shape {vecs.shape}, "
                             f"expected ({len(part)}, {dim})")
        new = {h: np.asarray(vecs[j], dtype=np.float32) for j, h in enumerate(part)}
        if store is not None:
            store.put_many(model_id, new)
        if cache is not None:
            cache.set_many({cache_key(model_id, h): v for h, v in new.items()})
        found.update(new)
        stats["embedded"] += len(part)

    out = np.empty((len(texts), dim), dtype=np.float32)
    for i, h in enumerate(hashes):
        out[i] = found[h]
    log.debug("embed_with_cache %s: %s", model_id, stats)
    return out, stats
