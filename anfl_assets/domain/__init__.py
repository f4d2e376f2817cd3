"""Plain-Python domain logic. Nothing in this package imports Dagster."""

import os


def _arrow_memory_pool() -> None:
    """Arrow allocates through jemalloc here, not its default mimalloc: mimalloc keeps the pages
    that other threads (the stored-rows reader, the hash readers) freed, so two inventory
    refreshes of a 295,523-entry tree peaked at 575-589 MB against 495 MB with jemalloc
    (benchmarks/RESULTS.md, issue 2 memory). An explicit ARROW_DEFAULT_MEMORY_POOL wins."""
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return
    import pyarrow as pa

    try:
        pa.set_memory_pool(pa.jemalloc_memory_pool())
    except NotImplementedError:  # a pyarrow build without jemalloc: keep its default
        pass


_arrow_memory_pool()
