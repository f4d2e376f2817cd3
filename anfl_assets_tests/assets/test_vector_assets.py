"""chunks and the four embedding indexes as Dagster runs, and security-aware search over them.

The embedded default (all-MiniLM-L6-v2 on the CPU, the embedded vector store) is used for
real; the OpenAI path runs against a local server speaking the embeddings API, which records
every request body so the test can prove no secret ever left the machine.
"""

import json
import random
import string

import pytest
from dagster import DagsterInstance

from anfl_assets.api import build_search_service
from anfl_assets.domain.projects import register_project
from anfl_assets.domain.warehouse import Warehouse
from anfl_assets.settings import Settings

from ..domain.vectors.fake_openai import FakeOpenAI
from .job_for_tests import scan_project_job

rng = random.Random(5)
AWS_ID = "AKIA" + "".join(rng.choice(string.ascii_uppercase + "234567") for _ in range(16))
AWS_SECRET = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(40))
STRIPE = "sk_live_" + "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(24))
PLANTED = (AWS_ID, AWS_SECRET, STRIPE)

FILES = {
    "svc/pool.py": '"""Database access."""\n\n\nclass ConnectionPool:\n    """Keeps a bounded set of open '
                   'database connections and hands them out to request handlers."""\n\n    def acquire(self):\n'
                   '        """Borrow a connection, waiting when all are in use."""\n        return self._free.pop()\n\n'
                   '    def release(self, conn):\n        self._free.append(conn)\n',
    "svc/settings.py": f'"""Cloud credentials for the uploader."""\nAWS_ACCESS_KEY_ID = "{AWS_ID}"\n'
                       f'AWS_SECRET_ACCESS_KEY = "{AWS_SECRET}"\nBUCKET = "uploads"\n',
    "svc/billing.py": f'"""Charges customers through the payment provider."""\nSTRIPE_KEY = "{STRIPE}"\n\n\n'
                      'def charge(customer, cents):\n    """Create a charge for the customer."""\n    return cents\n',
    "docs/runbook.md": "# Restarting the API\n\nDrain the node, then restart the service with systemctl.\n\n"
                       "## When the database fails over\n\nPromote the replica and update the DSN.\n",
    "README.md": "# Shop\n\nAn online shop with a payment service and an orders API.\n",
    "config/prod/app.yaml": "server:\n  workers: 12\n  timeout_seconds: 60\ncache:\n  ttl_seconds: 300\n",
    "k8s/api.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  replicas: 3\n"
                    "  template:\n    spec:\n      containers:\n        - name: api\n          image: shop/api:1.2.3\n",
    "company_docs/hr/salaries.md": "# Salary bands\n\nEngineering salary bands for 2025 and how raises work.\n",
}


def _project(anfl_home, git_repo, instance) -> Warehouse:
    git_repo.commit("shop", FILES)
    wh = Warehouse(anfl_home / "warehouse.duckdb")
    register_project(wh, "shop", git_repo.root)
    instance.add_dynamic_partitions("projects", ["shop"])
    return wh


def _meta(result, node):
    (mat,) = result.asset_materializations_for_node(node)
    return mat.metadata


def test_chunks_indexes_incremental_and_clearance(anfl_home, git_repo):
    with DagsterInstance.get() as instance:
        wh = _project(anfl_home, git_repo, instance)
        result = scan_project_job().execute_in_process(partition_key="shop", instance=instance)
        assert result.success
        checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
        assert all(checks[f"{i}_index_matches_chunks"] for i in ("code", "config", "docs", "infra"))

        chunks = wh.query("SELECT * FROM vectors.chunks WHERE project = 'shop'").to_pylist()
        by_index = {}
        for c in chunks:
            by_index.setdefault(c["index_name"], []).append(c)
        assert set(by_index) == {"code", "config", "docs", "infra"}
        text = json.dumps(chunks, default=str)
        assert not any(v in text for v in PLANTED)
        settings_chunk = next(c for c in chunks if c["path"] == "svc/settings.py")
        assert "[REDACTED:" in settings_chunk["text"] and settings_chunk["sensitivity"] == "restricted"
        assert any(c["symbol"] and "ConnectionPool" in c["symbol"] for c in by_index["code"])
        assert all(c["tokens"] <= 256 for c in chunks)
        hr = [c for c in chunks if c["path"].startswith("company_docs/hr/")]
        assert hr and all(c["sensitivity"] == "restricted" for c in hr)
        code_meta = _meta(result, "code_embeddings")
        assert code_meta["embedded"].value == len(by_index["code"]) and code_meta["deleted"].value == 0

        # Unchanged: nothing embedded, nothing upserted.
        again = scan_project_job().execute_in_process(partition_key="shop", instance=instance)
        for index in ("code", "config", "docs", "infra"):
            meta = _meta(again, f"{index}_embeddings")
            assert meta["embedded"].value == 0 and meta["upserted"].value == 0, index
        assert _meta(again, "chunks")["files chunked"].value == 0

        # A doc changes and a config file goes: only the new chunk is embedded, the gone ones deleted.
        (git_repo.root / "config/prod/app.yaml").unlink()
        git_repo.commit("docs", {"docs/runbook.md": FILES["docs/runbook.md"] + "\n## Rotating logs\n\nUse logrotate.\n"})
        third = scan_project_job().execute_in_process(partition_key="shop", instance=instance)
        assert _meta(third, "config_embeddings")["deleted"].value >= 1
        docs = _meta(third, "docs_embeddings")
        assert 1 <= docs["embedded"].value <= 2 and docs["upserted"].value == docs["embedded"].value
        checks = {c.check_name: c.passed for c in third.get_asset_check_evaluations()}
        assert all(checks[f"{i}_index_matches_chunks"] for i in ("code", "config", "docs", "infra"))

        service = build_search_service(Settings.from_env())
        hits = service.search("pool of database connections", clearance="internal", k=5)
        assert hits and hits[0].path == "svc/pool.py" and hits[0].last_author
        assert all(h.sensitivity in ("public", "internal") for h in hits)
        # fail closed: no clearance is public only
        assert all(h.sensitivity == "public" for h in service.search("shop payment orders", k=10))
        salaries = service.search("engineering salary bands and raises", clearance="confidential", k=10)
        assert all(not h.path.startswith("company_docs/hr/") for h in salaries)
        restricted = service.search("engineering salary bands and raises", clearance="restricted", k=3)
        assert restricted[0].path == "company_docs/hr/salaries.md"
        audit = wh.query("SELECT clearance, results_returned, results_withheld FROM vectors.search_audit "
                         "ORDER BY searched_at").to_pylist()
        assert [a["clearance"] for a in audit] == ["internal", "public", "confidential", "restricted"]


class _LeakyStore:
    """A vector store whose filter is broken: it ignores the clearance. Search must still not leak."""

    def __init__(self, inner):
        self.inner = inner

    def query(self, index, vector, k, max_level, projects=None):
        return self.inner.query(index, vector, k, 3, projects)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_defence_in_depth_withholds_what_a_broken_index_returns(anfl_home, git_repo):
    with DagsterInstance.get() as instance:
        wh = _project(anfl_home, git_repo, instance)
        assert scan_project_job().execute_in_process(partition_key="shop", instance=instance).success
        service = build_search_service(Settings.from_env())
        service.store = _LeakyStore(service.store)
        hits = service.search("engineering salary bands and raises", clearance="internal", k=10, mode="dense")
        assert all(h.sensitivity in ("public", "internal") for h in hits)
        (audit,) = wh.query("SELECT results_withheld FROM vectors.search_audit").to_pylist()
        assert audit["results_withheld"] >= 1


@pytest.fixture
def fake_openai():
    with FakeOpenAI() as server:
        yield server


def test_no_secret_in_any_embedding_request(anfl_home, git_repo, monkeypatch, fake_openai):
    monkeypatch.setenv("ANFL_EMBEDDER", "openai:text-embedding-3-small")
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    monkeypatch.setenv("ANFL_TIKTOKEN_DOWNLOAD", "0")
    with DagsterInstance.get() as instance:
        wh = _project(anfl_home, git_repo, instance)
        result = scan_project_job().execute_in_process(partition_key="shop", instance=instance)
        assert result.success
        sent = fake_openai.sent_texts()
        assert len(sent) == wh.query("SELECT count(DISTINCT content_hash) AS n FROM vectors.chunks").to_pylist()[0]["n"]
        bodies = json.dumps(fake_openai.requests)
        assert not any(v in bodies for v in PLANTED)
        assert any("[REDACTED:" in t for t in sent)
        for path in anfl_home.rglob("*"):
            if path.is_file():
                assert not any(v.encode() in path.read_bytes() for v in PLANTED), path
