"""The dashboard: pages at ``/`` and ``/dashboard/<page>``, fragments, static assets.

The pages are public shells holding no data; the fragments under ``/dashboard/fragment``
are reads like any other (the key, unless reads are open; ``config`` always needs it,
as ``/config`` does). Assets are served from ``/assets`` (the dashboard package's
``static`` directory: vendored Lightweight Charts and htmx, our CSS and scripts).
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from litestar import MediaType, Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import Parameter
from litestar.static_files import create_static_files_router

import qwentrade
from qwentrade.adapters.http.auth import PUBLIC, READ, WRITE
from qwentrade.adapters.http.dashboard import STATIC, fragments
from qwentrade.adapters.http.dashboard.pages import ASSETS, PAGES, PageContext, render_page
from qwentrade.adapters.http.dto import stored_job_to_dto, sync_job_to_dto
from qwentrade.adapters.http.routes.common import ServicesDep, SymbolQuery, optional_symbol
from qwentrade.app.services import API_KEY_COMPONENT

ROWS = 200
Status = Annotated[str | None, Parameter(max_length=32, description="Only this state")]


def _context(request: Request, services: ServicesDep) -> PageContext:
    settings = request.app.state["http_settings"]
    return PageContext(
        mode=services.mode,
        version=qwentrade.__version__,
        symbols=tuple(services.symbols),
        open_reads=settings.open_reads,
        trading=services.trading is not None,
        history=services.history is not None,
        pending=services.pending is not None,
    )


def _html(text: str) -> Response[str]:
    return Response(text, media_type=MediaType.HTML)


@get("/", opt=PUBLIC, include_in_schema=False, sync_to_thread=False)
def market_page(request: Request, services: ServicesDep) -> Response[str]:
    """The dashboard's market page (candles, indicators, signals, trades)."""
    return _html(render_page("market", _context(request, services)))


@get("/dashboard/{page:str}", opt=PUBLIC, include_in_schema=False, sync_to_thread=False)
def dashboard_page(request: Request, services: ServicesDep, page: str) -> Response[str]:
    """One of the dashboard's pages by name."""
    if page not in PAGES:
        raise NotFoundException(detail=f"no dashboard page {page[:40]!r}; see / for the list")
    return _html(render_page(page, _context(request, services)))


def _optional(value: str | None) -> str | None:
    return value or None


@get("/dashboard/fragment/positions", opt=READ, include_in_schema=False, sync_to_thread=True)
def positions_fragment(services: ServicesDep) -> Response[str]:
    if services.trading is None:
        raise NotFoundException(detail="this service has no trading service")
    return _html(fragments.positions(services.trading.current_positions()))


@get("/dashboard/fragment/orders", opt=READ, include_in_schema=False, sync_to_thread=True)
def orders_fragment(
    services: ServicesDep, symbol: SymbolQuery = None, status: Status = None
) -> Response[str]:
    if services.history is None:
        raise NotFoundException(detail="this service keeps no order history")
    found = services.history.orders(
        symbol=optional_symbol(services, _optional(symbol)), status=_optional(status), limit=ROWS
    )
    return _html(fragments.orders(found))


@get("/dashboard/fragment/pending", opt=READ, include_in_schema=False, sync_to_thread=True)
def pending_fragment(services: ServicesDep, status: Status = None) -> Response[str]:
    if services.pending is None:
        raise NotFoundException(detail="this service has no pending orders")
    found = services.pending.list(status=_optional(status), limit=ROWS)
    return _html(fragments.pending(found))


@get("/dashboard/fragment/signals", opt=READ, include_in_schema=False, sync_to_thread=True)
def signals_fragment(
    services: ServicesDep,
    symbol: SymbolQuery = None,
    which: Annotated[str, Parameter(max_length=8)] = "recent",
) -> Response[str]:
    if services.signals is None or services.clock is None:
        raise NotFoundException(detail="this service keeps no signals")
    chosen = optional_symbol(services, _optional(symbol))
    if which == "active":
        found = services.signals.active(services.clock.now(), chosen)[:ROWS]
    else:
        found = services.signals.find(symbol=chosen, limit=ROWS)
    return _html(fragments.signals(found))


def _system_state(services: Any) -> tuple[Any, list[Any], Any, Any]:
    if services.sync is not None:
        jobs = [sync_job_to_dto(job) for job in services.sync.status()]
    elif services.status is not None:
        records = services.status.all()
        jobs = [
            stored_job_to_dto(r) for r in records if ":" in r.key and r.key != API_KEY_COMPONENT
        ]
    else:
        jobs = []
    stream = services.stream_state() if services.stream_state is not None else None
    gate = services.gate_state() if services.gate_state is not None else None
    return services.system.health(), jobs, stream, gate


@get("/dashboard/fragment/system", opt=READ, include_in_schema=False)
async def system_fragment(request: Request, services: ServicesDep) -> Response[str]:
    checks = await request.app.state["health"].results()
    health, jobs, stream, gate = await anyio.to_thread.run_sync(_system_state, services)
    return _html(fragments.system(health, jobs, stream, gate, checks))


@get("/dashboard/fragment/config", opt=WRITE, include_in_schema=False, sync_to_thread=True)
def config_fragment(services: ServicesDep) -> Response[str]:
    if services.config is None:
        raise NotFoundException(detail="this service has no config store")
    return _html(fragments.config(services.config.all()))


ASSETS_ROUTER = create_static_files_router(
    path=ASSETS, directories=[STATIC], opt=PUBLIC, include_in_schema=False
)

HANDLERS = [
    market_page,
    dashboard_page,
    positions_fragment,
    orders_fragment,
    pending_fragment,
    signals_fragment,
    system_fragment,
    config_fragment,
    ASSETS_ROUTER,
]
