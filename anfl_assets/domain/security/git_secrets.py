"""Secrets in git history: the lines each commit added, scanned once per commit.

`scan_history` walks the commits reachable from every local branch and HEAD that are not in
`seen_commits`, with one streamed `git log -p --unified=0` process (never one git call per
commit, never the whole log in memory), and scans only the lines each commit *added*, so a
secret committed and later removed is found in the commit that introduced it, while lines
that merely moved (renames, `-M`) or were deleted are not rescanned.

Merge commits are walked (returned as seen) but their diffs are not scanned: every line a
merge brings in was added by a non-merge commit on the merged branch, which is walked
itself. What that misses is content written only while resolving a conflict (an "evil
merge"); scanning merges against their first parent instead would re-report every secret of
the merged branch under the merge commit.

Binary diffs are skipped, non-UTF-8 content is decoded with replacement characters, a file's
added text per commit is capped (`MAX_ADDED_BYTES_PER_FILE`), and a repository without
commits yields nothing.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from anfl_assets.domain.security import SecretMatch
from anfl_assets.domain.security.secrets import SecretScanner

GIT_ENV = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "GIT_PAGER": "cat"}
COMMIT_MARK = b"\x1eANFL-COMMIT\x1f"
MAX_ADDED_BYTES_PER_FILE = 8 * 1024 * 1024
HUNK_RE = re.compile(rb"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")


class GitHistoryError(RuntimeError):
    """git failed (the message carries git's own words)."""


@dataclass(frozen=True, slots=True)
class HistoryMatch:
    commit: str
    author: str            # "Name <email>"
    authored_at: datetime  # timezone-aware, the author date
    path: str              # path in the commit's tree (after a rename: the new path)
    match: SecretMatch     # line = line in that commit's version of the file


def _git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, env=GIT_ENV)
    if check and proc.returncode != 0:
        raise GitHistoryError(f"git {' '.join(args[:2])} failed in {repo}: "
                              f"{proc.stderr.decode('utf-8', 'replace').strip()}")
    return proc


def _reachable_commits(repo: Path) -> Iterator[str]:
    """Commits reachable from all local branches and HEAD, newest first, streamed."""
    has_head = _git(repo, "rev-parse", "--verify", "-q", "HEAD", check=False).returncode == 0
    args = ["git", "-C", str(repo), "rev-list", "--branches"] + (["HEAD"] if has_head else [])
    with tempfile.TemporaryFile() as err, subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err,
                                                           env=GIT_ENV) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            sha = line.strip().decode("ascii", "replace")
            if sha:
                yield sha
        if proc.wait() != 0:
            raise GitHistoryError(f"git rev-list failed in {repo}: {_read_err(err)}")


def _read_err(fh) -> str:
    fh.seek(0)
    return fh.read(4096).decode("utf-8", "replace").strip()


def _unquote_path(raw: bytes) -> str:
    """A path from a diff header: plain, or C-quoted ("a/\\303\\251.txt") when it has odd bytes."""
    if raw.startswith(b'"') and raw.endswith(b'"'):
        body = raw[1:-1]
        out = bytearray()
        i = 0
        escapes = {ord("n"): 10, ord("t"): 9, ord('"'): 34, ord("\\"): 92, ord("a"): 7, ord("b"): 8,
                   ord("f"): 12, ord("r"): 13, ord("v"): 11}
        while i < len(body):
            ch = body[i]
            if ch == 92 and i + 1 < len(body):
                nxt = body[i + 1]
                if 48 <= nxt <= 55 and i + 4 <= len(body):
                    out.append(int(body[i + 1:i + 4], 8) & 0xFF)
                    i += 4
                    continue
                out.append(escapes.get(nxt, nxt))
                i += 2
                continue
            out.append(ch)
            i += 1
        raw = bytes(out)
    return os.fsdecode(raw)


@dataclass
class _FileDiff:
    path: str | None = None
    lines: list[str] | None = None
    numbers: list[int] | None = None
    size: int = 0


def scan_history(repo_root: Path, scanner: SecretScanner,
                 seen_commits: set[str]) -> tuple[list[HistoryMatch], list[str]]:
    """Secrets added by the commits not in `seen_commits`; returns (matches, commits walked).

    Pass the union of every earlier call's walked commits as `seen_commits` to scan only what
    is new. Raises GitHistoryError when `repo_root` is not a git repository."""
    repo_root = Path(repo_root)
    if _git(repo_root, "rev-parse", "--git-dir", check=False).returncode != 0:
        raise GitHistoryError(f"{repo_root} is not a git repository")
    todo = [sha for sha in _reachable_commits(repo_root) if sha not in seen_commits]
    if not todo:
        return [], []
    matches: list[HistoryMatch] = []
    with tempfile.TemporaryFile() as revs, tempfile.TemporaryFile() as err:
        revs.write(("\n".join(todo) + "\n").encode("ascii"))
        revs.seek(0)
        args = ["git", "-C", str(repo_root), "-c", "core.quotePath=true", "-c", "diff.noprefix=false",
                "log", "--stdin", "--no-walk=unsorted", "--no-color", "--no-ext-diff", "--no-textconv",
                "--diff-merges=off", "-p", "--unified=0", "-M", "--root", "--encoding=UTF-8",
                "--relative",  # a project in a sub-folder sees its own files, with its own paths
                f"--format={COMMIT_MARK.decode()}%H%x1f%an%x1f%ae%x1f%aI"]
        with subprocess.Popen(args, stdin=revs, stdout=subprocess.PIPE, stderr=err, env=GIT_ENV) as proc:
            assert proc.stdout is not None
            _parse_log(proc.stdout, scanner, matches)
            if proc.wait() != 0:
                raise GitHistoryError(f"git log failed in {repo_root}: {_read_err(err)}")
    return matches, todo


def _parse_log(stream, scanner: SecretScanner, matches: list[HistoryMatch]) -> None:
    commit: tuple[str, str, datetime] | None = None
    fd = _FileDiff()
    in_header = False
    next_line = 0

    def flush() -> None:
        if commit is not None and fd.path and fd.lines:
            _scan_added(scanner, commit, fd, matches)
        fd.path, fd.lines, fd.numbers, fd.size = None, None, None, 0

    for raw in stream:
        if raw.startswith(COMMIT_MARK):
            flush()
            fields = raw[len(COMMIT_MARK):].rstrip(b"\n").split(b"\x1f")
            commit = _commit_fields(fields)
            continue
        if raw.startswith(b"diff --git ") or raw.startswith(b"diff --cc ") or raw.startswith(b"diff --combined "):
            flush()
            in_header = True
            continue
        if in_header:
            if raw.startswith(b"+++ "):
                target = raw[4:].rstrip(b"\n").rstrip(b"\r")
                if target.endswith(b"\t"):  # git marks a name holding spaces with a trailing tab
                    target = target[:-1]
                if target == b"/dev/null":
                    fd.path = None
                else:
                    p = _unquote_path(target)
                    fd.path = p[2:] if p.startswith("b/") else p
                    fd.lines, fd.numbers = [], []
                continue
            if raw.startswith(b"@@"):
                in_header = False
            else:
                continue  # index, mode, rename, "Binary files ... differ", "--- a/..."
        if raw.startswith(b"@@"):
            m = HUNK_RE.match(raw)
            next_line = int(m.group(1)) if m else 0
            continue
        if raw.startswith(b"+") and fd.lines is not None:
            if fd.size < MAX_ADDED_BYTES_PER_FILE:
                text = raw[1:].rstrip(b"\n").rstrip(b"\r").decode("utf-8", "replace")
                fd.lines.append(text)
                fd.numbers.append(next_line)
                fd.size += len(raw)
            next_line += 1
    flush()


def _commit_fields(fields: list[bytes]) -> tuple[str, str, datetime] | None:
    if len(fields) < 4:
        return None
    sha = fields[0].decode("ascii", "replace")
    name = fields[1].decode("utf-8", "replace")
    email = fields[2].decode("utf-8", "replace")
    try:
        when = datetime.fromisoformat(fields[3].decode("ascii", "replace").strip())
    except ValueError:
        return None
    return sha, f"{name} <{email}>", when


def _scan_added(scanner: SecretScanner, commit: tuple[str, str, datetime], fd: _FileDiff,
                matches: list[HistoryMatch]) -> None:
    """Scan one file's added lines of one commit as one text; map its lines back to the file."""
    text = "\n".join(fd.lines or [])
    numbers = fd.numbers or []
    sha, author, when = commit
    for m in scanner.scan_text(fd.path or "", text):
        idx = m.line - 1
        line = numbers[idx] if 0 <= idx < len(numbers) else m.line
        found = SecretMatch(m.rule, m.kind, m.severity, m.confidence, line, m.column, m.value, m.context,
                            m.member, m.allowed_inline)
        matches.append(HistoryMatch(commit=sha, author=author, authored_at=when, path=fd.path or "", match=found))
