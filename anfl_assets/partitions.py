"""Projects are Dagster dynamic partitions: every per-project asset is partitioned by them."""

from dagster import DynamicPartitionsDefinition

projects_partitions = DynamicPartitionsDefinition(name="projects")
