"""Deployment helpers: Dagster instance config (dagster.yaml), celery worker config and defs."""
