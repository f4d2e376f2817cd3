"""Run the security detectors incrementally against the warehouse (assets `security_findings`,
`file_sensitivity`).

Per file, results are cached by (path, blake3, rule-set version) in `enrich.processed`
(extractor 'security'), so an unchanged file is never re-read; git history is walked only
for commits not seen at this rule-set version. Raw secret values never leave the worker
that found them: each is turned into a keyed fingerprint (HMAC-SHA256) and a redacted
form right there. `security.findings` is then derived from the stored matches, the
project's suppressions and the previous findings (what is new).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time
from pathlib import Path

import pyarrow as pa

from anfl_assets.domain.enrich.incremental import (
    UNREADABLE,
    WorkStats,
    commit_work,
    full_path,
    plan_work,
    processed_table,
    pool_map,
    read_bytes,
)
from anfl_assets.domain.projects import Project
from anfl_assets.domain.security import RiskFinding, SecretMatch, redact
from anfl_assets.domain.security.suppressions import INLINE_ALLOW, load_suppressions
from anfl_assets.domain.warehouse import Warehouse, insert_rows

PIPELINE_VERSION = "4"  # 2: history of a sub-folder project read relative to it; 3: end_line of matches;
# 4: files read up to the detectors' own bounds (archives of 25-64 MiB were skipped)
EXTRACTOR = "security"
HEAD_BYTES = 65536  # what the name-and-header checks need; all that is read of other files

FILES_SQL = (  # input_key: the misconfiguration checks run by class (a reclassified file is scanned again)
    "SELECT f.path, f.path_raw, f.blake3, f.size, f.file_type, f.is_text, c.category, c.infra_kind, "
    "concat_ws('|', coalesce(c.category, ''), coalesce(c.infra_kind, '')) AS input_key "
    "FROM inventory.files f LEFT JOIN enrich.file_classes c ON c.project = f.project AND c.path = f.path "
    "WHERE f.project = ? AND f.kind = 'file' AND f.blake3 IS NOT NULL"
)
MATCH_COLUMNS = ("path", "source", "rule", "title", "severity", "confidence", "line", "col", "context", "member",
                 "fingerprint", "redacted", "message", "resource", "allowed_inline", "end_line")


def fingerprint(key: bytes, value: str) -> str:
    """A secret's identity: the same value anywhere (files, copies, commits) gives the same id,
    and without the key the id says nothing about the value."""
    return hmac.new(key, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:32]


def risk_fingerprint(key: bytes, rule: str, path: str, resource: str | None) -> str:
    """A non-secret finding's identity: rule, file and resource (not the line, which moves)."""
    return fingerprint(key, f"risk\0{rule}\0{path}\0{resource or ''}")


def _key_tag(key: bytes) -> str:
    return hmac.new(key, b"anfl-key-tag", hashlib.sha256).hexdigest()[:8]


_SCANNERS: dict = {}


def secret_scanner(extra_rules: str | None):
    """One compiled `SecretScanner` per process and rule file (compiling the rules is not free)."""
    from anfl_assets.domain.security import secrets as secret_rules

    if extra_rules not in _SCANNERS:
        _SCANNERS[extra_rules] = secret_rules.SecretScanner(Path(extra_rules) if extra_rules else None)
    return _SCANNERS[extra_rules]


def ruleset_version(key: bytes, extra_secret_rules: str | None = None) -> str:
    """Everything whose change must re-scan every file."""
    from anfl_assets.domain.security import misconfig, sensitive_files

    return "|".join((PIPELINE_VERSION, secret_scanner(extra_secret_rules).version, misconfig.RULESET_VERSION,
                     sensitive_files.RULESET_VERSION, _key_tag(key)))


def _secret_row(path: str, m: SecretMatch, key: bytes) -> tuple:
    where = f" in {m.member}" if m.member else ""
    return (path, "secret", m.rule, m.kind, m.severity, m.confidence, m.line, m.column, m.context, m.member,
            fingerprint(key, m.value), redact(m.value), f"{m.kind} ({m.context}{where})", None, m.allowed_inline,
            m.end_line)


def _risk_row(path: str, source: str, f: RiskFinding, key: bytes) -> tuple:
    return (path, source, f.rule, f.title, f.severity, None, f.line, None, None, None,
            risk_fingerprint(key, f.rule, path, f.resource), None, f.message, f.resource, False, None)


def _scan_chunk(args: tuple) -> list[tuple[list[tuple], str | None]]:
    """Per file: (match rows, error). Runs in a worker: secret values die here."""
    from anfl_assets.domain.security import misconfig, sensitive_files
    from anfl_assets.domain.security import secrets as secret_rules

    root, key, extra_rules, rows = args
    scanner = secret_scanner(extra_rules)
    out = []
    for path, path_raw, size, file_type, is_text, category, infra_kind in rows:
        size = size or 0
        # the detectors' own bounds decide what is read: is_scannable for secrets (the scanner reads
        # at most MAX_SCAN_BYTES), misconfig.MAX_BYTES for infrastructure (one byte more: it then
        # knows the file is over its bound)
        wants_secrets = secret_rules.is_scannable(path, size, is_text, file_type)
        wants_infra = category == "infrastructure" or infra_kind is not None
        limit = max(secret_rules.MAX_SCAN_BYTES if wants_secrets else 0,
                    misconfig.MAX_BYTES + 1 if wants_infra else 0, HEAD_BYTES)
        content = read_bytes(full_path(root, path, path_raw), limit)
        if content is None:  # what the name alone tells still counts (a key file nobody may read)
            out.append(([_risk_row(path, "sensitive-file", f, key)
                         for f in sensitive_files.scan_sensitive_file(path, b"", size)], UNREADABLE))
            continue
        found: list[tuple] = []
        error = None
        try:
            for f in sensitive_files.scan_sensitive_file(path, content[:HEAD_BYTES], size):
                found.append(_risk_row(path, "sensitive-file", f, key))
            if wants_secrets:
                for m in scanner.scan_bytes(path, content):
                    found.append(_secret_row(path, m, key))
            if wants_infra:
                for f in misconfig.scan_misconfig(path, content, infra_kind):
                    found.append(_risk_row(path, "misconfig", f, key))
        except Exception as exc:  # noqa: BLE001 - a detector bug on odd input must not stop the scan
            error = f"{type(exc).__name__}: {str(exc)[:200]}"
        out.append((found, error))
    return out


def _columns(rows: list[tuple], names: tuple[str, ...]) -> dict[str, list]:
    return {n: [r[i] for r in rows] for i, n in enumerate(names)}


def refresh_security(wh: Warehouse, project: Project, key: bytes, *, extra_secret_rules: str | None = None,
                     workers: int = 1, now: dt.datetime | None = None) -> WorkStats:
    t0 = time.perf_counter()
    version = ruleset_version(key, extra_secret_rules)
    work = plan_work(wh, project.name, EXTRACTOR, version, FILES_SQL, [project.name])
    todo = work.todo
    cols = ("path", "path_raw", "size", "file_type", "is_text", "category", "infra_kind")
    rows = list(zip(*(todo[c].to_pylist() for c in cols)))
    chunks = [(project.root, key, extra_secret_rules, rows[i:i + 256]) for i in range(0, len(rows), 256)]
    results = [r for part in pool_map(_scan_chunk, chunks, workers) for r in part]
    match_rows = [m for found, _ in results for m in found]
    errors = [e for _, e in results]
    matches = pa.table({"project": [project.name] * len(match_rows),
                        **_columns(match_rows, MATCH_COLUMNS)},
                       schema=_MATCH_SCHEMA)
    n = todo.num_rows
    processed = processed_table(project.name, EXTRACTOR, version, todo["path"], todo["blake3"], errors,
                                input_keys=todo["input_key"])
    commit_work(wh, project.name, EXTRACTOR, work, {"security.file_matches": matches}, processed)

    walked = _refresh_history(wh, project, key, version, extra_secret_rules) if project.is_git else 0
    derived = derive_findings(wh, project, now=now)
    return WorkStats(files=work.files, processed=n, reused=work.reused,
                     errors=sum(e is not None for e in errors), seconds=time.perf_counter() - t0,
                     extra={"commits walked": walked, **derived})


_MATCH_SCHEMA = pa.schema([
    ("project", pa.string()), ("path", pa.string()), ("source", pa.string()), ("rule", pa.string()),
    ("title", pa.string()), ("severity", pa.string()), ("confidence", pa.string()), ("line", pa.int64()),
    ("col", pa.int64()), ("context", pa.string()), ("member", pa.string()), ("fingerprint", pa.string()),
    ("redacted", pa.string()), ("message", pa.string()), ("resource", pa.string()), ("allowed_inline", pa.bool_()),
    ("end_line", pa.int64()),
])


def _refresh_history(wh: Warehouse, project: Project, key: bytes, version: str,
                     extra_secret_rules: str | None) -> int:
    """Scan only the commits not seen at this rule-set version; a new version starts over."""
    from anfl_assets.domain.security.git_secrets import scan_history

    with wh.read() as con:
        seen = set(con.sql("SELECT sha FROM security.history_commits WHERE project = ? AND version = ?",
                           params=[project.name, version]).to_arrow_table()["sha"].to_pylist())
        stale = con.sql("SELECT count(*) FROM security.history_commits WHERE project = ? AND version <> ?",
                        params=[project.name, version]).fetchall()[0][0]
    matches, walked = scan_history(Path(project.root), secret_scanner(extra_secret_rules), seen)
    rows = [(h.commit, h.author, h.authored_at, h.path, h.match.rule, h.match.kind, h.match.severity,
             h.match.confidence, h.match.line, h.match.context, h.match.member, fingerprint(key, h.match.value),
             redact(h.match.value), h.match.allowed_inline) for h in matches]
    table = pa.table({"project": [project.name] * len(rows), **_columns(rows, (
        "sha", "author", "authored_at", "path", "rule", "title", "severity", "confidence", "line", "context",
        "member", "fingerprint", "redacted", "allowed_inline"))}, schema=_HISTORY_SCHEMA)
    commits = pa.table({"project": [project.name] * len(walked), "sha": walked, "version": [version] * len(walked)})
    with wh.write() as con:
        if stale:
            con.execute("DELETE FROM security.history_matches WHERE project = ?", [project.name])
            con.execute("DELETE FROM security.history_commits WHERE project = ?", [project.name])
        insert_rows(con, "security.history_matches", table)
        insert_rows(con, "security.history_commits", commits)
    return len(walked)


_HISTORY_SCHEMA = pa.schema([
    ("project", pa.string()), ("sha", pa.string()), ("author", pa.string()),
    ("authored_at", pa.timestamp("us", tz="UTC")), ("path", pa.string()), ("rule", pa.string()),
    ("title", pa.string()), ("severity", pa.string()), ("confidence", pa.string()), ("line", pa.int64()),
    ("context", pa.string()), ("member", pa.string()), ("fingerprint", pa.string()), ("redacted", pa.string()),
    ("allowed_inline", pa.bool_()),
])

_FINDINGS_SQL = """
WITH located AS (
    SELECT m.project, m.source, m.rule, m.title, m.severity, m.confidence, m.path, m.line, 'file' AS location,
           NULL::VARCHAR AS sha, NULL::VARCHAR AS author, NULL::TIMESTAMPTZ AS authored_at, m.member, m.context,
           m.fingerprint, m.redacted, m.message, m.resource, true AS in_working_tree, m.allowed_inline, m.end_line
    FROM security.file_matches m WHERE m.project = $1
    UNION ALL
    SELECT h.project, 'secret', h.rule, h.title, h.severity, h.confidence, h.path, h.line, 'history', h.sha,
           h.author, h.authored_at, h.member, h.context, h.fingerprint, h.redacted,
           h.title || ' committed in ' || left(h.sha, 12) || ' by ' || coalesce(h.author, '?'), NULL,
           EXISTS (SELECT 1 FROM security.file_matches m WHERE m.project = h.project AND m.fingerprint = h.fingerprint),
           h.allowed_inline, NULL::BIGINT
    FROM security.history_matches h WHERE h.project = $1
)
SELECT *, sha256(concat_ws(chr(0), source, rule, fingerprint, path, coalesce(sha, ''), coalesce(member, '')))[:32]
       AS finding_id
FROM located
-- one row per finding id, at its first line (the same secret twice in a file is one finding)
QUALIFY row_number() OVER (PARTITION BY finding_id ORDER BY line NULLS LAST) = 1
"""


def derive_findings(wh: Warehouse, project: Project, now: dt.datetime | None = None) -> dict:
    """Recompute `security.findings` from stored matches: suppressions applied, first-seen kept,
    what is new since the previous materialization marked."""
    now = now or dt.datetime.now(dt.timezone.utc)
    today = now.date()
    suppressions, errors = load_suppressions(Path(project.root))
    with wh.read() as con:
        located = con.sql(_FINDINGS_SQL, params=[project.name]).to_arrow_table()
        first_seen = dict(con.sql("SELECT finding_id, first_seen_at FROM security.finding_first_seen "
                                  "WHERE project = ?", params=[project.name]).fetchall())
        previous = set(r[0] for r in con.sql("SELECT finding_id FROM security.findings WHERE project = ?",
                                             params=[project.name]).fetchall())
    ids = located["finding_id"].to_pylist()
    suppressed, why = [], []
    for fp, inline in zip(located["fingerprint"].to_pylist(), located["allowed_inline"].to_pylist()):
        s = suppressions.get(fp)
        if s is not None:
            suppressed.append(s.active(today))
            why.append(s.describe(today))
        elif inline:
            suppressed.append(True)
            why.append(INLINE_ALLOW)
        else:
            suppressed.append(False)
            why.append(None)
    first = [first_seen.get(fid, now) for fid in ids]
    is_new = [fid not in previous for fid in ids]
    findings = located.drop_columns(["allowed_inline"]).append_column("suppressed", pa.array(suppressed, pa.bool_())) \
        .append_column("suppression", pa.array(why, pa.string())) \
        .append_column("first_seen_at", pa.array(first, pa.timestamp("us", tz="UTC"))) \
        .append_column("is_new", pa.array(is_new, pa.bool_()))
    new_first = pa.table({"project": [project.name] * sum(f not in first_seen for f in ids),
                          "finding_id": [f for f in ids if f not in first_seen],
                          "first_seen_at": pa.array([now] * sum(f not in first_seen for f in ids),
                                                    pa.timestamp("us", tz="UTC"))})
    resolved = len(previous - set(ids))
    new_count = sum(is_new)
    with wh.write() as con:
        con.execute("DELETE FROM security.findings WHERE project = ?", [project.name])
        insert_rows(con, "security.findings", findings)
        insert_rows(con, "security.finding_first_seen", new_first)
        con.execute("INSERT INTO security.scan_runs VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [project.name, now, PIPELINE_VERSION, findings.num_rows, new_count, resolved,
                     json.dumps(errors)])
    return {"findings": findings.num_rows, "new": new_count, "resolved": resolved,
            "suppression errors": errors}


def refresh_sensitivity(wh: Warehouse, project: Project, extra_rules: str | None = None) -> dict[str, int]:
    """Every file's level: path rules, raised by its unsuppressed findings. Derived from tables
    alone (no file is read), recomputed whole so a rule change re-evaluates everything."""
    from anfl_assets.domain.security import sensitivity

    rules = sensitivity.SensitivityRules(Path(extra_rules) if extra_rules else None)
    with wh.read() as con:
        paths = con.sql("SELECT path FROM inventory.files WHERE project = ? AND kind = 'file' ORDER BY path",
                        params=[project.name]).to_arrow_table()["path"].to_pylist()
        found = con.sql("SELECT path, rule, severity, source FROM security.findings WHERE project = ? "
                        "AND location = 'file' AND NOT suppressed", params=[project.name]).fetchall()
    by_path: dict[str, list[tuple[str, str, str]]] = {}
    for path, rule, severity, source in found:
        by_path.setdefault(path, []).append((rule, severity, source))
    levels, path_rules, evidence = [], [], []
    for path in paths:
        base = rules.path_level(path)
        level, why = sensitivity.combine(base, by_path.get(path, []))
        levels.append(level)
        path_rules.append(base[1])
        evidence.append(why)
    table = pa.table({"project": [project.name] * len(paths), "path": paths, "level": levels,
                      "path_rule": path_rules, "evidence": pa.array(evidence, pa.list_(pa.string())),
                      "ruleset_version": [rules.version] * len(paths)})
    wh.replace_project_rows({"security.file_sensitivity": table}, project.name)
    counts: dict[str, int] = {}
    for level in levels:
        counts[level] = counts.get(level, 0) + 1
    return counts
