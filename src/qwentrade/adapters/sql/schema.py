"""The database schema as SQLAlchemy Core tables, with the original system's names.

Every column the original design names exists under that name with that meaning (a test
lists them per table); our richer columns stand beside them, one name per fact:

- ``funding_rate.next_funding_time``: the settlement after ``time`` (null when unknown).
- ``open_interest``: ``open_interest`` is the total (USD) at ``time``; ``change_24h`` and
  ``change_percent_24h`` compare it with the row 24 h earlier (null without one);
  ``open``/``high``/``low``/``close`` are the interval's OHLC when the source gives one.
- ``liquidation.total_liquidation`` = ``long_liquidation + short_liquidation`` (USD).
- ``order_history``: ``amount``/``filled_amount`` in contracts; ``status`` is OKX's order
  state (``live``, ``partially_filled``, ``filled``, ``canceled``, ``mmp_canceled``), kept
  as OKX spells it so rows compare with the venue; ``created_at``/``updated_at`` are OKX's
  ``cTime``/``uTime``.
- ``position_history`` (key ``pos_id`` + ``u_time``): one row per update OKX reports for a
  position. ``avg_price`` is the open average price; ``pos_size`` the size left (contracts)
  after that update, 0 after a full close (close types 2, 3, 5); ``unrealized_pnl`` 0 once
  fully closed, null when unknown; ``margin`` null when unknown. ``updated_at`` is the same
  fact as ``u_time`` (OKX's update time of that row, never the time we wrote it): the
  original names both and keys on ``u_time``, so both hold it.
- ``pending_order.status`` and ``side``, ``market_signal.signal_type`` and
  ``trading_relations.side``/``status`` use the original spellings (``PENDING``,
  ``TRIGGERED``, ``CANCELLED``, ``EXPIRED``, ``LONG``, ``SHORT``, ``OPEN``, ``CLOSED``).
- ``trading_relations``: ``id`` is the key (assigned on insert); ``client_order_id`` of
  the entry order stays unique; ``open_order_id``/``close_order_id`` are the venue's ids;
  at most one row per symbol is ``OPEN`` (a partial unique index: one position per
  symbol, even for two writers at once). ``trading_lease``: which service instance
  trades a symbol, until when.
- ``system_status``: ``key`` names the component or job, ``value`` its state (``OK``,
  ``FAILING``, ``DISABLED``, ``IDLE``); the run counters stand beside them.

Prices and amounts of orders and positions are :class:`ExactDecimal` (NUMERIC); candles,
indicators and market series are doubles; every time is :class:`UtcDateTime`. Alembic
migrations (``migrations/``) create exactly this; a test proves autogenerate finds no
difference.
"""

from __future__ import annotations

import sqlalchemy as sa

from qwentrade.adapters.sql.types import ExactDecimal, UtcDateTime
from qwentrade.domain.market import Timeframe
from qwentrade.domain.series import (
    OHLCV_COLUMNS,
    STORED_TIMEFRAMES,
    indicator_columns,
    require_stored_timeframe,
)

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = sa.MetaData(naming_convention=NAMING)

SYMBOL = 32
ID = 64


def _symbol() -> sa.Column:
    return sa.Column("symbol", sa.String(SYMBOL), primary_key=True)


def _time(name: str = "time", **kw) -> sa.Column:
    return sa.Column(name, UtcDateTime(), **kw)


def _kline_table(timeframe: Timeframe) -> sa.Table:
    return sa.Table(
        timeframe.table,
        metadata,
        _symbol(),
        _time(primary_key=True),
        *(sa.Column(name, sa.Double(), nullable=False) for name in OHLCV_COLUMNS),
        *(sa.Column(name, sa.Double()) for name in indicator_columns(timeframe)),
    )


KLINE_TABLES: dict[Timeframe, sa.Table] = {tf: _kline_table(tf) for tf in STORED_TIMEFRAMES}


def kline_table(timeframe: Timeframe | str) -> sa.Table:
    """The klines table of a stored timeframe."""
    return KLINE_TABLES[require_stored_timeframe(timeframe)]


funding_rate = sa.Table(
    "funding_rate",
    metadata,
    _symbol(),
    _time(primary_key=True),
    sa.Column("funding_rate", ExactDecimal(), nullable=False),
    sa.Column("realized_rate", ExactDecimal()),
    _time("next_funding_time"),
)

open_interest = sa.Table(
    "open_interest",
    metadata,
    _symbol(),
    _time(primary_key=True),
    sa.Column("open_interest", sa.Double(), nullable=False),
    sa.Column("change_24h", sa.Double()),
    sa.Column("change_percent_24h", sa.Double()),
    *(sa.Column(name, sa.Double()) for name in ("open", "high", "low", "close")),
)

market_sentiment = sa.Table(
    "market_sentiment",
    metadata,
    _symbol(),
    _time(primary_key=True),
    sa.Column("long_account_ratio", sa.Double(), nullable=False),
    sa.Column("short_account_ratio", sa.Double(), nullable=False),
    sa.Column("long_short_ratio", sa.Double(), nullable=False),
)

order_book = sa.Table(
    "order_book",
    metadata,
    _symbol(),
    _time(primary_key=True),
    sa.Column("bids", sa.JSON(), nullable=False),  # [[price, size], ...] as strings, best first
    sa.Column("asks", sa.JSON(), nullable=False),
)

etf_flow = sa.Table(
    "etf_flow",
    metadata,
    _symbol(),
    sa.Column("date", sa.Date(), primary_key=True),
    sa.Column("net_flow", sa.Double(), nullable=False),
    sa.Column("total_flow_in", sa.Double()),
    sa.Column("total_flow_out", sa.Double()),
    sa.Column("price_usd", sa.Double()),
)

fear_greed = sa.Table(
    "fear_greed",
    metadata,
    _time(primary_key=True),
    sa.Column("value", sa.Double(), nullable=False),
    sa.Column("classification", sa.String(32), nullable=False, server_default=""),
)

liquidation = sa.Table(
    "liquidation",
    metadata,
    _symbol(),
    _time(primary_key=True),
    sa.Column("long_liquidation", sa.Double(), nullable=False),
    sa.Column("short_liquidation", sa.Double(), nullable=False),
    sa.Column("total_liquidation", sa.Double(), nullable=False),
)

MARKET_TABLES = {
    t.name: t
    for t in (
        funding_rate,
        open_interest,
        market_sentiment,
        order_book,
        etf_flow,
        fear_greed,
        liquidation,
    )
}

order_history = sa.Table(
    "order_history",
    metadata,
    sa.Column("order_id", sa.String(ID), primary_key=True),
    sa.Column("cl_ord_id", sa.String(ID), nullable=False, index=True),
    sa.Column("symbol", sa.String(SYMBOL), nullable=False),
    sa.Column("side", sa.String(8), nullable=False),
    sa.Column("pos_side", sa.String(8), nullable=False),
    sa.Column("order_type", sa.String(32), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("amount", ExactDecimal(), nullable=False),
    sa.Column("filled_amount", ExactDecimal(), nullable=False),
    sa.Column("price", ExactDecimal()),
    sa.Column("avg_price", ExactDecimal()),
    sa.Column("leverage", sa.Integer(), nullable=False),
    sa.Column("fee", ExactDecimal(), nullable=False),
    sa.Column("pnl", ExactDecimal(), nullable=False),
    sa.Column("reduce_only", sa.Boolean(), nullable=False),
    sa.Column("td_mode", sa.String(16), nullable=False),
    sa.Column("source", sa.String(32), nullable=False),
    _time("created_at", nullable=False, index=True),
    _time("updated_at", nullable=False, index=True),
    sa.Index(None, "symbol", "created_at"),
)

position_history = sa.Table(
    "position_history",
    metadata,
    sa.Column("pos_id", sa.String(ID), primary_key=True),
    _time("u_time", primary_key=True),
    sa.Column("symbol", sa.String(SYMBOL), nullable=False),
    sa.Column("pos_side", sa.String(8), nullable=False),
    sa.Column("margin_mode", sa.String(16), nullable=False),
    sa.Column("leverage", sa.Integer(), nullable=False),
    sa.Column("pos_size", ExactDecimal(), nullable=False),
    sa.Column("avg_price", ExactDecimal(), nullable=False),
    sa.Column("unrealized_pnl", ExactDecimal()),
    sa.Column("margin", ExactDecimal()),
    sa.Column("close_avg_price", ExactDecimal(), nullable=False),
    sa.Column("open_max_size", ExactDecimal(), nullable=False),
    sa.Column("close_total_size", ExactDecimal(), nullable=False),
    sa.Column("pnl", ExactDecimal(), nullable=False),
    sa.Column("realized_pnl", ExactDecimal(), nullable=False),
    sa.Column("fee", ExactDecimal(), nullable=False),
    sa.Column("funding_fee", ExactDecimal(), nullable=False),
    sa.Column("close_type", sa.Integer(), nullable=False),
    _time("c_time", nullable=False),
    _time("updated_at", nullable=False),
    sa.Index(None, "u_time"),
    sa.Index(None, "symbol", "u_time"),
)

market_signal = sa.Table(
    "market_signal",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("symbol", sa.String(SYMBOL), nullable=False),
    _time(nullable=False),
    sa.Column("signal_type", sa.String(8), nullable=False),
    sa.Column("score", sa.Double(), nullable=False),
    sa.Column("price", ExactDecimal(), nullable=False),
    sa.Column("details", sa.JSON(), nullable=False),
    _time("created_at", nullable=False),
    _time("expire_at", nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.UniqueConstraint("symbol", "time", "signal_type"),
    sa.Index(None, "time"),
    sa.Index(None, "status", "expire_at"),
)

pending_order = sa.Table(
    "pending_order",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    sa.Column("symbol", sa.String(SYMBOL), nullable=False),
    sa.Column("side", sa.String(8), nullable=False),
    sa.Column("trigger_price", ExactDecimal(), nullable=False),
    sa.Column("crossing", sa.String(8), nullable=False),
    sa.Column("amount", ExactDecimal(), nullable=False),
    sa.Column("leverage", sa.Integer(), nullable=False),
    sa.Column("stop_loss_trigger", ExactDecimal()),
    sa.Column("take_profit_trigger", ExactDecimal()),
    sa.Column("signal_id", sa.Integer()),
    sa.Column("status", sa.String(16), nullable=False),
    _time("created_at", nullable=False, index=True),
    _time("expire_at", nullable=False),
    _time("updated_at", nullable=False),
    _time("closed_at"),
    sa.Column("fill_price", ExactDecimal()),
    sa.Column("reason", sa.Text(), nullable=False, server_default=""),
    sa.Index(None, "status", "symbol"),
)

order_intent = sa.Table(
    "order_intent",
    metadata,
    sa.Column("intent_id", sa.String(200), primary_key=True),
    sa.Column("client_order_id", sa.String(32), nullable=False, unique=True),
    sa.Column("symbol", sa.String(SYMBOL), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("side", sa.String(8), nullable=False),
    sa.Column("size", ExactDecimal(), nullable=False),
    sa.Column("price", ExactDecimal()),
    sa.Column("trigger_price", ExactDecimal()),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("order_id", sa.String(ID), index=True),
    sa.Column("error", sa.Text(), nullable=False, server_default=""),
    _time("created_at", nullable=False, index=True),
    _time("updated_at", nullable=False),
)

OPEN_RELATION_INDEX = "uq_trading_relations_open_symbol"

trading_relations = sa.Table(
    "trading_relations",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("client_order_id", sa.String(32), nullable=False, unique=True),
    sa.Column("symbol", sa.String(SYMBOL), nullable=False),
    sa.Column("side", sa.String(8), nullable=False),
    sa.Column("open_order_id", sa.String(ID)),
    sa.Column("close_order_id", sa.String(ID)),
    _time("open_time"),
    _time("close_time"),
    sa.Column("pnl", ExactDecimal()),
    sa.Column("pnl_percentage", ExactDecimal()),
    sa.Column("pos_id", sa.String(ID)),
    sa.Column("stop_loss_algo_id", sa.String(ID), index=True),
    sa.Column("stop_loss_price", ExactDecimal()),
    sa.Column("take_profit_algo_id", sa.String(ID), index=True),
    sa.Column("take_profit_price", ExactDecimal()),
    sa.Column("signal_id", sa.Integer()),
    sa.Column("pending_order_id", sa.String(ID)),
    sa.Column("status", sa.String(16), nullable=False),
    _time("created_at", nullable=False, index=True),
    _time("updated_at", nullable=False),
    sa.Column("close_reason", sa.Text(), nullable=False, server_default=""),
    sa.Index(None, "symbol", "side", "status"),
    # one position per symbol: at most one OPEN relation per symbol, whoever writes it
    sa.Index(
        OPEN_RELATION_INDEX,
        "symbol",
        unique=True,
        sqlite_where=sa.text("status = 'OPEN'"),
        postgresql_where=sa.text("status = 'OPEN'"),
    ),
)

# The trading lease: one row per symbol, held by one service instance (``owner``) until
# ``expires_at``; renewed while it trades, taken over by another only once it expired.
trading_lease = sa.Table(
    "trading_lease",
    metadata,
    sa.Column("symbol", sa.String(SYMBOL), primary_key=True),
    sa.Column("owner", sa.String(128), nullable=False),
    _time("acquired_at", nullable=False),
    _time("expires_at", nullable=False),
)

config = sa.Table(
    "config",
    metadata,
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("value", sa.Text(), nullable=False),
    sa.Column("value_type", sa.String(16), nullable=False),
    sa.Column("description", sa.Text(), nullable=False, server_default=""),
    _time("updated_at", nullable=False),
)

system_status = sa.Table(
    "system_status",
    metadata,
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("value", sa.String(16), nullable=False),
    _time("last_run_at"),
    _time("last_success_at"),
    _time("last_error_at"),
    sa.Column("last_error", sa.Text(), nullable=False, server_default=""),
    sa.Column("runs", sa.BigInteger(), nullable=False, server_default="0"),
    sa.Column("successes", sa.BigInteger(), nullable=False, server_default="0"),
    sa.Column("failures", sa.BigInteger(), nullable=False, server_default="0"),
    sa.Column("consecutive_failures", sa.BigInteger(), nullable=False, server_default="0"),
    sa.Column("rows", sa.BigInteger(), nullable=False, server_default="0"),
    sa.Column("note", sa.Text(), nullable=False, server_default=""),
    _time("updated_at", nullable=False),
)
