"""Read each changed file once: blake3 checksum, head bytes for sniffing, line count.

One pass per file does all content work, so a file is never read twice. Files
are handed to a small thread pool in batches: `readinto` and blake3 release
the GIL, so several reads are in flight on a cold cache while batching keeps
GIL hand-offs low on warm small files (see benchmarks/RESULTS.md).
"""

from __future__ import annotations

import codecs
import errno
import os
import stat
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from blake3 import blake3

from anfl_assets.domain.walk import VANISHED, error_text

READ_CHUNK = 1 << 20
HEAD_BYTES = 8192
BATCH_BYTES = 16 << 20
BATCH_FILES = 256
NEWLINE_BY_BOM = (
    (codecs.BOM_UTF32_LE, "\n".encode("utf-32-le")), (codecs.BOM_UTF32_BE, "\n".encode("utf-32-be")),
    (codecs.BOM_UTF16_LE, "\n".encode("utf-16-le")), (codecs.BOM_UTF16_BE, "\n".encode("utf-16-be")),
)
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


@dataclass(slots=True)
class ContentFacts:
    """What one read of a file tells; `error` set means the other fields are partial."""

    blake3: str | None = None
    head: bytes = b""
    newlines: int = 0
    ends_with_newline: bool = True
    bytes_read: int = 0
    size: int | None = None
    mtime_ns: int | None = None
    ctime_ns: int | None = None
    inode: int | None = None
    error: str | None = None


_local = threading.local()


def _buffer() -> memoryview:
    buf = getattr(_local, "buf", None)
    if buf is None:
        buf = _local.buf = memoryview(bytearray(READ_CHUNK))
    return buf


def newline_pattern(head: bytes) -> bytes:
    """The bytes of one newline in this file's encoding; empty for binary (nothing to count)."""
    for bom, pattern in NEWLINE_BY_BOM:
        if head.startswith(bom):
            return pattern
    return b"" if b"\x00" in head else b"\n"


def read_content(full_path: bytes) -> ContentFacts:
    """Hash one file; report (not raise) vanishing, permission errors and changes mid-read."""
    facts = ContentFacts()
    try:
        fd = os.open(full_path, _OPEN_FLAGS)
    except OSError as exc:
        facts.error = VANISHED if exc.errno == errno.ENOENT else error_text(exc)
        return facts
    try:
        before = os.fstat(fd)
        if not stat.S_ISREG(before.st_mode):
            facts.error = "replaced by a non-regular file during scan"
            return facts
        buf = _buffer()
        hasher = blake3()
        head = b""
        newlines = 0
        total = 0
        newline = None
        with open(fd, "rb", buffering=0, closefd=False) as fh:
            while True:
                n = fh.readinto(buf)
                if not n:
                    break
                chunk = buf[:n]
                hasher.update(chunk)
                if newline is None:
                    head = bytes(chunk[:HEAD_BYTES])
                    newline = newline_pattern(head)
                if newline:
                    newlines += buf.obj.count(newline, 0, n)
                total += n
                n_last = n
        after = os.fstat(fd)
        facts.head = head
        facts.newlines = newlines
        facts.ends_with_newline = (total == 0 or not newline
                                   or (n_last >= len(newline) and bytes(buf[n_last - len(newline):n_last]) == newline))
        facts.bytes_read = total
        facts.size, facts.mtime_ns, facts.ctime_ns, facts.inode = (
            after.st_size, after.st_mtime_ns, after.st_ctime_ns, after.st_ino)
        if total != after.st_size or after.st_mtime_ns != before.st_mtime_ns:
            facts.error = "changed during scan"
        else:
            facts.blake3 = hasher.hexdigest()
    except OSError as exc:
        facts.error = error_text(exc)
    finally:
        os.close(fd)
    return facts


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


def read_many(paths: Sequence[bytes], sizes: Sequence[int], on_read: Callable[[int, ContentFacts], None],
              threads: int = 4, progress: Callable[[int, int], None] | None = None) -> int:
    """`read_content` over many files, handing each result to `on_read(index, facts)` at once.

    Results are consumed as they come rather than collected, so memory stays
    flat at hundreds of thousands of files. `on_read` may run on worker threads
    and must only write to its own index. Returns the bytes read."""

    def run(batch: range) -> tuple[int, int]:
        nbytes = 0
        for i in batch:
            facts = read_content(paths[i])
            nbytes += facts.bytes_read
            on_read(i, facts)
        return len(batch), nbytes

    total = 0
    batches = _batches(paths, sizes)
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
