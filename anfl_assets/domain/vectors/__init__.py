"""Semantic search over the estate: chunking, embeddings, vector indexes and search."""

INDEXES = ("code", "config", "docs", "infra")
from anfl_assets.domain.security import LEVELS  # noqa: F401 - clearance levels, shared with security
