"""The search HTTP API (`anfl serve`): `POST /search`, `GET /healthz`, OpenAPI at `/docs`.

A caller's clearance comes from its bearer token (`ANFL_API_TOKENS`, a YAML list of
{token_sha256 or token, caller, clearance}); a request may ask for less, never more.
No token, or an unknown one, is an anonymous caller with public clearance (fail closed).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import threading
from pathlib import Path
from typing import Literal

import yaml
from fastapi import FastAPI, Header, HTTPException
from pydantic import BaseModel, Field

from anfl_assets.domain.security import LEVEL_RANK, LEVELS, Level
from anfl_assets.domain.vectors.search import INDEXES, SearchError, SearchHit, SearchService
from anfl_assets.settings import Settings

log = logging.getLogger(__name__)


class SearchRequest(BaseModel):
    query: str = Field(min_length=1, max_length=2000)
    index: Literal["code", "config", "docs", "infra", "all"] = "all"
    project: list[str] | None = None
    clearance: Level | None = Field(None, description="At most the token's clearance; default: the token's.")
    k: int = Field(10, ge=1, le=100)
    mode: Literal["hybrid", "dense", "lexical"] = "hybrid"


class SearchResponse(BaseModel):
    caller: str
    clearance: Level
    results: list[SearchHit]  # the service's own dataclass: one definition of a hit


def load_api_tokens(path: str | Path | None) -> dict[str, tuple[str, str]]:
    """{sha256(token): (caller, clearance)}. Tokens may be listed in clear or as their sha256."""
    if not path:
        return {}
    entries = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or []
    out = {}
    for i, e in enumerate(entries, 1):
        if not isinstance(e, dict) or e.get("clearance") not in LEVEL_RANK or not e.get("caller"):
            raise ValueError(f"{path} entry {i}: needs caller, clearance ({', '.join(LEVELS)}) and token")
        digest = e.get("token_sha256") or (hashlib.sha256(str(e["token"]).encode()).hexdigest() if e.get("token")
                                           else None)
        if not digest:
            raise ValueError(f"{path} entry {i}: needs token or token_sha256")
        out[str(digest).lower()] = (str(e["caller"]), e["clearance"])
    return out


AUDIT_FLUSH_S = 5.0  # the server's audit rows reach vectors.search_audit within seconds (sooner when idle)
REFRESH_S = 1.0  # how often the server looks for a changed warehouse, off the request path


def build_search_service(settings: Settings, audit_flush_s: float | None = None) -> SearchService:
    """`audit_flush_s`: None writes each search's audit row before it returns (short-lived callers);
    the server journals them and inserts batches (see `anfl_assets.domain.vectors.audit`)."""
    from anfl_assets.domain.warehouse import Warehouse
    from anfl_assets.resources import build_resources

    vectors = build_resources(settings)["vectors"]
    embedders = {index: vectors.embedder(index) for index in INDEXES}
    return SearchService(Warehouse(settings.warehouse_file, settings.lock_timeout_s), vectors.store(), embedders,
                         query_cache=vectors.cache(), audit_flush_s=audit_flush_s)


def create_app(settings: Settings | None = None, service: SearchService | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    tokens = load_api_tokens(settings.api_tokens_file)
    state: dict = {"service": service}
    lock = threading.Lock()

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        stop = threading.Event()
        if service is None:  # ours: build it, read the snapshot and run the model before the first request,
            # then keep the snapshot current between requests
            state["warming"] = threading.Thread(target=_warm_then_refresh, args=(stop,), name="anfl-warm-up",
                                                daemon=True)
            state["warming"].start()
        yield
        stop.set()
        if state.get("warming") is not None:
            state["warming"].join()
        if service is None and state["service"] is not None:  # ours, not a caller's
            state["service"].close()  # the last audit rows reach the warehouse

    app = FastAPI(title="ANFL search", version="1", lifespan=lifespan,
                  description="Security-aware hybrid search over a project estate's code, configs, docs and "
                              "infrastructure. Secrets are redacted; results above the caller's clearance are "
                              "never returned.")

    def get_service() -> SearchService:
        with lock:  # requests run on a thread pool: build one service, not one per first request
            if state["service"] is None:
                state["service"] = build_search_service(settings, audit_flush_s=AUDIT_FLUSH_S)
            return state["service"]

    def _warm_then_refresh(stop: threading.Event) -> None:
        try:
            get_service().warm()
        except Exception as exc:  # noqa: BLE001 - the first request then pays, and reports, instead
            log.warning("search warm-up failed: %s", exc)
        while not stop.wait(REFRESH_S):
            try:
                get_service().refresh()
            except Exception as exc:  # noqa: BLE001 - a request will reload (and report) instead
                log.warning("search snapshot refresh failed: %s", exc)

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok"}

    @app.post("/search", response_model=SearchResponse)
    def search(request: SearchRequest, authorization: str | None = Header(None)) -> SearchResponse:
        caller, allowed = "anonymous", "public"
        if authorization and authorization.lower().startswith("bearer "):
            digest = hashlib.sha256(authorization[7:].strip().encode()).hexdigest()
            for known, who in tokens.items():
                if hmac.compare_digest(known, digest):
                    caller, allowed = who
        clearance = request.clearance or allowed
        if LEVEL_RANK[clearance] > LEVEL_RANK[allowed]:
            raise HTTPException(status_code=403, detail=f"clearance {clearance} is above this caller's ({allowed})")
        try:
            hits = get_service().search(request.query, indexes=None if request.index == "all" else [request.index],
                                        projects=request.project, clearance=clearance, k=request.k, caller=caller,
                                        mode=request.mode)
        except SearchError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc
        return SearchResponse(caller=caller, clearance=clearance, results=hits)

    return app
