"""Git facts for a project: tracked/ignored status, streamed history, branch heads.

History comes from one `git log --numstat -z` process read as a stream, never
one git call per file, so 10,000 commits cost about what git itself costs.
Paths are kept relative to the project root (`--relative`), so a project that
is a sub-folder of a bigger repository sees only its own files.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import git as gitpython
import pyarrow as pa
import pyarrow.compute as pc

RECORD_SEP = b"\x1e"
FIELD_SEP = b"\x1f"
LOG_FORMAT = "%x1e%H%x1f%an%x1f%ae%x1f%at%x1f%P%x1f%s"
GIT_ENV = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
# Ignored folders matched in Arrow, one pass each; beyond this many the rest go path by path.
MAX_VECTOR_PREFIXES = 64


class GitError(RuntimeError):
    """A git command failed; the message carries git's own words."""


def _git(root: Path, *args: str) -> bytes:
    proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, env=GIT_ENV)
    if proc.returncode != 0:
        raise GitError(f"git {' '.join(args[:2])} failed in {root}: "
                       f"{proc.stderr.decode('utf-8', 'replace').strip()}")
    return proc.stdout


def is_git_root(root: Path) -> bool:
    """True when `root` is inside a git work tree (the project may be a sub-folder of it)."""
    proc = subprocess.run(["git", "-C", str(root), "rev-parse", "--is-inside-work-tree"],
                          capture_output=True, env=GIT_ENV)
    return proc.returncode == 0 and proc.stdout.strip() == b"true"


def has_commits(root: Path) -> bool:
    proc = subprocess.run(["git", "-C", str(root), "rev-parse", "--verify", "-q", "HEAD"],
                          capture_output=True, env=GIT_ENV)
    return proc.returncode == 0


@dataclass
class StatusIndex:
    """Which relative paths git tracks, leaves untracked, or ignores."""

    tracked: set[bytes] = field(default_factory=set)
    untracked: set[bytes] = field(default_factory=set)
    ignored_files: set[bytes] = field(default_factory=set)
    ignored_dirs: tuple[bytes, ...] = ()

    def status_of(self, rel: bytes) -> str:
        if rel in self.tracked:
            return "tracked"
        if rel in self.untracked:
            return "untracked"
        if rel in self.ignored_files or rel.startswith(self.ignored_dirs):
            return "ignored"
        return "untracked"  # e.g. inside a nested repository git reports only as a folder

    def status_column(self, keys: pa.Array) -> pa.Array:
        """`status_of` for every key at once (hash lookups in Arrow, not a Python loop per file)."""
        def among(paths: set[bytes]) -> pa.Array:
            return pc.is_in(keys, value_set=pa.array(list(paths), pa.binary()))

        text_dirs = [d for d in self.ignored_dirs if d.isascii()][:MAX_VECTOR_PREFIXES]
        ignored = among(self.ignored_files)
        for d in text_dirs:
            ignored = pc.or_(ignored, pc.starts_with(keys, pattern=d.decode()))
        status = pc.case_when(pc.make_struct(among(self.tracked), among(self.untracked), ignored,
                                             field_names=["tracked", "untracked", "ignored"]),
                              "tracked", "untracked", "ignored", "untracked")
        if len(text_dirs) < len(self.ignored_dirs):  # many or non-ASCII ignored folders: the per-path
            undecided = pc.indices_nonzero(pc.equal(status, "untracked"))  # rule for what is still open
            values = status.to_pylist()
            for i, key in zip(undecided.to_pylist(), keys.take(undecided).to_pylist()):
                values[i] = self.status_of(key)
            status = pa.array(values, pa.string())
        return status


def status_index(root: Path) -> StatusIndex:
    def paths(out: bytes) -> list[bytes]:
        return [p for p in out.split(b"\0") if p]

    # A project inside a folder its enclosing repository ignores: everything in it is ignored
    # (and `ls-files --ignored --directory` refuses to run from there).
    ignored_root = subprocess.run(["git", "-C", str(root), "check-ignore", "-q", "."],
                                  capture_output=True, env=GIT_ENV)
    if ignored_root.returncode == 0:
        return StatusIndex(ignored_dirs=(b"",))

    tracked = set(paths(_git(root, "ls-files", "-z", "--cached")))
    untracked = set(paths(_git(root, "ls-files", "-z", "--others", "--exclude-standard")))
    ignored = paths(_git(root, "ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--directory"))
    return StatusIndex(
        tracked=tracked,
        untracked=untracked,
        ignored_files={p for p in ignored if not p.endswith(b"/")},
        ignored_dirs=tuple(p for p in ignored if p.endswith(b"/")),
    )


@dataclass
class CommitColumns:
    sha: list[str] = field(default_factory=list)
    author: list[str] = field(default_factory=list)
    email: list[str] = field(default_factory=list)
    authored_at: list[int] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    subject: list[str] = field(default_factory=list)


@dataclass
class ChangeColumns:
    sha: list[str] = field(default_factory=list)
    path: list[str] = field(default_factory=list)
    old_path: list[str | None] = field(default_factory=list)
    lines_added: list[int | None] = field(default_factory=list)
    lines_deleted: list[int | None] = field(default_factory=list)
    is_binary: list[bool] = field(default_factory=list)


def _text(b: bytes) -> str:
    return b.decode("utf-8", "backslashreplace")


def _records(stream, chunk_size: int = 1 << 20) -> Iterator[bytes]:
    pending = b""
    while True:
        chunk = stream.read(chunk_size)
        if not chunk:
            break
        parts = (pending + chunk).split(RECORD_SEP)
        pending = parts.pop()
        yield from (p for p in parts if p)
    if pending:
        yield pending


def read_history(root: Path) -> tuple[CommitColumns, ChangeColumns]:
    """All commits reachable from HEAD with per-file line counts and renames, in one pass."""
    commits, changes = CommitColumns(), ChangeColumns()
    if not has_commits(root):
        return commits, changes
    cmd = ["git", "-C", str(root), "-c", "core.quotepath=off", "log", "HEAD", "--relative",
           "--numstat", "-z", "-M", f"--format={LOG_FORMAT}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=GIT_ENV)
    assert proc.stdout is not None
    for record in _records(proc.stdout):
        header, _, body = record.partition(b"\0")  # `-z` ends the formatted header with NUL
        sha, author, email, at, parents, subject = header.split(FIELD_SEP, 5)
        sha_t = sha.decode("ascii")
        commits.sha.append(sha_t)
        commits.author.append(_text(author))
        commits.email.append(_text(email))
        commits.authored_at.append(int(at))
        commits.parents.append(parents.decode("ascii"))
        commits.subject.append(_text(subject))
        _parse_numstat(sha_t, body, changes)
    stderr = proc.stderr.read() if proc.stderr else b""
    if proc.wait() != 0:
        raise GitError(f"git log failed in {root}: {_text(stderr).strip()}")
    return commits, changes


def _parse_numstat(sha: str, body: bytes, out: ChangeColumns) -> None:
    """`-z` numstat: `A\\tD\\tpath\\0`, or `A\\tD\\t\\0old\\0new\\0` for a rename."""
    fields = body.lstrip(b"\n").split(b"\0")
    i = 0
    while i < len(fields):
        entry = fields[i].lstrip(b"\n")
        i += 1
        if not entry:
            continue
        added, deleted, path = entry.split(b"\t", 2)
        old = None
        if not path:  # rename: the two paths follow as their own fields
            old, path = fields[i], fields[i + 1]
            i += 2
        binary = added == b"-"
        out.sha.append(sha)
        out.path.append(_text(path))
        out.old_path.append(_text(old) if old is not None else None)
        out.lines_added.append(None if binary else int(added))
        out.lines_deleted.append(None if binary else int(deleted))
        out.is_binary.append(binary)


def branch_heads(root: Path) -> dict[str, str]:
    """Local branch name -> commit sha (what a push to this repository moves)."""
    try:
        repo = gitpython.Repo(root, search_parent_directories=True)
    except (gitpython.InvalidGitRepositoryError, gitpython.NoSuchPathError) as exc:
        raise GitError(f"{root} is not a git repository: {exc}") from exc
    try:
        return {head.name: head.commit.hexsha for head in repo.heads}
    finally:
        repo.close()


def is_ancestor(root: Path, old: str, new: str) -> bool:
    """True when `new` descends from `old`; False after a force-push rewrote history (or `old` is gone)."""
    proc = subprocess.run(["git", "-C", str(root), "merge-base", "--is-ancestor", old, new],
                          capture_output=True, env=GIT_ENV)
    return proc.returncode == 0
