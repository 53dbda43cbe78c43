"""The store itself: migrations match the schema the code queries, SQLite runs in
WAL mode at the documented default place, and PostgreSQL is reached by URL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert, inspect, select, text

from proteiniq_jupyter.config import EngineConfig
from proteiniq_jupyter.engine import open_engine
from proteiniq_jupyter.store import tables as t
from proteiniq_jupyter.store.database import create_db_engine, migrate, normalise_url
from proteiniq_jupyter.store.sql_store import SqlStore
from proteiniq_jupyter.store.tables import metadata


def test_migrations_build_exactly_the_declared_schema(store):
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    indexes = {ix["name"] for ix in inspect(store.engine).get_indexes("jobs")}
    assert {"ix_jobs_team", "ix_jobs_tool", "ix_jobs_status", "ix_jobs_batch"} <= indexes


def test_migrating_twice_is_harmless(database_url):
    engine = create_db_engine(database_url)
    migrate(engine)
    migrate(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0008"
    engine.dispose()


def test_sqlite_default_is_wal_under_the_jupyter_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter-data"))
    config = EngineConfig.from_env({"PIQ_USER": "alice"})
    expected = tmp_path / "jupyter-data" / "proteiniq" / "piq.sqlite"
    assert config.database_url == f"sqlite+pysqlite:///{expected}"
    engine = open_engine(config)
    try:
        actor = engine.actor()
        assert actor.user.username == "alice"
        assert expected.is_file()
        with engine.store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert Path(config.files_dir) == expected.parent / "jobs"
    finally:
        engine.close()


def test_postgres_url_spellings():
    assert normalise_url("postgresql://u@h:5432/db").startswith("postgresql+psycopg://")
    assert normalise_url("postgres://u@h/db").startswith("postgresql+psycopg://")
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"


def test_backend_reported(store):
    assert store.backend in ("sqlite", "postgresql")
    reopened = SqlStore(store.engine, run_migrations=False)
    with reopened.read() as tx:
        assert tx.ledger_balance("nobody") == 0


def test_the_history_sort_columns_are_filled_for_jobs_made_before_them(database_url):
    """Jobs stored before the history could be sorted get their submitter's name,
    the credits their row shows and their duration when the store is upgraded."""
    engine = create_db_engine(database_url)
    migrate(engine, "0007")
    at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    common = {
        "workspace_id": "ws_1",
        "submitter_id": "usr_1",
        "tool": "echo",
        "status": "COMPLETED",
        "visibility": "private",
        "inputs": [],
        "settings": {},
        "progress": 1.0,
        "estimated_credits": 10,
        "attempts": 1,
        "created_at": at,
        "updated_at": at,
    }
    with engine.begin() as conn:
        conn.execute(insert(t.workspaces).values(id="ws_1", name="Lab", plan="free", created_at=at))
        conn.execute(insert(t.users).values(id="usr_1", username="ada", created_at=at))
        rows = [
            {
                **common,
                "id": "job_ran",
                "name": "ran",
                "credits_charged": 12,
                "started_at": at,
                "finished_at": at + timedelta(seconds=90),
            },
            {
                **common,
                "id": "job_waits",
                "name": "waits",
                "status": "PENDING",
                "credits_charged": 0,
                "started_at": None,
                "finished_at": None,
            },
        ]
        conn.execute(insert(t.jobs), rows)  # the columns the schema had then
    migrate(engine)
    with engine.connect() as conn:
        query = select(
            t.jobs.c.id, t.jobs.c.submitter_name, t.jobs.c.credits_shown, t.jobs.c.duration_s
        ).order_by(t.jobs.c.id)
        stored = [tuple(r) for r in conn.execute(query)]
    engine.dispose()
    assert stored == [("job_ran", "ada", 12, 90.0), ("job_waits", "ada", 10, None)]
