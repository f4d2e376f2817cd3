"""A file whose class changes while its content does not (a user rule, a new rules release) is
scanned and chunked again: misconfiguration checks and the index a chunk lands in go by class."""

from __future__ import annotations

from collections.abc import Sequence

from anfl_assets.domain.enrich import pipeline as enrich
from anfl_assets.domain.inventory import refresh_file_inventory
from anfl_assets.domain.projects import get_project, register_project
from anfl_assets.domain.security.pipeline import refresh_security, secret_scanner
from anfl_assets.domain.vectors.pipeline import refresh_chunks
from anfl_assets.domain.warehouse import Warehouse

RECIPE = "FROM python:latest\nUSER root\nRUN curl -fsSL https://get.example.com/install.sh | sh\nCMD [\"serve\"]\n"
RULES = """rules:
  - id: acme.recipes
    match: {name: ["*.recipe"]}
    category: infrastructure
    infra_kind: dockerfile
"""


class WordTokenizer:
    model_id, max_tokens = "words", 256

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(t.split()) for t in texts]


def test_a_reclassified_file_is_scanned_and_chunked_again(tmp_path):
    root = tmp_path / "proj"
    (root / "ops").mkdir(parents=True)
    (root / "ops" / "api.recipe").write_text(RECIPE)
    (root / "README.md").write_text("# API\n\nBuilds the API image.\n")
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    wh = Warehouse(tmp_path / "warehouse.duckdb")
    register_project(wh, "api", root)
    refresh_file_inventory(wh, "api", root)
    project = get_project(wh, "api")
    tokenizers = {i: WordTokenizer() for i in ("code", "config", "docs", "infra")}
    key = b"k" * 32

    def scan(extra_rules: str | None):
        enrich.refresh_file_classes(wh, project, extra_rules)
        return refresh_security(wh, project, key), refresh_chunks(wh, project, tokenizers, secret_scanner(None))

    def recipe_state():
        (cls,) = wh.query("SELECT category FROM enrich.file_classes WHERE path = 'ops/api.recipe'").to_pylist()
        rules_found = sorted(r["rule"] for r in wh.query(
            "SELECT rule FROM security.findings WHERE path = 'ops/api.recipe' AND source = 'misconfig'").to_pylist())
        indexes = {r["index_name"] for r in wh.query(
            "SELECT index_name FROM vectors.chunks WHERE path = 'ops/api.recipe'").to_pylist()}
        return cls["category"], rules_found, indexes

    security, chunks = scan(None)
    assert (security.processed, chunks.processed) == (2, 1)  # README.md is docs; the recipe is "other"
    assert recipe_state() == ("other", [], set())

    security, chunks = scan(str(rules))  # same bytes, now infrastructure (a Dockerfile)
    assert (security.processed, chunks.processed) == (1, 1)
    assert recipe_state() == ("infrastructure",
                              ["docker-curl-pipe-shell", "docker-image-tag-latest", "docker-user-root"], {"infra"})

    security, chunks = scan(str(rules))  # nothing changed: nothing read again
    assert (security.processed, chunks.processed) == (0, 0)

    security, chunks = scan(None)  # the rule is gone: back to "other", findings and chunks with it
    assert (security.processed, chunks.processed) == (1, 0)
    assert recipe_state() == ("other", [], set())
