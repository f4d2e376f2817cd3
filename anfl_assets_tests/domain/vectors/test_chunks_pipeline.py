"""refresh_chunks: each index's files are cut to fit that index's own model."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from anfl_assets.domain.enrich import pipeline as enrich
from anfl_assets.domain.inventory import refresh_file_inventory
from anfl_assets.domain.projects import get_project, register_project
from anfl_assets.domain.security.pipeline import secret_scanner
from anfl_assets.domain.vectors.pipeline import refresh_chunks
from anfl_assets.domain.warehouse import Warehouse


class WordTokenizer:
    """Counts words: a stand-in tokenizer with its own input limit, as an embedder exposes one."""

    def __init__(self, model_id: str, max_tokens: int):
        self.model_id, self.max_tokens = model_id, max_tokens

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(t.split()) for t in texts]


def _words(n: int, seed: str) -> str:
    return " ".join(f"{seed}{i}" for i in range(n))


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "proj"
    (root / "docs").mkdir(parents=True)
    (root / "src").mkdir()
    paragraphs = "\n\n".join(_words(40, f"p{k}w") for k in range(8))  # one section of ~320 words
    (root / "docs" / "guide.md").write_text(f"# Operating the service\n\n{paragraphs}\n")
    body = "\n".join(f"    total += {i}  # {_words(6, f'c{i}x')}" for i in range(40))
    (root / "src" / "calc.py").write_text(f"def total_of_everything():\n    total = 0\n{body}\n    return total\n")
    wh = Warehouse(tmp_path / "warehouse.duckdb")
    register_project(wh, "svc", root)
    refresh_file_inventory(wh, "svc", root)
    p = get_project(wh, "svc")
    enrich.refresh_file_classes(wh, p)
    enrich.refresh_code_structure(wh, p)
    return wh, p


def _chunks(wh) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for r in wh.query("SELECT index_name, tokens FROM vectors.chunks ORDER BY index_name, start_line").to_pylist():
        out.setdefault(r["index_name"], []).append(r["tokens"])
    return out


def test_each_index_is_cut_to_its_own_models_limit(project):
    wh, p = project
    tokenizers = {"code": WordTokenizer("small-code-model", 64), "config": WordTokenizer("small-code-model", 64),
                  "docs": WordTokenizer("long-docs-model", 400), "infra": WordTokenizer("small-code-model", 64)}
    stats = refresh_chunks(wh, p, tokenizers, secret_scanner(None))
    assert stats.processed == 2
    tokens = _chunks(wh)
    assert len(tokens["code"]) > 1 and max(tokens["code"]) <= 64
    assert len(tokens["docs"]) == 1 and 64 < tokens["docs"][0] <= 400  # the whole section fits the docs model

    # the docs model changes: files are chunked again, now to its limit
    tokenizers["docs"] = WordTokenizer("short-docs-model", 100)
    again = refresh_chunks(wh, p, tokenizers, secret_scanner(None))
    assert again.processed == 2
    tokens = _chunks(wh)
    assert len(tokens["docs"]) > 1 and max(tokens["docs"]) <= 100 and max(tokens["code"]) <= 64


def test_an_index_without_a_tokenizer_is_refused(project):
    wh, p = project
    with pytest.raises(ValueError, match="no tokenizer for index"):
        refresh_chunks(wh, p, {"code": WordTokenizer("m", 64)}, secret_scanner(None))
