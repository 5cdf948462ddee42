"""OKX v5 account and order payloads <-> domain values (pure; okx-spec sections B and D).

Balance, positions, orders, algo orders and their attached algos, read from REST
objects and the private WebSocket's rows alike (``orders``, ``positions`` and
``orders-algo`` push the REST field set, plus the ``fill*`` fields on ``orders``): one
parser per fact. Also the request bodies built from domain requests
(``order_body(request)``) and the orders read back from placement acks. Field readers
and constants live in :mod:`.wire`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from qwentrade.adapters.okx.wire import (
    MARKET_PRICE,
    SETTLE,
    _dec,
    _dec_or_none,
    _flag,
    _int,
    _leg_price,
    _number,
    _text,
    _time,
    num,
)
from qwentrade.domain.market import from_ms
from qwentrade.domain.records import PositionRecord
from qwentrade.domain.venue import (
    CLIENT_ORDER_ID,
    AlgoLeg,
    AlgoOrder,
    AlgoRequest,
    AttachedAlgo,
    Balance,
    ExchangePosition,
    Fill,
    Order,
    OrderRequest,
    PosSide,
)

#: OKX order types outside our enum, read as the nearest one we know.
ORDER_TYPE_ALIASES = {
    "optimal_limit_ioc": "market",
    "mmp": "limit",
    "mmp_and_post_only": "post_only",
}


# -- account ---------------------------------------------------------------------------


def balance_from_okx(item: Mapping[str, Any], currency: str = SETTLE) -> Balance:
    """``/account/balance``: the ``details`` row of ``currency`` (zeros when absent)."""
    detail = next((d for d in item.get("details", []) if d.get("ccy") == currency), None)
    if detail is None:
        return Balance(currency, 0, 0, 0, 0, 0, _time(item, "uTime"))
    available = _text(detail, "availEq") or _text(detail, "availBal") or "0"
    return Balance(
        currency=currency,
        equity=_dec(detail, "eq"),
        cash_balance=_dec(detail, "cashBal"),
        available=Decimal(available),
        frozen=_dec(detail, "frozenBal"),
        unrealised_pnl=_dec(detail, "upl"),
        updated_at=from_ms(_text(detail, "uTime") or _text(item, "uTime") or "0"),
    )


def position_from_okx(item: Mapping[str, Any]) -> ExchangePosition:
    """An ``/account/positions`` row or a ``positions`` channel row (okx-spec C4).

    ``pos`` is signed in net mode; ``"0"`` is a closed position (size 0). The margin is
    ``imr`` in cross mode and ``margin`` in isolated mode; without ``markPx`` the mark is
    the ``last`` price.
    """
    isolated = _text(item, "mgnMode") == "isolated"
    return ExchangePosition(
        pos_id=_text(item, "posId"),
        symbol=_text(item, "instId"),
        pos_side=_text(item, "posSide") or "net",
        size=_dec(item, "pos"),
        avg_price=_dec_or_none(item, "avgPx"),
        mark_price=_dec_or_none(item, "markPx") or _dec(item, "last"),
        unrealised_pnl=_dec(item, "upl"),
        realised_pnl=_dec(item, "realizedPnl"),
        margin=_dec(item, "margin" if isolated else "imr"),
        leverage=_int(item, "lever"),
        margin_mode=_text(item, "mgnMode"),
        liquidation_price=_dec_or_none(item, "liqPx"),
        created_at=_time(item, "cTime"),
        updated_at=_time(item, "uTime", "cTime"),
        fee=_dec(item, "fee"),
        funding_fee=_dec(item, "fundingFee"),
        maintenance_margin=_dec(item, "mmr"),
    )


def position_record_from_okx(item: Mapping[str, Any]) -> PositionRecord:
    """An ``/account/positions-history`` row."""
    return PositionRecord(
        pos_id=_text(item, "posId"),
        symbol=_text(item, "instId"),
        pos_side=_text(item, "posSide") or "net",
        margin_mode=_text(item, "mgnMode"),
        leverage=_int(item, "lever"),
        avg_price=_dec(item, "openAvgPx"),
        close_avg_price=_dec(item, "closeAvgPx"),
        open_max_size=_dec(item, "openMaxPos"),
        close_total_size=_dec(item, "closeTotalPos"),
        pnl=_dec(item, "pnl"),
        realized_pnl=_dec(item, "realizedPnl"),
        fee=_dec(item, "fee"),
        funding_fee=_dec(item, "fundingFee"),
        close_type=_int(item, "type"),
        created_at=_time(item, "cTime"),
        updated_at=_time(item, "uTime", "cTime"),
    )


# -- orders ----------------------------------------------------------------------------


def _attached_body(algo: AttachedAlgo) -> dict[str, str]:
    body: dict[str, str] = {}
    if algo.attach_algo_client_order_id:
        body["attachAlgoClOrdId"] = algo.attach_algo_client_order_id
    kind = algo.trigger_price_type.value
    if algo.sl_trigger_price is not None:
        body["slTriggerPx"] = num(algo.sl_trigger_price)
        body["slOrdPx"] = MARKET_PRICE if algo.sl_order_price is None else num(algo.sl_order_price)
        body["slTriggerPxType"] = kind
    if algo.tp_trigger_price is not None:
        body["tpTriggerPx"] = num(algo.tp_trigger_price)
        body["tpOrdPx"] = MARKET_PRICE if algo.tp_order_price is None else num(algo.tp_order_price)
        body["tpTriggerPxType"] = kind
    if algo.size is not None:
        body["sz"] = num(algo.size)
    return body


def order_body(request: OrderRequest) -> dict[str, Any]:
    """The ``POST /trade/order`` body; ``clOrdId`` is always the caller's own."""
    body: dict[str, Any] = {
        "instId": request.symbol,
        "tdMode": request.td_mode.value,
        "side": request.side.value,
        "ordType": request.order_type.value,
        "sz": num(request.size),
        "clOrdId": request.client_order_id,
    }
    if request.price is not None:
        body["px"] = num(request.price)
    if request.pos_side is not PosSide.NET:
        body["posSide"] = request.pos_side.value
    if request.reduce_only:
        body["reduceOnly"] = "true"
    if request.tag:
        body["tag"] = request.tag
    if request.attached_algos:
        body["attachAlgoOrds"] = [_attached_body(a) for a in request.attached_algos]
    return body


def algo_body(request: AlgoRequest) -> dict[str, Any]:
    """The ``POST /trade/order-algo`` body (conditional or oco)."""
    body: dict[str, Any] = {
        "instId": request.symbol,
        "tdMode": request.td_mode.value,
        "side": request.side.value,
        "ordType": request.algo_type.value,
    }
    if request.size is not None:
        body["sz"] = num(request.size)
    else:
        body["closeFraction"] = num(request.close_fraction or 1)
    if request.pos_side is not PosSide.NET:
        body["posSide"] = request.pos_side.value
    if request.reduce_only:
        body["reduceOnly"] = "true"
    kind = request.trigger_price_type.value
    if request.sl_trigger_price is not None:
        body["slTriggerPx"] = num(request.sl_trigger_price)
        body["slOrdPx"] = (
            MARKET_PRICE if request.sl_order_price is None else num(request.sl_order_price)
        )
        body["slTriggerPxType"] = kind
    if request.tp_trigger_price is not None:
        body["tpTriggerPx"] = num(request.tp_trigger_price)
        body["tpOrdPx"] = (
            MARKET_PRICE if request.tp_order_price is None else num(request.tp_order_price)
        )
        body["tpTriggerPxType"] = kind
    if request.algo_client_order_id:
        body["algoClOrdId"] = request.algo_client_order_id
    if request.tag:
        body["tag"] = request.tag
    return body


def attached_from_okx(item: Mapping[str, Any]) -> AttachedAlgo:
    """One element of an order's ``attachAlgoOrds``."""
    kind = _text(item, "slTriggerPxType") or _text(item, "tpTriggerPxType") or "last"
    return AttachedAlgo(
        sl_trigger_price=_dec_or_none(item, "slTriggerPx"),
        tp_trigger_price=_dec_or_none(item, "tpTriggerPx"),
        sl_order_price=_leg_price(item, "slOrdPx"),
        tp_order_price=_leg_price(item, "tpOrdPx"),
        size=_dec_or_none(item, "sz") or None,
        trigger_price_type=kind,
        attach_algo_client_order_id=_client_id_or_empty(_text(item, "attachAlgoClOrdId")),
    )


def _client_id_or_empty(text: str) -> str:
    """An id as the domain holds it (1-32 alphanumerics); any other text is dropped, so a
    stray id never stops an order from being read."""
    return text if CLIENT_ORDER_ID.match(text) else ""


def fill_from_okx(item: Mapping[str, Any]) -> Fill | None:
    """The fill that caused an ``orders`` push (``fillSz`` > 0), else None.

    A push describes its fill with ``fillPx``, ``fillSz``, ``fillTime``, ``tradeId`` and
    the push-only ``execType`` (M = maker) and ``fillFee``/``fillPnl`` (0 when absent).
    REST order objects name their last fill without any push-only field, so no fill is
    read from them (rather than one with a made-up fee).
    """
    size = _dec(item, "fillSz")
    if size <= 0 or not (_text(item, "execType") or _text(item, "fillFee")):
        return None
    return Fill(
        trade_id=_text(item, "tradeId"),
        order_id=_text(item, "ordId"),
        symbol=_text(item, "instId"),
        side=_text(item, "side"),
        pos_side=_text(item, "posSide") or "net",
        price=_number(_text(item, "fillPx"), "fillPx"),
        size=size,
        fee=_dec(item, "fillFee"),
        pnl=_dec(item, "fillPnl"),
        time=from_ms(_text(item, "fillTime")),
        liquidity="maker" if _text(item, "execType") == "M" else "taker",
    )


def order_from_okx(item: Mapping[str, Any]) -> Order:
    """A REST order object (``/trade/order``, orders-pending, orders-history) or an
    ``orders`` channel row (okx-spec C5; ``last_fill`` from its ``fill*`` fields).

    ``avgPx`` is ``""`` (REST) or ``"0"`` (WebSocket) while nothing has filled: None.
    """
    attached = [a for a in item.get("attachAlgoOrds") or [] if isinstance(a, Mapping)]
    filled = _dec(item, "accFillSz")
    avg = _dec_or_none(item, "avgPx")
    kind = _text(item, "ordType")
    return Order(
        order_id=_text(item, "ordId"),
        client_order_id=_text(item, "clOrdId"),
        symbol=_text(item, "instId"),
        side=_text(item, "side"),
        pos_side=_text(item, "posSide") or "net",
        order_type=ORDER_TYPE_ALIASES.get(kind, kind),
        state=_text(item, "state"),
        size=_dec(item, "sz"),
        filled_size=filled,
        price=_dec_or_none(item, "px") or None,
        avg_price=avg if avg and filled else None,  # "0"/"" while unfilled
        fee=_dec(item, "fee"),
        pnl=_dec(item, "pnl"),
        leverage=_int(item, "lever"),
        reduce_only=_flag(item, "reduceOnly"),
        td_mode=_text(item, "tdMode"),
        created_at=_time(item, "cTime"),
        updated_at=_time(item, "uTime", "cTime"),
        attached_algos=tuple(
            attached_from_okx(a)
            for a in attached
            if _text(a, "slTriggerPx") or _text(a, "tpTriggerPx")
        ),
        attached_algo_ids=tuple(
            _text(a, "attachAlgoId") for a in attached if a.get("attachAlgoId")
        ),
        last_fill=fill_from_okx(item),
        source=_text(item, "source"),
        algo_id=_text(item, "algoId"),
        tag=_text(item, "tag"),
    )


def algo_from_okx(item: Mapping[str, Any]) -> AlgoOrder:
    """An algo order object (orders-algo-pending, -history, ``GET /trade/order-algo``) or
    an ``orders-algo`` channel row, ``conditional`` or ``oco``.

    An order price of ``-1`` is market execution (None). ``linkedOrd.ordId`` is the
    parent order of an algo created from ``attachAlgoOrds``; ``actualSide`` the leg that
    triggered, at ``triggerTime``; ``failCode`` ``"0"`` is no failure.
    """
    fraction = _dec_or_none(item, "closeFraction")
    kind = _text(item, "slTriggerPxType") or _text(item, "tpTriggerPxType") or "last"
    leg = _text(item, "actualSide")
    linked = item.get("linkedOrd")
    attached_to = _text(linked, "ordId") if isinstance(linked, Mapping) else ""
    trigger_time = _text(item, "triggerTime")
    fail = _text(item, "failCode")
    return AlgoOrder(
        algo_id=_text(item, "algoId"),
        algo_client_order_id=_text(item, "algoClOrdId") or _text(item, "clOrdId"),
        symbol=_text(item, "instId"),
        side=_text(item, "side"),
        pos_side=_text(item, "posSide") or "net",
        td_mode=_text(item, "tdMode"),
        algo_type=_text(item, "ordType"),
        state=_text(item, "state"),
        size=None if fraction else _dec_or_none(item, "sz"),
        close_fraction=fraction,
        sl_trigger_price=_dec_or_none(item, "slTriggerPx"),
        sl_order_price=_leg_price(item, "slOrdPx"),
        tp_trigger_price=_dec_or_none(item, "tpTriggerPx"),
        tp_order_price=_leg_price(item, "tpOrdPx"),
        trigger_price_type=kind,
        reduce_only=_flag(item, "reduceOnly"),
        leverage=_int(item, "lever"),
        created_at=_time(item, "cTime"),
        updated_at=_time(item, "uTime", "cTime"),
        attached_to=attached_to or None,
        order_id=_text(item, "ordId"),
        triggered_leg=AlgoLeg(leg) if leg in ("sl", "tp") else None,
        triggered_at=from_ms(trigger_time) if trigger_time else None,
        fail_code="" if fail in ("", "0") else fail,
        tag=_text(item, "tag"),
    )


def order_from_ack(request: OrderRequest, ack: Mapping[str, Any], now: datetime) -> Order:
    """The order as its placement acknowledgement tells it (when a lookup right after
    failed): live, nothing filled yet as far as we know."""
    stamp = from_ms(_text(ack, "ts")) if _text(ack, "ts") else now
    return Order(
        order_id=_text(ack, "ordId"),
        client_order_id=request.client_order_id,
        symbol=request.symbol,
        side=request.side,
        pos_side=request.pos_side,
        order_type=request.order_type,
        state="live",
        size=request.size,
        filled_size=0,
        price=request.price,
        avg_price=None,
        fee=0,
        pnl=0,
        leverage=0,
        reduce_only=request.reduce_only,
        td_mode=request.td_mode,
        created_at=stamp,
        updated_at=stamp,
        attached_algos=request.attached_algos,
        tag=request.tag,
    )


def algo_from_ack(request: AlgoRequest, algo_id: str, now: datetime) -> AlgoOrder:
    """The algo order as its placement acknowledgement tells it: live."""
    return AlgoOrder(
        algo_id=algo_id,
        algo_client_order_id=request.algo_client_order_id,
        symbol=request.symbol,
        side=request.side,
        pos_side=request.pos_side,
        td_mode=request.td_mode,
        algo_type=request.algo_type,
        state="live",
        size=request.size,
        close_fraction=request.close_fraction,
        sl_trigger_price=request.sl_trigger_price,
        sl_order_price=request.sl_order_price,
        tp_trigger_price=request.tp_trigger_price,
        tp_order_price=request.tp_order_price,
        trigger_price_type=request.trigger_price_type,
        reduce_only=request.reduce_only,
        leverage=0,
        created_at=now,
        updated_at=now,
        tag=request.tag,
    )
