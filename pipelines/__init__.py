"""The Dagster code location of bangfu: `pipelines.definitions:defs`."""
