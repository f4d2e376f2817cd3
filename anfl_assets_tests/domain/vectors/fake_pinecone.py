"""A small local Pinecone for tests: the documented REST subset that PineconeVectorStore uses.

Control plane (API version 2026-07): GET /indexes, GET/DELETE /indexes/{name}, POST /indexes.
Each index gets its own data-plane server (its own host, as in Pinecone): POST /vectors/upsert,
POST /query (metadata filter with $eq $ne $gt $gte $lt $lte $in $nin $and $or, namespace, topK,
includeValues, includeMetadata; exact cosine over the vectors the filter allows), POST
/vectors/delete (ids, deleteAll, filter), GET /vectors/list (prefix, limit, paginationToken),
POST /describe_index_stats. Requests need the Api-Key header; upserts are refused over 1000
vectors or 2 MB, deletes over 1000 ids, as Pinecone does. Every request is logged in
`server.requests` (method, path, body size, item count) so tests can check batching.

Usage: `with FakePinecone(api_key="k") as fake: Pinecone(api_key="k", host=fake.url)`.
"""

from __future__ import annotations

import base64
import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import numpy as np

MAX_UPSERT_VECTORS = 1000
MAX_REQUEST_BYTES = 2 * 1024 * 1024
MAX_DELETE_IDS = 1000
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,43}[a-z0-9])?$")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def matches_filter(metadata: dict, flt: dict | None) -> bool:
    """Pinecone's metadata filter language (the operators listed in the module docstring)."""
    if not flt:
        return True
    for key, cond in flt.items():
        if key == "$and":
            if not all(matches_filter(metadata, sub) for sub in cond):
                return False
            continue
        if key == "$or":
            if not any(matches_filter(metadata, sub) for sub in cond):
                return False
            continue
        if key.startswith("$"):
            raise ApiError(400, "INVALID_ARGUMENT", f"unknown filter operator {key}")
        value = metadata.get(key)
        ops = cond if isinstance(cond, dict) else {"$eq": cond}
        for op, arg in ops.items():
            if op == "$eq":
                ok = value == arg
            elif op == "$ne":
                ok = value != arg
            elif op in ("$gt", "$gte", "$lt", "$lte"):
                if not isinstance(value, (int, float)) or isinstance(value, bool):
                    ok = False
                else:
                    ok = {"$gt": value > arg, "$gte": value >= arg, "$lt": value < arg, "$lte": value <= arg}[op]
            elif op == "$in":
                ok = value in arg
            elif op == "$nin":
                ok = value not in arg
            else:
                raise ApiError(400, "INVALID_ARGUMENT", f"unknown filter operator {op}")
            if not ok:
                return False
    return True


class _Namespace:
    def __init__(self) -> None:
        self.ids: list[str] = []
        self.pos: dict[str, int] = {}
        self.values: list[np.ndarray] = []
        self.metadata: list[dict] = []
        self._matrix: np.ndarray | None = None

    def matrix(self) -> np.ndarray:
        """Stored vectors as unit rows (cached until the next change)."""
        if self._matrix is None:
            mat = np.stack(self.values)
            norms = np.linalg.norm(mat, axis=1, keepdims=True)
            self._matrix = mat / np.where(norms > 0, norms, 1.0)
        return self._matrix

    def upsert(self, cid: str, values: np.ndarray, metadata: dict) -> None:
        self._matrix = None
        at = self.pos.get(cid)
        if at is None:
            self.pos[cid] = len(self.ids)
            self.ids.append(cid)
            self.values.append(values)
            self.metadata.append(metadata)
        else:
            self.values[at], self.metadata[at] = values, metadata

    def delete(self, cid: str) -> None:
        self._matrix = None
        at = self.pos.pop(cid, None)
        if at is None:
            return
        last = len(self.ids) - 1
        if at != last:
            self.ids[at], self.values[at], self.metadata[at] = self.ids[last], self.values[last], self.metadata[last]
            self.pos[self.ids[at]] = at
        self.ids.pop()
        self.values.pop()
        self.metadata.pop()


class _Index:
    def __init__(self, name: str, dimension: int, metric: str, body: dict) -> None:
        self.name, self.dimension, self.metric = name, dimension, metric
        self.deployment = body.get("deployment") or {"deployment_type": "managed", "cloud": "aws",
                                                      "region": "us-east-1"}
        self.namespaces: dict[str, _Namespace] = {}
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None
        self.host = ""

    def model(self) -> dict:
        return {"name": self.name, "host": self.host, "deletion_protection": "disabled",
                "status": {"ready": True, "state": "Ready"},
                "schema": {"fields": {"_values": {"type": "dense_vector", "dimension": self.dimension,
                                                  "metric": self.metric}}},
                "deployment": self.deployment, "tags": None}


class FakePinecone:
    """Control plane on `url`; every created index is served on its own port (its `host`)."""

    def __init__(self, api_key: str = "test-key") -> None:
        self.api_key = api_key
        self.indexes: dict[str, _Index] = {}
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._control = self._serve(None)
        self.url = f"http://127.0.0.1:{self._control.server_address[1]}"

    # --- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> FakePinecone:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        servers = [self._control] + [ix.server for ix in self.indexes.values() if ix.server]
        for server in servers:
            server.shutdown()
            server.server_close()

    def _serve(self, index: _Index | None) -> ThreadingHTTPServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                # Headers and body go out in two writes: without this, Nagle's algorithm and the
                # client's delayed ACK add 40 ms to every response.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                url = urlparse(self.path)
                try:
                    if self.headers.get("Api-Key") != fake.api_key:
                        raise ApiError(401, "UNAUTHENTICATED", "Invalid API Key")
                    body = json.loads(raw) if raw else {}
                    if index is None:
                        status, out = fake._control_plane(method, url.path, body)
                    else:
                        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                        status, out = fake._data_plane(index, method, url.path, query, body, len(raw))
                except ApiError as exc:
                    status, out = exc.status, {"error": {"code": exc.code, "message": exc.message},
                                               "status": exc.status}
                except (ValueError, KeyError, TypeError) as exc:
                    status, out = 400, {"error": {"code": "INVALID_ARGUMENT", "message": str(exc)}, "status": 400}
                payload = b"" if out is None else json.dumps(out).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_DELETE(self) -> None:
                self._handle("DELETE")

            def do_PATCH(self) -> None:
                self._handle("PATCH")

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
                         name="fake-pinecone").start()
        return server

    # --- control plane ---------------------------------------------------------------------
    def _control_plane(self, method: str, path: str, body: dict) -> tuple[int, Any]:
        self.requests.append({"plane": "control", "method": method, "path": path})
        with self._lock:
            if path == "/indexes" and method == "GET":
                return 200, {"indexes": [ix.model() for ix in self.indexes.values()]}
            if path == "/indexes" and method == "POST":
                return 201, self._create(body).model()
            m = re.fullmatch(r"/indexes/([^/]+)", path)
            if m:
                name = unquote(m.group(1))
                ix = self.indexes.get(name)
                if ix is None:
                    raise ApiError(404, "NOT_FOUND", f"Resource {name} not found")
                if method == "GET":
                    return 200, ix.model()
                if method == "DELETE":
                    del self.indexes[name]
                    if ix.server:
                        ix.server.shutdown()
                        ix.server.server_close()
                    return 202, None
        raise ApiError(404, "NOT_FOUND", f"no route {method} {path}")

    def _create(self, body: dict) -> _Index:
        name = body.get("name") or ""
        if not _NAME.match(name):
            raise ApiError(400, "INVALID_ARGUMENT", f"invalid index name {name!r}")
        if name in self.indexes:
            raise ApiError(409, "ALREADY_EXISTS", f"Resource {name} already exists")
        fields = (body.get("schema") or {}).get("fields") or {}
        dense = [f for f in fields.values() if f.get("type") == "dense_vector"]
        if len(dense) != 1 or not isinstance(dense[0].get("dimension"), int):
            raise ApiError(400, "INVALID_ARGUMENT", "schema must declare one dense_vector field with a dimension")
        ix = _Index(name, dense[0]["dimension"], dense[0].get("metric", "cosine"), body)
        if ix.metric != "cosine":
            raise ApiError(400, "INVALID_ARGUMENT", "this fake implements the cosine metric only")
        ix.server = self._serve(ix)
        ix.host = f"http://127.0.0.1:{ix.server.server_address[1]}"
        self.indexes[name] = ix
        return ix

    def create_index(self, name: str, dimension: int) -> _Index:
        """Create an index directly (as if it existed before the test)."""
        with self._lock:
            return self._create({"name": name, "schema": {"fields": {"_values": {
                "type": "dense_vector", "dimension": dimension, "metric": "cosine"}}}})

    # --- data plane ------------------------------------------------------------------------
    def _data_plane(self, ix: _Index, method: str, path: str, query: dict, body: dict,
                    size: int) -> tuple[int, Any]:
        record = {"plane": "data", "index": ix.name, "method": method, "path": path, "bytes": size}
        self.requests.append(record)
        with ix.lock:
            if path == "/vectors/upsert" and method == "POST":
                vectors = body["vectors"]
                record["items"] = len(vectors)
                if size > MAX_REQUEST_BYTES:
                    raise ApiError(413, "PAYLOAD_TOO_LARGE", f"request of {size} bytes is over 2MB")
                if len(vectors) > MAX_UPSERT_VECTORS:
                    raise ApiError(400, "INVALID_ARGUMENT", "at most 1000 vectors per upsert")
                ns = ix.namespaces.setdefault(body.get("namespace", ""), _Namespace())
                for v in vectors:
                    values = np.asarray(v["values"], np.float32)
                    if values.shape != (ix.dimension,):
                        raise ApiError(400, "INVALID_ARGUMENT", f"Vector dimension {values.shape[0]} does not "
                                                                 f"match the dimension of the index {ix.dimension}")
                    ns.upsert(v["id"], values, dict(v.get("metadata") or {}))
                return 200, {"upsertedCount": len(vectors)}
            if path == "/query" and method == "POST":
                return 200, self._query(ix, body)
            if path == "/vectors/delete" and method == "POST":
                ns = ix.namespaces.get(body.get("namespace", ""))
                ids = body.get("ids")
                if ids is not None:
                    record["items"] = len(ids)
                    if len(ids) > MAX_DELETE_IDS:
                        raise ApiError(400, "INVALID_ARGUMENT", "at most 1000 ids per delete")
                if ns is not None:
                    if body.get("deleteAll"):
                        ix.namespaces.pop(body.get("namespace", ""), None)
                    elif ids is not None:
                        for cid in ids:
                            ns.delete(cid)
                    elif body.get("filter"):
                        for cid, meta in list(zip(ns.ids, ns.metadata)):
                            if matches_filter(meta, body["filter"]):
                                ns.delete(cid)
                    if not ns.ids:
                        ix.namespaces.pop(body.get("namespace", ""), None)
                return 200, {}
            if path == "/vectors/list" and method == "GET":
                return 200, self._list(ix, query)
            if path == "/describe_index_stats" and method == "POST":
                counts = {name: sum(1 for m in ns.metadata if matches_filter(m, body.get("filter")))
                          for name, ns in ix.namespaces.items()}
                return 200, {"namespaces": {name: {"vectorCount": n} for name, n in counts.items()},
                             "dimension": ix.dimension, "indexFullness": 0.0,
                             "totalVectorCount": sum(counts.values()), "metric": ix.metric, "vectorType": "dense"}
        raise ApiError(404, "NOT_FOUND", f"no route {method} {path}")

    @staticmethod
    def _query(ix: _Index, body: dict) -> dict:
        top_k = int(body["topK"])
        if not 1 <= top_k <= 10_000:
            raise ApiError(400, "INVALID_ARGUMENT", "topK must be between 1 and 10000")
        q = np.asarray(body["vector"], np.float32)
        if q.shape != (ix.dimension,):
            raise ApiError(400, "INVALID_ARGUMENT", "query vector dimension does not match the index")
        name = body.get("namespace", "")
        ns = ix.namespaces.get(name)
        matches: list[dict] = []
        if ns is not None and ns.ids:
            allowed = [i for i, m in enumerate(ns.metadata) if matches_filter(m, body.get("filter"))]
            if allowed:
                scores = (ns.matrix()[allowed] @ q) / (np.linalg.norm(q) or 1.0)
                order = np.argsort(-scores, kind="stable")[:top_k]
                for o in order:
                    i = allowed[o]
                    match = {"id": ns.ids[i], "score": float(scores[o])}
                    if body.get("includeValues"):
                        match["values"] = ns.values[i].tolist()
                    if body.get("includeMetadata"):
                        match["metadata"] = ns.metadata[i]
                    matches.append(match)
        return {"matches": matches, "namespace": name, "usage": {"readUnits": 1}}

    @staticmethod
    def _list(ix: _Index, query: dict) -> dict:
        name = query.get("namespace", "")
        limit = int(query.get("limit", 100))
        if not 1 <= limit <= 100:
            raise ApiError(400, "INVALID_ARGUMENT", "limit must be between 1 and 100")
        ns = ix.namespaces.get(name)
        ids = sorted(i for i in (ns.ids if ns else []) if i.startswith(query.get("prefix", "")))
        token = query.get("paginationToken")
        after = base64.urlsafe_b64decode(token.encode()).decode() if token else None
        if after is not None:
            ids = [i for i in ids if i > after]
        page = ids[:limit]
        out: dict[str, Any] = {"vectors": [{"id": i} for i in page], "namespace": name,
                               "usage": {"readUnits": 1}}
        if len(ids) > limit:
            out["pagination"] = {"next": base64.urlsafe_b64encode(page[-1].encode()).decode()}
        return out
