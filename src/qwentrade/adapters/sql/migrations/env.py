"""Alembic environment: runs on the connection handed over by ``adapters.sql.migrate``."""

from __future__ import annotations

from alembic import context

from qwentrade.adapters.sql.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run qwentrade migrations through qwentrade.adapters.sql.migrate "
        "(or `qwentrade db upgrade`), not the alembic command line"
    )

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
