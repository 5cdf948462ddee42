"""the original system's column names

Every column the original design names exists under that name; a renamed column keeps
its data, a new NOT NULL column is filled from the old ones, nothing is dropped on the
way up. Down is the exact shape of 0001 again (with the data of its columns).

Renames: market_sentiment long_ratio/short_ratio -> long_account_ratio/short_account_ratio;
etf_flow net_flow_usd -> net_flow; liquidation long_usd/short_usd -> long_liquidation/
short_liquidation; order_history client_order_id -> cl_ord_id, state -> status, size ->
amount, filled_size -> filled_amount, c_time -> created_at, u_time -> updated_at;
position_history open_avg_price -> avg_price; market_signal expires_at -> expire_at;
pending_order size -> amount, state -> status, stop_loss/take_profit ->
stop_loss_trigger/take_profit_trigger, expires_at -> expire_at; trading_relations
order_id -> open_order_id; system_status component -> key, state -> value.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 10:00:00
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

from qwentrade.adapters.sql.types import ExactDecimal, UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

FUNDING_INTERVAL = timedelta(hours=8)  # OKX settles perpetual funding at 00/08/16 UTC
FULL_CLOSES = (2, 3, 5)  # OKX close types that leave nothing open
OHLC = ("open", "high", "low", "close")
S64 = sa.String(length=64)


def _rename(batch, old: str, new: str, kind: sa.types.TypeEngine) -> None:
    # existing_type only where it is a plain type: batch mode cannot take a TypeDecorator
    # (it reflects the table and keeps the type it finds)
    plain = not isinstance(kind, sa.types.TypeDecorator)
    batch.alter_column(old, new_column_name=new, existing_type=kind if plain else None)


def _renames(table: str, pairs: list[tuple[str, str, sa.types.TypeEngine]], up: bool) -> None:
    with op.batch_alter_table(table) as batch:
        for old, new, kind in pairs:
            if up:
                _rename(batch, old, new, kind)
            else:
                _rename(batch, new, old, kind)


def _is_postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


# -- upgrade --------------------------------------------------------------------------------

SENTIMENT = [
    ("long_ratio", "long_account_ratio", sa.Double()),
    ("short_ratio", "short_account_ratio", sa.Double()),
]
ORDERS = [
    ("client_order_id", "cl_ord_id", S64),
    ("state", "status", sa.String(length=32)),
    ("size", "amount", ExactDecimal()),
    ("filled_size", "filled_amount", ExactDecimal()),
    ("c_time", "created_at", UtcDateTime()),
    ("u_time", "updated_at", UtcDateTime()),
]
ORDER_INDEXES_0001 = {
    "ix_order_history_c_time": ["c_time"],
    "ix_order_history_client_order_id": ["client_order_id"],
    "ix_order_history_symbol_c_time": ["symbol", "c_time"],
    "ix_order_history_u_time": ["u_time"],
}
ORDER_INDEXES_0002 = {
    "ix_order_history_created_at": ["created_at"],
    "ix_order_history_cl_ord_id": ["cl_ord_id"],
    "ix_order_history_symbol_created_at": ["symbol", "created_at"],
    "ix_order_history_updated_at": ["updated_at"],
}
PENDING = [
    ("size", "amount", ExactDecimal()),
    ("state", "status", sa.String(length=16)),
    ("stop_loss", "stop_loss_trigger", ExactDecimal()),
    ("take_profit", "take_profit_trigger", ExactDecimal()),
    ("expires_at", "expire_at", UtcDateTime()),
]
STATUS = [
    ("component", "key", sa.String(length=100)),
    ("state", "value", sa.String(length=16)),
]
RELATION_COLUMNS = {
    "close_order_id": S64,
    "open_time": UtcDateTime(),
    "close_time": UtcDateTime(),
    "pnl": ExactDecimal(),
    "pnl_percentage": ExactDecimal(),
}


def upgrade() -> None:
    _upgrade_market()
    _upgrade_orders()
    _upgrade_positions()
    _upgrade_signals_and_pending()
    _upgrade_relations()
    _renames("system_status", STATUS, up=True)


def _upgrade_market() -> None:
    with op.batch_alter_table("funding_rate") as batch:
        batch.add_column(sa.Column("next_funding_time", UtcDateTime(), nullable=True))
    _fill_next_funding_time()

    with op.batch_alter_table("open_interest") as batch:
        batch.add_column(sa.Column("open_interest", sa.Double(), nullable=True))
        batch.add_column(sa.Column("change_24h", sa.Double(), nullable=True))
        batch.add_column(sa.Column("change_percent_24h", sa.Double(), nullable=True))
        for name in OHLC:
            batch.alter_column(name, existing_type=sa.Double(), nullable=True)
    op.execute("UPDATE open_interest SET open_interest = close")
    _fill_open_interest_changes()
    with op.batch_alter_table("open_interest") as batch:
        batch.alter_column("open_interest", existing_type=sa.Double(), nullable=False)

    _renames("market_sentiment", SENTIMENT, up=True)

    with op.batch_alter_table("etf_flow") as batch:
        _rename(batch, "net_flow_usd", "net_flow", sa.Double())
        batch.add_column(sa.Column("total_flow_in", sa.Double(), nullable=True))
        batch.add_column(sa.Column("total_flow_out", sa.Double(), nullable=True))

    with op.batch_alter_table("liquidation") as batch:
        _rename(batch, "long_usd", "long_liquidation", sa.Double())
        _rename(batch, "short_usd", "short_liquidation", sa.Double())
        batch.add_column(sa.Column("total_liquidation", sa.Double(), nullable=True))
    op.execute("UPDATE liquidation SET total_liquidation = long_liquidation + short_liquidation")
    with op.batch_alter_table("liquidation") as batch:
        batch.alter_column("total_liquidation", existing_type=sa.Double(), nullable=False)


def _next_settlement(time: datetime) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + ((time - epoch) // FUNDING_INTERVAL + 1) * FUNDING_INTERVAL


def _fill_next_funding_time() -> None:
    t = sa.table(
        "funding_rate",
        sa.column("symbol", sa.String()),
        sa.column("time", UtcDateTime()),
        sa.column("next_funding_time", UtcDateTime()),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(t.c.symbol, t.c.time)).all()
    if rows:
        statement = (
            sa.update(t)
            .where(t.c.symbol == sa.bindparam("k_symbol"), t.c.time == sa.bindparam("k_time"))
            .values(next_funding_time=sa.bindparam("next"))
        )
        bind.execute(
            statement,
            [{"k_symbol": s, "k_time": when, "next": _next_settlement(when)} for s, when in rows],
        )


def _fill_open_interest_changes() -> None:
    t = sa.table(
        "open_interest",
        sa.column("symbol", sa.String()),
        sa.column("time", UtcDateTime()),
        sa.column("open_interest", sa.Double()),
        sa.column("change_24h", sa.Double()),
        sa.column("change_percent_24h", sa.Double()),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(t.c.symbol, t.c.time, t.c.open_interest)).all()
    known = {(symbol, when): value for symbol, when, value in rows}
    changes = []
    for symbol, when, value in rows:
        before = known.get((symbol, when - timedelta(hours=24)))
        if before is None:
            continue
        percent = (value - before) / before * 100 if before else None
        changes.append({"k_symbol": symbol, "k_time": when, "c": value - before, "p": percent})
    if changes:
        statement = (
            sa.update(t)
            .where(t.c.symbol == sa.bindparam("k_symbol"), t.c.time == sa.bindparam("k_time"))
            .values(change_24h=sa.bindparam("c"), change_percent_24h=sa.bindparam("p"))
        )
        bind.execute(statement, changes)


def _upgrade_orders() -> None:
    for name in ORDER_INDEXES_0001:
        op.drop_index(name, table_name="order_history")
    _renames("order_history", ORDERS, up=True)
    for name, columns in ORDER_INDEXES_0002.items():
        op.create_index(name, "order_history", columns, unique=False)


def _upgrade_positions() -> None:
    with op.batch_alter_table("position_history") as batch:
        _rename(batch, "open_avg_price", "avg_price", ExactDecimal())
        batch.add_column(sa.Column("pos_size", ExactDecimal(), nullable=True))
        batch.add_column(sa.Column("unrealized_pnl", ExactDecimal(), nullable=True))
        batch.add_column(sa.Column("margin", ExactDecimal(), nullable=True))
        batch.add_column(sa.Column("updated_at", UtcDateTime(), nullable=True))
    op.execute("UPDATE position_history SET updated_at = u_time")
    t = sa.table(
        "position_history",
        sa.column("pos_id", sa.String()),
        sa.column("u_time", UtcDateTime()),
        sa.column("open_max_size", ExactDecimal()),
        sa.column("close_total_size", ExactDecimal()),
        sa.column("close_type", sa.Integer()),
        sa.column("pos_size", ExactDecimal()),
        sa.column("unrealized_pnl", ExactDecimal()),
    )
    bind = op.get_bind()
    query = sa.select(
        t.c.pos_id, t.c.u_time, t.c.open_max_size, t.c.close_total_size, t.c.close_type
    )
    values = []
    for pos_id, when, opened, closed, close_type in bind.execute(query):
        left = Decimal(0) if close_type in FULL_CLOSES else max(opened - closed, Decimal(0))
        unrealized = Decimal(0) if left == 0 else None
        values.append({"k_id": pos_id, "k_time": when, "size": left, "upnl": unrealized})
    if values:
        statement = (
            sa.update(t)
            .where(t.c.pos_id == sa.bindparam("k_id"), t.c.u_time == sa.bindparam("k_time"))
            .values(pos_size=sa.bindparam("size"), unrealized_pnl=sa.bindparam("upnl"))
        )
        bind.execute(statement, values)
    with op.batch_alter_table("position_history") as batch:
        batch.alter_column("pos_size", nullable=False)
        batch.alter_column("updated_at", nullable=False)


def _upgrade_signals_and_pending() -> None:
    op.drop_index("ix_market_signal_status_expires_at", table_name="market_signal")
    _renames("market_signal", [("expires_at", "expire_at", UtcDateTime())], up=True)
    op.create_index("ix_market_signal_status_expire_at", "market_signal", ["status", "expire_at"])

    op.drop_index("ix_pending_order_state_symbol", table_name="pending_order")
    with op.batch_alter_table("pending_order") as batch:
        for old, new, kind in PENDING:
            _rename(batch, old, new, kind)
        batch.add_column(sa.Column("signal_id", sa.Integer(), nullable=True))
    op.create_index("ix_pending_order_status_symbol", "pending_order", ["status", "symbol"])


def _upgrade_relations() -> None:
    with op.batch_alter_table("trading_relations") as batch:
        _rename(batch, "order_id", "open_order_id", S64)
        for name, kind in RELATION_COLUMNS.items():
            batch.add_column(sa.Column(name, kind, nullable=True))
        batch.add_column(sa.Column("id", sa.Integer(), nullable=True))
    # existing relations are numbered 1, 2, ... in the order they were created
    op.execute(
        "UPDATE trading_relations SET id = (SELECT COUNT(*) FROM trading_relations AS other "
        "WHERE other.created_at < trading_relations.created_at "
        "OR (other.created_at = trading_relations.created_at "
        "AND other.client_order_id <= trading_relations.client_order_id))"
    )
    with op.batch_alter_table("trading_relations") as batch:
        batch.drop_constraint("pk_trading_relations", type_="primary")
        batch.alter_column("id", existing_type=sa.Integer(), nullable=False)
        batch.create_primary_key("pk_trading_relations", ["id"])
        batch.create_unique_constraint("uq_trading_relations_client_order_id", ["client_order_id"])
    if _is_postgres():  # what SERIAL would have made, continuing after the numbered rows
        op.execute("CREATE SEQUENCE trading_relations_id_seq OWNED BY trading_relations.id")
        op.execute(
            "SELECT setval('trading_relations_id_seq', "
            "COALESCE((SELECT MAX(id) FROM trading_relations), 0) + 1, false)"
        )
        op.execute(
            "ALTER TABLE trading_relations ALTER COLUMN id "
            "SET DEFAULT nextval('trading_relations_id_seq')"
        )


# -- downgrade ------------------------------------------------------------------------------


def downgrade() -> None:
    _renames("system_status", STATUS, up=False)
    _downgrade_relations()
    _downgrade_signals_and_pending()
    _downgrade_positions()
    _downgrade_orders()
    _downgrade_market()


def _downgrade_relations() -> None:
    with op.batch_alter_table("trading_relations") as batch:
        batch.drop_constraint("uq_trading_relations_client_order_id", type_="unique")
        batch.drop_constraint("pk_trading_relations", type_="primary")
        batch.create_primary_key("pk_trading_relations", ["client_order_id"])
    with op.batch_alter_table("trading_relations") as batch:
        batch.drop_column("id")  # on PostgreSQL its sequence goes with it (OWNED BY)
        for name in RELATION_COLUMNS:
            batch.drop_column(name)
        _rename(batch, "open_order_id", "order_id", S64)


def _downgrade_signals_and_pending() -> None:
    op.drop_index("ix_pending_order_status_symbol", table_name="pending_order")
    with op.batch_alter_table("pending_order") as batch:
        batch.drop_column("signal_id")
        for old, new, kind in PENDING:
            _rename(batch, new, old, kind)
    op.create_index("ix_pending_order_state_symbol", "pending_order", ["state", "symbol"])

    op.drop_index("ix_market_signal_status_expire_at", table_name="market_signal")
    _renames("market_signal", [("expires_at", "expire_at", UtcDateTime())], up=False)
    op.create_index("ix_market_signal_status_expires_at", "market_signal", ["status", "expires_at"])


def _downgrade_positions() -> None:
    with op.batch_alter_table("position_history") as batch:
        for name in ("pos_size", "unrealized_pnl", "margin", "updated_at"):
            batch.drop_column(name)
        _rename(batch, "avg_price", "open_avg_price", ExactDecimal())


def _downgrade_orders() -> None:
    for name in ORDER_INDEXES_0002:
        op.drop_index(name, table_name="order_history")
    _renames("order_history", ORDERS, up=False)
    for name, columns in ORDER_INDEXES_0001.items():
        op.create_index(name, "order_history", columns, unique=False)


def _downgrade_market() -> None:
    with op.batch_alter_table("liquidation") as batch:
        batch.drop_column("total_liquidation")
        _rename(batch, "long_liquidation", "long_usd", sa.Double())
        _rename(batch, "short_liquidation", "short_usd", sa.Double())

    with op.batch_alter_table("etf_flow") as batch:
        batch.drop_column("total_flow_in")
        batch.drop_column("total_flow_out")
        _rename(batch, "net_flow", "net_flow_usd", sa.Double())

    _renames("market_sentiment", SENTIMENT, up=False)

    # 0001 needs an OHLC candle: a bare total stands for a flat one
    for name in OHLC:
        op.execute(f"UPDATE open_interest SET {name} = open_interest WHERE {name} IS NULL")
    with op.batch_alter_table("open_interest") as batch:
        for name in OHLC:
            batch.alter_column(name, existing_type=sa.Double(), nullable=False)
        for name in ("open_interest", "change_24h", "change_percent_24h"):
            batch.drop_column(name)

    with op.batch_alter_table("funding_rate") as batch:
        batch.drop_column("next_funding_time")
