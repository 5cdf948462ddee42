"""`qwentrade db upgrade` on an empty database gives every column the original system's
design names, under that name, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from qwentrade.adapters.sql import head_revision, make_engine, upgrade

# The original design, section "六、数据库设计 / 6.1 核心数据表", table by table: its keys
# (主键) and its fields (字段), as it spells them.
ORIGINAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "klines_15m": (
        *("symbol", "time", "open", "high", "low", "close", "volume"),
        *("ema_9", "ema_21", "ema_55", "rsi_7", "macd_line", "signal_line", "histogram"),
        *("bb_upper", "bb_middle", "bb_lower", "atr_14", "obv", "obv_ema_9", "adx_14"),
        "bb_width",
    ),
    "klines_4h": (
        *("symbol", "time", "open", "high", "low", "close", "volume"),
        *("ema_9", "ema_21", "rsi_14", "macd_line", "signal_line", "histogram"),
        *("bb_upper", "bb_middle", "bb_lower"),
    ),
    "klines_1d": (
        *("symbol", "time", "open", "high", "low", "close", "volume"),
        *("ema_9", "ema_21", "rsi_14", "macd_line", "signal_line", "histogram"),
    ),
    "funding_rate": ("symbol", "time", "funding_rate", "next_funding_time"),
    "open_interest": ("symbol", "time", "open_interest", "change_24h", "change_percent_24h"),
    "market_sentiment": (
        *("symbol", "time", "long_short_ratio", "long_account_ratio", "short_account_ratio"),
    ),
    "order_book": ("symbol", "time", "bids", "asks"),
    "etf_flow": ("symbol", "date", "net_flow", "total_flow_in", "total_flow_out"),
    "fear_greed": ("time", "value", "classification"),
    "liquidation": (
        *("symbol", "time", "long_liquidation", "short_liquidation", "total_liquidation"),
    ),
    "order_history": (
        *("order_id", "symbol", "side", "order_type", "amount", "price", "filled_amount"),
        *("status", "cl_ord_id", "created_at", "updated_at"),
    ),
    "position_history": (
        *("pos_id", "u_time", "symbol", "pos_side", "pos_size", "avg_price"),
        *("unrealized_pnl", "margin", "leverage", "updated_at"),
    ),
    "market_signal": (
        *("id", "symbol", "signal_type", "score", "expire_at", "details", "created_at"),
    ),
    "pending_order": (
        *("id", "symbol", "side", "amount", "trigger_price", "stop_loss_trigger"),
        *("take_profit_trigger", "leverage", "signal_id", "status", "expire_at", "created_at"),
    ),
    "trading_relations": (
        *("id", "symbol", "side", "open_order_id", "close_order_id", "open_time"),
        *("close_time", "pnl", "pnl_percentage", "status"),
    ),
    "config": ("key", "value", "value_type", "description", "updated_at"),
    "system_status": ("key", "value", "updated_at"),
}
ORIGINAL_KEYS: dict[str, tuple[str, ...]] = {
    **{name: ("symbol", "time") for name in ("klines_15m", "klines_4h", "klines_1d")},
    **{
        name: ("symbol", "time")
        for name in ("funding_rate", "open_interest", "market_sentiment", "order_book")
    },
    "etf_flow": ("symbol", "date"),
    "fear_greed": ("time",),
    "liquidation": ("symbol", "time"),
    "order_history": ("order_id",),
    "position_history": ("pos_id", "u_time"),
    "market_signal": ("id",),
    "pending_order": ("id",),
    "trading_relations": ("id",),
    "config": ("key",),
    "system_status": ("key",),
}
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def upgraded(request, tmp_path):
    """An empty database after `qwentrade db upgrade` (the same ``upgrade`` call)."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    else:
        engine = request.getfixturevalue("postgres_schemas").engine("qtorig")
    assert upgrade(engine) == head_revision()
    yield engine
    engine.dispose()


def test_every_original_column_exists_under_its_original_name(upgraded):
    inspector = sa.inspect(upgraded)
    missing = {
        table: sorted(set(names) - {c["name"] for c in inspector.get_columns(table)})
        for table, names in ORIGINAL_COLUMNS.items()
    }
    assert {table: names for table, names in missing.items() if names} == {}


def test_every_original_table_has_the_original_key(upgraded):
    inspector = sa.inspect(upgraded)
    keys = {
        table: tuple(inspector.get_pk_constraint(table)["constrained_columns"])
        for table in ORIGINAL_KEYS
    }
    assert {t: sorted(k) for t, k in keys.items()} == {
        t: sorted(k) for t, k in ORIGINAL_KEYS.items()
    }


def test_the_original_ids_are_assigned_by_the_database(upgraded):
    with upgraded.begin() as connection:
        for name in ("a", "b"):
            connection.execute(
                sa.text(
                    "INSERT INTO trading_relations (client_order_id, symbol, side, status, "
                    "created_at, updated_at) VALUES (:c, 'BTC-USDT-SWAP', 'LONG', 'CLOSED', "
                    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"c": f"qt{name}"},
            )
        ids = connection.execute(
            sa.text("SELECT id FROM trading_relations ORDER BY client_order_id")
        ).scalars()
        assert list(ids) == [1, 2]
