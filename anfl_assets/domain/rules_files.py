"""Rule files (YAML) read through a small JSON cache keyed by their bytes.

The built-in rule files are read by every process that classifies or scans, an incremental
run of a few files included, and libyaml still builds the objects in Python: about 11 ms for
the 24 KB classification rules, against 0.2 ms for the same document as JSON. So the parsed
document is kept as JSON under the cache folder, named by the SHA-256 of the file's bytes:
an edited file is simply a new name. Only documents that JSON represents exactly are cached,
and a cache file is trusted only inside a folder that this user owns and no one else can
write to; anything else is parsed from the YAML, as without a cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

import yaml

YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present


def cache_dir() -> Path:
    """`ANFL_CACHE_DIR`, else `$XDG_CACHE_HOME/anfl`, else `~/.cache/anfl`; rule documents go in `rules/`."""
    base = os.environ.get("ANFL_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "anfl")
    return Path(base) / "rules"


def _private_folder(folder: Path) -> bool:
    try:
        st = folder.stat()
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o022


def load_yaml_document(path: Path) -> Any:
    """The YAML document in `path`, as `yaml.load` with the safe loader gives it."""
    raw = Path(path).read_bytes()
    folder = cache_dir()
    cached = folder / f"{hashlib.sha256(raw).hexdigest()}.json"
    if _private_folder(folder):
        try:
            return json.loads(cached.read_bytes())
        except (OSError, ValueError):
            pass
    doc = yaml.load(raw.decode("utf-8"), Loader=YAML_LOADER)
    try:
        text = json.dumps(doc)
        if json.loads(text) != doc:  # dates, integer keys, tuples...: not cached
            return doc
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if _private_folder(folder):
            fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, cached)
    except (OSError, TypeError, ValueError):
        pass  # a read-only home, an unusual document: parsed from the YAML next time as well
    return doc
