"""What several route modules share: symbol checks, paging parameters."""

from __future__ import annotations

from typing import Annotated

from litestar.di import NamedDependency
from litestar.params import Parameter

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
