"""A process-wide sink for progress of long work.

Domain code reports (phase, done, total) here; the CLI installs a progress bar
as the sink, while runs launched from the UI have none and log instead. This
keeps the asset functions free of any terminal concern.
"""

from __future__ import annotations

from collections.abc import Callable

ProgressSink = Callable[[str, int, "int | None"], None]
_sink: ProgressSink | None = None


def set_sink(sink: ProgressSink | None) -> None:
    global _sink
    _sink = sink


def get_sink() -> ProgressSink | None:
    return _sink
