"""Arrow's allocator for the processes that move big tables (inventory, warehouse reads and writes).

jemalloc, not Arrow's default mimalloc: mimalloc keeps the pages that other threads (the
stored-rows reader, the hash readers) freed, so two inventory refreshes of a 295,523-entry tree
peaked at 566 MB against 528 MB with jemalloc (benchmarks/RESULTS.md, issue 2 memory). Imported
by `warehouse` and `inventory` rather than by the package, so a light import (settings, the CLI's
argument parsing) does not load pyarrow. An explicit ARROW_DEFAULT_MEMORY_POOL wins."""

import os

import pyarrow as pa

if not os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
    try:
        pa.set_memory_pool(pa.jemalloc_memory_pool())
    except NotImplementedError:  # a pyarrow build without jemalloc: keep its default
        pass
