"""The one Definitions object loads, and settings pick the resource set."""

import pytest
from dagster import AssetKey

from anfl_assets.resources import build_resources
from anfl_assets.settings import Settings


def test_definitions_load_with_every_phase_piece(anfl_home):
    from anfl_assets.definitions import defs

    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"file_inventory", "git_history"} <= keys
    job = defs.resolve_job_def("scan_project")
    assert job.partitions_def.name == "projects"
    assert defs.resolve_sensor_def("git_push_sensor").job_name == "scan_project"
    assert defs.resolve_schedule_def("nightly_scan").cron_schedule == "0 2 * * *"
    checks = {c.name for c in defs.resolve_asset_graph().asset_check_keys}
    assert {"inventory_matches_disk", "inventory_paths_unique", "inventory_checksums_complete"} <= checks
    assert defs.resolve_assets_def(AssetKey("file_inventory")).partitions_def.name == "projects"


def test_local_settings_use_embedded_defaults(anfl_home):
    settings = Settings.from_env()
    assert settings.warehouse_file == anfl_home / "warehouse.duckdb"
    resources = build_resources(settings)
    assert resources["objects"].url == (anfl_home / "objects").as_uri()
    assert type(resources["objects"].get()).__name__ == "LocalObjectStore"


def test_production_requires_s3_and_uses_it(anfl_home, monkeypatch):
    monkeypatch.setenv("ANFL_DEPLOYMENT", "prod")
    with pytest.raises(ValueError, match="ANFL_OBJECT_STORE"):
        build_resources(Settings.from_env())
    monkeypatch.setenv("ANFL_OBJECT_STORE", "s3://estate-bucket/prod")
    store = build_resources(Settings.from_env())["objects"].get()
    assert type(store).__name__ == "S3ObjectStore" and store.url == "s3://estate-bucket/prod"


def test_unknown_deployment_is_refused(monkeypatch):
    monkeypatch.setenv("ANFL_DEPLOYMENT", "qa")
    with pytest.raises(ValueError, match="local, staging, prod"):
        Settings.from_env()
