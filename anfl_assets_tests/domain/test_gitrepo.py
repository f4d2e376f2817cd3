"""Git facts read by `anfl_assets.domain.gitrepo`, checked against the git binary itself.

The repositories are real ones made with `git`, isolated from any user or system
config; expected numbers come from plain `git log --numstat` / `git rev-list`
output parsed here, not from the code under test.
"""

from __future__ import annotations

import os
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from anfl_assets.domain import gitrepo
from anfl_assets.domain.inventory import build_inventory

ISOLATED_ENV = {**os.environ, "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1",
                "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0"}
ADA = ("Ada Lovelace", "ada@example.com")
GRACE = ("Grace Hopper", "grace@example.com")
ZOE = ("Zoë Ünal", "zoe@example.com")
LATIN1_NAME = b"caf\xe9.txt"  # a file name that is not UTF-8


def git(root: Path, *args: str, author: tuple[str, str] = ADA) -> str:
    name, email = author
    proc = subprocess.run(["git", "-C", str(root), "-c", f"user.name={name}", "-c", f"user.email={email}",
                           "-c", "commit.gpgsign=false", *args],
                          check=True, capture_output=True, env=ISOLATED_ENV)
    return proc.stdout.decode("utf-8", "replace").strip()


def write(root: Path, rel: str | bytes, data: str | bytes) -> None:
    path = os.path.join(os.fsencode(root), os.fsencode(rel))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data.encode() if isinstance(data, str) else data)


def commit_all(root: Path, message: str, author: tuple[str, str] = ADA) -> str:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message, author=author)
    return git(root, "rev-parse", "HEAD")


def numstat_from_git(root: Path) -> dict[str, list[tuple[str, int | None, int | None]]]:
    """sha -> [(path, added, deleted)] from `git log --numstat -M` (no -z), renames as the new path."""
    out = subprocess.run(["git", "-C", str(root), "-c", "core.quotepath=off", "log", "HEAD", "--relative",
                          "--numstat", "-M", "--format=@@%H"],
                         check=True, capture_output=True, env=ISOLATED_ENV).stdout
    result: dict[str, list] = {}
    sha = None
    for line in out.split(b"\n"):
        if line.startswith(b"@@"):
            sha = line[2:].decode()
            result[sha] = []
        elif line:
            added, deleted, path = line.split(b"\t", 2)
            if b" => " in path:  # rename at top level: "old => new"
                path = path.split(b" => ")[1]
            result[sha].append((path.decode("utf-8", "backslashreplace"),
                                None if added == b"-" else int(added),
                                None if deleted == b"-" else int(deleted)))
    return result


@pytest.fixture(scope="module")
def history_repo(tmp_path_factory) -> dict:
    """A repository with three authors, a rename, a binary file, a deletion, a merge commit,
    a non-UTF-8 file name, a unicode subject and a sub-folder project (`services/api`)."""
    root = tmp_path_factory.mktemp("history") / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    shas = {}
    write(root, "train.py", "import torch\n\n\ndef train():\n    pass\n")
    write(root, "README.md", "# Models\n")
    write(root, "services/api/app.py", "from flask import Flask\napp = Flask(__name__)\n")
    shas["init"] = commit_all(root, "Initial import")
    write(root, "train.py", "import torch\n\n\ndef train(epochs=10):\n    for _ in range(epochs):\n"
                            "        step()\n")
    shas["unicode"] = commit_all(root, "Entraînement: réglages ✓ 学习率", author=ZOE)
    git(root, "mv", "train.py", "trainer.py")
    shas["rename"] = commit_all(root, "Rename train.py to trainer.py", author=GRACE)
    write(root, "assets/logo.bin", bytes(range(256)) * 4 + b"\x00\x01\x02")
    write(root, "services/api/routes.py", "def index():\n    return 'ok'\n")
    shas["binary"] = commit_all(root, "Add logo and routes")
    git(root, "checkout", "-q", "-b", "feature/docs")
    write(root, "README.md", "# Models\n\nHow to train.\nHow to serve.\n")
    shas["feature"] = commit_all(root, "Document training", author=GRACE)
    git(root, "checkout", "-q", "main")
    write(root, LATIN1_NAME, "menu du jour\nsoupe\n")
    write(root, "services/api/app.py", "from flask import Flask\n\napp = Flask('api')\n")
    shas["latin1"] = commit_all(root, "Add latin-1 named file, tweak app", author=ZOE)
    git(root, "merge", "-q", "--no-ff", "feature/docs", "-m", "Merge branch 'feature/docs'")
    shas["merge"] = git(root, "rev-parse", "HEAD")
    git(root, "rm", "-q", "services/api/routes.py")
    shas["delete"] = commit_all(root, "Drop routes", author=GRACE)
    return {"root": root, "shas": shas}


def changes_by_sha(changes: gitrepo.ChangeColumns) -> dict[str, list[tuple]]:
    out: dict[str, list] = {}
    for sha, path, added, deleted in zip(changes.sha, changes.path, changes.lines_added, changes.lines_deleted):
        out.setdefault(sha, []).append((path, added, deleted))
    return out


def test_every_commit_is_read(history_repo):
    """One row per commit reachable from HEAD, merge included, with authors and parents."""
    root, shas = history_repo["root"], history_repo["shas"]
    commits, _ = gitrepo.read_history(root)
    assert len(commits.sha) == int(git(root, "rev-list", "--count", "HEAD")) == 8
    assert set(commits.sha) == set(git(root, "rev-list", "HEAD").split())
    assert set(commits.author) == {ADA[0], GRACE[0], ZOE[0]}
    i = commits.sha.index(shas["merge"])
    assert commits.parents[i].split() == [shas["latin1"], shas["feature"]]
    assert commits.parents[commits.sha.index(shas["init"])] == ""
    assert commits.email[commits.sha.index(shas["unicode"])] == ZOE[1]
    assert isinstance(commits.authored_at[i], int) and commits.authored_at[i] > 1_500_000_000


def test_unicode_subject_is_kept(history_repo):
    """A subject with accents, symbols and CJK comes back exactly."""
    commits, _ = gitrepo.read_history(history_repo["root"])
    assert commits.subject[commits.sha.index(history_repo["shas"]["unicode"])] == "Entraînement: réglages ✓ 学习率"


def test_line_counts_match_git_numstat(history_repo):
    """Per-file lines added/deleted equal `git log --numstat`, commit by commit."""
    root = history_repo["root"]
    _, changes = gitrepo.read_history(root)
    got = changes_by_sha(changes)
    expected = numstat_from_git(root)
    assert {sha: Counter(rows) for sha, rows in got.items()} == \
        {sha: Counter(rows) for sha, rows in expected.items() if rows}
    assert len(changes.sha) == sum(len(rows) for rows in expected.values()) == 11


def test_known_changes(history_repo):
    """Spot checks written by hand: rename, binary, deletion, non-UTF-8 name, merge."""
    shas = history_repo["shas"]
    _, ch = gitrepo.read_history(history_repo["root"])
    rows = list(zip(ch.sha, ch.path, ch.old_path, ch.lines_added, ch.lines_deleted, ch.is_binary))
    by_sha = {}
    for row in rows:
        by_sha.setdefault(row[0], []).append(row[1:])
    assert by_sha[shas["rename"]] == [("trainer.py", "train.py", 0, 0, False)]
    assert ("assets/logo.bin", None, None, None, True) in by_sha[shas["binary"]]
    assert by_sha[shas["delete"]] == [("services/api/routes.py", None, 0, 2, False)]
    assert by_sha[shas["unicode"]] == [("train.py", None, 3, 2, False)]
    assert ("caf\\xe9.txt", None, 2, 0, False) in by_sha[shas["latin1"]]
    assert shas["merge"] not in by_sha  # git log shows no diff for a merge without -m
    assert [row[0] for row in rows if row[2] is not None] == [shas["rename"]]  # only the rename has old_path


def test_non_utf8_history_path_matches_inventory_path(history_repo):
    """The history's text for a non-UTF-8 name is the inventory's `path`, so the two join."""
    root = history_repo["root"]
    inventory = build_inventory("models", root).table
    i = inventory["path_raw"].to_pylist().index(LATIN1_NAME)
    _, ch = gitrepo.read_history(root)
    assert inventory["path"][i].as_py() in ch.path
    assert inventory["git_status"][i].as_py() == "tracked"


def test_subfolder_project_sees_only_its_own_paths(history_repo):
    """A project rooted at services/api gets paths relative to it and nothing outside it."""
    sub = history_repo["root"] / "services" / "api"
    _, ch = gitrepo.read_history(sub)
    assert set(ch.path) == {"app.py", "routes.py"}
    assert Counter(zip(ch.path, ch.lines_added, ch.lines_deleted)) == Counter(
        row for rows in numstat_from_git(sub).values() for row in rows)
    assert Counter(ch.path) == {"app.py": 2, "routes.py": 2}
    status = gitrepo.status_index(sub)
    assert status.status_of(b"app.py") == "tracked"
    assert status.status_of(b"services/api/app.py") != "tracked"


def test_empty_repository_has_no_history(tmp_path):
    """`git init` with no commit: empty columns, no branches, no error."""
    root = tmp_path / "fresh"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    write(root, "notes.md", "# todo\n")
    commits, changes = gitrepo.read_history(root)
    assert (commits.sha, commits.subject, changes.sha, changes.path) == ([], [], [], [])
    assert gitrepo.is_git_root(root) and not gitrepo.has_commits(root)
    assert gitrepo.branch_heads(root) == {}
    assert gitrepo.status_index(root).status_of(b"notes.md") == "untracked"


def test_branch_heads_lists_every_local_branch(history_repo):
    """branch name -> sha for every local branch, slashes in names kept."""
    root = history_repo["root"]
    heads = gitrepo.branch_heads(root)
    assert heads == {"main": git(root, "rev-parse", "main"),
                     "feature/docs": git(root, "rev-parse", "feature/docs")}
    assert heads["main"] == history_repo["shas"]["delete"]


def test_branch_heads_outside_a_repository(tmp_path):
    """A folder that is no repository raises GitError, not a GitPython exception."""
    with pytest.raises(gitrepo.GitError):
        gitrepo.branch_heads(tmp_path)


def test_is_ancestor_fast_forward_and_rewrite(tmp_path):
    """A new commit on top descends from the old head; an amended head does not; unknown shas are False."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    write(root, "a.txt", "one\n")
    first = commit_all(root, "first")
    write(root, "a.txt", "one\ntwo\n")
    second = commit_all(root, "second")
    assert gitrepo.is_ancestor(root, first, second)
    assert not gitrepo.is_ancestor(root, second, first)
    git(root, "commit", "-q", "--amend", "-m", "second, reworded")
    amended = git(root, "rev-parse", "HEAD")
    assert amended != second
    assert gitrepo.is_ancestor(root, first, amended)
    assert not gitrepo.is_ancestor(root, second, amended)
    assert not gitrepo.is_ancestor(root, "0" * 40, amended)


@pytest.mark.parametrize("max_prefixes", [64, 1], ids=["arrow", "per-path-fallback"])
def test_status_column_answers_like_status_of(tmp_path, monkeypatch, max_prefixes):
    """The inventory's vectorised git status equals the per-path rule for tracked, untracked,
    ignored files and files under ignored folders (ASCII and not), with or without the fallback."""
    monkeypatch.setattr(gitrepo, "MAX_VECTOR_PREFIXES", max_prefixes)
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    write(root, ".gitignore", "*.log\nbuild/\nnode_modules/\ndonnées/\n")
    for rel in ["app.py", "README.md", "src/util.py"]:
        write(root, rel, f"# {rel}\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "init")
    for rel in ["notes.txt", "src/new.py", "run.log", "build/out.bin", "node_modules/x/index.js",
                "données/cache.json", "src/build/keep.txt"]:
        write(root, rel, "x\n")
    write(root, LATIN1_NAME, "menu\n")
    import pyarrow as pa

    walked = sorted(p.relative_to(root).as_posix().encode() if p.name != os.fsdecode(LATIN1_NAME) else LATIN1_NAME
                    for p in root.rglob("*") if p.is_file() and ".git" not in p.parts)
    index = gitrepo.status_index(root)
    got = index.status_column(pa.array(walked, pa.binary())).to_pylist()
    assert got == [index.status_of(k) for k in walked]
    by_path = dict(zip(walked, got))
    assert (by_path[b"app.py"], by_path[b"notes.txt"], by_path[b"run.log"], by_path[b"build/out.bin"],
            by_path["données/cache.json".encode()], by_path[LATIN1_NAME]) == \
        ("tracked", "untracked", "ignored", "ignored", "ignored", "untracked")
