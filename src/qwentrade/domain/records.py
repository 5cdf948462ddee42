"""Row value objects: what the system stores about orders, positions, signals, pending
orders, intents, trading relations and component status, plus the per-symbol statistics
and the query-argument checks every repository implementation shares.

The pending orders, intents, relations and leases are in ``trading_records.py``, the
checks in ``record_checks.py``; every name imports from here as before.

These mirror the database tables (order_history, position_history, market_signal, ...) in
domain types: prices and amounts are ``Decimal``, times are aware UTC ``datetime``s, and
enum-like fields hold the domain enums' NAMES (``LONG``, ``PENDING``, ``OUTCOME_UNKNOWN``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import attrs

from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.market import (
    BookSnapshot,
    EtfFlow,
    FearGreed,
    FundingRate,
    Liquidation,
    OpenInterest,
    Sentiment,
)
from qwentrade.domain.numbers import to_decimal
from qwentrade.domain.record_checks import (
    _decimal,
    _json_object,
    _one_of,
    _text,
    _utc,
    _utc_or_none,
    check_page,
    check_span,
    check_text,
)
from qwentrade.domain.trading_records import (
    CROSSINGS,
    INTENT_ACTIONS,
    INTENT_IDENTITY,
    INTENT_STATES,
    PENDING_STATES,
    RELATION_STATUSES,
    SIDES,
    UNRESOLVED_INTENT_STATES,
    IntentRecord,
    LeaseRecord,
    PendingOrderRecord,
    RelationRecord,
    check_intent_identity,
)

# the public names, those moved to trading_records.py and record_checks.py included
__all__ = [
    "COMPONENT_STATES",
    "CROSSINGS",
    "FULL_CLOSE_TYPES",
    "INTENT_ACTIONS",
    "INTENT_IDENTITY",
    "INTENT_STATES",
    "MARKET_KINDS",
    "PENDING_STATES",
    "RELATION_STATUSES",
    "SIDES",
    "SIGNAL_STATUSES",
    "SIGNAL_TYPES",
    "UNRESOLVED_INTENT_STATES",
    "IntentRecord",
    "LeaseRecord",
    "OrderRecord",
    "PendingOrderRecord",
    "PositionRecord",
    "RelationRecord",
    "SignalRecord",
    "StatusRecord",
    "check_intent_identity",
    "check_market_kind",
    "check_page",
    "check_span",
    "check_text",
    "market_symbol",
    "market_time",
]


@attrs.frozen
class OrderRecord:
    """One order as the exchange last reported it (table ``order_history``, key ``order_id``).

    ``cl_ord_id`` is its client order id (OKX ``clOrdId``). ``side`` is ``buy``/``sell``;
    ``pos_side`` is ``long``/``short``/``net``; ``status`` is OKX's order state (``live``,
    ``partially_filled``, ``filled``, ``canceled``, ``mmp_canceled``). ``amount`` and
    ``filled_amount`` are in contracts; ``fee`` is negative when paid, as OKX reports it;
    ``pnl`` is the realised PnL of a closing fill. ``created_at``/``updated_at`` are OKX's
    ``cTime``/``uTime``.
    """

    order_id: str
    cl_ord_id: str
    symbol: str
    side: str
    pos_side: str
    order_type: str
    status: str
    amount: Decimal
    filled_amount: Decimal
    price: Decimal | None
    avg_price: Decimal | None
    leverage: int
    fee: Decimal
    pnl: Decimal
    reduce_only: bool
    created_at: datetime = attrs.field(converter=_utc("created_at"))
    updated_at: datetime = attrs.field(converter=_utc("updated_at"))
    td_mode: str = "cross"
    source: str = ""


@attrs.frozen
class PositionRecord:
    """A closed (or partly closed) position (table ``position_history``, key pos_id + u_time).

    ``close_type`` follows OKX's ``type``: 1 partly closed, 2 fully closed, 3 liquidation,
    4 partial liquidation, 5 ADL. ``avg_price`` is the open average price. ``realized_pnl``
    includes fees and funding, ``pnl`` does not. ``created_at`` is OKX's ``cTime`` (column
    ``c_time``); ``updated_at`` its ``uTime`` (columns ``u_time`` and ``updated_at``).

    ``pos_size`` is what is left open after this update, in contracts: 0 after a full close
    (types 2, 3, 5), ``open_max_size - close_total_size`` after a partial one unless given.
    ``unrealized_pnl`` is 0 once nothing is open and None when unknown; ``margin`` (the
    margin still held) None when unknown.
    """

    pos_id: str
    symbol: str
    pos_side: str
    margin_mode: str
    leverage: int
    avg_price: Decimal
    close_avg_price: Decimal
    open_max_size: Decimal
    close_total_size: Decimal
    pnl: Decimal
    realized_pnl: Decimal
    fee: Decimal
    funding_fee: Decimal
    close_type: int
    created_at: datetime = attrs.field(converter=_utc("created_at"))
    updated_at: datetime = attrs.field(converter=_utc("updated_at"))
    pos_size: Decimal = attrs.field(converter=lambda v: to_decimal(v, "pos_size"))
    unrealized_pnl: Decimal | None = attrs.field(
        converter=lambda v: None if v is None else to_decimal(v, "unrealized_pnl")
    )
    margin: Decimal | None = attrs.field(
        default=None, converter=lambda v: None if v is None else to_decimal(v, "margin")
    )

    @pos_size.default
    def _left_open(self) -> Decimal:
        if self.close_type in FULL_CLOSE_TYPES:
            return Decimal(0)
        return max(self.open_max_size - self.close_total_size, Decimal(0))

    @unrealized_pnl.default
    def _unrealized(self) -> Decimal | None:
        return Decimal(0) if self.pos_size == 0 else None


FULL_CLOSE_TYPES = (2, 3, 5)  # OKX close types that leave nothing open


# -- signals -----------------------------------------------------------------------------

SIGNAL_TYPES = ("LONG", "SHORT")
SIGNAL_STATUSES = ("ACTIVE", "EXECUTED", "EXPIRED", "CANCELLED")


@attrs.frozen
class SignalRecord:
    """A detected signal (table ``market_signal``; one per symbol, candle time and type).

    ``time`` is the open time of the 15m candle it was detected on; ``price`` its close;
    ``score`` 0-30; ``expire_at`` when it stops being ACTIVE; ``details`` the detector's
    explanation (a JSON object: Decimals and datetimes become strings). ``id`` is assigned
    by the repository.
    """

    symbol: str = attrs.field(validator=_text("symbol"))
    time: datetime = attrs.field(converter=_utc("time"))
    signal_type: str = attrs.field(validator=_one_of("signal_type", SIGNAL_TYPES))
    score: float = attrs.field(converter=float)
    price: Decimal = attrs.field(converter=_decimal("price"))
    created_at: datetime = attrs.field(converter=_utc("created_at"))
    expire_at: datetime = attrs.field(converter=_utc("expire_at"))
    details: dict[str, Any] = attrs.field(factory=dict, converter=_json_object, hash=False)
    status: str = attrs.field(default="ACTIVE", validator=_one_of("status", SIGNAL_STATUSES))
    id: int | None = None


# -- system status -----------------------------------------------------------------------

COMPONENT_STATES = ("OK", "FAILING", "DISABLED", "IDLE")


@attrs.frozen
class StatusRecord:
    """One component's or job's health (table ``system_status``, key ``key``).

    ``key`` names the component or job and ``value`` is its state (OK, FAILING, DISABLED,
    IDLE), the original system's names. Counters only grow; ``consecutive_failures``
    resets on a success. ``rows`` counts the rows the job has written in total.
    """

    key: str
    value: str
    updated_at: datetime = attrs.field(converter=_utc("updated_at"))
    last_run_at: datetime | None = attrs.field(default=None, converter=_utc_or_none("last_run_at"))
    last_success_at: datetime | None = attrs.field(
        default=None, converter=_utc_or_none("last_success_at")
    )
    last_error_at: datetime | None = attrs.field(
        default=None, converter=_utc_or_none("last_error_at")
    )
    last_error: str = ""
    runs: int = 0
    successes: int = 0
    failures: int = 0
    consecutive_failures: int = 0
    rows: int = 0
    note: str = ""


# -- market series keys ------------------------------------------------------------------

MARKET_KINDS = (FundingRate, OpenInterest, Sentiment, BookSnapshot, EtfFlow, FearGreed, Liquidation)


def market_time(item: object) -> datetime:
    """The time a market item is filed under: its ``time``, or midnight UTC of an EtfFlow's
    ``date``."""
    if isinstance(item, EtfFlow):
        return datetime(item.date.year, item.date.month, item.date.day, tzinfo=UTC)
    return item.time  # type: ignore[attr-defined,no-any-return]


def market_symbol(item: object) -> str | None:
    """A market item's symbol (None for FearGreed, which is global)."""
    return None if isinstance(item, FearGreed) else item.symbol  # type: ignore[attr-defined]


def check_market_kind(kind: object) -> type:
    """``kind`` if it is one of the market value classes, else InvalidInput naming ``kind``."""
    if kind not in MARKET_KINDS:
        names = ", ".join(k.__name__ for k in MARKET_KINDS)
        raise InvalidInput("kind", f"{kind!r} is not a market series; use one of {names}")
    return kind  # type: ignore[return-value]
