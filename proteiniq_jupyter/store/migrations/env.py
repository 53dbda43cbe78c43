"""Alembic environment: runs on the connection the store hands it."""

from __future__ import annotations

from alembic import context

from proteiniq_jupyter.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("migrations run through proteiniq_jupyter.store.database.migrate()")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
