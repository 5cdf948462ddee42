"""Engine values -> OKX v5 JSON objects (pure).

Every object carries every field the real OKX responses for the same endpoint carry
(okx-spec B7-B19, C4-C5 and the recorded samples in ``tests/data/okx/``), with OKX's
types: numbers as strings, ``""`` for empty, ``"true"``/``"false"`` strings for
``reduceOnly``/``isTpLimit``, real JSON booleans and integers only where OKX uses them.
Fields the simulator has no notion of (greeks, spot borrowing, USD prices) are ``""``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from qwentrade.domain.instruments import Instrument
from qwentrade.domain.market import to_ms
from qwentrade.domain.venue import (
    AlgoOrder,
    AttachedAlgo,
    Fill,
    Order,
)

INST_TYPE = "SWAP"
SETTLE = "USDT"
ZERO = Decimal(0)


def fields(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def num(value: Decimal | int | None) -> str:
    """OKX number text: plain notation, no exponent, no trailing zeros; ``""`` for None."""
    if value is None:
        return ""
    text = format(Decimal(value).normalize(), "f")
    return "0" if text in ("-0", "0") else text


def ms(when: datetime | None) -> str:
    """Epoch milliseconds as text; ``""`` for None."""
    return "" if when is None else str(to_ms(when))


def flag(value: bool) -> str:
    return "true" if value else "false"


def _market_px(order_price: Decimal | None, has_leg: bool) -> str:
    """An algo leg's order price: ``-1`` means market; ``""`` when the leg is absent."""
    if not has_leg:
        return ""
    return "-1" if order_price is None else num(order_price)


# -- orders --------------------------------------------------------------------------------


def attached_dict(spec: AttachedAlgo, algo_id: str = "") -> dict[str, Any]:
    """One element of an order's ``attachAlgoOrds``."""
    has_sl = spec.sl_trigger_price is not None
    has_tp = spec.tp_trigger_price is not None
    kind = spec.trigger_price_type.value
    return {
        "attachAlgoId": algo_id,
        "attachAlgoClOrdId": spec.attach_algo_client_order_id,
        "tpOrdKind": "condition" if has_tp else "",
        "tpTriggerPx": num(spec.tp_trigger_price),
        "tpTriggerPxType": kind if has_tp else "",
        "tpOrdPx": _market_px(spec.tp_order_price, has_tp),
        "slTriggerPx": num(spec.sl_trigger_price),
        "slTriggerPxType": kind if has_sl else "",
        "slOrdPx": _market_px(spec.sl_order_price, has_sl),
        "sz": num(spec.size),
        "amendPxOnTriggerType": "0",
        "failCode": "",
        "failReason": "",
    }


def order_dict(order: Order, tag: str = "", client_order_id: str | None = None) -> dict[str, Any]:
    """The REST order object (``GET /trade/order``, orders-pending, orders-history).

    ``client_order_id`` overrides the order's (the fake shows ``""`` for ids it made up
    for orders sent without one). ``fill*``/``tradeId`` describe the order's last fill.
    """
    fill = order.last_fill
    ids = list(order.attached_algo_ids) + [""] * len(order.attached_algos)
    attached = [attached_dict(a, ids[i]) for i, a in enumerate(order.attached_algos)]
    return {
        "instType": INST_TYPE,
        "instId": order.symbol,
        "tgtCcy": "",
        "ccy": "",
        "ordId": order.order_id,
        "clOrdId": order.client_order_id if client_order_id is None else client_order_id,
        "tag": tag,
        "px": num(order.price),
        "pxUsd": "",
        "pxVol": "",
        "pxType": "",
        "sz": num(order.size),
        "pnl": num(order.pnl),
        "ordType": order.order_type.value,
        "side": order.side.value,
        "posSide": order.pos_side.value,
        "tdMode": order.td_mode.value,
        "accFillSz": num(order.filled_size),
        "fillPx": num(fill.price) if fill else "",
        "tradeId": fill.trade_id if fill else "",
        "fillSz": num(fill.size) if fill else "0",
        "fillTime": ms(fill.time) if fill else "",
        "avgPx": num(order.avg_price),
        "state": order.state.value,
        "stpId": "",
        "stpMode": "cancel_maker",
        "lever": str(order.leverage),
        "attachAlgoClOrdId": "",
        "tpTriggerPx": "",
        "tpTriggerPxType": "",
        "tpOrdPx": "",
        "slTriggerPx": "",
        "slTriggerPxType": "",
        "slOrdPx": "",
        "attachAlgoOrds": attached,
        "linkedAlgoOrd": {"algoId": order.algo_id},
        "feeCcy": SETTLE,
        "fee": num(order.fee),
        "rebateCcy": SETTLE,
        "rebate": "0",
        "source": order.source,
        "category": "normal",
        "reduceOnly": flag(order.reduce_only),
        "isTpLimit": "false",
        "cancelSource": "",
        "cancelSourceReason": "",
        "quickMgnType": "",
        "algoClOrdId": "",
        "algoId": order.algo_id,
        "tradeQuoteCcy": "",
        "cTime": ms(order.created_at),
        "uTime": ms(order.updated_at),
    }


def ws_order_dict(
    order: Order,
    instrument: Instrument,
    last_price: Decimal,
    fill: Fill | None,
    tag: str = "",
    client_order_id: str | None = None,
) -> dict[str, Any]:
    """The ``orders`` channel object: the REST fields plus the fill that caused this push.

    ``fill`` is None when the push is not a fill (placement, cancel): then the ``fill*``
    fields are empty, as OKX sends them. ``avgPx`` is ``"0"`` while unfilled (WS quirk).
    """
    body = order_dict(order, tag, client_order_id)
    notional = order.size * instrument.ct_val * (order.avg_price or order.price or last_price)
    body.update(
        {
            "avgPx": num(order.avg_price) if order.avg_price is not None else "0",
            "notionalUsd": num(notional),
            "fillPx": num(fill.price) if fill else "",
            "tradeId": fill.trade_id if fill else "",
            "fillSz": num(fill.size) if fill else "0",
            "fillTime": ms(fill.time) if fill else "",
            "fillFee": num(fill.fee) if fill else "0",
            "fillFeeCcy": SETTLE if fill else "",
            "fillPnl": num(fill.pnl) if fill else "0",
            "fillNotionalUsd": num(fill.size * instrument.ct_val * fill.price) if fill else "",
            "fillMarkPx": num(fill.price) if fill else "",
            "fillIdxPx": num(fill.price) if fill else "",
            "fillPxVol": "",
            "fillPxUsd": "",
            "fillMarkVol": "",
            "fillFwdPx": "",
            "execType": ("M" if fill.liquidity == "maker" else "T") if fill else "",
            "amendResult": "",
            "amendSource": "",
            "reqId": "",
            "code": "0",
            "msg": "",
            "lastPx": num(last_price),
        }
    )
    return body


# -- algo orders ---------------------------------------------------------------------------


def algo_dict(algo: AlgoOrder, last_price: Decimal, tag: str = "") -> dict[str, Any]:
    """The algo order object (``orders-algo-pending``, ``-history``, ``GET order-algo``)."""
    has_sl = algo.sl_trigger_price is not None
    has_tp = algo.tp_trigger_price is not None
    kind = algo.trigger_price_type.value
    effective = algo.triggered_leg is not None
    return {
        "instType": INST_TYPE,
        "instId": algo.symbol,
        "ccy": "",
        "ordId": algo.order_id,
        "ordIdList": [algo.order_id] if algo.order_id else [],
        "algoId": algo.algo_id,
        "clOrdId": algo.algo_client_order_id,
        "sz": num(algo.size),
        "closeFraction": num(algo.close_fraction),
        "ordType": algo.algo_type.value,
        "side": algo.side.value,
        "posSide": algo.pos_side.value,
        "tdMode": algo.td_mode.value,
        "tgtCcy": "",
        "state": algo.state.value,
        "lever": str(algo.leverage),
        "tpTriggerPx": num(algo.tp_trigger_price),
        "tpTriggerPxType": kind if has_tp else "",
        "tpOrdPx": _market_px(algo.tp_order_price, has_tp),
        "slTriggerPx": num(algo.sl_trigger_price),
        "slTriggerPxType": kind if has_sl else "",
        "slOrdPx": _market_px(algo.sl_order_price, has_sl),
        "triggerPx": "",
        "triggerPxType": "",
        "ordPx": "",
        "actualSz": num(algo.size) if effective and algo.size is not None else "0",
        "actualPx": "",
        "actualSide": algo.triggered_leg.value if algo.triggered_leg else "",
        "triggerTime": ms(algo.triggered_at),
        "failCode": algo.fail_code or "0",
        "tag": tag,
        "algoClOrdId": algo.algo_client_order_id,
        "amendPxOnTriggerType": "0",
        "attachAlgoOrds": [],
        "linkedOrd": {"ordId": algo.attached_to or ""},
        "reduceOnly": flag(algo.reduce_only),
        "quickMgnType": "",
        "last": num(last_price),
        "isTradeBorrowMode": "",
        "activePx": "",
        "callbackRatio": "",
        "callbackSpread": "",
        "moveTriggerPx": "",
        "chaseType": "",
        "chaseVal": "",
        "maxChaseType": "",
        "maxChaseVal": "",
        "pxLimit": "",
        "pxSpread": "",
        "pxVar": "",
        "szLimit": "",
        "timeInterval": "",
        "cTime": ms(algo.created_at),
        "uTime": ms(algo.updated_at),
    }


def ws_algo_dict(algo: AlgoOrder, spec: Instrument, last_price: Decimal) -> dict[str, Any]:
    """An ``orders-algo`` channel row: the REST algo object plus ``notionalUsd`` (the
    size's value at the last price; ``""`` for a close-fraction algo)."""
    row = algo_dict(algo, last_price, algo.tag)
    notional = "" if algo.size is None else num(algo.size * spec.ct_val * last_price)
    return row | {"notionalUsd": notional}
