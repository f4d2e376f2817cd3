"""The vector store on Pinecone (REST data plane through the `pinecone` SDK).

One Pinecone index per ANFL index, named `{index_prefix}-{index}` (dense, cosine, created on
first use unless `create_indexes=False`), one namespace per project, and the chunk's level as
metadata `{"level": int}`. A query filters with `{"level": {"$lte": max_level}}` inside the
search (Pinecone applies metadata filters during the ANN search, i.e. pre-filter), in each
namespace asked for (all namespaces of the index when `projects` is None), and the per-namespace
answers are merged into one top-k.

Writes go in requests of at most `batch_size` (100) vectors and `max_request_bytes` (2 MB) of
JSON; deletes in requests of at most 1000 ids. Pinecone is eventually consistent: a query right
after an upsert may not see it yet (the warehouse, not the index, is the source of truth).
`flush()` has nothing to do.

Plain Python: no Dagster here.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any

from anfl_assets.domain.vectors.store import (
    MAX_LEVEL,
    VectorStore,
    VectorStoreError,
    check_batch,
    check_index,
    check_project,
    check_query,
)

MAX_BATCH = 100
MAX_REQUEST_BYTES = 2_000_000
MAX_DELETE = 1000
LIST_PAGE = 100


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("0", "false", "no", "off", "")
    return bool(value)


class PineconeVectorStore(VectorStore):
    """Pinecone-backed `VectorStore`.

    api_key: or PINECONE_API_KEY. host: control-plane host (default the public API; a local
    simulator in tests). index_hosts: {index or pinecone index name: data-plane host}, which
    skips describing the index. cloud/region: where missing indexes are created.
    """

    def __init__(self, dim_by_index: Mapping[str, int], *, index_prefix: str = "anfl",
                 api_key: str | None = None, host: str | None = None,
                 index_hosts: Mapping[str, str] | None = None, cloud: str = "aws", region: str = "us-east-1",
                 create_indexes: bool | str = True, batch_size: int | str = MAX_BATCH,
                 max_request_bytes: int | str = MAX_REQUEST_BYTES, timeout: float | str = 30.0,
                 client: Any = None) -> None:
        self.dims = dict(dim_by_index)
        self.prefix = index_prefix
        self.cloud, self.region = cloud, region
        self.create_indexes = _flag(create_indexes)
        self.batch_size = max(1, min(int(batch_size), MAX_BATCH))
        self.max_request_bytes = int(max_request_bytes)
        self.index_hosts = dict(index_hosts or {})
        if client is None:
            from pinecone import Pinecone

            key = api_key or os.environ.get("PINECONE_API_KEY")
            if not key:
                raise VectorStoreError("Pinecone needs an API key: pass api_key= or set PINECONE_API_KEY")
            client = Pinecone(api_key=key, host=host or None, timeout=float(timeout))
        self._pc = client
        self._indexes: dict[str, Any] = {}
        self._lock = threading.Lock()

    def index_name(self, index: str) -> str:
        return f"{self.prefix}-{index}"

    # --- public API ------------------------------------------------------------------------
    def upsert(self, index, project, ids, vectors, levels):
        dim = check_index(index, self.dims)
        check_project(project)
        ids, vecs, lv = check_batch(dim, ids, vectors, levels)
        if not ids:
            return
        import orjson

        idx = self._index(index)
        batch: list[dict] = []
        size = 0
        overhead = 64 + len(orjson.dumps(project))
        for cid, row, level in zip(ids, vecs, lv):
            item = {"id": cid, "values": row.tolist(), "metadata": {"level": int(level)}}
            item_size = len(orjson.dumps(item)) + 1
            if batch and (len(batch) >= self.batch_size or overhead + size + item_size > self.max_request_bytes):
                idx.upsert(vectors=batch, namespace=project)
                batch, size = [], 0
            batch.append(item)
            size += item_size
        if batch:
            idx.upsert(vectors=batch, namespace=project)

    def delete(self, index, project, ids):
        check_index(index, self.dims)
        check_project(project)
        ids = list(dict.fromkeys(ids))
        if not ids:
            return
        idx = self._index(index)
        for start in range(0, len(ids), MAX_DELETE):
            idx.delete(ids=ids[start:start + MAX_DELETE], namespace=project)

    def query(self, index, vector, k, max_level, projects=None):
        dim = check_index(index, self.dims)
        q = check_query(dim, vector)[0].tolist()
        k, max_level = int(k), int(max_level)
        if k <= 0 or max_level < 0:
            return []
        if isinstance(projects, str):
            projects = [projects]
        idx = self._index(index)
        namespaces = list(dict.fromkeys(projects)) if projects is not None else self._namespaces(idx)
        namespaces = [ns for ns in namespaces if ns]
        if not namespaces:
            return []
        flt = {"level": {"$lte": min(max_level, MAX_LEVEL)}}
        k = min(k, 10_000)
        if len(namespaces) == 1:
            matches = idx.query(vector=q, top_k=k, namespace=namespaces[0], filter=flt,
                                include_values=False, include_metadata=False).matches
        else:
            matches = idx.query_namespaces(vector=q, namespaces=namespaces, metric="cosine", top_k=k,
                                           filter=flt, include_values=False, include_metadata=False).matches
        return [(m.id, float(m.score)) for m in matches]

    def ids(self, index, project):
        check_index(index, self.dims)
        idx = self._index(index)
        out: set[str] = set()
        token = None
        while True:
            page = idx.list_paginated(namespace=project, limit=LIST_PAGE, pagination_token=token)
            out.update(item.id for item in page.vectors if item.id)
            token = page.pagination.next if page.pagination else None
            if not token:
                return out

    def count(self, index, project=None):
        check_index(index, self.dims)
        stats = self._index(index).describe_index_stats()
        if project is None:
            return int(stats.total_vector_count)
        summary = stats.namespaces.get(project)
        return int(summary.vector_count) if summary is not None else 0

    def flush(self) -> None:
        """Pinecone writes are durable when acknowledged."""

    def close(self) -> None:
        with self._lock:
            for idx in self._indexes.values():
                close = getattr(idx, "close", None)
                if close:
                    close()
            self._indexes.clear()
        close = getattr(self._pc, "close", None)
        if close:
            close()

    # --- helpers ---------------------------------------------------------------------------
    def _namespaces(self, idx: Any) -> list[str]:
        return sorted(idx.describe_index_stats().namespaces)

    def _index(self, index: str) -> Any:
        idx = self._indexes.get(index)
        if idx is not None:
            return idx
        with self._lock:
            idx = self._indexes.get(index)
            if idx is None:
                idx = self._indexes[index] = self._connect(index)
            return idx

    def _connect(self, index: str) -> Any:
        name = self.index_name(index)
        host = self.index_hosts.get(index) or self.index_hosts.get(name)
        if host:
            return self._pc.index(host=host)
        from pinecone.errors.exceptions import ConflictError, NotFoundError

        dim = self.dims[index]
        try:
            desc = self._pc.indexes.describe(name)
        except NotFoundError:
            if not self.create_indexes:
                raise VectorStoreError(f"Pinecone index {name!r} does not exist (create_indexes is off)") from None
            try:
                desc = self._pc.indexes.create(
                    name=name,
                    schema={"fields": {"_values": {"type": "dense_vector", "dimension": dim, "metric": "cosine"}}},
                    deployment={"deployment_type": "managed", "cloud": self.cloud, "region": self.region},
                    timeout=300)
            except ConflictError:   # created meanwhile by another process
                desc = self._pc.indexes.describe(name)
        have = getattr(desc, "dimension", None)
        if have is not None and int(have) != dim:
            raise VectorStoreError(f"Pinecone index {name!r} has {have} dimensions, the embedder {dim}: "
                                   f"delete the index (or use another index_prefix) and rebuild")
        if not desc.host:
            raise VectorStoreError(f"Pinecone index {name!r} has no host yet")
        return self._pc.index(host=desc.host)
