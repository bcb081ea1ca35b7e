"""The Dagster resources: typed audit settings in the run config, one warehouse engine per run
(disposed of when the run ends), the warehouse URL through EnvVar."""

from __future__ import annotations

import dagster as dg
import pytest

from pipelines.definitions import warehouse_resource
from resources import AuditSettingsResource, WarehouseResource, settings_config
from warehouse.store import WAREHOUSE_URL_ENV, sqlite_url

seen: dict = {}


@dg.asset
def uses_settings(audit_settings: AuditSettingsResource) -> None:
    seen["settings"] = audit_settings.settings()


@dg.asset
def uses_warehouse(warehouse: WarehouseResource) -> None:
    wh = warehouse.get()
    seen["same"] = warehouse.get() is wh
    seen["warehouse"] = wh
    seen["engine"] = wh.engine


def test_settings_are_typed_run_config():
    overrides = {
        "relative_line_factor": 1.4,
        "duplicate_window_days": 10,
        "forbidden_vocab": ["工资", "奖金"],
        "severities": {"PAY_CASH": "中"},
        "cap_months_by_year": [[2019, "living", 11]],
    }
    config = settings_config(overrides)
    assert config["cap_months_by_year"] == {"2019": {"living": 11}}
    result = dg.materialize(
        [uses_settings],
        resources={"audit_settings": AuditSettingsResource()},
        run_config={"resources": {"audit_settings": {"config": config}}},
    )
    assert result.success
    s = seen["settings"]
    assert (s.relative_line_factor, s.duplicate_window_days) == (1.4, 10)
    assert s.forbidden_vocab == ("工资", "奖金") and s.severity("PAY_CASH") == "中"
    assert s.cap_months(2019, "living") == 11 and s.cap_months(2018, "living") == 12
    assert s.publicity_min_days == 5  # not given: the default


def test_settings_config_fields_are_the_settings_fields():
    import dataclasses

    from bangfu.settings import AuditSettings

    names = {f.name for f in dataclasses.fields(AuditSettings)}
    assert set(AuditSettingsResource.model_fields) == names
    assert AuditSettingsResource().settings() == AuditSettings()


@pytest.mark.parametrize(
    "bad",
    [{"no_such_threshold": 1}, {"severities": {"NO_SUCH_RULE": "高"}}, {"flat_share": 2}],
)
def test_bad_settings_fail_before_the_run(bad):
    with pytest.raises(ValueError):
        settings_config(bad)


def test_one_warehouse_engine_per_run_disposed_at_the_end(tmp_path, monkeypatch):
    monkeypatch.delenv(WAREHOUSE_URL_ENV, raising=False)
    resource = warehouse_resource(str(tmp_path))
    assert resource.url is None
    assert dg.materialize([uses_warehouse], resources={"warehouse": resource}).success
    assert seen["same"]
    assert seen["warehouse"].url == sqlite_url(tmp_path)
    assert (tmp_path / "warehouse.db").exists()  # tables created when first used
    assert seen["warehouse"]._engine is None  # the run's engine was disposed of at its end


def test_warehouse_url_comes_through_envvar(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    monkeypatch.setenv(WAREHOUSE_URL_ENV, url)
    resource = warehouse_resource(str(tmp_path / "data"))
    assert isinstance(resource.url, dg.EnvVar)  # the value is resolved at run time, never shown
    assert dg.materialize([uses_warehouse], resources={"warehouse": resource}).success
    assert seen["warehouse"].url == url
    assert (tmp_path / "elsewhere.db").exists() and not (tmp_path / "data").exists()


def test_launched_runs_execute_their_steps_in_the_run_process():
    """Runs the daemon or the UI launch use the in-process executor, as `bangfu run` does (not
    Dagster's default of a process per step). The celery code location's executor is tested by
    test_celery, which runs a job on celery workers."""
    from pipelines.definitions import defs
    from pipelines.jobs import JOBS

    assert JOBS
    for job in JOBS:
        assert defs.resolve_job_def(job.name).executor_def is dg.in_process_executor, job.name
