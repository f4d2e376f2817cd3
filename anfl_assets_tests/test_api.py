"""The HTTP API's contract: tokens give caller and clearance, a request may only lower it, no token
is public, bad input is a 4xx, OpenAPI is served. (Search itself is tested on real indexes in
assets/test_vector_assets.py, domain/vectors/test_search.py and on the sample estate.)"""

import hashlib

import pytest
from fastapi.testclient import TestClient

from anfl_assets.api import create_app, load_api_tokens
from anfl_assets.domain.vectors.search import SearchError, SearchHit
from anfl_assets.settings import Settings

from .domain.vectors.test_search import estate  # noqa: F401 - the fixture, used below


class RecordingService:
    def __init__(self):
        self.calls = []

    def search(self, query, **kw):
        self.calls.append((query, kw))
        if kw["indexes"] == ["bogus"]:
            raise SearchError("unknown index")
        return [SearchHit("shop", "docs/runbook.md", 1, 9, "docs", 0.03, "Drain the node", kw["clearance"],
                          "Restart", "abc123", "Ada", "c" * 32)]


@pytest.fixture
def client(tmp_path, monkeypatch):
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text("- token: s3cret-ops\n  caller: ops\n  clearance: confidential\n"
                      f"- token_sha256: {hashlib.sha256(b'hr-token').hexdigest()}\n  caller: hr\n  clearance: restricted\n")
    monkeypatch.setenv("ANFL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ANFL_API_TOKENS", str(tokens))
    service = RecordingService()
    return TestClient(create_app(Settings.from_env(), service=service)), service


def test_clearance_comes_from_the_token(client):
    http, service = client
    assert http.get("/healthz").json() == {"status": "ok"}
    anon = http.post("/search", json={"query": "restart the api"}).json()
    assert anon["caller"] == "anonymous" and anon["clearance"] == "public"
    ops = http.post("/search", json={"query": "restart", "index": "docs", "k": 3},
                    headers={"Authorization": "Bearer s3cret-ops"}).json()
    assert ops["clearance"] == "confidential" and ops["results"][0]["path"] == "docs/runbook.md"
    assert service.calls[-1][1] == {"indexes": ["docs"], "projects": None, "clearance": "confidential", "k": 3,
                                    "caller": "ops", "mode": "hybrid"}
    lower = http.post("/search", json={"query": "x", "clearance": "public"},
                      headers={"Authorization": "Bearer hr-token"}).json()
    assert lower["caller"] == "hr" and lower["clearance"] == "public"


def test_a_request_cannot_raise_its_clearance(client):
    http, service = client
    n = len(service.calls)
    r = http.post("/search", json={"query": "salaries", "clearance": "restricted"},
                  headers={"Authorization": "Bearer s3cret-ops"})
    assert r.status_code == 403 and len(service.calls) == n
    r = http.post("/search", json={"query": "salaries", "clearance": "internal"},
                  headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 403  # an unknown token is anonymous, i.e. public


def test_bad_requests_and_openapi(client):
    http, _ = client
    assert http.post("/search", json={"query": ""}).status_code == 422
    assert http.post("/search", json={"query": "x", "k": 1000}).status_code == 422
    assert http.post("/search", json={"query": "x", "index": "secrets"}).status_code == 422
    spec = http.get("/openapi.json").json()
    assert "/search" in spec["paths"] and "/healthz" in spec["paths"]


def test_token_file_errors_are_clear(tmp_path):
    bad = tmp_path / "t.yaml"
    bad.write_text("- token: x\n  caller: a\n  clearance: top-secret\n")
    with pytest.raises(ValueError, match="clearance"):
        load_api_tokens(bad)


def test_the_server_builds_warms_one_buffered_service_and_closes_it_at_shutdown(tmp_path, monkeypatch):
    import anfl_assets.api as api

    built = []

    class Closable(RecordingService):
        closed = warmed = False

        def warm(self):
            self.warmed = True

        def close(self):
            self.closed = True

    def build(settings, audit_flush_s=None):
        built.append(Closable())
        assert audit_flush_s == api.AUDIT_FLUSH_S  # the server journals its audit rows
        return built[-1]

    monkeypatch.setenv("ANFL_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(api, "build_search_service", build)
    with TestClient(create_app(Settings.from_env())) as http:
        for q in ("a", "b", "c"):
            assert http.post("/search", json={"query": q}).status_code == 200
        assert len(built) == 1 and not built[0].closed
    assert built[0].warmed  # built and warmed at start-up, on a thread, not by the first request
    assert built[0].closed  # shutdown flushed the audit


def test_the_server_keeps_its_snapshot_current_between_requests(tmp_path, monkeypatch, estate):
    """A scan that raises a sensitivity while the server is idle: the server reloads on its own
    thread, so the next request neither reloads nor opens a connection, and is already filtered."""
    import time

    from anfl_assets.domain.warehouse import Warehouse

    import anfl_assets.api as api
    from anfl_assets.domain.vectors.search import SearchService

    wh, store, embedders = estate
    service = SearchService(wh, store, embedders, audit_flush_s=3600)
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text("- token: staff-token\n  caller: staff\n  clearance: internal\n")
    monkeypatch.setenv("ANFL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ANFL_API_TOKENS", str(tokens))
    monkeypatch.setattr(api, "build_search_service", lambda settings, audit_flush_s=None: service)
    monkeypatch.setattr(api, "REFRESH_S", 0.05)
    staff = {"Authorization": "Bearer staff-token"}
    query = {"query": "engineering salary bands", "k": 5}
    with TestClient(create_app(Settings.from_env())) as http:
        first = http.post("/search", json=query, headers=staff).json()
        assert "hr/salaries.md" in {r["path"] for r in first["results"]}
        loaded = service._snap
        with wh.write() as con:  # the scan: salaries become restricted
            con.execute("UPDATE vectors.chunks SET sensitivity = 'restricted', sensitivity_rank = 3 "
                        "WHERE chunk_id = 'c-salary'")
        deadline = time.monotonic() + 10
        while service._snap is loaded and time.monotonic() < deadline:
            time.sleep(0.02)
        assert service._snap is not loaded  # reloaded without a request
        opened = []
        real = Warehouse._open  # every use of the warehouse file goes through it
        monkeypatch.setattr(Warehouse, "_open", lambda self, *a, **kw: opened.append(a) or real(self, *a, **kw))
        body = http.post("/search", json=query, headers=staff).json()
        assert body["clearance"] == "internal" and body["results"]
        assert "hr/salaries.md" not in {r["path"] for r in body["results"]}
        assert opened == []
