"""Decide which projects need a run after git pushes, from branch heads and a cursor.

The cursor is the last seen head of every tracked branch of every project. It
is plain JSON that Dagster stores for the sensor, so it survives restarts. A
branch whose head moved (a push, or a force-push to an unrelated commit) asks
for one run; a deleted branch just leaves the cursor; a project seen for the
first time is recorded as the baseline without a run (registration is followed
by a run of its own), so starting the sensor does not launch a storm.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass


@dataclass(frozen=True)
class PushRun:
    project: str
    branch: str
    sha: str
    forced: bool  # the new head does not descend from the old one (history was rewritten)

    @property
    def run_key(self) -> str:
        # The sha identifies the push; the project prefix keeps two projects on one repository apart.
        return f"{self.project}:{self.sha}"


def load_cursor(raw: str | None) -> dict[str, dict[str, str]]:
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    return {p: dict(b) for p, b in data.items() if isinstance(b, dict)} if isinstance(data, dict) else {}


def dump_cursor(cursor: dict[str, dict[str, str]]) -> str:
    return json.dumps(cursor, sort_keys=True, separators=(",", ":"))


def plan_push_runs(cursor: dict[str, dict[str, str]], heads: dict[str, dict[str, str]],
                   branch_glob: str = "*", is_ancestor=None) -> tuple[list[PushRun], dict[str, dict[str, str]]]:
    """New runs and the new cursor. `heads` holds only projects that could be read this time;
    a project missing from it (repository unreachable) keeps its cursor untouched."""
    runs: list[PushRun] = []
    new_cursor = {p: dict(b) for p, b in cursor.items()}
    for project, branches in sorted(heads.items()):
        tracked = {b: sha for b, sha in branches.items() if fnmatch.fnmatchcase(b, branch_glob)}
        seen = cursor.get(project)
        new_cursor[project] = tracked
        if seen is None:
            continue  # first sight: baseline only
        for branch, sha in sorted(tracked.items()):
            old = seen.get(branch)
            if old == sha:
                continue
            forced = bool(old) and is_ancestor is not None and not is_ancestor(project, old, sha)
            runs.append(PushRun(project, branch, sha, forced))
    return runs, new_cursor
