"""CoinGlass v4: the MarketDataSource port over HTTP (okx-spec section E).

Each name is imported on first use (importing the package does not import httpx).
"""

from typing import TYPE_CHECKING

from qwentrade._lazy import lazy_exports

if TYPE_CHECKING:
    from qwentrade.adapters.coinglass.client import CoinGlassClient
    from qwentrade.adapters.coinglass.source import CoinGlassSource

_MODULES = {"CoinGlassClient": "client", "CoinGlassSource": "source"}
__getattr__, __dir__ = lazy_exports(
    globals(), {name: f"{__name__}.{module}" for name, module in _MODULES.items()}
)

__all__ = ["CoinGlassClient", "CoinGlassSource"]
