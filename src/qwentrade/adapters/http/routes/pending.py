"""Pending trigger orders: open a position when the price crosses a level."""

from __future__ import annotations

from typing import Annotated, Any

from litestar.openapi.spec import Example
from litestar.params import Body, FromPath, Parameter

from qwentrade.adapters.http.dto_trading import (
    CreatePendingRequest,
    PendingOrderResponse,
    pending_to_dto,
)
from qwentrade.adapters.http.routes.common import (
    Limit,
    Offset,
    ServicesDep,
    SymbolQuery,
    known_symbol,
    optional_symbol,
    read_get,
    write_post,
)

CREATE_EXAMPLE = {
    "symbol": "BTC-USDT-SWAP",
    "side": "LONG",
    "amount": "100",
    "trigger_price": "92000",
    "stop_loss_trigger": "90000",
    "take_profit_trigger": "98000",
    "leverage": 5,
    "expire_hours": 4,
}
OrderId = Annotated[str, Parameter(max_length=64, description="The pending order's id")]


def _pending(services: Any) -> Any:
    assert services.pending is not None
    return services.pending


@write_post("/pending-order/create", "createPendingOrder", "pending-order")
def create(
    services: ServicesDep,
    data: Annotated[
        CreatePendingRequest,
        Body(examples=[Example(summary="buy the dip", value=CREATE_EXAMPLE)]),
    ],
) -> PendingOrderResponse:
    """Store a PENDING order opening ``side`` with ``amount`` USDT margin when the price
    crosses ``trigger_price`` (the crossing direction is taken from the price now); it
    expires after ``expire_hours``. The symbol's older PENDING order is superseded."""
    known_symbol(services, data.symbol)
    record = _pending(services).create(
        data.symbol,
        data.side,
        data.amount,
        data.trigger_price,
        stop_loss_trigger=data.stop_loss_trigger,
        take_profit_trigger=data.take_profit_trigger,
        leverage=data.leverage,
        signal_id=data.signal_id,
        expire_hours=data.expire_hours,
    )
    return pending_to_dto(record)


@read_get("/pending-order/status/{status:str}", "listPendingOrders", "pending-order")
def by_status(
    services: ServicesDep,
    status: Annotated[str, Parameter(max_length=16, description="PENDING, TRIGGERED, ...")],
    symbol: SymbolQuery = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[PendingOrderResponse]:
    """Pending orders with ``status`` (PENDING, TRIGGERED, CANCELLED or EXPIRED), newest
    first."""
    found = _pending(services).list(
        status=status,
        symbol=optional_symbol(services, symbol),
        limit=max(1, limit),
        offset=offset,
    )
    return [pending_to_dto(r) for r in found]


@read_get("/pending-order/{order_id:str}", "getPendingOrder", "pending-order")
def get_one(services: ServicesDep, order_id: FromPath[OrderId]) -> PendingOrderResponse:
    """One pending order; 404 when there is none with that id."""
    return pending_to_dto(_pending(services).get(order_id))


@write_post("/pending-order/{order_id:str}/cancel", "cancelPendingOrder", "pending-order")
def cancel(services: ServicesDep, order_id: FromPath[OrderId]) -> PendingOrderResponse:
    """Cancel a PENDING order (nothing is on the exchange yet); 409 when it already
    triggered, expired or was cancelled."""
    return pending_to_dto(_pending(services).cancel(order_id))


HANDLERS = [create, by_status, get_one, cancel]
