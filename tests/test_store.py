"""The store itself: migrations match the schema the code queries, SQLite runs in
WAL mode at the documented default place, and PostgreSQL is reached by URL."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from proteiniq_jupyter.config import EngineConfig
from proteiniq_jupyter.engine import open_engine
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
