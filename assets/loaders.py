"""Reading the lake for the later stages (Dagster side): the plain functions of bangfu.stages,
and the audit settings from their resource."""

from bangfu.settings import AuditSettings
from bangfu.stages import (  # noqa: F401 - re-exported for the asset modules and bench/
    ingest_status,
    ledger_frames,
    present_units,
    roster,
    sheets_present,
    standards,
)
from resources import AuditSettingsResource


def settings(resource: AuditSettingsResource) -> AuditSettings:
    return resource.settings()
