"""Independent recounts that the inventory asset checks compare against.

They use `os.walk`, not the scanner's own walker, so a bug in the scanner
cannot hide itself by being counted twice the same way.
"""

from __future__ import annotations

import os
from pathlib import Path

from anfl_assets.domain.walk import load_ignore_spec


def count_files_on_disk(root: Path, extra_ignores: tuple[str, ...] = ()) -> int:
    """Non-directory entries under `root` (symlinks included, `.git/` and ignores excluded),
    plus one per directory that cannot be listed (the scanner records those as rows)."""
    spec = load_ignore_spec(Path(root), extra_ignores)
    unreadable = []
    count = 0
    root = os.fsencode(os.path.abspath(root))
    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable.append):
        rel_dir = os.path.relpath(dirpath, root)
        kept = []
        for d in dirnames:
            rel = os.fsdecode(os.path.normpath(os.path.join(rel_dir, d)))
            if os.path.islink(os.path.join(dirpath, d)):
                if spec is None or not spec.match_file(rel):
                    count += 1
            elif d != b".git" and (spec is None or not spec.match_file(rel + "/")):
                kept.append(d)
        dirnames[:] = kept
        for f in filenames:
            rel = os.fsdecode(os.path.normpath(os.path.join(rel_dir, f)))
            if spec is None or not spec.match_file(rel):
                count += 1
    return count + len(unreadable)
