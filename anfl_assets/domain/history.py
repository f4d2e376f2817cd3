"""Git history of a project as warehouse tables (`inventory.git_commits`, `inventory.git_file_changes`)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from anfl_assets.domain import gitrepo
from anfl_assets.domain.warehouse import Warehouse


@dataclass
class HistoryStats:
    commits: int
    file_changes: int
    authors: int
    head: str | None
    seconds: float


def history_tables(project: str, commits: gitrepo.CommitColumns,
                   changes: gitrepo.ChangeColumns) -> tuple[pa.Table, pa.Table]:
    n, m = len(commits.sha), len(changes.sha)
    commit_table = pa.table({
        "project": pa.array([project] * n, pa.string()),
        "sha": pa.array(commits.sha, pa.string()),
        "author": pa.array(commits.author, pa.string()),
        "email": pa.array(commits.email, pa.string()),
        "authored_at": pa.array(commits.authored_at, pa.int64()).cast(pa.timestamp("s", tz="UTC")),
        "parents": pa.array(commits.parents, pa.string()),
        "subject": pa.array(commits.subject, pa.string()),
    })
    change_table = pa.table({
        "project": pa.array([project] * m, pa.string()),
        "sha": pa.array(changes.sha, pa.string()),
        "path": pa.array(changes.path, pa.string()),
        "old_path": pa.array(changes.old_path, pa.string()),
        "lines_added": pa.array(changes.lines_added, pa.int64()),
        "lines_deleted": pa.array(changes.lines_deleted, pa.int64()),
        "is_binary": pa.array(changes.is_binary, pa.bool_()),
    })
    return commit_table, change_table


def refresh_git_history(wh: Warehouse, project: str, root: Path, is_git: bool) -> HistoryStats:
    """Replace the project's history rows; a non-git root gets empty tables, not an error."""
    t0 = time.perf_counter()
    if is_git:
        commit_cols, change_cols = gitrepo.read_history(root)
    else:
        commit_cols, change_cols = gitrepo.CommitColumns(), gitrepo.ChangeColumns()
    commits, changes = history_tables(project, commit_cols, change_cols)
    wh.replace_project_rows({"inventory.git_commits": commits, "inventory.git_file_changes": changes}, project)
    return HistoryStats(
        commits=commits.num_rows,
        file_changes=changes.num_rows,
        authors=len(set(commit_cols.email)),
        head=commit_cols.sha[0] if commit_cols.sha else None,
        seconds=time.perf_counter() - t0,
    )
