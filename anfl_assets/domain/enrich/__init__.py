"""Phase 1.2 enrichment: classification, code structure, dependencies, config patterns.

Each module is a set of pure functions over one file's path and bytes (or over
rows already extracted), so results can be cached by content hash and
extractor version; `pipeline.py` does the incremental bookkeeping against the
warehouse.
"""
