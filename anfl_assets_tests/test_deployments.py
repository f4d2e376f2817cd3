"""The production Dagster instance's storage (`deployments/prod/dagster.yaml`) against the real
PostgreSQL server on this machine: the runs, events and dynamic partitions of an ANFL run land in
Postgres and survive a new instance. (Kubernetes and S3 compute logs cannot run here.)"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import yaml

PROD_YAML = Path(__file__).resolve().parents[1] / "deployments" / "prod" / "dagster.yaml"
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "test"}


@pytest.fixture
def postgres_db():
    """A fresh database on the local server, dropped afterwards."""
    psycopg2 = pytest.importorskip("psycopg2")
    try:
        admin = psycopg2.connect(connect_timeout=3, **PG)
    except psycopg2.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable at 127.0.0.1:5432 ({exc})")
    admin.autocommit = True
    name = f"anfl_dagster_{uuid.uuid4().hex[:10]}"
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _query(db: str, sql: str) -> list[tuple]:
    import psycopg2

    with psycopg2.connect(**{**PG, "dbname": db}) as con, con.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


def test_a_run_on_the_production_storage_lands_in_postgres(anfl_home, git_repo, postgres_db, monkeypatch):
    pytest.importorskip("dagster_postgres")
    from dagster import DagsterInstance, DagsterRunStatus

    from anfl_assets.domain.projects import register_project
    from anfl_assets.domain.warehouse import Warehouse

    from .assets.job_for_tests import keys_of_groups, scan_project_job

    prod = yaml.safe_load(PROD_YAML.read_text())
    (anfl_home / "dagster" / "dagster.yaml").write_text(yaml.safe_dump(
        {"storage": prod["storage"], "telemetry": {"enabled": False}}))  # the launcher needs a cluster
    for var, value in (("DAGSTER_PG_HOST", PG["host"]), ("DAGSTER_PG_USER", PG["user"]),
                       ("DAGSTER_PG_PASSWORD", ""), ("DAGSTER_PG_DB", postgres_db)):
        monkeypatch.setenv(var, value)

    git_repo.commit("service", {"svc/app.py": "def main():\n    return 0\n", "README.md": "# Service\n"})
    register_project(Warehouse(anfl_home / "warehouse.duckdb"), "shop", git_repo.root)
    with DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        instance.add_dynamic_partitions("projects", ["shop"])
        result = scan_project_job().execute_in_process(partition_key="shop", instance=instance,
                                                       asset_selection=keys_of_groups("inventory"))
        assert result.success
        run_id = result.run_id

    # what Postgres holds, read with its own client
    assert _query(postgres_db, f"SELECT status FROM runs WHERE run_id = '{run_id}'") == [("SUCCESS",)]
    materialized = {r[0] for r in _query(
        postgres_db, f"SELECT asset_key FROM event_logs WHERE run_id = '{run_id}' "
                     "AND dagster_event_type = 'ASSET_MATERIALIZATION'")}
    assert {'["file_inventory"]', '["git_history"]'} <= materialized
    assert _query(postgres_db, "SELECT partition FROM dynamic_partitions WHERE partitions_def_name = 'projects'") \
        == [("shop",)]

    # a new instance (another process, a restarted daemon) sees the same state
    with DagsterInstance.get() as again:
        assert again.get_run_by_id(run_id).status == DagsterRunStatus.SUCCESS
        assert again.get_dynamic_partitions("projects") == ["shop"]
        event = again.get_latest_materialization_event(
            next(k for k in keys_of_groups("inventory") if k.path == ["file_inventory"]))
        assert event is not None and event.run_id == run_id
