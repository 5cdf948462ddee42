"""Row value objects: what the system stores about orders, positions, signals, pending
orders, intents, trading relations and component status, plus the per-symbol statistics
and the query-argument checks every repository implementation shares.

These mirror the database tables (order_history, position_history, market_signal, ...) in
domain types: prices and amounts are ``Decimal``, times are aware UTC ``datetime``s, and
enum-like fields hold the domain enums' NAMES (``LONG``, ``PENDING``, ``OUTCOME_UNKNOWN``).
"""

from __future__ import annotations

import enum
import json
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
    require_utc,
)
from qwentrade.domain.numbers import to_decimal
from qwentrade.domain.orders import (
    TERMINAL_INTENT_STATES,
    IntentAction,
    IntentState,
    OrderIntent,
)
from qwentrade.domain.pending import Crossing, PendingOrder, PendingState
from qwentrade.domain.position import Side


def _utc(field: str):
    return lambda value: require_utc(value, field)


def _utc_or_none(field: str):
    return lambda value: None if value is None else require_utc(value, field)


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


# -- validation helpers ------------------------------------------------------------------


def _one_of(field: str, allowed: tuple[str, ...]):
    def check(_instance: object, _attribute: object, value: object) -> None:
        if value not in allowed:
            raise InvalidInput(field, f"{value!r} is not one of {', '.join(allowed)}")

    return check


def _decimal(field: str):
    return lambda value: to_decimal(value, field)


def _decimal_or_none(field: str):
    return lambda value: None if value is None else to_decimal(value, field)


def _text(field: str):
    def check(_instance: object, _attribute: object, value: object) -> None:
        if not isinstance(value, str) or not value.strip():
            raise InvalidInput(field, f"must be a non-empty string, got {value!r}")

    return check


def _json_object(value: object) -> dict[str, Any]:
    """A JSON-normal copy (what a database gives back), or InvalidInput naming ``details``."""
    try:
        normal = json.loads(json.dumps(value, default=_json_default, allow_nan=False))
    except (TypeError, ValueError) as e:
        raise InvalidInput("details", f"must be JSON-serialisable: {e}") from None
    if not isinstance(normal, dict):
        raise InvalidInput("details", f"must be a JSON object, got {type(value).__name__}")
    return normal


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return require_utc(value, "details").isoformat()
    if isinstance(value, enum.Enum):
        return value.name
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


# -- query arguments (shared by every repository implementation) --------------------------


def check_span(
    start: datetime | None, end: datetime | None
) -> tuple[datetime | None, datetime | None]:
    """``(start, end)`` as aware UTC (None kept); naive times raise naming the field."""
    start = None if start is None else require_utc(start, "start")
    end = None if end is None else require_utc(end, "end")
    if start is not None and end is not None and end < start:
        raise InvalidInput("end", f"{end.isoformat()} is before start {start.isoformat()}")
    return start, end


def check_page(limit: int | None, offset: int) -> tuple[int | None, int]:
    """``(limit, offset)`` checked: limit None (all) or >= 0, offset >= 0."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise InvalidInput("limit", f"must be a non-negative integer or None, got {limit!r}")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidInput("offset", f"must be a non-negative integer, got {offset!r}")
    return limit, offset


def check_text(value: object, field: str) -> str:
    """``value`` as a non-empty string, or InvalidInput naming ``field``."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(field, f"must be a non-empty string, got {value!r}")
    return value


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


# -- pending orders ----------------------------------------------------------------------

SIDES = ("LONG", "SHORT")
PENDING_STATES = tuple(state.name for state in PendingState)
CROSSINGS = tuple(crossing.name for crossing in Crossing)
_PENDING_ENUMS: dict[str, type[enum.Enum]] = {
    "side": Side,
    "crossing": Crossing,
    "status": PendingState,
}


@attrs.frozen
class PendingOrderRecord:
    """A pending trigger order as stored (table ``pending_order``, key ``id``).

    Enum fields hold the domain enums' NAMES (``LONG``, ``UP``, ``PENDING``): ``status`` is
    PENDING, TRIGGERED, CANCELLED or EXPIRED. ``amount`` is the margin in USDT (the
    position opened holds ``amount x leverage / (price x ct_val)`` contracts);
    ``stop_loss_trigger``/``take_profit_trigger`` are the protection prices attached when it
    triggers; ``signal_id`` the ``market_signal`` row that caused it (None if placed by
    hand). :meth:`from_pending` and :meth:`to_pending` convert from and to
    :class:`~qwentrade.domain.pending.PendingOrder`.
    """

    id: str = attrs.field(validator=_text("id"))
    symbol: str = attrs.field(validator=_text("symbol"))
    side: str = attrs.field(validator=_one_of("side", SIDES))
    trigger_price: Decimal = attrs.field(converter=_decimal("trigger_price"))
    crossing: str = attrs.field(validator=_one_of("crossing", CROSSINGS))
    amount: Decimal = attrs.field(converter=_decimal("amount"))
    leverage: int
    created_at: datetime = attrs.field(converter=_utc("created_at"))
    expire_at: datetime = attrs.field(converter=_utc("expire_at"))
    updated_at: datetime = attrs.field(converter=_utc("updated_at"))
    stop_loss_trigger: Decimal | None = attrs.field(
        default=None, converter=_decimal_or_none("stop_loss_trigger")
    )
    take_profit_trigger: Decimal | None = attrs.field(
        default=None, converter=_decimal_or_none("take_profit_trigger")
    )
    signal_id: int | None = None
    status: str = attrs.field(default="PENDING", validator=_one_of("status", PENDING_STATES))
    closed_at: datetime | None = attrs.field(default=None, converter=_utc_or_none("closed_at"))
    fill_price: Decimal | None = attrs.field(default=None, converter=_decimal_or_none("fill_price"))
    reason: str = ""

    @classmethod
    def from_pending(cls, order: PendingOrder, updated_at: datetime) -> PendingOrderRecord:
        """The record of a domain pending order, stamped ``updated_at``.

        Both carry the same field names; only the enums become their names here.
        """
        values = attrs.asdict(order, recurse=False)
        for name in _PENDING_ENUMS:
            values[name] = values[name].name
        return cls(**values, updated_at=updated_at)

    def to_pending(self) -> PendingOrder:
        """The domain pending order this record stores (everything but ``updated_at``)."""
        values = attrs.asdict(self, recurse=False, filter=lambda a, _: a.name != "updated_at")
        for name, kind in _PENDING_ENUMS.items():
            values[name] = kind[values[name]]
        return PendingOrder(**values)


# -- order intents -----------------------------------------------------------------------

INTENT_STATES = tuple(state.name for state in IntentState)
INTENT_ACTIONS = tuple(action.name for action in IntentAction)
UNRESOLVED_INTENT_STATES = tuple(
    state.name for state in IntentState if state not in TERMINAL_INTENT_STATES
)


@attrs.frozen
class IntentRecord:
    """An order intent as stored (table ``order_intent``, key ``intent_id``).

    ``intent_id`` is the intent's idempotency key and ``client_order_id`` the ``clOrdId``
    derived from it (unique). ``order_id`` is the venue's id once known; ``error`` the
    venue's code and message or what was lost. Enum fields hold the enums' NAMES.
    """

    intent_id: str = attrs.field(validator=_text("intent_id"))
    client_order_id: str = attrs.field(validator=_text("client_order_id"))
    symbol: str = attrs.field(validator=_text("symbol"))
    action: str = attrs.field(validator=_one_of("action", INTENT_ACTIONS))
    side: str = attrs.field(validator=_one_of("side", SIDES))
    size: Decimal = attrs.field(converter=_decimal("size"))
    created_at: datetime = attrs.field(converter=_utc("created_at"))
    updated_at: datetime = attrs.field(converter=_utc("updated_at"))
    price: Decimal | None = attrs.field(default=None, converter=_decimal_or_none("price"))
    trigger_price: Decimal | None = attrs.field(
        default=None, converter=_decimal_or_none("trigger_price")
    )
    state: str = attrs.field(default="NEW", validator=_one_of("state", INTENT_STATES))
    order_id: str | None = None
    error: str = ""

    @classmethod
    def from_intent(cls, intent: OrderIntent, updated_at: datetime) -> IntentRecord:
        """The record of a domain intent (with its derived client order id)."""
        return cls(
            intent_id=intent.key,
            client_order_id=intent.client_order_id,
            symbol=intent.symbol,
            action=intent.action.name,
            side=intent.side.name,
            size=intent.size,
            created_at=intent.created_at,
            updated_at=updated_at,
            price=intent.price,
            trigger_price=intent.trigger_price,
            state=intent.state.name,
            order_id=intent.order_id,
            error=intent.error,
        )

    def to_intent(self) -> OrderIntent:
        """The domain intent this record stores."""
        return OrderIntent(
            key=self.intent_id,
            symbol=self.symbol,
            action=IntentAction[self.action],
            side=Side[self.side],
            size=self.size,
            created_at=self.created_at,
            price=self.price,
            trigger_price=self.trigger_price,
            state=IntentState[self.state],
            order_id=self.order_id,
            error=self.error,
        )


INTENT_IDENTITY = ("client_order_id", "symbol", "action", "side")


def check_intent_identity(stored: IntentRecord, given: IntentRecord) -> None:
    """Refuse ``given`` when its key is stored for a different order (``InvalidInput``).

    An intent's identity (client order id, symbol, action, side) never changes: a retry
    with the same key must describe the same order.
    """
    for name in INTENT_IDENTITY:
        if getattr(stored, name) != getattr(given, name):
            raise InvalidInput(
                "intent_id",
                f"{given.intent_id!r} is already stored with {name} {getattr(stored, name)!r}, "
                f"not {getattr(given, name)!r}: a different order needs a different key",
            )


# -- trading relations -------------------------------------------------------------------

RELATION_STATUSES = ("OPEN", "CLOSED", "FAILED")


@attrs.frozen
class RelationRecord:
    """What belongs to one entry order (table ``trading_relations``, key ``id``, one row per
    ``client_order_id``).

    Links the entry order (its ``clOrdId``, the venue's ``open_order_id``, the position's
    ``pos_id`` once known) to the stop-loss and take-profit algo orders that protect it,
    and to the signal and/or pending order that caused it. ``status`` is CLOSED once the
    position it opened or added to is closed; then ``close_order_id`` is the order that
    closed it, ``close_time`` when, ``pnl`` the realised PnL (USDT) and ``pnl_percentage``
    that PnL in percent of the margin (5 = +5 %). ``open_time`` is when the entry filled.
    ``id`` is assigned by the repository. ``close_reason`` says why it ended (``manual``,
    ``external``, ``stop_loss``...). FAILED: the entry never opened a position (refused by
    the venue, or provably never placed); at most one relation per symbol is OPEN.
    """

    client_order_id: str = attrs.field(validator=_text("client_order_id"))
    symbol: str = attrs.field(validator=_text("symbol"))
    side: str = attrs.field(validator=_one_of("side", SIDES))
    created_at: datetime = attrs.field(converter=_utc("created_at"))
    updated_at: datetime = attrs.field(converter=_utc("updated_at"))
    open_order_id: str | None = None
    close_order_id: str | None = None
    open_time: datetime | None = attrs.field(default=None, converter=_utc_or_none("open_time"))
    close_time: datetime | None = attrs.field(default=None, converter=_utc_or_none("close_time"))
    pnl: Decimal | None = attrs.field(default=None, converter=_decimal_or_none("pnl"))
    pnl_percentage: Decimal | None = attrs.field(
        default=None, converter=_decimal_or_none("pnl_percentage")
    )
    pos_id: str | None = None
    stop_loss_algo_id: str | None = None
    stop_loss_price: Decimal | None = attrs.field(
        default=None, converter=_decimal_or_none("stop_loss_price")
    )
    take_profit_algo_id: str | None = None
    take_profit_price: Decimal | None = attrs.field(
        default=None, converter=_decimal_or_none("take_profit_price")
    )
    signal_id: int | None = None
    pending_order_id: str | None = None
    status: str = attrs.field(default="OPEN", validator=_one_of("status", RELATION_STATUSES))
    id: int | None = None
    close_reason: str = ""


@attrs.frozen
class LeaseRecord:
    """Which service instance trades ``symbol`` (table ``trading_lease``): ``owner`` holds
    it from ``acquired_at`` until ``expires_at`` unless it renews it first."""

    symbol: str = attrs.field(validator=_text("symbol"))
    owner: str = attrs.field(validator=_text("owner"))
    acquired_at: datetime = attrs.field(converter=_utc("acquired_at"))
    expires_at: datetime = attrs.field(converter=_utc("expires_at"))

    def held_by(self, owner: str, now: datetime) -> bool:
        """True when ``owner`` holds the lease at ``now``."""
        return self.owner == owner and now < self.expires_at


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
