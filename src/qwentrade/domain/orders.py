"""Order intents, their client order ids, and the intent state table.

An :class:`OrderIntent` is written to the database BEFORE its request is sent. Its client
order id (OKX ``clOrdId``) is derived from the intent's identity alone
(:func:`derive_client_order_id`), so a retry, a restart or a second process computes the
same id and can look the order up instead of placing it twice. OKX only rejects a
duplicate ``clOrdId`` while the first order is live, so the exchange is no safety net: an
intent whose answer was lost is OUTCOME_UNKNOWN until a lookup by ``clOrdId`` settles it.

States and moves (:data:`INTENT_TRANSITIONS`)::

    NEW --send--> SENT            (persist SENT before the request leaves the process)
    NEW --abandon--> ABANDONED    (never sent: refused locally, or found NEW after a crash)
    SENT --acknowledge--> ACKNOWLEDGED     SENT --reject--> REJECTED
    SENT --answer_lost--> OUTCOME_UNKNOWN  (timeout, 5xx, connection reset after sending)
    OUTCOME_UNKNOWN --acknowledge--> ACKNOWLEDGED   (the lookup found the order)
    OUTCOME_UNKNOWN --reject--> REJECTED            (the venue reports it refused it)
    OUTCOME_UNKNOWN --not_found--> NOT_FOUND        (no order with this clOrdId)

ACKNOWLEDGED, REJECTED, NOT_FOUND and ABANDONED are final. Retrying after NOT_FOUND is a
new intent with a new key, decided by the application, never an automatic re-send.
"""

from __future__ import annotations

import base64
import enum
import hashlib
from datetime import datetime
from decimal import Decimal

import attrs

from qwentrade.domain.errors import InvalidInput, InvalidTransition
from qwentrade.domain.market import require_utc
from qwentrade.domain.numbers import to_decimal
from qwentrade.domain.position import Side

CLIENT_ORDER_ID_PREFIX = "qt"
CLIENT_ORDER_ID_LENGTH = 32  # OKX: 1-32 case-sensitive alphanumerics
MAX_KEY_LENGTH = 200
MAX_LEG_LENGTH = 8


class IntentAction(enum.Enum):
    """What an order does to a position; the first letter tags its client order id."""

    OPEN = "open"
    ADD = "add"
    REDUCE = "reduce"
    CLOSE = "close"
    STOP_LOSS = "stop_loss"
    TAKE_PROFIT = "take_profit"

    @property
    def reduce_only(self) -> bool:
        """True for the actions that may only shrink the position."""
        return self not in (IntentAction.OPEN, IntentAction.ADD)

    @property
    def is_algo(self) -> bool:
        """True for trigger (algo) orders: stop-loss and take-profit."""
        return self in (IntentAction.STOP_LOSS, IntentAction.TAKE_PROFIT)


_ACTION_TAGS = {
    IntentAction.OPEN: "o",
    IntentAction.ADD: "a",
    IntentAction.REDUCE: "r",
    IntentAction.CLOSE: "c",
    IntentAction.STOP_LOSS: "s",
    IntentAction.TAKE_PROFIT: "t",
}


class IntentState(enum.Enum):
    NEW = "new"
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    REJECTED = "rejected"
    OUTCOME_UNKNOWN = "outcome_unknown"
    NOT_FOUND = "not_found"
    ABANDONED = "abandoned"


_S = IntentState
INTENT_TRANSITIONS: dict[tuple[IntentState, str], IntentState] = {
    (_S.NEW, "send"): _S.SENT,
    (_S.NEW, "abandon"): _S.ABANDONED,
    (_S.SENT, "acknowledge"): _S.ACKNOWLEDGED,
    (_S.SENT, "reject"): _S.REJECTED,
    (_S.SENT, "answer_lost"): _S.OUTCOME_UNKNOWN,
    (_S.OUTCOME_UNKNOWN, "acknowledge"): _S.ACKNOWLEDGED,
    (_S.OUTCOME_UNKNOWN, "reject"): _S.REJECTED,
    (_S.OUTCOME_UNKNOWN, "not_found"): _S.NOT_FOUND,
}
TERMINAL_INTENT_STATES = frozenset({_S.ACKNOWLEDGED, _S.REJECTED, _S.NOT_FOUND, _S.ABANDONED})
INTENT_ACTIONS = tuple(sorted({action for _, action in INTENT_TRANSITIONS}))


def _positive(field: str):
    def convert(value: object) -> Decimal:
        number = to_decimal(value, field)
        if number <= 0:
            raise InvalidInput(field, f"must be positive, got {number}")
        return number

    return convert


def _positive_or_none(field: str):
    convert = _positive(field)
    return lambda value: None if value is None else convert(value)


@attrs.frozen
class OrderIntent:
    """The decision to place one order, recorded before the request is sent.

    ``key`` is the caller's idempotency key: unique per intent and stable across retries
    (e.g. ``pending-42-trigger`` or a uuid stored with the decision). ``side`` is the
    POSITION side (LONG/SHORT); :attr:`order_side` gives buy/sell. ``size`` is in contracts
    (already rounded to the lot), ``price`` None for a market order, ``trigger_price`` only
    (and always) for stop-loss and take-profit. ``order_id`` is the venue's id once known.
    """

    key: str
    symbol: str
    action: IntentAction
    side: Side
    size: Decimal = attrs.field(converter=_positive("size"))
    created_at: datetime = attrs.field(converter=lambda v: require_utc(v, "created_at"))
    price: Decimal | None = attrs.field(default=None, converter=_positive_or_none("price"))
    trigger_price: Decimal | None = attrs.field(
        default=None, converter=_positive_or_none("trigger_price")
    )
    state: IntentState = IntentState.NEW
    order_id: str | None = None
    error: str = ""

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.key, str) or not self.key or len(self.key) > MAX_KEY_LENGTH:
            raise InvalidInput("key", f"must be 1-{MAX_KEY_LENGTH} characters, got {self.key!r}")
        if not isinstance(self.symbol, str) or not self.symbol:
            raise InvalidInput("symbol", f"must be an instrument id, got {self.symbol!r}")
        if not isinstance(self.action, IntentAction):
            raise InvalidInput("action", f"expected an IntentAction, got {self.action!r}")
        if not isinstance(self.side, Side):
            raise InvalidInput("side", f"expected Side.LONG or Side.SHORT, got {self.side!r}")
        if self.action.is_algo and self.trigger_price is None:
            raise InvalidInput(
                "trigger_price", f"a {self.action.value} intent needs its trigger price"
            )
        if not self.action.is_algo and self.trigger_price is not None:
            raise InvalidInput(
                "trigger_price",
                f"only stop-loss and take-profit intents have one, not {self.action.value}",
            )

    @property
    def order_side(self) -> str:
        """OKX ``side``: buy to open/add a LONG or to shrink a SHORT, sell otherwise."""
        opening = not self.action.reduce_only
        return "buy" if opening == (self.side is Side.LONG) else "sell"

    @property
    def reduce_only(self) -> bool:
        return self.action.reduce_only

    @property
    def client_order_id(self) -> str:
        """The ``clOrdId`` of this intent's order; see :func:`derive_client_order_id`."""
        return derive_client_order_id(self)

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_INTENT_STATES

    def apply(self, action: str, order_id: str | None = None, error: str = "") -> OrderIntent:
        """The intent after ``action`` (see the module's table); refused moves raise.

        ``order_id`` records the venue's id (acknowledge); ``error`` the venue's code and
        message (reject) or what was lost (answer_lost).
        """
        if action not in INTENT_ACTIONS:
            raise InvalidInput("action", f"{action!r} is not one of {', '.join(INTENT_ACTIONS)}")
        target = INTENT_TRANSITIONS.get((self.state, action))
        if target is None:
            raise InvalidTransition(
                f"cannot {action.replace('_', ' ')} intent {self.key!r} "
                f"({self.client_order_id}): it is {self.state.name}"
            )
        return attrs.evolve(
            self,
            state=target,
            order_id=order_id if order_id is not None else self.order_id,
            error=error or self.error,
        )


def derive_client_order_id(intent: OrderIntent, leg: str = "") -> str:
    """OKX-valid client order id (32 alphanumerics) derived from the intent's identity.

    The identity is (key, symbol, action, side) plus ``leg``; size, price, times and state
    are payload and do not enter, so the id survives a database round trip ("1.0" vs "1")
    and every retry. ``leg`` (up to 8 alphanumerics) names a second order of the same
    intent, e.g. ``sl``/``tp1`` for attached algo orders. Layout: ``qt`` + action letter +
    29 characters of the base32 SHA-256 of the identity (145 bits: collisions are not a
    practical concern).
    """
    if not isinstance(leg, str) or len(leg) > MAX_LEG_LENGTH or (leg and not leg.isalnum()):
        raise InvalidInput("leg", f"must be up to {MAX_LEG_LENGTH} alphanumerics, got {leg!r}")
    identity = "\x1f".join(
        ("v1", intent.key, intent.symbol, intent.action.value, intent.side.value, leg)
    )
    digest = hashlib.sha256(identity.encode("utf-8")).digest()
    body = base64.b32encode(digest).decode("ascii").lower()
    head = CLIENT_ORDER_ID_PREFIX + _ACTION_TAGS[intent.action]
    return head + body[: CLIENT_ORDER_ID_LENGTH - len(head)]


def is_valid_client_order_id(text: str) -> bool:
    """True for what OKX accepts as ``clOrdId``: 1-32 ASCII letters and digits."""
    return (
        isinstance(text, str)
        and 1 <= len(text) <= CLIENT_ORDER_ID_LENGTH
        and text.isascii()
        and text.isalnum()
    )
