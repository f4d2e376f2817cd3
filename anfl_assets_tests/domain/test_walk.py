"""The native walker (anfl_assets/_fastwalk.c) against the Python walk on the same messy tree.

Both must give the same rows: paths as exact bytes, kinds, every stat field, errors; `.git`
folders skipped and symlinks never followed. The Python walk is the reference (it is what
runs with ignore globs, and what the bad-input tests were first written against)."""

from __future__ import annotations

import os
import socket

import numpy as np
import pytest

from anfl_assets.domain import walk
from anfl_assets.domain.walk import N_STAT, walk_tree

pytestmark = pytest.mark.skipif(not walk.native_walk_available(), reason="the native walker is not built here")


def rows(cols) -> list[tuple]:
    stats = np.frombuffer(cols.stats, dtype=np.int64).reshape(-1, N_STAT).tolist()
    return sorted(zip(cols.rel, cols.kind, cols.error, bytes(cols.no_stat), map(tuple, stats)))


@pytest.fixture
def messy_tree(tmp_path, monkeypatch):
    root = tmp_path / "estate"
    b = os.fsencode(root)

    def put(rel: bytes, data: bytes = b"x\n") -> None:
        path = os.path.join(b, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)

    for i in range(1500):  # one big folder: buffers grow, several threads share the work
        put(b"logs/day-%04d.log" % i, b"GET /health 200\n" * (i % 7))
    for d in range(40):
        for f in range(5):
            put(b"services/svc-%02d/src/mod_%d.py" % (d, f), b"def f():\n    return %d\n" % f)
    put(b"/".join([b"deep"] * 40) + b"/bottom.txt")
    put(b"caf\xe9/men\xfc.txt", b"latin-1 names\n")
    put(b"empty.txt", b"")
    put(b".git/objects/ab/cdef", b"git internals")
    put(b"vendor/lib/.git", b"gitdir: ../../.git/modules/lib\n")  # a submodule's .git file is a file
    put(b"services/svc-01/.git/HEAD", b"ref: refs/heads/main\n")
    os.symlink(b"empty.txt", os.path.join(b, b"link-to-file"))
    os.symlink(b"services", os.path.join(b, b"link-to-dir"))
    os.symlink(b"nowhere/at/all", os.path.join(b, b"dangling"))
    os.symlink(b"loop-b", os.path.join(b, b"loop-a"))
    os.symlink(b"loop-a", os.path.join(b, b"loop-b"))
    os.symlink(b"/etc/passwd", os.path.join(b, b"outside"))
    os.mkfifo(os.path.join(b, b"events.pipe"))
    monkeypatch.chdir(root)  # short socket path
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind("api.sock")
        yield root


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_native_walk_equals_python_walk(messy_tree, threads, monkeypatch):
    monkeypatch.setattr(walk, "NATIVE_WALK_THREADS", threads)
    python_rows = rows(walk_tree(messy_tree, native=False))
    native = walk_tree(messy_tree, native=True)
    assert rows(native) == python_rows
    assert native.rel == sorted(native.rel)  # deterministic whatever the thread scheduling
    kinds = dict(zip(native.rel, native.kind))
    assert (kinds[b"events.pipe"], kinds[b"api.sock"], kinds[b"loop-a"], kinds[b"link-to-dir"],
            kinds[b"vendor/lib/.git"]) == ("fifo", "socket", "symlink", "symlink", "file")
    assert not any(r.startswith(b".git/") or b"/.git/" in r for r in native.rel)
    assert len(native) == 1500 + 200 + 1 + 1 + 1 + 1 + 6 + 2


def test_root_that_is_not_a_directory_raises(tmp_path):
    """A root that is a file is the caller's error (build_inventory checks first), not a row."""
    target = tmp_path / "file-not-dir"
    target.write_text("x")
    with pytest.raises(NotADirectoryError):
        walk._fastwalk.walk(os.fsencode(target), 2)


def test_native_walker_refuses_ignore_globs(tmp_path):
    """Ignore globs prune folders during the walk: only the Python walk applies them."""
    spec = walk.load_ignore_spec(tmp_path, ("*.log",))
    with pytest.raises(ValueError):
        walk_tree(tmp_path, spec, native=True)
    assert walk_tree(tmp_path, spec) is not None  # the default picks the Python walk
