"""Suppressions keyed by fingerprint, kept in the scanned project (`.anfl-allow.yaml`).

Keyed by the finding's fingerprint, never by line number, so a suppression
follows the secret through edits, copies and history. Every entry needs a
reason; an entry past its `expires` date stops suppressing, and the finding
counts again. Entries that cannot be understood are reported, never guessed.

    - fingerprint: 5e1b0c...        # as `anfl findings` prints it
      reason: test key of the local stack, revoked
      owner: ada@example.com
      expires: 2027-03-31           # optional (YYYY-MM-DD)
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

ALLOW_FILE = ".anfl-allow.yaml"
INLINE_ALLOW = "allowed inline (anfl:allow)"  # the suppression text of an `anfl:allow` comment
_FINGERPRINT = re.compile(r"^[0-9a-f]{16,64}$")


@dataclass(frozen=True, slots=True)
class Suppression:
    fingerprint: str
    reason: str
    owner: str | None
    expires: dt.date | None

    def active(self, today: dt.date) -> bool:
        return self.expires is None or today <= self.expires

    def describe(self, today: dt.date) -> str:
        state = "expired" if not self.active(today) else "allowed"
        parts = [f"{state} by {ALLOW_FILE}: {self.reason}"]
        if self.owner:
            parts.append(f"owner {self.owner}")
        if self.expires:
            parts.append(f"expires {self.expires.isoformat()}")
        return "; ".join(parts)


def load_suppressions(project_root: Path) -> tuple[dict[str, Suppression], list[str]]:
    """({fingerprint: Suppression}, errors). A missing file is no suppressions, not an error."""
    path = Path(project_root) / ALLOW_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}, []
    except (OSError, UnicodeDecodeError) as exc:
        return {}, [f"{ALLOW_FILE}: cannot read: {exc}"]
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        return {}, [f"{ALLOW_FILE}{where}: not valid YAML: {getattr(exc, 'problem', None) or exc}"]
    if data is None:
        return {}, []
    if isinstance(data, dict) and isinstance(data.get("allow"), list):
        data = data["allow"]
    if not isinstance(data, list):
        return {}, [f"{ALLOW_FILE}: expected a list of entries (fingerprint, reason, owner, expires)"]
    out: dict[str, Suppression] = {}
    errors: list[str] = []
    for i, entry in enumerate(data, 1):
        if not isinstance(entry, dict):
            errors.append(f"{ALLOW_FILE} entry {i}: not a mapping")
            continue
        fp = str(entry.get("fingerprint") or "").strip().lower()
        reason = str(entry.get("reason") or "").strip()
        if not _FINGERPRINT.match(fp):
            errors.append(f"{ALLOW_FILE} entry {i}: fingerprint must be the hex fingerprint `anfl findings` prints")
            continue
        if not reason:
            errors.append(f"{ALLOW_FILE} entry {i}: a reason is required")
            continue
        expires = entry.get("expires")
        if expires is not None and not isinstance(expires, dt.date):
            try:
                expires = dt.date.fromisoformat(str(expires))
            except ValueError:
                errors.append(f"{ALLOW_FILE} entry {i}: expires must be a date (YYYY-MM-DD)")
                continue
        if isinstance(expires, dt.datetime):
            expires = expires.date()
        owner = entry.get("owner")
        out[fp] = Suppression(fp, reason, str(owner) if owner else None, expires)
    return out, errors
