"""Orders as the caller asks for them and as the venue reports them, with their fills.

An order price of ``None`` on an attached algo leg (``sl_order_price``/``tp_order_price``)
means *market execution at trigger*; it is OKX's ``-1`` on the wire (the adapter
translates). Fees are negative when paid, as OKX reports them; ``pnl`` is the realised
PnL of the closing fills of an order, before fees.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import attrs

from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.records import OrderRecord
from qwentrade.domain.venue.enums import (
    OrderState,
    OrderType,
    PosSide,
    Side,
    TdMode,
    TriggerPriceType,
)
from qwentrade.domain.venue.fields import (
    _client_id,
    _dec,
    _dec_or_none,
    _non_negative,
    _optional_client_id,
    _positive_or_none,
    _tag,
    _utc,
)


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
            cl_ord_id=self.client_order_id,
            symbol=self.symbol,
            side=self.side.value,
            pos_side=self.pos_side.value,
            order_type=self.order_type.value,
            status=self.state.value,
            amount=self.size,
            filled_amount=self.filled_size,
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
