"""Security scanning: secrets, sensitive files, risky infrastructure, sensitivity levels.

The shapes every detector returns, so the pipeline (`security.pipeline`) can store,
fingerprint, suppress and export them uniformly. Detectors are pure: a path and its
bytes in, matches out. Raw secret values live only in `SecretMatch.value`, in memory,
long enough to be fingerprinted (HMAC) and redacted; they are never stored or logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

SEVERITIES = ("critical", "high", "medium", "low", "info")
# the same order for SQL: `ORDER BY list_position({SEVERITY_SQL_LIST}, severity)`
SEVERITY_SQL_LIST = "[" + ", ".join(f"'{s}'" for s in SEVERITIES) + "]"
CONFIDENCES = ("high", "medium", "low")
Level = Literal["public", "internal", "confidential", "restricted"]  # lowest to highest
LEVELS: tuple[str, ...] = get_args(Level)
LEVEL_RANK = {level: i for i, level in enumerate(LEVELS)}


@dataclass(frozen=True, slots=True)
class SecretMatch:
    """One secret found in one place of one file (or of an archive member / decoded blob)."""

    rule: str          # stable rule id, e.g. "github-classic-pat"
    kind: str          # what it is, e.g. "GitHub personal access token (classic)"
    severity: str      # one of SEVERITIES
    confidence: str    # one of CONFIDENCES
    line: int          # 1-based line in the file (for an archive member: in the member)
    column: int        # 1-based column of the value's first character
    value: str         # the raw secret value: fingerprint and redact it, never store it
    context: str = "text"  # text | base64 | notebook-source | notebook-output | archive
    member: str | None = None  # path inside an archive, for context == "archive"
    allowed_inline: bool = False  # the line carries an `anfl:allow` comment
    end_line: int | None = None  # last line the secret spans (a PEM key, a multi-line string); None: `line`


@dataclass(frozen=True, slots=True)
class RiskFinding:
    """A file that should not be in a project, or an infrastructure misconfiguration."""

    rule: str          # stable rule id, e.g. "k8s-privileged-container", "sensitive-file-private-key"
    title: str         # one line a person understands
    severity: str      # one of SEVERITIES
    line: int | None   # 1-based, None for whole-file findings
    message: str       # what exactly and where (resource name, container, ...); never a secret value
    resource: str | None = None  # e.g. "Deployment/api", "aws_s3_bucket.logs", "stage builder"


def redact(value: str) -> str:
    """What a finding shows of a secret: its first 4 characters (fewer for a short one, whose
    prefix would give too much away) and its length."""
    shown = value[:4] if len(value) >= 16 else value[:len(value) // 8]
    return f"{shown}…({len(value)} chars)"
