"""Worker processes come from the forkserver, never from a fork of the (threaded) test process."""

from __future__ import annotations

import os
import threading

from anfl_assets.domain.enrich.incremental import pool_map
from anfl_assets.domain.sniff import extension_of
from anfl_assets.domain.workers import worker_pool


def test_pool_runs_work_in_other_processes_started_by_the_forkserver():
    stop = threading.Event()
    busy = threading.Thread(target=stop.wait, daemon=True)  # the step process has threads too
    busy.start()
    try:
        with worker_pool(2) as pool:
            pids = {pool.submit(os.getpid).result() for _ in range(4)}
            parents = {pool.submit(os.getppid).result() for _ in range(4)}
    finally:
        stop.set()
    assert os.getpid() not in pids
    assert parents.isdisjoint({os.getpid()}), "a worker forked straight from this process"


def test_pool_map_gives_the_in_process_answers_in_order():
    names = ["app.py", "archive.tar.gz", "Dockerfile", ".gitignore", "notes.MD"] * 3
    chunks = [names[i:i + 4] for i in range(0, len(names), 4)]
    expected = [[extension_of(n) for n in chunk] for chunk in chunks]
    assert pool_map(_extensions, chunks, 2) == expected == pool_map(_extensions, chunks, 1)


def _extensions(chunk: list[str]) -> list[str]:
    return [extension_of(n) for n in chunk]
