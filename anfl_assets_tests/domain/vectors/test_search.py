"""SearchService against a real warehouse and embedded store, with a tiny deterministic embedder.

What is pinned here: the re-check of every hit follows the warehouse (a sensitivity raised there is
withheld on the very next search, even while the vector index still has the old level); a warm
search opens no DuckDB connection; every search is audited, in write-through and in buffered mode,
and a buffered journal left by a crashed process is recovered.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pyarrow as pa
import pytest

from anfl_assets.domain.vectors.audit import AuditLog, audit_row
from anfl_assets.domain.security import LEVEL_RANK
from anfl_assets.domain.vectors.pipeline import CHUNK_SCHEMA
from anfl_assets.domain.vectors.search import SearchError, SearchService, tokenize
from anfl_assets.domain.vectors.store import EmbeddedVectorStore
from anfl_assets.domain.warehouse import Warehouse, insert_rows

DIM = 32


class WordEmbedder:
    """Bag of hashed word stems: texts sharing words are near. Enough to rank a handful of chunks."""

    model_id = "test:words"
    dim = DIM

    def embed(self, texts):
        out = np.zeros((len(texts), DIM), np.float32)
        for row, text in enumerate(texts):
            for word in tokenize(text):
                out[row, int(hashlib.sha256(word.encode()).hexdigest(), 16) % DIM] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms > 0, norms, 1)

    def warm(self):
        pass  # nothing to load


CHUNKS = [  # (chunk id, index, path, level, text)
    ("c-pool", "code", "svc/pool.py", "internal", "svc/pool.py :: ConnectionPool\nclass ConnectionPool: database "
                                                  "connections pool handed to request handlers"),
    ("c-salary", "docs", "hr/salaries.md", "internal", "hr/salaries.md :: Salary bands\nengineering salary bands "
                                                        "and raises"),
    ("c-readme", "docs", "README.md", "public", "README.md :: Shop\nan online shop with payments and orders"),
    ("c-deploy", "infra", "k8s/api.yaml", "internal", "k8s/api.yaml :: Deployment/api\nkind: Deployment replicas 3 "
                                                       "image shop/api"),
]


def _chunk_rows(project: str, chunks) -> pa.Table:
    rows = [(project, cid, index, path, 1, 9, None, "section", cid, 10, level, level, LEVEL_RANK[level], text)
            for cid, index, path, level, text in chunks]
    return pa.table({name: [r[i] for r in rows] for i, name in enumerate(CHUNK_SCHEMA.names)}, schema=CHUNK_SCHEMA)


@pytest.fixture
def estate(tmp_path):
    """A warehouse with one project's chunks and an embedded store indexing them (at their levels)."""
    wh = Warehouse(tmp_path / "warehouse.duckdb")
    with wh.write() as con:
        con.execute("INSERT INTO inventory.projects VALUES ('shop', '/tmp/shop', false, now())")
        insert_rows(con, "vectors.chunks", _chunk_rows("shop", CHUNKS))
    embedder = WordEmbedder()
    store = EmbeddedVectorStore(tmp_path / "vectors", {i: DIM for i in ("code", "config", "docs", "infra")})
    for index in ("code", "docs", "infra"):
        mine = [c for c in CHUNKS if c[1] == index]
        store.upsert(index, "shop", [c[0] for c in mine], embedder.embed([c[4] for c in mine]),
                     [LEVEL_RANK[c[3]] for c in mine])
    store.flush()
    return wh, store, {i: embedder for i in ("code", "config", "docs", "infra")}


def _service(estate, **kw) -> SearchService:
    wh, store, embedders = estate
    return SearchService(wh, store, embedders, **kw)


def _audit(wh) -> list[dict]:
    return wh.query("SELECT * FROM vectors.search_audit ORDER BY searched_at").to_pylist()


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_a_sensitivity_raised_in_the_warehouse_is_withheld_on_the_next_search(estate, mode):
    wh, _, _ = estate
    service = _service(estate)
    hits = service.search("engineering salary bands", clearance="internal", k=3, mode=mode)
    assert hits[0].path == "hr/salaries.md" and hits[0].sensitivity == "internal"
    # the security scan raises the chunk; the vector index has not been refreshed yet (still internal)
    with wh.write() as con:
        con.execute("UPDATE vectors.chunks SET sensitivity = 'restricted', sensitivity_rank = 3 "
                    "WHERE chunk_id = 'c-salary'")
    again = service.search("engineering salary bands", clearance="internal", k=3, mode=mode)
    assert "hr/salaries.md" not in {h.path for h in again}
    if mode == "dense":  # the stale index still returned it: the re-check withheld it
        assert _audit(wh)[-1]["results_withheld"] >= 1
    restricted = service.search("engineering salary bands", clearance="restricted", k=3, mode=mode)
    assert restricted[0].path == "hr/salaries.md" and restricted[0].sensitivity == "restricted"


def test_chunks_added_or_removed_in_the_warehouse_show_on_the_next_search(estate):
    wh, _, _ = estate
    service = _service(estate)
    assert service.search("kubernetes deployment replicas", clearance="internal", mode="lexical")[0].path == \
        "k8s/api.yaml"
    with wh.write() as con:
        con.execute("DELETE FROM vectors.chunks WHERE chunk_id = 'c-deploy'")
        insert_rows(con, "vectors.chunks", _chunk_rows("shop", [
            ("c-cron", "infra", "k8s/cron.yaml", "internal", "k8s/cron.yaml :: CronJob/reindex\nkind: CronJob "
                                                              "schedule nightly reindex")]))
    paths = [h.path for h in service.search("nightly reindex cronjob deployment", clearance="internal")]
    assert "k8s/cron.yaml" in paths and "k8s/api.yaml" not in paths  # gone from the index too: stale, not shown


def test_no_clearance_is_public_and_projects_are_checked(estate):
    service = _service(estate)
    assert {h.sensitivity for h in service.search("shop payments salary pool", k=10)} == {"public"}
    with pytest.raises(SearchError, match="unknown project"):
        service.search("x", projects=["nope"])
    with pytest.raises(SearchError, match="clearance"):
        service.search("x", clearance="secret")


def test_a_project_named_twice_counts_once_and_the_query_is_embedded_once_per_model(estate):
    service = _service(estate)
    embedded = []
    embedder = service.embedders["code"]  # one model for all four indexes
    real = embedder.embed
    embedder.embed = lambda texts: embedded.append(list(texts)) or real(texts)
    once = service.search("payments refund pool", projects=["shop"], clearance="restricted")
    twice = service.search("payments refund pool ", projects=["shop", "shop"], clearance="restricted")
    assert [(h.chunk_id, h.score) for h in twice] == [(h.chunk_id, h.score) for h in once]
    assert embedded == [["payments refund pool"], ["payments refund pool "]]


def test_a_warm_search_opens_no_connection(estate, monkeypatch):
    service = _service(estate, audit_flush_s=3600)
    try:
        service.search("database connection pool", clearance="internal")  # loads the snapshot
        opened = []
        real = Warehouse._open  # every use of the warehouse file goes through it
        monkeypatch.setattr(Warehouse, "_open", lambda self, *a, **kw: opened.append(a) or real(self, *a, **kw))
        for q in ("database connection pool", "salary bands", "shop orders", "deployment image"):
            service.search(q, clearance="internal")
        assert opened == []
        # our own audit insert does not make the snapshot stale (no reload after it)...
        assert service.flush_audit() == 5 and len(opened) == 1
        service.search("salary bands", clearance="internal")
        assert len(opened) == 1
        # ...another writer does
        with service.wh.write() as con:
            con.execute("UPDATE vectors.chunks SET sensitivity_rank = 2, sensitivity = 'confidential' "
                        "WHERE chunk_id = 'c-pool'")
        assert "svc/pool.py" not in {h.path for h in service.search("database connection pool",
                                                                      clearance="internal")}
        assert len(opened) == 3  # the update and one reload
    finally:
        service.close()


def test_warm_reads_the_snapshot_before_the_first_search(estate, monkeypatch):
    """What a server does at start-up: the first search then opens no connection either."""
    service = _service(estate, audit_flush_s=3600)
    try:
        service.warm()
        opened = []
        real = Warehouse._open  # every use of the warehouse file goes through it
        monkeypatch.setattr(Warehouse, "_open", lambda self, *a, **kw: opened.append(a) or real(self, *a, **kw))
        assert service.search("database connection pool", clearance="internal")[0].path == "svc/pool.py"
        assert opened == []
    finally:
        service.close()


def test_every_search_is_audited_write_through(estate):
    wh, _, _ = estate
    service = _service(estate)
    service.search("salary bands", clearance="internal", caller="ops", k=2)
    (row,) = _audit(wh)
    assert row["caller"] == "ops" and row["clearance"] == "internal" and row["k"] == 2
    assert row["query_hash"] == hashlib.sha256(b"salary bands").hexdigest()
    assert row["results_returned"] >= 1 and row["results_withheld"] == 0 and row["projects"] == ["shop"]


def test_buffered_audit_rows_reach_the_table_on_flush_and_close(estate):
    wh, _, _ = estate
    service = _service(estate, audit_flush_s=3600)
    for n in range(3):
        service.search(f"salary bands {n}", clearance="public", caller="api")
    assert _audit(wh) == [] and service.audit.pending() == 3
    assert service.flush_audit() == 3
    service.search("one more", caller="api")
    service.close()  # e.g. the server's shutdown
    rows = _audit(wh)
    assert len(rows) == 4 and {r["caller"] for r in rows} == {"api"}
    assert not list(service.audit.journal_dir.glob("*"))
    service.search("after close", caller="api")  # still audited: written through
    assert len(_audit(wh)) == 5


def test_buffered_audit_flushes_by_itself(estate):
    wh, _, _ = estate
    service = _service(estate, audit_flush_s=0.2)
    try:
        service.search("salary bands", caller="api")
        deadline = time.monotonic() + 20
        while not _audit(wh) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(_audit(wh)) == 1
    finally:
        service.close()


def test_a_crashed_servers_journal_is_recovered(tmp_path):
    wh = Warehouse(tmp_path / "warehouse.duckdb")
    script = textwrap.dedent(f"""
        import os
        from anfl_assets.domain.vectors.audit import AuditLog, audit_row
        from anfl_assets.domain.warehouse import Warehouse
        log = AuditLog(Warehouse({str(wh.path)!r}), flush_interval_s=3600)
        for n in range(4):
            log.record(audit_row("crashy", "public", f"q{{n}}", ["docs"], ["shop"], 5, 1, 0, 0.01))
        os._exit(9)  # killed: no flush, no atexit
    """)
    done = subprocess.run([sys.executable, "-c", script], env={**os.environ}, timeout=120)
    assert done.returncode == 9
    assert wh.query("SELECT count(*) AS n FROM vectors.search_audit").to_pylist() == [{"n": 0}]
    survivor = AuditLog(wh, flush_interval_s=None)  # any later process on this warehouse
    survivor.record(audit_row("cli", "public", "q", ["docs"], ["shop"], 5, 1, 0, 0.01))
    rows = wh.query("SELECT caller, count(*) AS n FROM vectors.search_audit GROUP BY caller ORDER BY caller")
    assert rows.to_pylist() == [{"caller": "cli", "n": 1}, {"caller": "crashy", "n": 4}]
    assert not list(survivor.journal_dir.glob("*"))
