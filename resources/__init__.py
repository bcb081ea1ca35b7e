"""Dagster resources: the landing folder, the Parquet lake, the warehouse and the audit settings."""

from resources.core import (
    AuditSettingsResource,
    DataResource,
    LandingResource,
    WarehouseResource,
    settings_config,
)

__all__ = [
    "AuditSettingsResource",
    "DataResource",
    "LandingResource",
    "WarehouseResource",
    "settings_config",
]
