"""The engine's configuration: read from ``PIQ_*`` variables, written back for the
processes the engine starts, and set by the server extension's traits."""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path

import pytest
from traitlets.config import Config

from proteiniq_jupyter.config import VARIABLES, EngineConfig, parse_time_limit
from proteiniq_jupyter.execution.dask_worker import worker_config
from proteiniq_jupyter.jobs.service import ServiceConfig
from proteiniq_jupyter.server.app import ENGINE_SETTINGS, ProteinIQApp


def unlike_the_defaults(tmp_path: Path) -> EngineConfig:
    return EngineConfig(
        data_dir=tmp_path / "data",
        database_url="postgresql://db.example/piq",
        username="bob",
        email="bob@lab.example",
        workspace_id="ws_lab",
        starting_credits=0,
        max_attempts=5,
        max_concurrent_jobs=4,
        executor="detached",
        runs_jobs_of="everyone",
        dask_scheduler_address="tcp://scheduler.example:8786",
        dask_workers=6,
        dask_dashboard_address="127.0.0.1:8790",
        batch_concurrency=7,
        time_limits=(("esmfold", 900.0), ("sleep", 0.5)),
        lease_ttl_s=12.5,
        recovery_interval_s=0.25,
        extra_tools=("tests.helpers:Echo", "tests.helpers:Sleep"),
        preload_tools=("all",),
        pdb_url=None,
        max_upload_bytes=1234,
        admins=("root", "ada"),
    )


def test_every_setting_survives_the_environment(tmp_path: Path) -> None:
    config = unlike_the_defaults(tmp_path)
    defaults = EngineConfig(data_dir=Path("/"), database_url="", username="")
    assert all(getattr(config, f.name) != getattr(defaults, f.name) for f in fields(config))
    assert set(VARIABLES) == {f.name for f in fields(config)}
    assert EngineConfig.from_env(config.to_env()) == config


def test_the_defaults_survive_the_environment(tmp_path: Path) -> None:
    config = EngineConfig.from_env({"PIQ_DATA_DIR": str(tmp_path), "PIQ_USER": "carol"})
    assert config.database_url == f"sqlite+pysqlite:///{tmp_path / 'piq.sqlite'}"
    assert EngineConfig.from_env(config.to_env()) == config
    assert "PIQ_EMAIL" not in config.to_env()


def test_the_service_rules_default_to_the_services_own() -> None:
    config = EngineConfig.from_env({"PIQ_USER": "carol"})
    service = ServiceConfig()
    assert config.starting_credits == service.starting_credits == 500
    assert config.max_attempts == service.max_attempts == 3
    assert config.batch_concurrency == service.batch_concurrency == 3
    assert config.max_upload_bytes == service.max_upload_bytes == 50_000_000


def test_a_blank_variable_keeps_the_default(tmp_path: Path) -> None:
    blank = {variable.name: "" for variable in VARIABLES.values()}
    config = EngineConfig.from_env({**blank, "PIQ_DATA_DIR": str(tmp_path)})
    assert config.starting_credits == 500 and config.executor == "dask"
    assert config.email is None and config.dask_workers is None
    assert config.pdb_url is None  # blank is how fetching by PDB id is turned off


def test_given_settings_win_over_variables(tmp_path: Path) -> None:
    env = {"PIQ_STARTING_CREDITS": "10", "PIQ_USER": "carol"}
    config = EngineConfig.from_env(env, starting_credits=0, username=None, data_dir=tmp_path)
    assert config.starting_credits == 0
    assert config.username == "carol"
    assert config.database_url == f"sqlite+pysqlite:///{tmp_path / 'piq.sqlite'}"
    elsewhere = EngineConfig.from_env({"PIQ_DATABASE_URL": "postgresql://x/y"}, data_dir=tmp_path)
    assert elsewhere.database_url == "postgresql://x/y"


@pytest.mark.parametrize(
    ("variable", "text", "message"),
    [
        ("PIQ_STARTING_CREDITS", "many", "PIQ_STARTING_CREDITS must be a whole number, got 'many'"),
        ("PIQ_MAX_CONCURRENT_JOBS", "2.5", "PIQ_MAX_CONCURRENT_JOBS must be a whole number"),
        ("PIQ_LEASE_TTL", "long", "PIQ_LEASE_TTL must be a number, got 'long'"),
        ("PIQ_TIME_LIMITS", "esmfold=9,vina", "tool=seconds pairs separated by commas, got 'vina'"),
        ("PIQ_TIME_LIMITS", "=9", "got '=9'"),
    ],
)
def test_a_malformed_variable_is_named(variable: str, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EngineConfig.from_env({variable: text})


def test_a_time_limit_is_tool_equals_seconds() -> None:
    assert parse_time_limit(" esmfold = 600") == ("esmfold", 600.0)
    for malformed in ("esmfold", "=600", "esmfold=soon"):
        with pytest.raises(ValueError):
            parse_time_limit(malformed)


def test_the_extensions_traits_set_the_engine_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in VARIABLES.values():
        monkeypatch.delenv(variable.name, raising=False)
    monkeypatch.setenv("PIQ_USER", "carol")
    monkeypatch.setenv("PIQ_DASK_SCHEDULER_ADDRESS", "tcp://scheduler.example:8786")
    traits = {
        "data_dir": str(tmp_path),
        "email": "",  # empty: the environment's (none) stands
        "workspace": "ws_lab",
        "starting_credits": 0,
        "executor": "inprocess",
        "dask_workers": 0,
        "time_limits": {"esmfold": 900},
        "max_upload_bytes": 10,
    }
    app = ProteinIQApp(config=Config({"ProteinIQApp": traits}))
    config = app.engine_config()
    assert config.data_dir == tmp_path
    assert config.database_url == f"sqlite+pysqlite:///{tmp_path / 'piq.sqlite'}"
    assert config.username == "carol"
    assert config.email is None
    assert config.workspace_id == "ws_lab"
    assert config.starting_credits == 0
    assert config.executor == "inprocess"
    assert config.dask_workers is None
    assert config.dask_scheduler_address == "tcp://scheduler.example:8786"
    assert config.time_limits == (("esmfold", 900.0),)
    assert config.max_upload_bytes == 10
    assert {setting for setting, _ in ENGINE_SETTINGS.values()} <= set(VARIABLES)


def test_settings_the_extension_leaves_at_their_defaults_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in VARIABLES.values():
        monkeypatch.delenv(variable.name, raising=False)
    monkeypatch.setenv("PIQ_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PIQ_STARTING_CREDITS", "7")
    monkeypatch.setenv("PIQ_EXECUTOR", "inprocess")
    monkeypatch.setenv("PIQ_MAX_ATTEMPTS", "5")
    monkeypatch.setenv("PIQ_BATCH_CONCURRENCY", "2")
    monkeypatch.setenv("PIQ_MAX_UPLOAD_BYTES", "1000")
    config = ProteinIQApp().engine_config()
    assert (config.starting_credits, config.executor, config.max_attempts) == (7, "inprocess", 5)
    assert (config.batch_concurrency, config.max_upload_bytes) == (2, 1000)
    # A trait set to its default value in a configuration file still wins.
    configured = ProteinIQApp(config=Config({"ProteinIQApp": {"starting_credits": 500}}))
    assert configured.engine_config().starting_credits == 500


def test_a_worker_keeps_its_own_database_and_data_folder(tmp_path: Path) -> None:
    """What a worker's own environment says of where the database and the job
    files are wins over what the engine sent; everything else is the engine's."""
    sent = unlike_the_defaults(tmp_path)
    own = {"PIQ_DATABASE_URL": "postgresql://db.worker/piq", "PIQ_DATA_DIR": "/srv/piq"}
    used = worker_config(sent, own)
    assert (used.database_url, used.data_dir) == ("postgresql://db.worker/piq", Path("/srv/piq"))
    assert replace(used, database_url=sent.database_url, data_dir=sent.data_dir) == sent
    assert worker_config(sent, {}) == sent
    # The default database lies in the data folder, and moves with it.
    default = EngineConfig.from_env({"PIQ_DATA_DIR": str(tmp_path / "engine")})
    moved = worker_config(default, {"PIQ_DATA_DIR": str(tmp_path / "worker")})
    assert (
        moved.database_url
        == EngineConfig.from_env({"PIQ_DATA_DIR": str(tmp_path / "worker")}).database_url
    )
