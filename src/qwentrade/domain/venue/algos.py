"""Standalone TP/SL algo orders: the request and the venue's report of one.

An order price of ``None`` on a leg (``sl_order_price``/``tp_order_price``) means *market
execution at trigger*; it is OKX's ``-1`` on the wire (the adapter translates).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import attrs

from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.venue.enums import (
    AlgoLeg,
    AlgoState,
    AlgoType,
    PosSide,
    Side,
    TdMode,
    TriggerPriceType,
)
from qwentrade.domain.venue.fields import (
    _dec_or_none,
    _optional_client_id,
    _positive_or_none,
    _tag,
    _utc,
    _utc_or_none,
)


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
