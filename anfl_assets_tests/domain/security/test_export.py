"""SARIF 2.1.0 and JSON exports: schema-valid, suppressions carried, history locations described."""

import datetime as dt
import json

import pytest

from anfl_assets.domain.security.export import ExportError, to_json, to_sarif, validate_sarif

WHEN = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.timezone.utc)


def _finding(**kw):
    base = dict(finding_id="f" * 32, source="secret", rule="aws-access-key", title="AWS access key",
                severity="critical", confidence="high", path="src/my app/config.py", line=4, location="file",
                sha=None, author=None, authored_at=None, member=None, context="text", fingerprint="a" * 32,
                redacted="AKIA…(20 chars)", message="AWS access key (text)", resource=None, in_working_tree=True,
                suppressed=False, suppression=None, first_seen_at=WHEN, is_new=True)
    base.update(kw)
    return base


def test_sarif_is_schema_valid_with_history_and_suppressions():
    findings = [
        _finding(),
        _finding(finding_id="e" * 32, location="history", sha="b" * 40, author="Ada", authored_at=WHEN,
                 path="deploy/ci.sh", line=2, in_working_tree=False),
        _finding(finding_id="d" * 32, source="misconfig", rule="k8s-privileged", title="Privileged container",
                 severity="high", confidence=None, redacted=None, path="k8s/pod.yaml", line=None,
                 resource="Pod/debug", message="container shell is privileged"),
        _finding(finding_id="c" * 32, suppressed=True, suppression="allowed by .anfl-allow.yaml: sandbox"),
        _finding(finding_id="b" * 32, rule="private-key", path="deploy/id_rsa", line=1, end_line=27),
    ]
    doc = json.loads(to_sarif("shop", "/srv/shop", findings))
    run = doc["runs"][0]
    assert doc["version"] == "2.1.0" and len(run["results"]) == 5
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["aws-access-key", "k8s-privileged", "private-key"]
    first, history, misconfig, suppressed, pem = run["results"]
    assert first["locations"][0]["physicalLocation"]["region"] == {"startLine": 4}
    assert pem["locations"][0]["physicalLocation"]["region"] == {"startLine": 1, "endLine": 27}
    assert first["level"] == "error" and first["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == \
        "src/my%20app/config.py"
    assert "commit " + "b" * 40 in history["message"]["text"]
    assert "region" not in misconfig["locations"][0]["physicalLocation"]
    assert suppressed["suppressions"][0]["kind"] == "external"
    assert run["originalUriBaseIds"]["PROJECTROOT"]["uri"] == "file:///srv/shop/"


def test_validator_rejects_broken_sarif():
    with pytest.raises(ExportError, match="SARIF 2.1.0 validation failed"):
        validate_sarif(json.dumps({"version": "2.1.0", "runs": [{"results": []}]}))


def test_json_export_keeps_every_field_as_json():
    doc = json.loads(to_json("shop", [_finding()], generated_at=WHEN))
    assert doc["generated_at"] == WHEN.isoformat()
    assert doc["findings"][0]["first_seen_at"] == WHEN.isoformat() and doc["findings"][0]["redacted"]
