"""sensitivity: path rules (built-in and user), escalation by findings, the sample estate."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import yaml

from anfl_assets.domain.demo_estate import ROOT_NAME, write_demo_estate
from anfl_assets.domain.security import LEVELS
from anfl_assets.domain.security import sensitivity as sens
from anfl_assets.domain.security.sensitivity import RULES_PATH, RULESET_VERSION, SensitivityRules, combine


@pytest.fixture(scope="module")
def rules() -> SensitivityRules:
    return SensitivityRules()


# --------------------------------------------------------------------------------------
# built-in path rules
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("path, level, rule", [
    # restricted
    ("company_docs/hr/salary_bands_2024.csv", "restricted", "hr"),
    ("HR/Reviews/2024/jane.md", "restricted", "hr"),
    ("hr/README.md", "restricted", "hr"),
    ("people-ops/onboarding-checklist.docx", "restricted", "hr"),
    ("docs/team/salary_review_2024.xlsx", "restricted", "compensation"),
    ("shared/performance_review_q3.pdf", "restricted", "compensation"),
    ("ops/payroll/march.csv", "restricted", "payroll"),
    ("exports/payroll_2024.xlsx", "restricted", "payroll"),
    ("company_docs/finance/budget_2025.md", "restricted", "finance"),
    ("Finance/Q4/forecast.xlsx", "restricted", "finance"),
    ("accounting/ledger.csv", "restricted", "finance"),
    ("legal/litigation/acme-v-us.pdf", "restricted", "legal"),
    ("docs/acme_nda.pdf", "restricted", "legal"),
    ("security/audits/2024-pentest.pdf", "restricted", "security-audits"),
    ("reports/pentest_report_2023.pdf", "restricted", "security-audits"),
    ("data/customer-data/eu.parquet", "restricted", "customer-data"),
    ("tmp/customers_2024.csv", "restricted", "customer-data"),
    ("dumps/crm_export_march.json", "restricted", "customer-data"),
    # confidential
    ("deploy/secrets/db.yaml", "confidential", "secrets-dirs"),
    ("infrastructure/certs/deploy_key.pem", "confidential", "secrets-dirs"),
    ("home/.ssh/id_rsa", "confidential", "secrets-dirs"),
    ("tls.key", "confidential", "key-material"),
    ("yaml_configs/.env", "confidential", "env-files"),
    ("services/api/.env.production", "confidential", "env-files"),
    ("config/prod.env", "confidential", "env-files"),
    ("infrastructure/terraform/envs/prod.tfvars", "confidential", "terraform-vars-and-state"),
    ("infra/terraform/prod/terraform.tfstate", "confidential", "terraform-vars-and-state"),
    ("k8s/db-secret.yaml", "confidential", "k8s-secret-manifests"),
    ("backups/prod.sql.gz", "confidential", "database-dumps"),
    ("docs/security/threat-model.md", "confidential", "security-docs"),
    ("sales/contracts/acme-msa.pdf", "confidential", "contracts"),
    ("billing/invoices/2024-03.pdf", "confidential", "invoices"),
    # public
    ("LICENSE", "public", "licenses"),
    ("LICENSE.txt", "public", "licenses"),
    ("vendor/lib/COPYING", "public", "licenses"),
    ("LICENSES/Apache-2.0.txt", "public", "licenses"),
    ("README.md", "public", "project-readmes"),
    ("services/api/README.rst", "public", "project-readmes"),
    ("CHANGELOG.md", "public", "project-readmes"),
    ("CONTRIBUTING.md", "public", "project-readmes"),
    ("docs/public/getting-started.md", "public", "public-docs"),
    # internal by default
    ("src/app/main.py", "internal", "default"),
    ("docs/architecture/overview.md", "internal", "default"),
    ("company_docs/meetings/2023-03-09-security-review.md", "internal", "default"),
    ("company_docs/policies/information-security.md", "internal", "default"),
    ("docs/sre/error_budget.md", "internal", "default"),
    ("meetings/agenda.md", "internal", "default"),
    ("datasets/contracts_v1.jsonl", "internal", "default"),
    ("yaml_configs/.env.example", "internal", "default"),
    ("config/.env.template", "internal", "default"),
    # code inside sensitive-sounding folders stays internal
    ("addons/hr/models/hr_employee.py", "internal", "default"),
    ("src/security/auth.py", "internal", "default"),
    ("contracts/Token.sol", "internal", "default"),
    ("services/payroll/calculator.go", "internal", "default"),
    ("finance/package.json", "internal", "default"),
])
def test_builtin_path_levels(rules, path, level, rule):
    assert rules.path_level(path) == (level, rule)


def test_default_and_odd_paths(rules):
    assert rules.path_level("") == ("internal", "default")
    assert rules.path_level("./hr/a.md") == ("restricted", "hr")
    assert rules.path_level("company_docs\\hr\\a.md") == ("restricted", "hr")
    assert rules.path_level("/finance/a.md") == ("restricted", "finance")
    # a README inside hr/ stays restricted: restricted rules come first
    assert rules.path_level("company_docs/hr/README.md")[0] == "restricted"
    # an .env inside finance/ is restricted (first match), not merely confidential
    assert rules.path_level("finance/.env") == ("restricted", "finance")


def test_builtin_rules_file_is_well_formed():
    raw = yaml.safe_load(RULES_PATH.read_text(encoding="utf-8"))
    assert isinstance(raw, list) and len(raw) >= 15
    ids = [r["id"] for r in raw]
    assert len(ids) == len(set(ids))
    for r in raw:
        assert r["level"] in LEVELS
        assert r.get("reason")
        assert r.get("glob") or r.get("globs")
    # every level except the default is produced by some rule
    assert {r["level"] for r in raw} == {"public", "confidential", "restricted"}


def test_version_hashes_the_rules_files(tmp_path):
    base = SensitivityRules()
    assert base.version == RULESET_VERSION
    assert RULESET_VERSION.startswith("sensitivity-")
    user = tmp_path / "mine.yaml"
    user.write_text("- {id: acme.a, glob: 'x/**', level: public, reason: r}\n")
    v1 = SensitivityRules(user).version
    user.write_text("- {id: acme.a, glob: 'y/**', level: public, reason: r}\n")
    v2 = SensitivityRules(user).version
    assert len({base.version, v1, v2}) == 3
    assert v1.startswith(RULESET_VERSION)
    # a different built-in file gives a different version
    other = tmp_path / "builtin.yaml"
    other.write_text("- {id: only, glob: 'z/**', level: restricted, reason: r}\n")
    assert SensitivityRules(rules_path=other).version != base.version


# --------------------------------------------------------------------------------------
# user rules
# --------------------------------------------------------------------------------------
def test_user_rules_are_tried_first(tmp_path):
    user = tmp_path / "sens.yaml"
    user.write_text(
        "# ours\n"
        "- id: acme.board-public\n"
        "  glob: finance/public/**\n"
        "  level: public\n"
        "  reason: published investor material\n"
        "- id: acme.labs\n"
        "  globs: ['labs/**', '!labs/open/**']\n"
        "  level: confidential\n"
        "  reason: unreleased research\n"
        "- id: acme.ops\n"
        "  glob: 'ops/**'\n"
        "  exclude: ['*.py']\n"
        "  level: restricted\n"
        "  reason: ops docs\n")
    r = SensitivityRules(user)
    assert r.path_level("finance/public/annual-report.pdf") == ("public", "acme.board-public")
    assert r.path_level("finance/forecast.xlsx") == ("restricted", "finance")   # built-in still applies
    assert r.path_level("labs/secret-project/notes.md") == ("confidential", "acme.labs")
    assert r.path_level("labs/open/notes.md") == ("internal", "default")       # negated inside the rule
    assert r.path_level("ops/runbook.md") == ("restricted", "acme.ops")
    assert r.path_level("ops/tool.py") == ("internal", "default")              # excluded
    assert r.reason("acme.labs") == "unreleased research"


def test_user_file_can_disable_builtin_rules(tmp_path):
    user = tmp_path / "sens.yaml"
    user.write_text("rules:\n  - {id: acme.x, glob: 'x/**', level: restricted, reason: r}\ndisable: [licenses]\n")
    r = SensitivityRules(user)
    assert r.path_level("LICENSE") == ("internal", "default")
    assert r.path_level("x/a") == ("restricted", "acme.x")


@pytest.mark.parametrize("text, message", [
    ("- {id: a, glob: 'x', level: secret, reason: r}\n", "level"),
    ("- {glob: 'x', level: public}\n", "id"),
    ("- {id: a, level: public}\n", "glob"),
    ("- {id: a, glob: 'x', level: public, colour: red}\n", "unknown keys"),
    ("- {id: licenses, glob: 'x', level: public}\n", "duplicate"),
    ("- {id: a, glob: 'x', level: public}\n- {id: a, glob: 'y', level: public}\n", "duplicate"),
    ("- {id: a, glob: 3, level: public}\n", "pattern"),
    ("just a string\n", "expected a list"),
    ("rules: {a: 1}\n", "must be a list"),
    ("rules: []\nextra: 1\n", "unknown keys"),
])
def test_bad_user_rules_are_refused(tmp_path, text, message):
    user = tmp_path / "bad.yaml"
    user.write_text(text)
    with pytest.raises(ValueError, match=message):
        SensitivityRules(user)


def test_empty_user_file_is_fine(tmp_path):
    user = tmp_path / "empty.yaml"
    user.write_text("# nothing yet\n")
    assert SensitivityRules(user).path_level("hr/a.md") == ("restricted", "hr")


def test_path_level_is_fast(rules):
    paths = [f"services/svc{i // 50}/src/module_{i}.py" for i in range(20_000)]
    started = time.perf_counter()
    for p in paths:
        rules.path_level(p)
    assert time.perf_counter() - started < 2.0


# --------------------------------------------------------------------------------------
# combine
# --------------------------------------------------------------------------------------
def test_combine_path_level_only():
    level, evidence = combine(("restricted", "hr"), [])
    assert level == "restricted"
    assert evidence[0].startswith("path rule hr (restricted)")
    level, evidence = combine(("internal", "default"), [])
    assert level == "internal"
    assert evidence == ["default level internal (no path rule matched)"]


@pytest.mark.parametrize("start, findings, expected", [
    (("internal", "default"), [("github-classic-pat", "critical", "secret")], "restricted"),
    (("public", "licenses"), [("aws-access-key", "high", "secret")], "restricted"),
    (("internal", "default"), [("generic-password", "medium", "secret")], "confidential"),
    (("public", "project-readmes"), [("generic-password", "medium", "secret")], "confidential"),
    (("restricted", "hr"), [("generic-password", "medium", "secret")], "restricted"),   # never lowered
    (("internal", "default"), [("entropy-string", "low", "secret")], "internal"),
    (("internal", "default"), [("entropy-string", "info", "secret")], "internal"),
    (("internal", "default"), [("sensitive-file-env", "high", "sensitive-file")], "restricted"),
    (("public", "licenses"), [("sensitive-file-database-dump", "medium", "sensitive-file")], "restricted"),
    (("internal", "default"), [("k8s-privileged-container", "critical", "misconfig")], "internal"),
    (("public", "licenses"), [("tf-open-ingress", "high", "misconfig")], "public"),
    (("confidential", "env-files"), [("x", "low", "secret"), ("y", "critical", "misconfig")], "confidential"),
])
def test_combine_escalation(start, findings, expected):
    level, _ = combine(start, findings)
    assert level == expected
    assert LEVELS.index(level) >= LEVELS.index(start[0])


def test_combine_evidence_names_the_reasons():
    level, evidence = combine(("internal", "default"), [
        ("k8s-privileged-container", "critical", "misconfig"),
        ("generic-password", "medium", "secret"),
        ("github-classic-pat", "critical", "secret"),
        ("github-classic-pat", "critical", "secret"),
        ("sensitive-file-private-key", "critical", "sensitive-file"),
    ])
    assert level == "restricted"
    assert evidence[0] == "default level internal (no path rule matched)"
    assert "secret github-classic-pat (critical)" in evidence
    assert "sensitive-file-private-key (critical)" in evidence
    assert "secret generic-password (medium)" in evidence
    assert evidence.count("secret github-classic-pat (critical)") == 1
    assert not any("k8s-privileged-container" in e for e in evidence)    # misconfigs are not evidence
    # strongest first: restricted-implying findings before the confidential one
    assert evidence.index("secret generic-password (medium)") > evidence.index("secret github-classic-pat (critical)")


def test_combine_tolerates_junk():
    level, evidence = combine(("bogus", "default"), [("a",), None, ("r", "weird", "secret"), ("r", "high", "other")])
    assert level == "internal"
    assert evidence


# --------------------------------------------------------------------------------------
# the sample estate
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def estate(tmp_path_factory):
    out = tmp_path_factory.mktemp("estate")
    truth = write_demo_estate(out, seed=7)
    return out / ROOT_NAME, truth


def _files(root: Path) -> list[str]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in filenames:
            out.append((Path(dirpath) / name).relative_to(root).as_posix())
    return sorted(out)


def test_sample_estate_restricted_docs_match_ground_truth(rules, estate):
    root, truth = estate
    restricted_truth = set(truth["restricted_docs"])
    assert restricted_truth, "the sample estate lists restricted documents"
    files = _files(root)
    assert restricted_truth <= set(files)
    levels = {p: rules.path_level(p) for p in files}
    for p in sorted(restricted_truth):
        assert levels[p][0] == "restricted", (p, levels[p])
    # nothing else is restricted by path: engineering docs, runbooks, ADRs, meetings, code
    extra = sorted(p for p, (lvl, _) in levels.items() if lvl == "restricted" and p not in restricted_truth)
    assert extra == []
    for p in files:
        if p.startswith(("company_docs/architecture/", "company_docs/runbooks/", "company_docs/meetings/",
                         "company_docs/onboarding/", "ai_model_testing/src/")) or p.endswith(".py"):
            assert levels[p][0] in ("internal", "public"), (p, levels[p])
    # sanity on the other levels
    assert levels["LICENSE"][0] == "public"
    assert levels["README.md"][0] == "public"
    assert levels["yaml_configs/.env"][0] == "confidential"
    assert levels["yaml_configs/.env.example"][0] == "internal"
    assert levels["infrastructure/terraform/envs/prod.tfvars"][0] == "confidential"


def test_descriptions_registry_is_filled():
    SensitivityRules()
    assert sens._DESCRIPTIONS["hr"][0] == "restricted"
