"""The account's order and position history (synced from the venue)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Annotated, Protocol, TypeVar

from litestar.exceptions import NotFoundException
from litestar.params import FromPath, Parameter

from qwentrade.adapters.http.dto import (
    HistoryStatusResponse,
    JobStatusResponse,
    OrderResponse,
    OrderStatsResponse,
    PositionResponse,
    PositionStatsResponse,
    from_fields,
    order_stats_to_dto,
    order_to_dto,
    position_stats_to_dto,
    position_to_dto,
)
from qwentrade.adapters.http.routes.common import (
    Limit,
    Offset,
    ServicesDep,
    SymbolQuery,
    known_symbol,
    optional_symbol,
    read_get,
)
from qwentrade.domain.records import StatusRecord


class _OfSymbol(Protocol):
    @property
    def symbol(self) -> str: ...


S = TypeVar("S", bound=_OfSymbol)
ORDER_STATES = ("live", "partially_filled", "filled", "canceled", "mmp_canceled")


def job_to_dto(record: StatusRecord) -> JobStatusResponse:
    return from_fields(JobStatusResponse, record, job=record.key, state=record.value)


def history_status(
    services: ServicesDep, rows: int, last_update: datetime | None, word: str
) -> HistoryStatusResponse:
    """``rows`` stored, the newest update, and the state of the sync jobs named ``word``."""
    jobs = [] if services.status is None else services.status.all()
    return HistoryStatusResponse(
        rows=rows,
        last_update=last_update,
        jobs=[job_to_dto(r) for r in jobs if word in r.key],
    )


def stats_of(services: ServicesDep, symbol: str, stats: Callable[[], Iterable[S]]) -> S | None:
    """The stats of ``symbol`` (a configured one, else InvalidInput before ``stats`` is
    read), None when it has none."""
    known_symbol(services, symbol)
    return {s.symbol: s for s in stats()}.get(symbol)


@read_get("/order-history/status", "getOrderHistoryStatus", "order-history")
def order_history_status(services: ServicesDep) -> HistoryStatusResponse:
    """Stored orders, the newest update, and the order-history sync job's state."""
    assert services.history is not None
    rows = sum(s.orders for s in services.history.order_stats())
    return history_status(services, rows, services.history.latest_order_update(), "order")


@read_get("/order-history/orders", "listOrders", "order-history")
def orders(
    services: ServicesDep,
    symbol: SymbolQuery = None,
    status: Annotated[
        str | None, Parameter(max_length=32, description="OKX order state, e.g. filled")
    ] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[OrderResponse]:
    """Orders, newest first; ``status`` is OKX's order state (filled, canceled, ...)."""
    assert services.history is not None
    if status is not None and status not in ORDER_STATES:
        from qwentrade.domain.errors import InvalidInput

        raise InvalidInput("status", f"{status[:40]!r} is not one of {', '.join(ORDER_STATES)}")
    found = services.history.orders(
        symbol=optional_symbol(services, symbol), status=status, limit=limit, offset=offset
    )
    return [order_to_dto(o) for o in found]


@read_get("/order-history/orders/{ord_id:str}", "getOrder", "order-history")
def order(services: ServicesDep, ord_id: FromPath[str]) -> OrderResponse:
    """One order by the venue's order id (or, failing that, its client order id)."""
    assert services.history is not None
    found = services.history.order(ord_id) or services.history.order_by_client_id(ord_id)
    if found is None:
        raise NotFoundException(detail=f"no order {ord_id[:64]!r} is stored")
    return order_to_dto(found)


@read_get("/order-history/symbols/{symbol:str}/stats", "getOrderStats", "order-history")
def order_stats(services: ServicesDep, symbol: FromPath[str]) -> OrderStatsResponse:
    """Orders of ``symbol``: count, filled, summed fees and realised PnL."""
    assert services.history is not None
    return order_stats_to_dto(symbol, stats_of(services, symbol, services.history.order_stats))


@read_get("/position-history/status", "getPositionHistoryStatus", "position-history")
def position_history_status(services: ServicesDep) -> HistoryStatusResponse:
    """Stored position records, the newest update, and the sync job's state."""
    assert services.history is not None
    rows = sum(s.positions for s in services.history.position_stats())
    last_update = services.history.latest_position_update()
    return history_status(services, rows, last_update, "position")


@read_get("/position-history/positions", "listPositions", "position-history")
def positions(
    services: ServicesDep,
    symbol: SymbolQuery = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[PositionResponse]:
    """Closed (or partly closed) position records, newest first."""
    assert services.history is not None
    found = services.history.positions(
        symbol=optional_symbol(services, symbol), limit=limit, offset=offset
    )
    return [position_to_dto(p) for p in found]


@read_get("/position-history/positions/{pos_id:str}", "getPosition", "position-history")
def position(services: ServicesDep, pos_id: FromPath[str]) -> PositionResponse:
    """The newest record of the position ``pos_id``."""
    assert services.history is not None
    for record in services.history.positions(limit=None):
        if record.pos_id == pos_id:
            return position_to_dto(record)
    raise NotFoundException(detail=f"no position {pos_id[:64]!r} is stored")


@read_get("/position-history/symbols/{symbol:str}/stats", "getPositionStats", "position-history")
def position_stats(services: ServicesDep, symbol: FromPath[str]) -> PositionStatsResponse:
    """Closed positions of ``symbol``: count, wins, losses, win rate, summed PnL and fees."""
    assert services.history is not None
    found = stats_of(services, symbol, services.history.position_stats)
    return position_stats_to_dto(symbol, found)
