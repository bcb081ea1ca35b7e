"""The audit settings of a run, from their resource (Dagster side)."""

from bangfu.settings import AuditSettings
from resources import AuditSettingsResource


def settings(resource: AuditSettingsResource) -> AuditSettings:
    return resource.settings()
