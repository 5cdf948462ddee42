"""one open position per symbol, close reasons, the trading lease

- ``trading_relations.close_reason`` (text, '' by default): why a relation ended.
- ``uq_trading_relations_open_symbol``: a partial unique index on ``symbol`` where
  ``status = 'OPEN'``, so two writers can never both record an open position of one
  symbol. Should an older database hold several OPEN rows of one symbol, all but the
  newest are marked CLOSED with the reason ``duplicate open relation closed by migration
  0003`` first (and logged), so the index can be built.
- ``trading_lease``: one row per symbol naming the service instance that trades it and
  until when.

Down drops the three again (the closed duplicates stay closed).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 12:40:00
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

from qwentrade.adapters.sql.types import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

log = logging.getLogger("qwentrade.migrations")
INDEX = "uq_trading_relations_open_symbol"
DUPLICATE_REASON = "duplicate open relation closed by migration 0003"
OPEN = sa.text("status = 'OPEN'")


def _close_duplicates() -> None:
    bind = op.get_bind()
    t = sa.table(
        "trading_relations",
        sa.column("id", sa.Integer()),
        sa.column("symbol", sa.String()),
        sa.column("status", sa.String()),
        sa.column("created_at", UtcDateTime()),
        sa.column("close_reason", sa.Text()),
    )
    rows = bind.execute(
        sa.select(t.c.id, t.c.symbol)
        .where(t.c.status == "OPEN")
        .order_by(t.c.symbol, t.c.created_at.desc(), t.c.id.desc())
    ).all()
    seen: set[str] = set()
    for row_id, symbol in rows:
        if symbol not in seen:
            seen.add(symbol)
            continue
        log.warning("migration 0003: relation %s of %s: %s", row_id, symbol, DUPLICATE_REASON)
        bind.execute(
            sa.update(t)
            .where(t.c.id == row_id)
            .values(status="CLOSED", close_reason=DUPLICATE_REASON)
        )


def upgrade() -> None:
    with op.batch_alter_table("trading_relations") as batch:
        batch.add_column(sa.Column("close_reason", sa.Text(), server_default="", nullable=False))
    _close_duplicates()
    op.create_index(
        INDEX,
        "trading_relations",
        ["symbol"],
        unique=True,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )
    op.create_table(
        "trading_lease",
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=False),
        sa.Column("acquired_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("symbol", name=op.f("pk_trading_lease")),
    )


def downgrade() -> None:
    op.drop_table("trading_lease")
    op.drop_index(INDEX, table_name="trading_relations")
    with op.batch_alter_table("trading_relations") as batch:
        batch.drop_column("close_reason")
