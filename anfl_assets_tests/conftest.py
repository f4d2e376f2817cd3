"""Shared fixtures: an isolated ANFL_HOME per test and real git repositories."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

GIT_ENV = {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}


@pytest.fixture
def anfl_home(tmp_path, monkeypatch) -> Path:
    """A fresh ANFL_HOME (warehouse, objects, Dagster instance) for one test."""
    home = tmp_path / "anfl_home"
    monkeypatch.setenv("ANFL_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    monkeypatch.delenv("ANFL_DEPLOYMENT", raising=False)
    monkeypatch.delenv("ANFL_OBJECT_STORE", raising=False)
    (home / "dagster").mkdir(parents=True)
    (home / "dagster" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return home


class GitRepo:
    """A real repository driven through the git binary, isolated from the user's config."""

    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str, author: str = "Ada Lovelace <ada@example.com>") -> str:
        name, email = author[:-1].split(" <")
        env = {**os.environ, **GIT_ENV, "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
               "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}
        out = subprocess.run(["git", "-C", str(self.root), "-c", "commit.gpgsign=false", *args],
                             check=True, capture_output=True, env=env)
        return out.stdout.decode().strip()

    def write(self, rel: str, text: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def commit(self, message: str, files: dict[str, str] | None = None, **kw) -> str:
        for rel, text in (files or {}).items():
            self.write(rel, text)
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message, **kw)
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def git_repo(tmp_path) -> GitRepo:
    return GitRepo(tmp_path / "repo")
