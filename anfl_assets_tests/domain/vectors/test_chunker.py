"""The chunker: structure-following units, token budgets, headers, redaction, stable ids."""

import re
from types import SimpleNamespace

from anfl_assets.domain.enrich.code_structure import extract_structure
from anfl_assets.domain.vectors.chunker import chunk_text, redact


def words(texts):
    """A stand-in tokenizer: word pieces ~ words and punctuation (the real one is tested with the model)."""
    return [len(re.findall(r"\w+|[^\w\s]", t)) for t in texts]


def _symbols(source: str, lang: str = "python"):
    s = extract_structure(lang, source.encode())
    return [(kind, qual, start, end, parent) for kind, _name, qual, start, end, _doc, parent in s.symbols]


PY = '''"""Orders service."""
import os

TIMEOUT = 30


def load(order_id):
    """Load one order."""
    return {"id": order_id}


class Store:
    """Keeps orders."""

    def __init__(self):
        self.items = {}

''' + "\n".join(f"    def op_{i}(self, x):\n        y = x * {i} + len(self.items)\n        return y + {i}\n" for i in range(30)) + '''

def tail():
    return 1
'''


def test_code_follows_symbols_and_splits_big_classes_by_method():
    chunks = chunk_text("code", "svc/orders.py", PY, words, max_tokens=128, symbols=_symbols(PY))
    assert all(c.tokens <= 128 for c in chunks)
    assert all(c.text.startswith("svc/orders.py") for c in chunks)
    labels = [c.symbol for c in chunks]
    assert any(label and "load" in label for label in labels)
    assert any(label and "op_17" in label for label in labels)  # methods of the big class, merged in groups
    assert chunks[-1].symbol and "tail" in chunks[-1].symbol
    # every line of code is in some chunk
    covered = set()
    for c in chunks:
        covered.update(range(c.start_line, c.end_line + 1))
    body = [i for i, line in enumerate(PY.split("\n"), 1) if line.strip()]
    assert set(body) <= covered


def test_small_file_is_one_chunk_with_path_and_symbol_header():
    src = "def hello():\n    return 'hi'\n"
    (chunk,) = chunk_text("code", "a/b.py", src, words, symbols=_symbols(src))
    assert chunk.text == "a/b.py :: hello\n" + src.rstrip("\n")
    assert (chunk.start_line, chunk.end_line) == (1, 2)


def test_huge_function_is_windowed_with_overlap():
    src = "def big():\n" + "".join(f"    v{i} = compute({i}, {i + 1}, {i + 2})\n" for i in range(200))
    chunks = chunk_text("code", "big.py", src, words, max_tokens=100, symbols=_symbols(src))
    assert len(chunks) > 5 and all(c.tokens <= 100 for c in chunks)
    assert all(b.start_line <= a.end_line for a, b in zip(chunks, chunks[1:]))  # overlapping windows
    assert all(c.symbol == "big" for c in chunks)


def test_markdown_by_headings_and_fenced_code_is_not_a_heading():
    doc = ("# Runbook\n\nIntro.\n\n## Restart\n\n```bash\n# not a heading\nsystemctl restart api\n```\n\n"
           "## Rollback\n\n" + "Steps to roll back the release safely. " * 20 + "\n")
    chunks = chunk_text("docs", "docs/runbook.md", doc, words, max_tokens=256, min_tokens=4)
    assert [c.symbol for c in chunks] == ["Runbook", "Restart", "Rollback"]
    assert "systemctl restart api" in chunks[1].text


def test_yaml_config_by_top_level_key_and_k8s_by_document():
    cfg = "server:\n  port: 8080\n  workers: 4\ndatabase:\n  host: db\n  pool: 10\n"
    chunks = chunk_text("config", "config/app.yaml", cfg, words, min_tokens=1)
    assert [c.symbol for c in chunks] == ["server", "database"]
    k8s = ("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  replicas: 2\n---\n"
           "apiVersion: v1\nkind: Service\nmetadata:\n  name: api\n")
    chunks = chunk_text("infra", "k8s/api.yaml", k8s, words, infra_kind="kubernetes")
    assert [c.symbol for c in chunks] == ["Deployment/api", "Service/api"]
    assert chunks[1].start_line == 8


def test_dockerfile_by_stage_and_terraform_by_block():
    df = "FROM python:3.11 AS build\nRUN pip wheel .\nFROM python:3.11-slim\nCOPY --from=build /w /w\n"
    chunks = chunk_text("infra", "Dockerfile", df, words, infra_kind="dockerfile")
    assert [c.symbol for c in chunks] == ["stage build", "stage python:3.11-slim"]
    tf = ('resource "aws_s3_bucket" "logs" {\n  bucket = "logs"\n}\n\n'
          'resource "aws_iam_role" "ci" {\n  name = "ci"\n}\n')
    chunks = chunk_text("infra", "main.tf", tf, words, infra_kind="terraform", symbols=_symbols(tf, "hcl"),
                        min_tokens=1)
    assert len(chunks) == 2 and "aws_s3_bucket" in chunks[0].symbol and chunks[1].start_line == 5


def test_minified_line_is_cut_under_the_budget():
    js = "var a=" + "+".join(f"f{i}(x)" for i in range(2000)) + ";\n"
    chunks = chunk_text("code", "app.min.js", js, words, max_tokens=256)
    assert len(chunks) > 10 and all(c.tokens <= 256 for c in chunks)
    assert "".join(c.text.split("\n", 1)[1] for c in chunks) == js.rstrip("\n")  # in order, nothing lost


def test_redaction_replaces_values_and_encoded_tokens():
    text = 'TOKEN = "ghp_abc123SECRET"\nblob: QUtJQUZBS0VBS0lBRkFLRTEyMzQ=\nplain\n'
    m1 = SimpleNamespace(line=1, column=10, value="ghp_abc123SECRET", rule="github-pat", context="text")
    m2 = SimpleNamespace(line=2, column=7, value="AKIAFAKEAKIAFAKE1234", rule="aws-access-key", context="base64")
    out = redact(text, [m1, m2])
    assert out == 'TOKEN = "[REDACTED:github-pat]"\nblob: [REDACTED:aws-access-key]\nplain\n'


def test_ids_are_stable_and_content_addressed():
    src = "def a():\n    return 1\n"
    one = chunk_text("code", "x.py", src, words, symbols=_symbols(src))[0]
    two = chunk_text("code", "x.py", src, words, symbols=_symbols(src))[0]
    other = chunk_text("code", "x.py", src.replace("1", "2"), words, symbols=_symbols(src))[0]
    assert one.chunk_id("p") == two.chunk_id("p") != other.chunk_id("p") and one.chunk_id("p") != one.chunk_id("q")


def test_notebook_cells_become_readable_text_with_ipynb_lines():
    import json

    nb = {"cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Class balance\n", "The eval set is skewed."]},
        {"cell_type": "code", "metadata": {}, "execution_count": 1, "source": ["df.label.value_counts()"],
         "outputs": [{"output_type": "stream", "name": "stdout", "text": ["neutral 600\n", "positive 300\n"]}]},
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    raw = json.dumps(nb, indent=1)
    (chunk,) = chunk_text("code", "nb/explore.ipynb", raw, words)
    assert "The eval set is skewed." in chunk.text and "neutral 600" in chunk.text and '"cell_type"' not in chunk.text
    assert chunk.start_line == raw.split("\n").index(next(l for l in raw.split("\n") if '"cell_type"' in l)) + 1
    assert chunk.index == "code"


def _pem_and_service_account() -> tuple[str, str, str]:
    """A PEM key over many lines, and the same key inside a GCP service-account JSON (one line of
    JSON escapes): the scanner reports each as one match whose value is on no single line."""
    import base64
    import json
    import random

    rnd = random.Random(11)
    body = base64.b64encode(bytes(rnd.getrandbits(8) for _ in range(900))).decode()
    pem = ("-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(body[i:i + 64] for i in range(0, len(body), 64))
           + "\n-----END RSA PRIVATE KEY-----\n")
    account = json.dumps({"type": "service_account", "project_id": "acme-prod", "private_key_id": "9f" * 20,
                          "private_key": pem, "client_email": "ci@acme-prod.iam.gserviceaccount.com"}, indent=2)
    return body, "# deploy key for the build box\n" + pem + "rotate_after_days = 90\n", account


def test_redaction_takes_every_line_of_a_multiline_key_with_the_real_scanner():
    from anfl_assets.domain.security.pipeline import secret_scanner

    body, key_file, account = _pem_and_service_account()
    scanner = secret_scanner(None)
    for path, text in (("deploy/build.pem", key_file), ("ci/service-account.json", account)):
        matches = scanner.scan_text(path, text)
        assert matches, path
        out = redact(text, matches)
        leaked = [body[i:i + 16] for i in range(0, len(body) - 16, 16) if body[i:i + 16] in out]
        assert not leaked, f"{path}: key material left after redaction: {leaked[:3]}"
        assert out.count("\n") == text.count("\n")  # lines kept, so chunk line numbers stay true
    redacted = redact(key_file, scanner.scan_text("deploy/build.pem", key_file)).split("\n")
    assert redacted[0] == "# deploy key for the build box" and redacted[-2] == "rotate_after_days = 90"
