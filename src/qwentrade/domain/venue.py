"""Exchange-facing value objects: orders, algo (TP/SL) orders, positions, balances.

These are the domain's words for what an OKX-like venue accepts and reports. Amounts,
prices and sizes are ``Decimal``; sizes are in contracts; times are aware UTC
``datetime``s. Enum values are OKX's own spellings (``"buy"``, ``"net_mode"``, ...), so an
adapter maps them with ``Side(text)`` / ``side.value`` and nothing else.

Conventions worth knowing:

- An order price of ``None`` on an algo leg (``sl_order_price``/``tp_order_price``) means
  *market execution at trigger*; it is OKX's ``-1`` on the wire (the adapter translates).
- Fees are negative when paid, as OKX reports them; ``pnl`` is the realised PnL of the
  closing fills of an order, before fees.
- In net position mode a position's ``size`` is signed (positive long, negative short),
  as OKX's ``pos``; in long/short mode it is positive and ``pos_side`` gives the direction.

Named constructors from OKX payloads live in the adapters, not here.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

import attrs

from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.market import require_utc
from qwentrade.domain.numbers import to_decimal
from qwentrade.domain.records import OrderRecord

CLIENT_ORDER_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")
TAG = re.compile(r"^[A-Za-z0-9]{0,16}$")


class Side(enum.StrEnum):
    """Order side."""

    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class PosSide(enum.StrEnum):
    """Position side: ``net`` in net mode; ``long``/``short`` in long/short mode."""

    LONG = "long"
    SHORT = "short"
    NET = "net"


class OrderType(enum.StrEnum):
    """Order types as OKX names them (``ordType``)."""

    MARKET = "market"
    LIMIT = "limit"
    POST_ONLY = "post_only"
    IOC = "ioc"
    FOK = "fok"

    @property
    def needs_price(self) -> bool:
        return self is not OrderType.MARKET


class TdMode(enum.StrEnum):
    """Trade (margin) mode of an order or position."""

    CROSS = "cross"
    ISOLATED = "isolated"


class OrderState(enum.StrEnum):
    """OKX order states. ``mmp_canceled`` is never produced by the simulator."""

    LIVE = "live"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    MMP_CANCELED = "mmp_canceled"

    @property
    def is_open(self) -> bool:
        return self in (OrderState.LIVE, OrderState.PARTIALLY_FILLED)


# The order lifecycle: which state may follow which. A state may also repeat itself
# (partially_filled -> partially_filled on a further fill).
ORDER_TRANSITIONS: dict[OrderState, frozenset[OrderState]] = {
    OrderState.LIVE: frozenset(
        {
            OrderState.PARTIALLY_FILLED,
            OrderState.FILLED,
            OrderState.CANCELED,
            OrderState.MMP_CANCELED,
        }
    ),
    OrderState.PARTIALLY_FILLED: frozenset(
        {
            OrderState.PARTIALLY_FILLED,
            OrderState.FILLED,
            OrderState.CANCELED,
            OrderState.MMP_CANCELED,
        }
    ),
    OrderState.FILLED: frozenset(),
    OrderState.CANCELED: frozenset(),
    OrderState.MMP_CANCELED: frozenset(),
}


class AlgoState(enum.StrEnum):
    """OKX algo order states.

    ``live`` waits for its trigger; ``effective`` has triggered and sent its order;
    ``canceled``; ``order_failed`` triggered but its order was refused (e.g. no position
    left to reduce). ``pause`` and ``partially_effective`` exist on OKX and are accepted
    when parsing, but the simulator never produces them.
    """

    LIVE = "live"
    EFFECTIVE = "effective"
    CANCELED = "canceled"
    ORDER_FAILED = "order_failed"
    PAUSE = "pause"
    PARTIALLY_EFFECTIVE = "partially_effective"

    @property
    def is_open(self) -> bool:
        return self in (AlgoState.LIVE, AlgoState.PAUSE)


ALGO_TRANSITIONS: dict[AlgoState, frozenset[AlgoState]] = {
    AlgoState.LIVE: frozenset(
        {
            AlgoState.EFFECTIVE,
            AlgoState.CANCELED,
            AlgoState.ORDER_FAILED,
            AlgoState.PAUSE,
            AlgoState.PARTIALLY_EFFECTIVE,
        }
    ),
    AlgoState.PAUSE: frozenset({AlgoState.LIVE, AlgoState.CANCELED}),
    AlgoState.PARTIALLY_EFFECTIVE: frozenset({AlgoState.EFFECTIVE, AlgoState.CANCELED}),
    AlgoState.EFFECTIVE: frozenset(),
    AlgoState.CANCELED: frozenset(),
    AlgoState.ORDER_FAILED: frozenset(),
}


class AlgoType(enum.StrEnum):
    """Algo order types the system uses: one-leg ``conditional`` or two-leg ``oco``."""

    CONDITIONAL = "conditional"
    OCO = "oco"


class TriggerPriceType(enum.StrEnum):
    """Which price an algo leg watches (OKX ``slTriggerPxType``/``tpTriggerPxType``)."""

    LAST = "last"
    MARK = "mark"
    INDEX = "index"


class PositionMode(enum.StrEnum):
    """Account position mode (OKX ``posMode``)."""

    NET_MODE = "net_mode"
    LONG_SHORT_MODE = "long_short_mode"


class AlgoLeg(enum.StrEnum):
    """Which leg of an algo order fired (OKX ``actualSide``)."""

    STOP_LOSS = "sl"
    TAKE_PROFIT = "tp"


# -- field helpers -----------------------------------------------------------------------


def _dec(field: str) -> Callable[[object], Decimal]:
    return lambda value: to_decimal(value, field)


def _dec_or_none(field: str) -> Callable[[object], Decimal | None]:
    return lambda value: None if value is None else to_decimal(value, field)


def _utc(field: str) -> Callable[[datetime], datetime]:
    return lambda value: require_utc(value, field)


def _utc_or_none(field: str) -> Callable[[datetime | None], datetime | None]:
    return lambda value: None if value is None else require_utc(value, field)


def _positive_or_none(instance: object, attribute: attrs.Attribute, value: object) -> None:
    if value is not None and value <= 0:  # type: ignore[operator]
        raise InvalidInput(attribute.name, f"must be positive when given, got {value}")


def _non_negative(instance: object, attribute: attrs.Attribute, value: Decimal) -> None:
    if value < 0:
        raise InvalidInput(attribute.name, f"must not be negative, got {value}")


def check_client_order_id(value: str, field: str = "client_order_id") -> str:
    """Return ``value`` if it is 1-32 ASCII letters or digits (OKX ``clOrdId``), else raise."""
    if not isinstance(value, str) or not CLIENT_ORDER_ID.match(value):
        raise InvalidInput(
            field, f"{value!r} must be 1-32 letters or digits (A-Z, a-z, 0-9), case-sensitive"
        )
    return value


def _client_id(instance: object, attribute: attrs.Attribute, value: str) -> None:
    check_client_order_id(value, attribute.name)


def _optional_client_id(instance: object, attribute: attrs.Attribute, value: str) -> None:
    if value != "":
        check_client_order_id(value, attribute.name)


def _tag(instance: object, attribute: attrs.Attribute, value: str) -> None:
    if not isinstance(value, str) or not TAG.match(value):
        raise InvalidInput(
            attribute.name, f"{value!r} must be up to 16 letters or digits (OKX tag), or empty"
        )


# -- orders ------------------------------------------------------------------------------


@attrs.frozen
class AttachedAlgo:
    """One element of OKX ``attachAlgoOrds``: a TP and/or SL attached to an entry order.

    It becomes a live algo order only when its parent order fills. Trigger prices are
    required per leg; an order price of ``None`` executes at market (OKX ``-1``). ``size``
    splits take-profits (OKX ``sz``; a partial take-profit plan is several attached
    algos each with a size); ``None`` covers the whole filled size of the parent.
    """

    sl_trigger_price: Decimal | None = attrs.field(
        default=None, converter=_dec_or_none("sl_trigger_price"), validator=_positive_or_none
    )
    tp_trigger_price: Decimal | None = attrs.field(
        default=None, converter=_dec_or_none("tp_trigger_price"), validator=_positive_or_none
    )
    sl_order_price: Decimal | None = attrs.field(
        default=None, converter=_dec_or_none("sl_order_price"), validator=_positive_or_none
    )
    tp_order_price: Decimal | None = attrs.field(
        default=None, converter=_dec_or_none("tp_order_price"), validator=_positive_or_none
    )
    size: Decimal | None = attrs.field(
        default=None, converter=_dec_or_none("size"), validator=_positive_or_none
    )
    trigger_price_type: TriggerPriceType = attrs.field(
        default=TriggerPriceType.LAST, converter=TriggerPriceType
    )
    attach_algo_client_order_id: str = attrs.field(default="", validator=_optional_client_id)

    def __attrs_post_init__(self) -> None:
        if self.sl_trigger_price is None and self.tp_trigger_price is None:
            raise InvalidInput(
                "attached_algos", "give sl_trigger_price or tp_trigger_price (or both)"
            )
        if self.sl_order_price is not None and self.sl_trigger_price is None:
            raise InvalidInput("sl_order_price", "needs sl_trigger_price")
        if self.tp_order_price is not None and self.tp_trigger_price is None:
            raise InvalidInput("tp_order_price", "needs tp_trigger_price")


@attrs.frozen
class OrderRequest:
    """A new order as the caller asks for it.

    ``size`` is in contracts. ``price`` is required for every type but ``market`` and must
    be ``None`` for a market order. ``client_order_id`` is required (1-32 alphanumerics):
    it is how an order whose answer was lost is found again. In long/short mode give
    ``pos_side`` ``long``/``short`` (open long = buy+long, close long = sell+long);
    ``reduce_only`` is for net mode. ``tag`` is OKX's free order tag (up to 16
    alphanumerics, ``""`` for none); the venue echoes it on the order.
    """

    symbol: str
    side: Side = attrs.field(converter=Side)
    size: Decimal = attrs.field(converter=_dec("size"))
    client_order_id: str = attrs.field(validator=_client_id)
    order_type: OrderType = attrs.field(default=OrderType.MARKET, converter=OrderType)
    price: Decimal | None = attrs.field(
        default=None, converter=_dec_or_none("price"), validator=_positive_or_none
    )
    pos_side: PosSide = attrs.field(default=PosSide.NET, converter=PosSide)
    td_mode: TdMode = attrs.field(default=TdMode.CROSS, converter=TdMode)
    reduce_only: bool = False
    attached_algos: tuple[AttachedAlgo, ...] = attrs.field(default=(), converter=tuple)
    tag: str = attrs.field(default="", validator=_tag)

    def __attrs_post_init__(self) -> None:
        if not self.symbol:
            raise InvalidInput("symbol", "must not be empty, e.g. BTC-USDT-SWAP")
        if self.size <= 0:
            raise InvalidInput("size", f"must be a positive number of contracts, got {self.size}")
        if self.order_type.needs_price and self.price is None:
            raise InvalidInput("price", f"is required for a {self.order_type.value} order")
        if self.order_type is OrderType.MARKET and self.price is not None:
            raise InvalidInput("price", "must be None for a market order (use a limit order)")
        if self.attached_algos and self.reduce_only:
            raise InvalidInput(
                "attached_algos", "cannot be attached to a reduce-only order; attach to the entry"
            )
        for algo in self.attached_algos:
            if not isinstance(algo, AttachedAlgo):
                raise InvalidInput("attached_algos", f"expected AttachedAlgo, got {algo!r}")

    @property
    def stop_loss(self) -> Decimal | None:
        """The first attached stop-loss trigger price, if any."""
        return next((a.sl_trigger_price for a in self.attached_algos if a.sl_trigger_price), None)

    @property
    def take_profit(self) -> Decimal | None:
        """The first attached take-profit trigger price, if any."""
        return next((a.tp_trigger_price for a in self.attached_algos if a.tp_trigger_price), None)


@attrs.frozen
class Fill:
    """One execution of an order (OKX ``fillPx``/``fillSz``/``fillFee``/``tradeId``).

    ``fee`` is negative when paid; ``pnl`` is the realised PnL of this fill before fees.
    ``liquidity`` is ``maker`` or ``taker``.
    """

    trade_id: str
    order_id: str
    symbol: str
    side: Side = attrs.field(converter=Side)
    pos_side: PosSide = attrs.field(converter=PosSide)
    price: Decimal = attrs.field(converter=_dec("price"))
    size: Decimal = attrs.field(converter=_dec("size"))
    fee: Decimal = attrs.field(converter=_dec("fee"))
    pnl: Decimal = attrs.field(converter=_dec("pnl"))
    time: datetime = attrs.field(converter=_utc("time"))
    liquidity: str = "taker"


@attrs.frozen
class Order:
    """An order as the venue reports it.

    ``filled_size`` is cumulative (OKX ``accFillSz``); ``avg_price`` is ``None`` until
    something fills; ``attached_algo_ids`` are the algo ids created from
    ``attached_algos`` (present once the parent fills on the simulator). ``last_fill`` is
    the fill that produced this version of the order, when one did (OKX ``fill*`` fields
    on the WebSocket). ``source`` is OKX's ``source`` (e.g. an algo-triggered order).
    ``tag`` is the request's tag (``""`` when none was given).
    """

    order_id: str
    client_order_id: str
    symbol: str
    side: Side = attrs.field(converter=Side)
    pos_side: PosSide = attrs.field(converter=PosSide)
    order_type: OrderType = attrs.field(converter=OrderType)
    state: OrderState = attrs.field(converter=OrderState)
    size: Decimal = attrs.field(converter=_dec("size"))
    filled_size: Decimal = attrs.field(converter=_dec("filled_size"), validator=_non_negative)
    price: Decimal | None = attrs.field(converter=_dec_or_none("price"))
    avg_price: Decimal | None = attrs.field(converter=_dec_or_none("avg_price"))
    fee: Decimal = attrs.field(converter=_dec("fee"))
    pnl: Decimal = attrs.field(converter=_dec("pnl"))
    leverage: int
    reduce_only: bool
    td_mode: TdMode = attrs.field(converter=TdMode)
    created_at: datetime = attrs.field(converter=_utc("created_at"))
    updated_at: datetime = attrs.field(converter=_utc("updated_at"))
    attached_algos: tuple[AttachedAlgo, ...] = attrs.field(default=(), converter=tuple)
    attached_algo_ids: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    last_fill: Fill | None = None
    source: str = ""
    algo_id: str = ""
    tag: str = ""

    @property
    def is_open(self) -> bool:
        return self.state.is_open

    @property
    def remaining_size(self) -> Decimal:
        return self.size - self.filled_size

    def to_record(self) -> OrderRecord:
        """The ``order_history`` row of this order."""
        return OrderRecord(
            order_id=self.order_id,
            client_order_id=self.client_order_id,
            symbol=self.symbol,
            side=self.side.value,
            pos_side=self.pos_side.value,
            order_type=self.order_type.value,
            state=self.state.value,
            size=self.size,
            filled_size=self.filled_size,
            price=self.price,
            avg_price=self.avg_price,
            leverage=self.leverage,
            fee=self.fee,
            pnl=self.pnl,
            reduce_only=self.reduce_only,
            created_at=self.created_at,
            updated_at=self.updated_at,
            td_mode=self.td_mode.value,
            source=self.source,
        )


# -- algo orders -------------------------------------------------------------------------


def _check_algo_legs(
    algo_type: AlgoType, sl: Decimal | None, tp: Decimal | None, field: str
) -> None:
    if algo_type is AlgoType.OCO and (sl is None or tp is None):
        raise InvalidInput(field, "an oco algo needs both sl_trigger_price and tp_trigger_price")
    if algo_type is AlgoType.CONDITIONAL and (sl is None) == (tp is None):
        raise InvalidInput(
            field,
            "a conditional algo needs exactly one of sl_trigger_price or tp_trigger_price; "
            "use algo_type oco for both",
        )


@attrs.frozen
class AlgoRequest:
    """A standalone TP/SL algo order (OKX ``/trade/order-algo``).

    Give ``size`` (contracts) or ``close_fraction=1`` (close the whole position when it
    triggers; market execution only, and ``reduce_only`` must be true in net mode).
    ``conditional`` has exactly one leg, ``oco`` both. ``None`` order prices execute at
    market. ``side`` is the closing side: ``sell`` protects a long. ``tag`` is OKX's
    free order tag (up to 16 alphanumerics, ``""`` for none).
    """

    symbol: str
    side: Side = attrs.field(converter=Side)
    algo_type: AlgoType = attrs.field(converter=AlgoType)
    size: Decimal | None = attrs.field(
        default=None, converter=_dec_or_none("size"), validator=_positive_or_none
    )
    close_fraction: Decimal | None = attrs.field(
        default=None, converter=_dec_or_none("close_fraction")
    )
    sl_trigger_price: Decimal | None = attrs.field(
        default=None, converter=_dec_or_none("sl_trigger_price"), validator=_positive_or_none
    )
    sl_order_price: Decimal | None = attrs.field(
        default=None, converter=_dec_or_none("sl_order_price"), validator=_positive_or_none
    )
    tp_trigger_price: Decimal | None = attrs.field(
        default=None, converter=_dec_or_none("tp_trigger_price"), validator=_positive_or_none
    )
    tp_order_price: Decimal | None = attrs.field(
        default=None, converter=_dec_or_none("tp_order_price"), validator=_positive_or_none
    )
    pos_side: PosSide = attrs.field(default=PosSide.NET, converter=PosSide)
    td_mode: TdMode = attrs.field(default=TdMode.CROSS, converter=TdMode)
    trigger_price_type: TriggerPriceType = attrs.field(
        default=TriggerPriceType.LAST, converter=TriggerPriceType
    )
    reduce_only: bool = True
    algo_client_order_id: str = attrs.field(default="", validator=_optional_client_id)
    tag: str = attrs.field(default="", validator=_tag)

    def __attrs_post_init__(self) -> None:
        if not self.symbol:
            raise InvalidInput("symbol", "must not be empty, e.g. BTC-USDT-SWAP")
        if (self.size is None) == (self.close_fraction is None):
            raise InvalidInput("size", "give exactly one of size or close_fraction=1")
        if self.close_fraction is not None:
            if self.close_fraction != 1:
                raise InvalidInput(
                    "close_fraction",
                    f"only 1 (the whole position) is allowed, got {self.close_fraction}",
                )
            if self.sl_order_price is not None or self.tp_order_price is not None:
                raise InvalidInput(
                    "close_fraction", "closes at market only: leave the order prices None"
                )
        _check_algo_legs(self.algo_type, self.sl_trigger_price, self.tp_trigger_price, "algo_type")
        if self.sl_order_price is not None and self.sl_trigger_price is None:
            raise InvalidInput("sl_order_price", "needs sl_trigger_price")
        if self.tp_order_price is not None and self.tp_trigger_price is None:
            raise InvalidInput("tp_order_price", "needs tp_trigger_price")


@attrs.frozen
class AlgoOrder:
    """A TP/SL algo order as the venue reports it.

    ``size`` is ``None`` when ``close_fraction`` is 1 (whole position). ``attached_to``
    is the parent order id for an algo created from ``attachAlgoOrds``. Once triggered,
    ``triggered_leg`` says which leg fired and ``order_id`` is the order it sent.
    ``fail_code`` is OKX's ``failCode`` for ``order_failed``. ``tag`` is the request's
    tag (``""`` for none and for algos attached to an entry order).
    """

    algo_id: str
    algo_client_order_id: str
    symbol: str
    side: Side = attrs.field(converter=Side)
    pos_side: PosSide = attrs.field(converter=PosSide)
    td_mode: TdMode = attrs.field(converter=TdMode)
    algo_type: AlgoType = attrs.field(converter=AlgoType)
    state: AlgoState = attrs.field(converter=AlgoState)
    size: Decimal | None = attrs.field(converter=_dec_or_none("size"))
    close_fraction: Decimal | None = attrs.field(converter=_dec_or_none("close_fraction"))
    sl_trigger_price: Decimal | None = attrs.field(converter=_dec_or_none("sl_trigger_price"))
    sl_order_price: Decimal | None = attrs.field(converter=_dec_or_none("sl_order_price"))
    tp_trigger_price: Decimal | None = attrs.field(converter=_dec_or_none("tp_trigger_price"))
    tp_order_price: Decimal | None = attrs.field(converter=_dec_or_none("tp_order_price"))
    trigger_price_type: TriggerPriceType = attrs.field(converter=TriggerPriceType)
    reduce_only: bool
    leverage: int
    created_at: datetime = attrs.field(converter=_utc("created_at"))
    updated_at: datetime = attrs.field(converter=_utc("updated_at"))
    attached_to: str | None = None
    order_id: str = ""
    triggered_leg: AlgoLeg | None = None
    triggered_at: datetime | None = attrs.field(
        default=None, converter=_utc_or_none("triggered_at")
    )
    fail_code: str = ""
    tag: str = ""

    @property
    def is_open(self) -> bool:
        return self.state.is_open


# -- positions and balance ---------------------------------------------------------------


@attrs.frozen
class ExchangePosition:
    """An open (or just closed, ``size == 0``) position as the venue reports it.

    ``size`` is in contracts, signed in net mode (OKX ``pos``). ``unrealised_pnl`` is at
    ``mark_price``; ``realised_pnl`` is OKX's ``realizedPnl`` (closing PnL + fees + funding,
    so it is negative right after opening by the entry fee); ``fee`` and ``funding_fee`` are
    its parts. ``margin`` is the initial margin held (``imr`` in cross, ``margin`` in
    isolated). ``liquidation_price`` is ``None`` when there is none.
    """

    pos_id: str
    symbol: str
    pos_side: PosSide = attrs.field(converter=PosSide)
    size: Decimal = attrs.field(converter=_dec("size"))
    avg_price: Decimal | None = attrs.field(converter=_dec_or_none("avg_price"))
    mark_price: Decimal = attrs.field(converter=_dec("mark_price"))
    unrealised_pnl: Decimal = attrs.field(converter=_dec("unrealised_pnl"))
    realised_pnl: Decimal = attrs.field(converter=_dec("realised_pnl"))
    margin: Decimal = attrs.field(converter=_dec("margin"))
    leverage: int
    margin_mode: TdMode = attrs.field(converter=TdMode)
    liquidation_price: Decimal | None = attrs.field(converter=_dec_or_none("liquidation_price"))
    created_at: datetime = attrs.field(converter=_utc("created_at"))
    updated_at: datetime = attrs.field(converter=_utc("updated_at"))
    fee: Decimal = attrs.field(default=Decimal(0), converter=_dec("fee"))
    funding_fee: Decimal = attrs.field(default=Decimal(0), converter=_dec("funding_fee"))
    maintenance_margin: Decimal = attrs.field(
        default=Decimal(0), converter=_dec("maintenance_margin")
    )

    @property
    def contracts(self) -> Decimal:
        """Absolute size in contracts."""
        return abs(self.size)

    @property
    def direction(self) -> PosSide:
        """``long`` or ``short`` whatever the mode (``net`` only for an empty net position)."""
        if self.pos_side is not PosSide.NET:
            return self.pos_side
        if self.size > 0:
            return PosSide.LONG
        if self.size < 0:
            return PosSide.SHORT
        return PosSide.NET

    @property
    def is_open(self) -> bool:
        return self.size != 0


@attrs.frozen
class Balance:
    """The account's balance in one currency (USDT).

    ``equity = cash_balance + unrealised_pnl``; ``available`` is what new orders can use;
    ``frozen`` is the margin held by positions and open orders (OKX ``frozenBal``).
    """

    currency: str
    equity: Decimal = attrs.field(converter=_dec("equity"))
    cash_balance: Decimal = attrs.field(converter=_dec("cash_balance"))
    available: Decimal = attrs.field(converter=_dec("available"))
    frozen: Decimal = attrs.field(converter=_dec("frozen"))
    unrealised_pnl: Decimal = attrs.field(converter=_dec("unrealised_pnl"))
    updated_at: datetime = attrs.field(converter=_utc("updated_at"))


# -- private stream ----------------------------------------------------------------------


class StreamStatusKind(enum.StrEnum):
    """Connection events of a private stream."""

    CONNECTED = "connected"
    DISCONNECTED = "disconnected"


@attrs.frozen
class StreamStatus:
    """A private stream (re)connected or dropped; reconcile after every ``connected``."""

    kind: StreamStatusKind = attrs.field(converter=StreamStatusKind)
    time: datetime = attrs.field(converter=_utc("time"))
    reason: str = ""


#: What a private stream delivers, in order.
StreamEvent = Order | AlgoOrder | ExchangePosition | Balance | StreamStatus
