"""Resources: thin Dagster wrappers around the domain's storage interfaces.

`build_resources` is the one place that turns settings into the embedded or the
production implementation of each resource.
"""

from __future__ import annotations

from dagster import ConfigurableResource

from anfl_assets.domain.keys import load_or_create_key
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
    """Knobs of the file scan: extra ignore globs, reader threads and reader processes
    (0 = automatic)."""

    extra_ignores: list[str] = []
    hash_threads: int = 0
    hash_processes: int = 0

    def threads(self) -> int:
        return self.hash_threads or 4


class _ExtractorSettings(ConfigurableResource):
    """Worker processes and the fingerprint key, shared by the extractor resources. The key itself
    is never resource config (the UI shows config): it is loaded from settings when needed."""

    worker_processes: int = 0

    def workers(self) -> int:
        return self.worker_processes or Settings.from_env().worker_count

    def fingerprint_key(self) -> bytes:
        settings = Settings.from_env()
        return load_or_create_key(settings.fingerprint_key_file, settings.fingerprint_key_text)


class EnrichSettingsResource(_ExtractorSettings):
    """Knobs of the enrichment extractors."""

    classification_rules: str = ""
    max_parse_error_rate: float = 0.05


class SecuritySettingsResource(_ExtractorSettings):
    """Extra rule files for the security scan (empty: built-in rules only)."""

    secret_rules: str = ""
    sensitivity_rules: str = ""


_LOADED: dict[tuple, object] = {}  # embedders and stores are heavy: one per process and configuration


class VectorSettingsResource(ConfigurableResource):
    """The vector store (embedded folder or Pinecone), one embedder spec per index, and the embedding
    cache (Redis when `redis_url` is set, else in-process)."""

    store_url: str
    embedder_specs: dict[str, str] = {}
    redis_url: str = ""
    cache_ttl_s: int = 3600
    cache_max_bytes: int = 256 * 1024 * 1024

    def store(self):
        from anfl_assets.domain.vectors.store import open_vector_store

        dims = {index: self.embedder(index).dim for index in self.embedder_specs}
        key = ("store", self.store_url, tuple(sorted(dims.items())))
        if key not in _LOADED:
            _LOADED[key] = open_vector_store(self.store_url, dims)
        return _LOADED[key]

    def embedder(self, index: str):
        from anfl_assets.domain.vectors.embedders import make_embedder

        spec = self.embedder_specs.get(index, "st")
        key = ("embedder", spec)
        if key not in _LOADED:
            _LOADED[key] = make_embedder(spec)
        return _LOADED[key]

    def cache(self):
        from anfl_assets.domain.vectors.cache import InProcessCache, RedisCache

        key = ("cache", self.redis_url, self.cache_ttl_s, self.cache_max_bytes)
        if key not in _LOADED:
            _LOADED[key] = (RedisCache(self.redis_url, ttl_s=self.cache_ttl_s, max_bytes=self.cache_max_bytes)
                            if self.redis_url else InProcessCache(ttl_s=self.cache_ttl_s))
        return _LOADED[key]


def build_resources(settings: Settings) -> dict[str, ConfigurableResource]:
    """Embedded defaults for `local`; staging and prod differ only through settings
    (an `s3://` object store URL, Postgres run storage in dagster.yaml, k8s executor)."""
    if settings.deployment != "local" and not settings.object_store_url.startswith("s3://"):
        raise ValueError(f"ANFL_DEPLOYMENT={settings.deployment} needs ANFL_OBJECT_STORE=s3://bucket/prefix")
    return {
        "warehouse": WarehouseResource(path=str(settings.warehouse_file), lock_timeout_s=settings.lock_timeout_s),
        "objects": ObjectStoreResource(url=settings.objects_url, endpoint_url=settings.s3_endpoint_url),
        "scan": ScanSettingsResource(extra_ignores=list(settings.extra_ignores), hash_threads=settings.hash_threads,
                                     hash_processes=settings.hash_processes),
        "enrich": EnrichSettingsResource(classification_rules=settings.classification_rules,
                                         worker_processes=settings.workers,
                                         max_parse_error_rate=settings.max_parse_error_rate),
        "security": SecuritySettingsResource(secret_rules=settings.secret_rules,
                                             sensitivity_rules=settings.sensitivity_rules,
                                             worker_processes=settings.workers),
        "vectors": VectorSettingsResource(store_url=settings.vectors_url, embedder_specs=dict(settings.embedders),
                                          redis_url=settings.redis_url, cache_ttl_s=settings.embed_cache_ttl_s,
                                          cache_max_bytes=settings.embed_cache_max_bytes),
    }
