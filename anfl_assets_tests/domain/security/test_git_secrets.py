"""Secrets in git history (`anfl_assets.domain.security.git_secrets`), on real repositories made
with the git binary, isolated from any user or system configuration."""

from __future__ import annotations

import os
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from anfl_assets.domain.security.git_secrets import GitHistoryError, HistoryMatch, scan_history
from anfl_assets.domain.security.secrets import SecretScanner
from anfl_assets_tests.domain.security.secret_corpus import Gen

ADA = ("Ada Lovelace", "ada@example.com", "2024-03-01T10:00:00+01:00")
GRACE = ("Grace Hopper", "grace@example.com", "2024-04-02T12:30:00-05:00")
G = Gen(4242)


def git(root: Path, *args: str, author=ADA) -> str:
    name, email, date = author
    env = {**os.environ, "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C",
           "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_AUTHOR_DATE": date,
           "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email, "GIT_COMMITTER_DATE": date}
    proc = subprocess.run(["git", "-C", str(root), "-c", "commit.gpgsign=false", *args],
                          check=True, capture_output=True, env=env)
    return proc.stdout.decode("utf-8", "replace").strip()


def write(root: Path, rel: str, data: str | bytes) -> None:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data.encode() if isinstance(data, str) else data)


def commit(root: Path, message: str, author=ADA) -> str:
    git(root, "add", "-A", author=author)
    git(root, "commit", "-q", "--allow-empty", "-m", message, author=author)
    return git(root, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    return root


@pytest.fixture(scope="module")
def scanner() -> SecretScanner:
    return SecretScanner()


def test_secret_committed_then_removed(repo, scanner):
    token = G.github()
    write(repo, "README.md", "# project\n")
    c1 = commit(repo, "init")
    write(repo, "app/settings.py", f'DEBUG = False\nTIMEOUT = 30\nGITHUB_TOKEN = "{token}"\n')
    c2 = commit(repo, "settings", author=GRACE)
    write(repo, "app/settings.py", "DEBUG = False\nTIMEOUT = 30\nGITHUB_TOKEN = os.environ['GITHUB_TOKEN']\n")
    c3 = commit(repo, "read the token from the environment")
    assert token not in (repo / "app/settings.py").read_text()

    matches, walked = scan_history(repo, scanner, set())
    assert set(walked) == {c1, c2, c3}
    assert len(matches) == 1
    m = matches[0]
    assert isinstance(m, HistoryMatch)
    assert (m.commit, m.author, m.path) == (c2, "Grace Hopper <grace@example.com>", "app/settings.py")
    assert m.authored_at == datetime(2024, 4, 2, 17, 30, tzinfo=timezone.utc)
    assert m.authored_at.tzinfo is not None
    assert (m.match.rule, m.match.line, m.match.value) == ("github-classic-pat", 3, token)
    assert m.match.column == len('GITHUB_TOKEN = "') + 1

    # nothing new: nothing walked, nothing found
    again, walked_again = scan_history(repo, scanner, set(walked))
    assert again == [] and walked_again == []

    # one new commit is walked alone
    key = G.aws_id()
    write(repo, "deploy.env", f"REGION=eu-west-1\nAWS_ACCESS_KEY_ID={key}\n")
    c4 = commit(repo, "deploy env")
    new, walked_new = scan_history(repo, scanner, set(walked))
    assert walked_new == [c4]
    assert [(x.commit, x.path, x.match.line, x.match.value) for x in new] == [(c4, "deploy.env", 2, key)]


def test_only_added_lines_with_their_new_line_numbers(repo, scanner):
    old, new = G.slack_bot(), G.slack_bot()
    write(repo, "ops/notify.sh", "#!/bin/sh\n" + "\n".join(f"echo {i}" for i in range(20)) + f"\nTOKEN={old}\n")
    c1 = commit(repo, "notify")
    lines = (repo / "ops/notify.sh").read_text().splitlines()
    lines.insert(5, "echo inserted")
    lines[-1] = f"TOKEN={new}"
    write(repo, "ops/notify.sh", "\n".join(lines) + "\n")
    c2 = commit(repo, "rotate")
    matches, _ = scan_history(repo, scanner, set())
    got = sorted((m.commit, m.match.line, m.match.value) for m in matches)
    assert got == sorted([(c1, 22, old), (c2, 23, new)])


def test_rename_is_not_rescanned_and_deletions_are_ignored(repo, scanner):
    tok = G.npm()
    write(repo, "a/.npmrc", f"//registry.npmjs.org/:_authToken={tok}\n")
    c1 = commit(repo, "npmrc")
    git(repo, "mv", "a", "b")
    commit(repo, "move")
    (repo / "b/.npmrc").unlink()
    commit(repo, "delete")
    matches, walked = scan_history(repo, scanner, set())
    assert len(walked) == 3
    assert [(m.commit, m.path) for m in matches] == [(c1, "a/.npmrc")]


def test_binary_non_utf8_and_odd_paths(repo, scanner):
    tok = G.github()
    write(repo, "model.bin", b"\x00\x01\x02" + f"TOKEN={tok}".encode() + b"\x00" * 100)
    write(repo, "notes/latin1.txt", "caf\xe9 = 1\n".encode("latin-1") + f"token {tok}\n".encode())
    write(repo, "dir with space/été \"q\".env", f"GITHUB_TOKEN={tok}\n")
    commit(repo, "mixed")
    matches, _ = scan_history(repo, scanner, set())
    paths = sorted(m.path for m in matches)
    assert paths == ['dir with space/été "q".env', "notes/latin1.txt"]
    assert {m.match.line for m in matches} == {1, 2}


def test_merges_are_walked_but_not_rescanned(repo, scanner):
    write(repo, "README.md", "x\n")
    commit(repo, "init")
    git(repo, "checkout", "-q", "-b", "feature")
    tok = G.github()
    write(repo, "feature.env", f"GITHUB_TOKEN={tok}\n")
    c_feat = commit(repo, "feature token")
    git(repo, "checkout", "-q", "main")
    write(repo, "main.txt", "y\n")
    commit(repo, "main work")
    git(repo, "merge", "-q", "--no-ff", "feature", "-m", "merge feature")
    merge = git(repo, "rev-parse", "HEAD")
    matches, walked = scan_history(repo, scanner, set())
    assert merge in walked and len(walked) == 4
    assert [(m.commit, m.match.value) for m in matches] == [(c_feat, tok)]


def test_unmerged_local_branches_are_walked(repo, scanner):
    write(repo, "a.txt", "a\n")
    commit(repo, "init")
    git(repo, "checkout", "-q", "-b", "wip")
    tok = G.stripe()
    write(repo, "pay.js", f"const key = '{tok}';\n")
    c = commit(repo, "wip")
    git(repo, "checkout", "-q", "main")
    matches, walked = scan_history(repo, scanner, set())
    assert c in walked and [m.commit for m in matches] == [c]


def test_repository_without_commits(repo, scanner):
    assert scan_history(repo, scanner, set()) == ([], [])


def test_not_a_repository(tmp_path, scanner):
    with pytest.raises(GitHistoryError):
        scan_history(tmp_path, scanner, set())


def test_many_commits_stream(repo, scanner):
    """A few hundred commits through fast-import: one log process, every commit walked once."""
    lines = []
    for i in range(300):
        content = f"line {i}\n" + (f"TOKEN={G.github()}\n" if i % 100 == 7 else "")
        data = content.encode()
        lines += [b"commit refs/heads/main", f"mark :{i + 1}".encode(),
                  f"author A <a@x> {1700000000 + i} +0000".encode(), f"committer A <a@x> {1700000000 + i} +0000".encode(),
                  b"data 3", b"c%dx" % (i % 10)]
        if i:
            lines.append(f"from :{i}".encode())
        lines += [f"M 644 inline f{i % 7}.txt".encode(), f"data {len(data)}".encode(), data]
    stream = b"\n".join(lines) + b"\n"
    env = {**os.environ, "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "-C", str(repo), "fast-import", "--quiet"], input=stream, check=True, env=env,
                   capture_output=True)
    git(repo, "reset", "-q", "--hard", "main")
    matches, walked = scan_history(repo, scanner, set())
    assert len(walked) == len(set(walked)) == 300
    assert len(matches) == 3
    half = set(walked[150:])  # rev-list order: newest first; pretend the older half was seen
    _, rest = scan_history(repo, scanner, half)
    assert set(rest) == set(walked[:150])


def test_a_project_in_a_sub_folder_sees_only_its_own_history(repo, scanner):
    """A project registered at services/api of a bigger repository: a secret committed in a
    sibling folder is not its finding, and its own paths are relative to it (as in the inventory)."""
    ours, theirs = G.github(), G.github()
    write(repo, "services/api/config.py", f'TOKEN = "{ours}"\n')
    write(repo, "services/billing/config.py", f'TOKEN = "{theirs}"\n')
    commit(repo, "two services")
    matches, walked = scan_history(repo / "services" / "api", scanner, set())
    assert len(walked) == 1
    assert [(m.path, m.match.value) for m in matches] == [("config.py", ours)]
