"""A PostgreSQL schema of a test's own on the server named by PIQ_TEST_DATABASE_URL:
created empty, named in the URL the test gets, and dropped afterwards.

The drop waits for the schema's locks at most ``LOCK_WAIT``. A connection that
still holds them (a transaction the test's code left open) is named, ended, and
reported as the test's failure, instead of holding the run for ever."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.exc import OperationalError

from proteiniq_jupyter.store.database import normalise_url

LOCK_WAIT = "30s"

HOLDERS = text(
    """
    SELECT DISTINCT a.pid, a.application_name, a.state, left(a.query, 200) AS query
    FROM pg_locks l
    JOIN pg_class c ON c.oid = l.relation
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE n.nspname = :schema AND a.pid <> pg_backend_pid()
    """
)


@contextmanager
def postgres_schema(server_url: str) -> Iterator[str]:
    """The URL of a fresh schema on ``server_url``'s database, dropped on leaving."""
    schema = f"piq_test_{secrets.token_hex(6)}"
    admin = create_engine(normalise_url(server_url))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in server_url else "?"
    try:
        yield f"{server_url}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        try:
            with admin.begin() as conn:
                _drop(conn, schema)
        except OperationalError:
            with admin.begin() as conn:
                holders = conn.execute(HOLDERS, {"schema": schema}).all()
                for holder in holders:
                    conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": holder.pid})
            with admin.begin() as conn:
                _drop(conn, schema)
            raise AssertionError(
                f"connections still held the test's schema {LOCK_WAIT} after it ended "
                f"(ended now): {[tuple(h) for h in holders]}"
            ) from None
        finally:
            admin.dispose()


def _drop(conn: Connection, schema: str) -> None:
    conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_WAIT}'"))
    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
