"""Shared helpers for what assets and checks show in the Dagster UI."""

from decimal import Decimal

from dagster import MetadataValue, TableColumn, TableRecord, TableSchema


def _scalar(value):
    """DuckDB sums arrive as Decimal; table metadata takes str/int/float/bool/None only."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return int(value) if isinstance(value, Decimal) and value == value.to_integral_value() else str(value)


def table_metadata(rows: list[dict], columns: list[tuple[str, str]]) -> MetadataValue:
    """Rows (dicts from `Table.to_pylist()`) as a table in the UI."""
    return MetadataValue.table(records=[TableRecord({k: _scalar(v) for k, v in r.items()}) for r in rows],
                               schema=TableSchema(columns=[TableColumn(n, t) for n, t in columns]))
