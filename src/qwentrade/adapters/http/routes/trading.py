"""Trading: open, add to, reduce and close positions; protection plans; status."""

from __future__ import annotations

from typing import Annotated, Any

from litestar.exceptions import NotFoundException
from litestar.openapi.spec import Example
from litestar.params import Body, FromPath

from qwentrade.adapters.http.dto_trading import (
    AddPositionRequest,
    ClosePositionRequest,
    OpenPositionRequest,
    OrderIdResponse,
    ReducePositionRequest,
    SetPlansRequest,
)
from qwentrade.adapters.http.routes.common import (
    ServicesDep,
    SymbolQuery,
    known_symbol,
    read_get,
    write_post,
)
from qwentrade.domain.errors import InvalidInput

BTC = "BTC-USDT-SWAP"
OPEN_EXAMPLE = {
    "symbol": BTC,
    "side": "LONG",
    "amount": "100",
    "leverage": 5,
    "stop_loss_trigger": "90000",
    "take_profit_trigger": "110000",
}


def _trading(services: Any) -> Any:
    assert services.trading is not None
    return services.trading


def _target(services: Any, data: Any) -> str:
    """The symbol of the position a request names, by ``symbol`` or by ``cl_ord_id``."""
    if data.cl_ord_id is None:
        return known_symbol(services, data.symbol)
    relation = _trading(services).relations.get(data.cl_ord_id)
    if relation is None:
        raise NotFoundException(detail=f"no position was opened by {data.cl_ord_id[:64]!r}")
    if data.symbol is not None and data.symbol != relation.symbol:
        raise InvalidInput(
            "cl_ord_id",
            f"{data.cl_ord_id} opened a {relation.symbol} position, not {data.symbol}: "
            "send one of the two",
        )
    return relation.symbol


@write_post("/trading/open-position", "openPosition", "trading")
def open_position(
    services: ServicesDep,
    data: Annotated[
        OpenPositionRequest,
        Body(examples=[Example(summary="a protected long", value=OPEN_EXAMPLE)]),
    ],
) -> OrderIdResponse:
    """Open a LONG or SHORT position of ``amount`` USDT margin (contracts = margin x
    leverage / price, rounded down to the lot), with the stop-loss and take-profit held
    on the exchange. One position per symbol: 409 when one is open. With ``key`` the
    same request is never opened twice (a repeat returns the first ``cl_ord_id``)."""
    known_symbol(services, data.symbol)
    cl_ord_id = _trading(services).open_position(
        data.symbol,
        data.side,
        data.amount,
        stop_loss_trigger=data.stop_loss_trigger,
        take_profit_trigger=data.take_profit_trigger,
        leverage=data.leverage,
        order_type=data.order_type,
        price=data.price,
        signal_id=data.signal_id,
        key=data.key,
    )
    return OrderIdResponse(cl_ord_id=cl_ord_id)


@write_post("/trading/add-position", "addPosition", "trading")
def add_position(
    services: ServicesDep,
    data: Annotated[
        AddPositionRequest,
        Body(examples=[Example(summary="add 50 USDT", value={"symbol": BTC, "amount": "50"})]),
    ],
) -> OrderIdResponse:
    """Add ``amount`` USDT margin to the open position at market (named by ``symbol`` or by
    ``cl_ord_id``, the order that opened it; 404 when none is open);
    new SL/TP triggers, if given, replace the plans, which are resized either way."""
    cl_ord_id = _trading(services).add_position(
        _target(services, data),
        data.amount,
        stop_loss_trigger=data.stop_loss_trigger,
        take_profit_trigger=data.take_profit_trigger,
        key=data.key,
    )
    return OrderIdResponse(cl_ord_id=cl_ord_id)


@write_post("/trading/reduce-position", "reducePosition", "trading")
def reduce_position(
    services: ServicesDep,
    data: Annotated[
        ReducePositionRequest,
        Body(examples=[Example(summary="release 25 USDT", value={"symbol": BTC, "amount": "25"})]),
    ],
) -> OrderIdResponse:
    """Release ``amount`` USDT of margin (valued at the average entry) by a reduce-only
    market order; all the margin held closes the position."""
    symbol = _target(services, data)
    cl_ord_id = _trading(services).reduce_position(symbol, data.amount, key=data.key)
    return OrderIdResponse(cl_ord_id=cl_ord_id)


@write_post("/trading/close-position", "closePosition", "trading")
def close_position(
    services: ServicesDep,
    data: Annotated[
        ClosePositionRequest,
        Body(examples=[Example(summary="close all", value={"symbol": BTC})]),
    ],
) -> OrderIdResponse:
    """Close the position of ``symbol`` (or of ``cl_ord_id``): all of it, or ``amount``
    USDT of margin. Its SL/TP orders are
    canceled first; the PnL and the reason (manual) are recorded."""
    cl_ord_id = _trading(services).close_position(
        _target(services, data), data.amount, reason="manual", key=data.key
    )
    return OrderIdResponse(cl_ord_id=cl_ord_id)


@write_post("/trading/set-stop-loss-take-profit", "setStopLossTakeProfit", "trading")
def set_stop_loss_take_profit(
    services: ServicesDep,
    data: Annotated[
        SetPlansRequest,
        Body(
            examples=[
                Example(
                    summary="one stop-loss, two take-profits",
                    value={
                        "cl_ord_id": "qt0a1b2c3d4e5f",
                        "plans": [
                            {"kind": "stop_loss", "trigger_price": "90000", "fraction": "1"},
                            {"kind": "take_profit", "trigger_price": "105000", "fraction": "0.5"},
                            {"kind": "take_profit", "trigger_price": "110000", "fraction": "0.5"},
                        ],
                    },
                )
            ]
        ),
    ],
) -> dict[str, Any]:
    """Replace the position's stop-loss/take-profit orders with ``plans`` (each a size in
    contracts or a fraction of the position; at least one stop-loss). The new orders are
    placed before the old ones are canceled. Returns the order status with the plans."""
    plans = [
        {
            "kind": p.kind,
            "trigger_price": p.trigger_price,
            **({"size": p.size} if p.size is not None else {}),
            **({"fraction": p.fraction} if p.fraction is not None else {}),
        }
        for p in data.plans
    ]
    return _trading(services).set_stop_loss_take_profit(data.cl_ord_id, plans)


@read_get("/trading/order-status/{cl_ord_id:str}", "getOrderStatus", "trading")
def order_status(services: ServicesDep, cl_ord_id: FromPath[str]) -> dict[str, Any]:
    """The intent (what was decided), the venue's order and the position's relation and
    live plans of ``cl_ord_id``; 404 when no order was placed with it."""
    trading = _trading(services)
    if len(cl_ord_id) > 64 or (
        trading.intents.by_client_order_id(cl_ord_id) is None
        and trading.relations.get(cl_ord_id) is None
    ):
        raise NotFoundException(detail=f"no order was placed with {cl_ord_id[:64]!r}")
    return trading.order_status(cl_ord_id)


@read_get("/trading/current-position", "getCurrentPositions", "trading")
def current_position(services: ServicesDep, symbol: SymbolQuery = None) -> list[dict[str, Any]]:
    """Open positions on the venue (of ``symbol``, or all) with size, average and mark
    price, unrealised PnL, margin, the opening ``cl_ord_id`` and the live SL/TP orders."""
    if symbol is not None:
        known_symbol(services, symbol)
    return _trading(services).current_positions(symbol)


HANDLERS = [
    open_position,
    add_position,
    reduce_position,
    close_position,
    set_stop_loss_take_profit,
    order_status,
    current_position,
]
