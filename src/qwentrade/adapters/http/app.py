"""create_app: the Litestar application over the application services."""

from __future__ import annotations

import attrs
from litestar import Litestar
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import RedocRenderPlugin, SwaggerRenderPlugin

import qwentrade
from qwentrade.adapters.http.routes import system
from qwentrade.app.services import Services


@attrs.frozen(repr=False)
class HttpSettings:
    """What the HTTP adapter needs: ``api_key`` guards mutating endpoints (never shown)."""

    api_key: str | None = None

    def __repr__(self) -> str:
        return f"HttpSettings(api_key={'set' if self.api_key else None})"


def create_app(services: Services, http_settings: HttpSettings | None = None) -> Litestar:
    """Build the Litestar app; services are injected into handlers as ``services``.

    OpenAPI is served at ``/openapi.json``, Swagger UI at ``/docs`` and ReDoc at ``/redoc``.
    """
    settings = http_settings or HttpSettings()
    return Litestar(
        route_handlers=[system.health],
        dependencies={"services": Provide(lambda: services, use_cache=True, sync_to_thread=False)},
        openapi_config=OpenAPIConfig(
            title="qwentrade",
            version=qwentrade.__version__,
            description="Market data, signals and protected trading of OKX perpetual swaps.",
            path="/",
            render_plugins=[SwaggerRenderPlugin(path="/docs"), RedocRenderPlugin(path="/redoc")],
        ),
        state={"http_settings": settings},
        # The process's logging is configured once by the entry point; Litestar must not
        # install its own handlers over it (they would bypass the secret-masking filter).
        logging_config=None,
    )
