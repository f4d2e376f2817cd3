"""Read each changed file once: blake3 checksum, line count, type sniffed from the head bytes.

One pass per file does all content work, so a file is never read twice. Files
go in batches to worker processes for a big read (hashing, line counting and
sniffing hold the GIL between system calls, so threads keep one core busy) and
to a small thread pool for a small one, where starting processes would cost more
(see benchmarks/RESULTS.md).
"""

from __future__ import annotations

import codecs
import errno
import os
import stat
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, fields

import numpy as np
from blake3 import blake3

from anfl_assets.domain.scan_errors import error_text, scan_error
from anfl_assets.domain.sniff import Sniffed, sniff
from anfl_assets.domain.workers import worker_pool

READ_CHUNK = 1 << 20
HEAD_BYTES = 8192
BATCH_BYTES = 16 << 20
BATCH_FILES = 256
# Below both bounds a read stays in this process (see `use_processes`).
PROCESS_MIN_FILES = 4096
PROCESS_MIN_BYTES = 256 << 20
DEFAULT_PROCESSES = 4
NEWLINE_BY_BOM = (
    (codecs.BOM_UTF32_LE, "\n".encode("utf-32-le")), (codecs.BOM_UTF32_BE, "\n".encode("utf-32-be")),
    (codecs.BOM_UTF16_LE, "\n".encode("utf-16-le")), (codecs.BOM_UTF16_BE, "\n".encode("utf-16-be")),
)
_BOM_FIRST_BYTES = frozenset(bom[:1] for bom, _ in NEWLINE_BY_BOM)
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


@dataclass(slots=True)
class ContentFacts:
    """What one read of a file tells; `error` set means the other fields are partial."""

    blake3: str | None = None
    newlines: int = 0
    ends_with_newline: bool = True
    bytes_read: int = 0
    size: int | None = None
    mtime_ns: int | None = None
    ctime_ns: int | None = None
    inode: int | None = None
    error: str | None = None
    sniffed: Sniffed | None = None


_local = threading.local()


def _buffer() -> memoryview:
    buf = getattr(_local, "buf", None)
    if buf is None:
        buf = _local.buf = memoryview(bytearray(READ_CHUNK))
    return buf


def newline_pattern(head: bytes) -> bytes:
    """The bytes of one newline in this file's encoding; empty for binary (nothing to count)."""
    if head[:1] not in _BOM_FIRST_BYTES:  # no BOM can start here: the common case, one test
        return b"" if b"\x00" in head else b"\n"
    for bom, pattern in NEWLINE_BY_BOM:
        if head.startswith(bom):
            return pattern
    return b"" if b"\x00" in head else b"\n"


def read_content(full_path: bytes) -> ContentFacts:
    """Hash and sniff one file; report (not raise) vanishing, permission errors and changes mid-read."""
    facts = ContentFacts()
    try:
        fd = os.open(full_path, _OPEN_FLAGS)
    except OSError as exc:
        facts.error = scan_error(exc.errno or errno.EIO)
        return facts
    try:
        before = os.fstat(fd)
        if not stat.S_ISREG(before.st_mode):
            facts.error = "replaced by a non-regular file during scan"
            return facts
        if before.st_size < READ_CHUNK:
            head = _read_small(fd, before.st_size, facts)
        else:
            head = _read_large(fd, facts)
        after = os.fstat(fd)
        facts.size, facts.mtime_ns, facts.ctime_ns, facts.inode = (
            after.st_size, after.st_mtime_ns, after.st_ctime_ns, after.st_ino)
        if facts.bytes_read != after.st_size or after.st_mtime_ns != before.st_mtime_ns:
            facts.error = "changed during scan"
            facts.blake3 = None
        name = full_path.rsplit(b"/", 1)[-1].decode("utf-8", "backslashreplace")
        facts.sniffed = sniff(head, name, facts.bytes_read)
    except OSError as exc:
        facts.error = error_text(exc)
        facts.blake3 = None
    finally:
        os.close(fd)
    return facts


def _read_small(fd: int, size: int, facts: ContentFacts) -> bytes:
    """Most files: one `read` of the whole file (one more byte shows growth), no loop. Returns
    the head bytes for sniffing."""
    data = os.read(fd, size + 1)  # a byte more than expected shows growth (the caller then flags it)
    while len(data) < size:  # a short read (network file systems) goes on to the end of the file
        more = os.read(fd, size + 1 - len(data))
        if not more:
            break
        data += more
    head = data[:HEAD_BYTES]
    newline = newline_pattern(head)
    facts.newlines = data.count(newline) if newline else 0
    facts.ends_with_newline = not data or not newline or data.endswith(newline)
    facts.bytes_read = len(data)
    facts.blake3 = blake3(data).hexdigest()
    return head


def _read_large(fd: int, facts: ContentFacts) -> bytes:
    """Big files stream through one reused buffer, so memory stays flat whatever the size.
    Returns the head bytes for sniffing."""
    buf = _buffer()
    hasher = blake3()
    head = b""
    newlines = total = n_last = 0
    newline = None
    with open(fd, "rb", buffering=0, closefd=False) as fh:
        while n := fh.readinto(buf):
            chunk = buf[:n]
            hasher.update(chunk)
            if newline is None:
                head = bytes(chunk[:HEAD_BYTES])
                newline = newline_pattern(head)
            if newline == b"\n":  # numpy counts one byte ~3x faster than bytearray.count
                newlines += int(np.count_nonzero(np.frombuffer(buf.obj, np.uint8, n) == 10))
            elif newline:
                newlines += buf.obj.count(newline, 0, n)
            total += n
            n_last = n
    facts.newlines = newlines
    facts.ends_with_newline = (total == 0 or not newline
                               or (n_last >= len(newline) and bytes(buf[n_last - len(newline):n_last]) == newline))
    facts.bytes_read = total
    facts.blake3 = hasher.hexdigest()
    return head


def _batches(paths: Sequence[bytes], sizes: Sequence[int]) -> list[range]:
    out, start, acc = [], 0, 0
    for i, size in enumerate(sizes):
        acc += size or 0
        if acc >= BATCH_BYTES or i - start + 1 >= BATCH_FILES:
            out.append(range(start, i + 1))
            start, acc = i + 1, 0
    if start < len(paths):
        out.append(range(start, len(paths)))
    return out


FACT_FIELDS = tuple(f.name for f in fields(ContentFacts))


def _read_batch(paths: Sequence[bytes]) -> list[tuple]:
    """Worker-process side of `read_many`: the facts as plain tuples (a dataclass pickles several
    times slower)."""
    out = []
    for path in paths:
        f = read_content(path)
        f.sniffed = tuple(f.sniffed) if f.sniffed else None
        out.append(tuple(getattr(f, name) for name in FACT_FIELDS))
    return out


def _facts_of(values: tuple) -> ContentFacts:
    facts = ContentFacts(*values)  # FACT_FIELDS is the field order
    if facts.sniffed is not None:
        facts.sniffed = Sniffed._make(facts.sniffed)
    return facts


def use_processes(processes: int, files: int, nbytes: int) -> int:
    """Worker processes for a read of `files` files and `nbytes` bytes: 0 (threads in this
    process) for small reads, where starting processes costs more than it saves, or on one CPU."""
    if processes == 1 or (files < PROCESS_MIN_FILES and nbytes < PROCESS_MIN_BYTES):
        return 0
    if processes:
        return processes
    cpus = os.cpu_count() or 1
    return min(DEFAULT_PROCESSES, cpus) if cpus > 1 else 0


def read_many(paths: Sequence[bytes], sizes: Sequence[int], on_read: Callable[[int, ContentFacts], None],
              threads: int = 4, progress: Callable[[int, int], None] | None = None,
              processes: int = 0) -> int:
    """`read_content` over many files, handing each result to `on_read(index, facts)` at once.

    Results are consumed as they come rather than collected, so memory stays flat at
    hundreds of thousands of files. Big reads go to worker processes (`processes`; 0 =
    automatic, 1 = never): hashing, newline counting and sniffing hold the GIL between
    system calls, so threads alone keep one core busy on a warm cache. Small reads, such as
    a re-scan with a few changed files, stay on `threads` threads here. `on_read` may run on
    worker threads and must only write to its own index. Returns the bytes read."""
    batches = _batches(paths, sizes)
    workers = use_processes(processes, len(paths), sum(sizes))
    total = 0
    if workers > 1 and len(batches) > 1:
        batch_bytes = [sum(sizes[b.start:b.stop]) for b in batches]
        with worker_pool(workers) as pool:
            # biggest batches first, results taken as they finish: no worker idles at the end
            # while another hashes the one big file left
            pending = {pool.submit(_read_batch, paths[b.start:b.stop]): b
                       for b, _ in sorted(zip(batches, batch_bytes), key=lambda x: -x[1])}
            for future in as_completed(pending):
                batch, results = pending.pop(future), future.result()
                nbytes = 0
                for i, values in zip(batch, results):
                    facts = _facts_of(values)
                    nbytes += facts.bytes_read
                    on_read(i, facts)
                total += nbytes
                if progress:
                    progress(len(batch), nbytes)
        return total

    def run(batch: range) -> tuple[int, int]:
        nbytes = 0
        for i in batch:
            facts = read_content(paths[i])
            nbytes += facts.bytes_read
            on_read(i, facts)
        return len(batch), nbytes

    if threads <= 1 or len(batches) <= 1:
        done_iter = map(run, batches)
    else:
        pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="anfl-hash")
        done_iter = pool.map(run, batches)
    try:
        for files, nbytes in done_iter:
            total += nbytes
            if progress:
                progress(files, nbytes)
    finally:
        if threads > 1 and len(batches) > 1:
            pool.shutdown()
    return total
