"""Row values of trading: pending trigger orders, order intents, trading relations and
trading leases, as stored, with their conversions from and to the domain's
:class:`~qwentrade.domain.pending.PendingOrder` and
:class:`~qwentrade.domain.orders.OrderIntent` (importable from ``records.py`` too).

Enum-like fields hold the domain enums' NAMES (``LONG``, ``PENDING``, ``OUTCOME_UNKNOWN``).
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

import attrs

from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.orders import (
    TERMINAL_INTENT_STATES,
    IntentAction,
    IntentState,
    OrderIntent,
)
from qwentrade.domain.pending import Crossing, PendingOrder, PendingState
from qwentrade.domain.position import Side
from qwentrade.domain.record_checks import (
    _decimal,
    _decimal_or_none,
    _one_of,
    _text,
    _utc,
    _utc_or_none,
)

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
