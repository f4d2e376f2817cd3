"""Dagster assets, one module per phase of the pipeline."""
