"""Plain-Python domain logic. Nothing in this package imports Dagster."""
