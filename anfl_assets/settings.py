"""Settings read from environment variables, in one place.

Every switch between the embedded defaults (a laptop, no account, no network)
and production (S3, Postgres, Redis, Pinecone, OpenAI, Kubernetes) is read
here, so the rest of the code never looks at the environment itself. The README
has the table of variables.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from anfl_assets.domain.vectors import INDEXES as VECTOR_INDEXES

DEPLOYMENTS = ("local", "staging", "prod")


def _env(name: str, default: str = "") -> str:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def _security_gate(value: str) -> str:
    if value not in ("warn", "error"):
        raise ValueError(f"ANFL_SECURITY_GATE must be 'warn' or 'error', not {value!r}")
    return value


@dataclass(frozen=True)
class Settings:
    """A frozen snapshot of the environment, so one run sees one configuration."""

    home: Path
    deployment: str = "local"
    warehouse_path: Path | None = None
    object_store_url: str = ""
    s3_endpoint_url: str = ""
    extra_ignores: tuple[str, ...] = field(default_factory=tuple)
    hash_threads: int = 0
    hash_processes: int = 0
    lock_timeout_s: float = 600.0
    classification_rules: str = ""
    fingerprint_key_text: str = field(default="", repr=False)
    workers: int = 0
    max_parse_error_rate: float = 0.05
    security_gate: str = "warn"
    secret_rules: str = ""
    sensitivity_rules: str = ""
    vector_store_url: str = ""
    embedders: tuple[tuple[str, str], ...] = ()
    redis_url: str = ""
    embed_cache_ttl_s: int = 3600
    embed_cache_max_bytes: int = 256 * 1024 * 1024
    api_tokens_file: str = ""

    @classmethod
    def from_env(cls) -> "Settings":
        home = Path(_env("ANFL_HOME", "./.anfl")).expanduser().resolve()
        deployment = _env("ANFL_DEPLOYMENT", "local")
        if deployment not in DEPLOYMENTS:
            raise ValueError(f"ANFL_DEPLOYMENT must be one of {', '.join(DEPLOYMENTS)}, not {deployment!r}")
        warehouse = _env("ANFL_WAREHOUSE")
        ignores = tuple(g.strip() for g in _env("ANFL_IGNORE").split(",") if g.strip())
        return cls(
            home=home,
            deployment=deployment,
            warehouse_path=Path(warehouse).expanduser().resolve() if warehouse else None,
            object_store_url=_env("ANFL_OBJECT_STORE"),
            s3_endpoint_url=_env("ANFL_S3_ENDPOINT_URL"),
            extra_ignores=ignores,
            hash_threads=int(_env("ANFL_HASH_THREADS", "0")),
            hash_processes=int(_env("ANFL_HASH_PROCESSES", "0")),
            lock_timeout_s=float(_env("ANFL_LOCK_TIMEOUT_S", "600")),
            classification_rules=_env("ANFL_CLASSIFICATION_RULES"),
            fingerprint_key_text=_env("ANFL_FINGERPRINT_KEY"),
            workers=int(_env("ANFL_WORKERS", "0")),
            max_parse_error_rate=float(_env("ANFL_MAX_PARSE_ERROR_RATE", "0.05")),
            security_gate=_security_gate(_env("ANFL_SECURITY_GATE", "warn")),
            secret_rules=_env("ANFL_SECRET_RULES"),
            sensitivity_rules=_env("ANFL_SENSITIVITY_RULES"),
            vector_store_url=_env("ANFL_VECTOR_STORE"),
            embedders=tuple((index, _env(f"ANFL_EMBEDDER_{index.upper()}", _env("ANFL_EMBEDDER", "st")))
                            for index in VECTOR_INDEXES),
            redis_url=_env("ANFL_REDIS_URL"),
            embed_cache_ttl_s=int(_env("ANFL_EMBED_CACHE_TTL_S", "3600")),
            embed_cache_max_bytes=int(_env("ANFL_EMBED_CACHE_MAX_BYTES", str(256 * 1024 * 1024))),
            api_tokens_file=_env("ANFL_API_TOKENS"),
        )

    @property
    def warehouse_file(self) -> Path:
        return self.warehouse_path or self.home / "warehouse.duckdb"

    @property
    def objects_url(self) -> str:
        """`file://...` for the embedded store, `s3://bucket/prefix` in production."""
        return self.object_store_url or (self.home / "objects").as_uri()

    @property
    def vectors_url(self) -> str:
        """`file://...` for the embedded vector store, `pinecone://?index_prefix=...` in production."""
        return self.vector_store_url or (self.home / "vectors").as_uri()

    @property
    def fingerprint_key_file(self) -> Path:
        return self.home / "fingerprint.key"

    @property
    def worker_count(self) -> int:
        """Processes for CPU-bound extraction: ANFL_WORKERS, else one per core."""
        return self.workers or os.cpu_count() or 1

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    def ensure_dirs(self) -> None:
        """Create ANFL_HOME's folders and give the Dagster instance the project's dagster.yaml."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.dagster_home.mkdir(parents=True, exist_ok=True)
        self.warehouse_file.parent.mkdir(parents=True, exist_ok=True)
        instance_yaml = self.dagster_home / "dagster.yaml"
        if not instance_yaml.exists():
            shipped = Path(__file__).resolve().parents[1] / "dagster.yaml"
            instance_yaml.write_text(shipped.read_text() if shipped.is_file() else "telemetry:\n  enabled: false\n")
