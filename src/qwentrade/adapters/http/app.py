"""create_app: the Litestar application over the application services.

Routes are included for the services the bundle has (a build without a trading service
serves no ``/trading`` routes rather than routes that cannot work). Every response gets
the security headers of ``middleware.py``; errors are mapped in ``errors.py``; the API key
is checked by ``auth.py``. The documentation pages load Swagger UI and ReDoc from
``/static``, files shipped inside this package: they work with no network.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.static_files import create_static_files_router

import qwentrade
from qwentrade.adapters.http import auth, errors
from qwentrade.adapters.http.cache import BoundedMemoryStore, RefreshAheadCache
from qwentrade.adapters.http.health import HealthMonitor
from qwentrade.adapters.http.metrics import HttpMetrics
from qwentrade.adapters.http.middleware import QwentradeApp
from qwentrade.adapters.http.routes import (
    config,
    dashboard,
    docs,
    history,
    market,
    pending,
    sync,
    system,
    trading,
)
from qwentrade.app.services import Services

STATIC = Path(__file__).parent / "static"
DEFAULT_MAX_BODY_BYTES = 64 * 1024  # the largest request (a set of SL/TP plans) is ~1 kB


@attrs.frozen(repr=False)
class HttpSettings:
    """What the HTTP adapter needs.

    ``api_key_digest`` (see ``app.services.api_key_digest``) guards mutating endpoints and
    ``/config``; without one they refuse every request. ``open_reads`` lets the queries
    through without a key. ``cors_origins`` are the browser origins allowed to call the
    API (none: CORS closed). ``max_body_bytes`` bounds a request body (413 beyond).
    ``health_timeout`` bounds one health check, ``health_ttl`` how long its result is
    reused.
    """

    api_key_digest: str | None = None
    open_reads: bool = False
    cors_origins: tuple[str, ...] = ()
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    health_timeout: float = 2.0
    health_ttl: float = 2.0

    def __repr__(self) -> str:
        key = "set" if self.api_key_digest else None
        return f"HttpSettings(api_key={key}, open_reads={self.open_reads})"


def route_handlers(services: Services) -> list[Any]:
    """The handlers the services support."""
    handlers: list[Any] = [docs.openapi_json, docs.swagger, docs.redoc]
    handlers += [system.health, system.metrics]
    if services.database_test is not None:
        handlers.append(system.database_test)
    if services.database_tables is not None:
        handlers.append(system.database_tables)
    if services.signals is not None and services.clock is not None:
        handlers.append(market.signals)
    if services.klines is not None:
        handlers.append(market.klines)
    if services.detection is not None and services.signals is not None:
        handlers += [market.detect, market.detector_status]
    if services.history is not None:
        handlers += [
            history.order_history_status,
            history.orders,
            history.order,
            history.order_stats,
            history.position_history_status,
            history.positions,
            history.position,
            history.position_stats,
        ]
    if services.status is not None:
        handlers.append(sync.sync_status)
    if services.config is not None:
        handlers += [config.config_list, config.config_get, config.config_set]
    if services.trading is not None:
        handlers += trading.HANDLERS
    if services.pending is not None:
        handlers += pending.HANDLERS
    handlers += dashboard.HANDLERS
    return handlers


def create_app(services: Services, http_settings: HttpSettings | None = None) -> Litestar:
    """Build the Litestar app; services are injected into handlers as ``services``.

    OpenAPI is served at ``/openapi.json``, Swagger UI at ``/docs`` and ReDoc at ``/redoc``.
    """
    settings = http_settings or HttpSettings()
    read_cache = RefreshAheadCache()  # /klines and /metrics (see cache.py)
    monitor = HealthMonitor(
        services.health_checks, timeout=settings.health_timeout, ttl=settings.health_ttl
    )
    static = create_static_files_router(
        path="/static", directories=[STATIC], opt=auth.PUBLIC, include_in_schema=False
    )
    cors = (
        CORSConfig(
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PUT"],
            allow_headers=[auth.HEADER, "Content-Type"],
        )
        if settings.cors_origins
        else None
    )
    return QwentradeApp(
        route_handlers=[*route_handlers(services), static],
        dependencies={"services": Provide(lambda: services, use_cache=True, sync_to_thread=False)},
        guards=[auth.api_key_guard],
        exception_handlers=errors.EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        openapi_config=OpenAPIConfig(
            title="qwentrade",
            version=qwentrade.__version__,
            description="Market data, signals and protected trading of OKX perpetual swaps. "
            "Mutating endpoints and /config need the X-API-Key header.",
            components=auth.COMPONENTS,
            # Litestar's own schema router, moved aside; docs.py serves the documents.
            path="/_openapi",
            render_plugins=[JsonRenderPlugin()],
        ),
        cors_config=cors,
        request_max_body_size=settings.max_body_bytes,
        stores={"response_cache": BoundedMemoryStore()},
        state={
            "http_settings": settings,
            "health": monitor,
            "metrics": HttpMetrics(services),
            "read_cache": read_cache,
            "symbols": services.symbols,
        },
        on_shutdown=[monitor.close, read_cache.close],
        # The process's logging is configured once by the entry point; Litestar must not
        # install its own handlers over it (they would bypass the secret-masking filter).
        logging_config=None,
    )
