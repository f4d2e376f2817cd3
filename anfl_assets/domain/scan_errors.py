"""How the scan words an error: one short, stable phrase per errno, so scan errors group well
in SQL. A module of its own, with no heavy imports, because the hash worker processes need it."""

from __future__ import annotations

import errno
import os

VANISHED = "vanished during scan"


def error_text(exc: OSError) -> str:
    name = errno.errorcode.get(exc.errno or 0, "EIO")
    return f"{name}: {exc.strerror or exc}"


def scan_error(code: int) -> str:
    """The phrase for a failed open or stat: a file that is gone vanished, anything else is its errno."""
    return VANISHED if code == errno.ENOENT else error_text(OSError(code, os.strerror(code)))
