"""The installation's fingerprint key: keyed fingerprints (HMAC) of values that must not be stored.

A plain hash of a short password or token can be brute-forced; an HMAC with a
key that never leaves the installation cannot. The key comes from
ANFL_FINGERPRINT_KEY in production (a secret), or is generated once into
ANFL_HOME/fingerprint.key (mode 0600) on a laptop.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def load_or_create_key(path: Path, from_env: str = "") -> bytes:
    if from_env:
        return from_env.encode("utf-8")
    path = Path(path)
    try:
        key = path.read_bytes()
        if len(key) >= 32:
            return key
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key
