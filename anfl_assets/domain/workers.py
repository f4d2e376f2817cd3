"""Worker processes for the CPU-bound steps (hashing, parsing, secret scanning), made one way.

Workers are forked from a forkserver, a clean single-threaded process, never from the step
process itself: a Dagster step runs threads, and a fork of a threaded process can inherit a lock
another thread held. The server imports the worker modules once when it starts, so each worker
begins with them loaded and a pool costs a fork per worker, not an import of the parsers."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

PRELOAD = ["__main__", "anfl_assets.domain.hashing", "anfl_assets.domain.enrich.pipeline",
           "anfl_assets.domain.security.pipeline"]
_context = None


def worker_pool(workers: int) -> ProcessPoolExecutor:
    global _context
    if _context is None:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)  # takes effect when this process first starts the server
        _context = ctx
    return ProcessPoolExecutor(max_workers=workers, mp_context=_context)
