"""security_findings and file_sensitivity as Dagster runs: findings, history, suppressions, the gate,
exports, sensitivity levels, and that no raw secret value is ever written anywhere."""

import binascii
import json
import os
import random
import string
import subprocess
import sys
from pathlib import Path

from dagster import AssetCheckSeverity, DagsterInstance

from anfl_assets.domain.projects import register_project
from anfl_assets.domain.security.export import validate_sarif
from anfl_assets.domain.warehouse import Warehouse

from .job_for_tests import keys_of_groups, scan_project_job

EARLIER = keys_of_groups("inventory", "enrichment", "security")

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
rng = random.Random(20261201)


def _b62(n: int, width: int) -> str:
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = BASE62[r] + out
    return out.rjust(width, "0")


def github_token() -> str:
    body = "".join(rng.choice(BASE62) for _ in range(30))
    return "ghp_" + body + _b62(binascii.crc32(body.encode()), 6)


AWS_ID = "AKIA" + "".join(rng.choice(string.ascii_uppercase + "234567") for _ in range(16))
AWS_SECRET = "".join(rng.choice(string.ascii_letters + string.digits + "/+") for _ in range(40))
STRIPE = "sk_live_" + "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(24))
GITHUB = github_token()
REMOVED = github_token()
PEM_BODY = binascii.b2a_base64(bytes(rng.randrange(256) for _ in range(600)), newline=False).decode()
PEM_LINES = [PEM_BODY[i:i + 64] for i in range(0, len(PEM_BODY), 64)]  # 13 lines
BOOTSTRAP_SH = ("#!/bin/sh\ncat > /root/.ssh/id_rsa <<'EOF'\n-----BEGIN RSA PRIVATE KEY-----\n"
                + "\n".join(PEM_LINES) + "\n-----END RSA PRIVATE KEY-----\nEOF\n")
PLANTED = [AWS_ID, AWS_SECRET, STRIPE, GITHUB, REMOVED, *PEM_LINES]

SETTINGS_PY = (f'"""Service settings."""\nimport os\n\nREGION = "eu-west-1"\nAWS_ACCESS_KEY_ID = "{AWS_ID}"\n'
               f'AWS_SECRET_ACCESS_KEY = "{AWS_SECRET}"\nDB_PASSWORD = os.environ["DB_PASSWORD"]\n')
PRIVILEGED = ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: debug\nspec:\n  containers:\n    - name: shell\n"
              "      image: busybox:1.36\n      securityContext:\n        privileged: true\n")


def _run(instance, name="shop"):
    result = scan_project_job().execute_in_process(partition_key=name, instance=instance, raise_on_error=False,
                                                   asset_selection=EARLIER)
    return result


def _meta(result, node):
    mats = result.asset_materializations_for_node(node)
    return mats[0].metadata if mats else None


def _setup(anfl_home: Path, git_repo, instance) -> Warehouse:
    git_repo.commit("ci token", {"deploy/ci.sh": f"#!/bin/sh\nexport GH_TOKEN={REMOVED}\n./deploy\n"},
                    author="Mallory Dev <mallory@example.com>")
    git_repo.commit("use the vault instead", {"deploy/ci.sh": "#!/bin/sh\nexport GH_TOKEN=\"$(vault read gh)\"\n"})
    git_repo.commit("service", {
        "svc/settings.py": SETTINGS_PY,
        "svc/settings_copy.py": SETTINGS_PY,  # the same secrets twice: one secret, two locations
        "svc/payments.py": f'STRIPE_KEY = "{STRIPE}"\n',
        "tools/release.py": f'TOKEN = "{GITHUB}"  # anfl:allow release bot, rotated monthly\n',
        "deploy/bootstrap.sh": BOOTSTRAP_SH,
        "k8s/debug-pod.yaml": PRIVILEGED,
        "company_docs/hr/salaries.md": "# Salaries 2025\n\n| name | salary |\n",
        "README.md": "# Shop\n",
    })
    wh = Warehouse(anfl_home / "warehouse.duckdb")
    register_project(wh, "shop", git_repo.root)
    instance.add_dynamic_partitions("projects", ["shop"])
    return wh


def test_findings_history_sensitivity_and_reruns(anfl_home, git_repo):
    with DagsterInstance.get() as instance:
        wh = _setup(anfl_home, git_repo, instance)
        result = _run(instance)
        assert result.success  # the gate defaults to a warning
        (check,) = [c for c in result.get_asset_check_evaluations() if c.check_name == "no_new_critical_findings"]
        assert check.passed is False and check.severity == AssetCheckSeverity.WARN
        meta = _meta(result, "security_findings")
        assert meta["commits walked"].value == 3 and meta["new since previous"].value == meta["findings"].value

        findings = wh.query("SELECT * FROM security.findings WHERE project = 'shop'").to_pylist()
        secrets = [f for f in findings if f["source"] == "secret"]
        by_path = {}
        for f in secrets:
            by_path.setdefault((f["path"], f["location"]), []).append(f)
        assert {("svc/settings.py", "file"), ("svc/settings_copy.py", "file"), ("svc/payments.py", "file"),
                ("tools/release.py", "file"), ("deploy/ci.sh", "history")} <= set(by_path)
        assert all(f["redacted"] and f["fingerprint"] and len(f["fingerprint"]) == 32 for f in secrets)
        # one secret, many locations: the copies share fingerprints
        fps = {p: {f["fingerprint"] for f in by_path[(p, "file")]} for p in ("svc/settings.py", "svc/settings_copy.py")}
        assert fps["svc/settings.py"] == fps["svc/settings_copy.py"] and len(fps["svc/settings.py"]) >= 2
        (removed,) = by_path[("deploy/ci.sh", "history")]
        assert removed["author"].startswith("Mallory Dev") and removed["sha"] and removed["authored_at"] is not None
        assert removed["in_working_tree"] is False and removed["line"] == 2
        grouped = wh.query("SELECT locations, files, commits, on_disk FROM security.secrets WHERE project = 'shop' "
                           "AND fingerprint = ?", [next(iter(fps["svc/settings.py"]))]).to_pylist()
        # two files on disk, plus the commit that added both (history keeps one row per file there)
        assert grouped == [{"locations": 4, "files": 2, "commits": 1, "on_disk": True}]
        (inline,) = by_path[("tools/release.py", "file")]
        assert inline["suppressed"] and "anfl:allow" in inline["suppression"]
        assert any(f["rule"] and f["source"] == "misconfig" and f["path"] == "k8s/debug-pod.yaml" for f in findings)
        (pem,) = by_path[("deploy/bootstrap.sh", "file")]  # one finding from BEGIN (line 3) to END (line 17)
        assert (pem["rule"], pem["line"], pem["end_line"]) == ("private-key", 3, 4 + len(PEM_LINES))
        assert all(f["end_line"] is None for f in secrets if f["path"] != "deploy/bootstrap.sh")

        levels = {r["path"]: r for r in wh.query("SELECT path, level, evidence FROM security.file_sensitivity "
                                                 "WHERE project = 'shop'").to_pylist()}
        assert levels["svc/settings.py"]["level"] == "restricted"
        assert any("secret" in e for e in levels["svc/settings.py"]["evidence"])
        assert levels["company_docs/hr/salaries.md"]["level"] == "restricted"
        assert levels["README.md"]["level"] in ("public", "internal")
        assert levels["tools/release.py"]["level"] != "restricted" or levels["tools/release.py"]["evidence"]

        # Nothing changed: nothing re-read, no commit re-walked, nothing new, the check passes.
        again = _run(instance)
        meta = _meta(again, "security_findings")
        assert meta["files scanned"].value == 0 and meta["commits walked"].value == 0
        assert meta["new since previous"].value == 0 and meta["resolved since previous"].value == 0
        (check,) = [c for c in again.get_asset_check_evaluations() if c.check_name == "no_new_critical_findings"]
        assert check.passed

        # The AWS key is fixed in one copy; a suppression file allows the Stripe key until a past date.
        stripe_fp = next(f["fingerprint"] for f in secrets if f["path"] == "svc/payments.py")
        git_repo.commit("drop the copy; allow stripe test", {
            "svc/settings_copy.py": "REGION = 'eu-west-1'\n",
            ".anfl-allow.yaml": f"- fingerprint: {stripe_fp}\n  reason: sandbox account\n  owner: ops@example.com\n"
                                "  expires: 2020-01-01\n"})
        third = _run(instance)
        meta = _meta(third, "security_findings")
        assert meta["files scanned"].value == 2  # the changed copy and the new allow file
        assert meta["commits walked"].value == 1 and meta["resolved since previous"].value >= 2
        stripe = wh.query("SELECT location, suppressed, suppression FROM security.findings "
                          "WHERE path = 'svc/payments.py' ORDER BY location").to_pylist()
        assert [(r["location"], r["suppressed"]) for r in stripe] == [("file", False), ("history", False)]
        assert all(r["suppression"].startswith("expired") for r in stripe)  # same fingerprint: both locations
        git_repo.commit("extend", {".anfl-allow.yaml": f"- fingerprint: {stripe_fp}\n  reason: sandbox account\n"
                                                      "  expires: 2999-01-01\n"})
        _run(instance)
        assert wh.query("SELECT DISTINCT suppressed FROM security.findings WHERE path = 'svc/payments.py'"
                        ).to_pylist() == [{"suppressed": True}]

        _assert_no_planted_value_anywhere(anfl_home, wh)


def _assert_no_planted_value_anywhere(anfl_home: Path, wh: Warehouse) -> None:
    """Every text column of every table, the raw warehouse and Dagster files, and both exports."""
    columns = wh.query("SELECT table_schema, table_name, column_name FROM information_schema.columns "
                       "WHERE data_type LIKE 'VARCHAR%' OR data_type = 'JSON'").to_pylist()
    for c in columns:
        sql = (f'SELECT count(*) AS n FROM "{c["table_schema"]}"."{c["table_name"]}" '
               f'WHERE ' + " OR ".join(f'contains(CAST("{c["column_name"]}" AS VARCHAR), ?)' for _ in PLANTED))
        assert wh.query(sql, PLANTED).to_pylist() == [{"n": 0}], c
    env = {**os.environ, "ANFL_HOME": str(anfl_home)}
    exports = []
    for fmt in ("json", "sarif"):
        out = subprocess.run([sys.executable, "-m", "anfl_assets.cli", "findings", "shop", "--format", fmt],
                             capture_output=True, text=True, env=env, check=True).stdout
        exports.append(out)
        if fmt == "sarif":
            validate_sarif(out)
            doc = json.loads(out)
            assert doc["runs"][0]["results"] and all(r["partialFingerprints"] for r in doc["runs"][0]["results"])
    for path in anfl_home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(v.encode() in data for v in PLANTED), path
    assert not any(v in text for v in PLANTED for text in exports)


def test_error_gate_blocks_downstream_but_keeps_findings(anfl_home, git_repo, monkeypatch):
    monkeypatch.setenv("ANFL_SECURITY_GATE", "error")
    with DagsterInstance.get() as instance:
        wh = _setup(anfl_home, git_repo, instance)
        result = _run(instance)
        (check,) = [c for c in result.get_asset_check_evaluations() if c.check_name == "no_new_critical_findings"]
        assert check.passed is False and check.severity == AssetCheckSeverity.ERROR
        assert _meta(result, "file_sensitivity") is None  # blocked
        assert wh.query("SELECT count(*) AS n FROM security.findings WHERE severity = 'critical'"
                        ).to_pylist()[0]["n"] > 0
        assert wh.query("SELECT count(*) AS n FROM security.file_sensitivity").to_pylist() == [{"n": 0}]
