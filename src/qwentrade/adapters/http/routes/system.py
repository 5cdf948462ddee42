"""System routes: health, the database, metrics."""

from __future__ import annotations

import time

from litestar import Request, Response, get
from litestar.openapi import ResponseSpec

from qwentrade.adapters.http.auth import PUBLIC
from qwentrade.adapters.http.cache import RefreshAheadCache, freshness
from qwentrade.adapters.http.dto import (
    ComponentHealth,
    DatabaseTestResponse,
    HealthResponse,
    TableResponse,
    health_to_dto,
)
from qwentrade.adapters.http.metrics import CONTENT_TYPE
from qwentrade.adapters.http.routes.common import ServicesDep, read_get


@get(
    "/health",
    operation_id="getHealth",
    tags=["system"],
    opt=PUBLIC,
    responses={
        503: ResponseSpec(
            data_container=HealthResponse,
            description="Degraded: a component is down (``reason`` says which and why)",
        )
    },
)
async def health(request: Request, services: ServicesDep) -> Response[HealthResponse]:
    """Liveness and readiness: mode, version, uptime and each component's state.

    200 when every component is ok (or disabled by design), 503 with ``reason`` when one
    is down. Checks run in worker threads with a short timeout and are cached for a few
    seconds: a hanging database never holds this endpoint (or any other).
    """
    results = await request.app.state["health"].results()
    checks = {
        name: ComponentHealth(r.state, r.detail, round(r.seconds, 4)) for name, r in results.items()
    }
    body = health_to_dto(services.system.health(), checks)
    return Response(body, status_code=200 if body.status == "ok" else 503)


@read_get("/database/test", "testDatabase", "system")
def database_test(services: ServicesDep) -> DatabaseTestResponse:
    """Round trip to the database: its kind and schema revision, and how long it took."""
    assert services.database_test is not None
    started = time.perf_counter()
    description = services.database_test()
    elapsed = (time.perf_counter() - started) * 1000
    return DatabaseTestResponse(status="ok", database=description, milliseconds=round(elapsed, 3))


@read_get("/database/tables", "listDatabaseTables", "system")
def database_tables(services: ServicesDep) -> list[TableResponse]:
    """Every table of the database with its row count."""
    assert services.database_tables is not None
    return [TableResponse(t.name, t.rows) for t in services.database_tables()]


# A scrape reads the database (sync lag per job, orders, positions): scrapers and pollers
# share one read per second, refreshed ahead in the background (cache.RefreshAheadCache).
METRICS_CACHE_SECONDS = 1


@read_get(
    "/metrics",
    "getMetrics",
    "system",
    media_type=CONTENT_TYPE,
    sync_to_thread=None,  # async: answers from the refresh-ahead cache on the loop
    description="Prometheus metrics (text format). "
    + freshness(METRICS_CACHE_SECONDS, "a reading"),
)
async def metrics(request: Request) -> Response[bytes]:
    """Prometheus metrics (text format): requests, latencies, sync lag per job, permit gate
    queue and waits by priority, orders, open positions, stream reconnects, refused keys.

    One reading is shared by every scrape for 1 second; up to 3 seconds old it is still
    served while one background reading replaces it; an older one is never served (the
    scrape waits for a new reading). A scrape never sees figures older than 3 seconds.
    """
    cache: RefreshAheadCache = request.app.state["read_cache"]
    body = await cache.get(
        "metrics", request.app.state["metrics"].render, fresh=METRICS_CACHE_SECONDS
    )
    return Response(body, media_type=CONTENT_TYPE)
