"""Incremental bookkeeping of the extractors: what is kept, what is done again."""

from __future__ import annotations

from anfl_assets.domain.enrich import pipeline
from anfl_assets.domain.inventory import refresh_file_inventory
from anfl_assets.domain.projects import get_project, register_project
from anfl_assets.domain.warehouse import Warehouse

SOURCE = b'"""Billing."""\n\n\ndef invoice_total(lines):\n    """Sum of the lines."""\n    return sum(lines)\n'


def _symbols(wh: Warehouse) -> list[tuple]:
    return [tuple(r.values()) for r in wh.query(
        "SELECT path, name, start_line, end_line FROM enrich.code_symbols ORDER BY path, start_line").to_pylist()]


def test_a_file_unreadable_at_extraction_is_tried_again_with_the_same_content(tmp_path):
    """A file that vanished between the inventory and the extraction is recorded as unreadable;
    once it is back with the same bytes (same checksum) the next run extracts it instead of
    keeping the failed record, and a run after that re-reads nothing."""
    root = tmp_path / "proj"
    (root / "billing").mkdir(parents=True)
    src = root / "billing" / "invoice.py"
    src.write_bytes(SOURCE)
    (root / "billing" / "tax.py").write_bytes(b"def vat(amount):\n    return amount * 0.2\n")
    wh = Warehouse(tmp_path / "warehouse.duckdb")
    register_project(wh, "shop", root)
    project = get_project(wh, "shop")
    refresh_file_inventory(wh, "shop", root)
    pipeline.refresh_file_classes(wh, project)  # code structure runs on the files classified as code

    src.unlink()  # gone after the inventory listed it with its checksum
    first = pipeline.refresh_code_structure(wh, project)
    assert (first.processed, first.errors) == (2, 1)
    assert _symbols(wh) == [("billing/tax.py", "vat", 1, 2)]
    (status,) = wh.query("SELECT error FROM enrich.processed WHERE path = 'billing/invoice.py' "
                         "AND extractor = 'code_structure'").to_pylist()
    assert status == {"error": "unreadable"}

    src.write_bytes(SOURCE)  # back, same content: the inventory finds the same blake3
    refresh_file_inventory(wh, "shop", root)
    pipeline.refresh_file_classes(wh, project)
    second = pipeline.refresh_code_structure(wh, project)
    assert (second.processed, second.reused, second.errors) == (1, 1, 0)
    assert _symbols(wh) == [("billing/invoice.py", "invoice_total", 4, 6), ("billing/tax.py", "vat", 1, 2)]

    third = pipeline.refresh_code_structure(wh, project)
    assert (third.processed, third.reused) == (0, 2)
    assert _symbols(wh) == [("billing/invoice.py", "invoice_total", 4, 6), ("billing/tax.py", "vat", 1, 2)]
