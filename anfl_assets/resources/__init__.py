"""Resources: thin Dagster wrappers around the domain's storage interfaces.

`build_resources` is the one place that turns settings into the embedded or the
production implementation of each resource.
"""

from __future__ import annotations

from dagster import ConfigurableResource

from anfl_assets.domain.objects import ObjectStore, open_object_store
from anfl_assets.domain.warehouse import Warehouse
from anfl_assets.settings import Settings


class WarehouseResource(ConfigurableResource):
    """The DuckDB warehouse file every table lands in."""

    path: str
    lock_timeout_s: float = 600.0

    def get(self) -> Warehouse:
        return Warehouse(self.path, self.lock_timeout_s)


class ObjectStoreResource(ConfigurableResource):
    """A local folder (`file://`) or S3 (`s3://bucket/prefix`, optional endpoint)."""

    url: str
    endpoint_url: str = ""

    def get(self) -> ObjectStore:
        return open_object_store(self.url, self.endpoint_url or None)


class ScanSettingsResource(ConfigurableResource):
    """Knobs of the file scan: extra ignore globs and reader threads (0 = automatic)."""

    extra_ignores: list[str] = []
    hash_threads: int = 0

    def threads(self) -> int:
        return self.hash_threads or 4


def build_resources(settings: Settings) -> dict[str, ConfigurableResource]:
    """Embedded defaults for `local`; staging and prod differ only through settings
    (an `s3://` object store URL, Postgres run storage in dagster.yaml, k8s executor)."""
    if settings.deployment != "local" and not settings.object_store_url.startswith("s3://"):
        raise ValueError(f"ANFL_DEPLOYMENT={settings.deployment} needs ANFL_OBJECT_STORE=s3://bucket/prefix")
    return {
        "warehouse": WarehouseResource(path=str(settings.warehouse_file), lock_timeout_s=settings.lock_timeout_s),
        "objects": ObjectStoreResource(url=settings.objects_url, endpoint_url=settings.s3_endpoint_url),
        "scan": ScanSettingsResource(extra_ignores=list(settings.extra_ignores), hash_threads=settings.hash_threads),
    }
