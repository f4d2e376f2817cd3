"""Semantic search over the estate: chunking, embeddings, vector indexes and search."""

INDEXES = ("code", "config", "docs", "infra")
LEVELS = ("public", "internal", "confidential", "restricted")
