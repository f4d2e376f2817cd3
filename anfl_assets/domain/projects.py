"""The project registry: one row per project in `inventory.projects`.

A project's name is its Dagster partition key, so it must be stable and
unambiguous: registering an existing name with another root is refused rather
than silently re-pointing every table and index at a different tree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from anfl_assets.domain import gitrepo
from anfl_assets.domain.warehouse import Warehouse

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class ProjectError(ValueError):
    """A registration that cannot be honoured; the message says why."""


@dataclass(frozen=True)
class Project:
    name: str
    root: Path
    is_git: bool
    added_at: datetime


def register_project(wh: Warehouse, name: str, root: Path) -> tuple[Project, bool]:
    """Add a project; returns (project, created). Same name and root again is a no-op."""
    if not NAME_RE.match(name):
        raise ProjectError(f"project name {name!r} must be letters, digits, '.', '_' or '-' "
                           "(it becomes a Dagster partition key)")
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise ProjectError(f"project root {root} is not a directory")
    is_git = gitrepo.is_git_root(root)
    with wh.write() as con:
        row = con.execute("SELECT root, is_git, added_at FROM inventory.projects WHERE name = ?",
                          [name]).fetchone()
        if row is not None:
            if Path(row[0]) != root:
                raise ProjectError(f"project {name!r} is already registered with root {row[0]}; "
                                   f"choose another name for {root}")
            return Project(name, root, row[1], row[2]), False
        added_at = datetime.now(timezone.utc)
        con.execute("INSERT INTO inventory.projects VALUES (?, ?, ?, ?)", [name, str(root), is_git, added_at])
    return Project(name, root, is_git, added_at), True


def list_projects(wh: Warehouse) -> list[Project]:
    rows = wh.query("SELECT name, root, is_git, added_at FROM inventory.projects ORDER BY name").to_pylist()
    return [Project(r["name"], Path(r["root"]), r["is_git"], r["added_at"]) for r in rows]


def get_project(wh: Warehouse, name: str) -> Project:
    for project in list_projects(wh):
        if project.name == name:
            return project
    raise ProjectError(f"no project named {name!r}; register it with `anfl project add {name} PATH`")
