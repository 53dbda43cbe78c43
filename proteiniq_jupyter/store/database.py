"""Opening a database: SQLite in WAL mode by default, PostgreSQL by URL, and the
schema brought up to date with Alembic on open."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

MIGRATIONS = Path(__file__).with_name("migrations")


def sqlite_url(path: Path) -> str:
    return f"sqlite+pysqlite:///{path}"


def normalise_url(url: str) -> str:
    """Accept the plain ``postgresql://`` spelling and use psycopg 3 for it."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def create_db_engine(url: str, **kwargs: Any) -> Engine:
    url = normalise_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 60}, **kwargs)
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    # No pre-ping: it costs a round trip on every request (a tenth of a history
    # page's budget); a connection broken by a database restart fails one request
    # and is then replaced by the pool.
    return create_engine(url, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    """WAL so readers never wait for a writer; transactions that will write take the
    write lock up front (BEGIN IMMEDIATE), so two of them cannot both read a balance
    and then both spend it."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("piq_write", False)
        # Straight to the driver: nothing here needs SQLAlchemy's statement machinery,
        # which costs more than the BEGIN itself on every transaction.
        driver = conn.connection.driver_connection
        assert driver is not None  # an open connection always has its driver's
        driver.execute("BEGIN IMMEDIATE" if write else "BEGIN")


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (the newest by default)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect().execution_options(piq_write=True) as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        connection.commit()
