"""What several route modules share: symbol checks, paging parameters, route decorators."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import get, post
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.params import Parameter

from qwentrade.adapters.http.auth import READ, SECURITY, WRITE
from qwentrade.app.services import Services
from qwentrade.domain.errors import InvalidInput

Limit = Annotated[int, Parameter(ge=0, le=1000, description="At most this many rows (0..1000)")]
Offset = Annotated[int, Parameter(ge=0, le=10**9, description="Rows to skip")]
SymbolQuery = Annotated[
    str | None,
    Parameter(max_length=32, description="Only this symbol, e.g. BTC-USDT-SWAP"),
]


def known_symbol(services: ServicesDep, symbol: str) -> str:
    """``symbol`` if the service is configured for it, else InvalidInput naming it."""
    if services.symbols and symbol not in services.symbols:
        raise InvalidInput(
            "symbol",
            f"{symbol[:40]!r} is not traded by this service; use one of "
            + ", ".join(services.symbols),
        )
    return symbol


def optional_symbol(services: ServicesDep, symbol: str | None) -> str | None:
    return None if symbol is None else known_symbol(services, symbol)


# The services bundle, injected by name (app.py provides it as "services").
ServicesDep = NamedDependency[Services]


def secured(
    method: type[HTTPRouteHandler],
    path: str,
    operation_id: str,
    tag: str,
    scope: dict[str, str],
    **options: Any,
) -> HTTPRouteHandler:
    """A documented route needing the API key of ``scope`` (READ or WRITE), run in a thread
    (an async handler passes ``sync_to_thread=None``: it runs on the event loop)."""
    options.setdefault("sync_to_thread", True)
    return method(
        path,
        operation_id=operation_id,
        tags=[tag],
        opt=scope,
        security=SECURITY,
        **options,
    )


def read_get(path: str, operation_id: str, tag: str, **options: Any) -> HTTPRouteHandler:
    """A GET route of the read scope."""
    return secured(get, path, operation_id, tag, READ, **options)


def write_post(path: str, operation_id: str, tag: str, **options: Any) -> HTTPRouteHandler:
    """A POST route of the write scope answering 200."""
    return secured(post, path, operation_id, tag, WRITE, status_code=200, **options)
