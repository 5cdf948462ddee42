"""The API's documentation: /openapi.json, Swagger UI at /docs, ReDoc at /redoc.

Served by our own handlers (public, left out of the schema) rather than Litestar's OpenAPI
router, whose catch-all ``/{path}`` would answer every unknown path with an HTML page.
The pages load their scripts from ``/static`` (vendored in this package): no CDN.
"""

from __future__ import annotations

from litestar import MediaType, Request, Response, get
from litestar.openapi.plugins import RedocRenderPlugin, SwaggerRenderPlugin
from litestar.serialization import encode_json

from qwentrade.adapters.http.auth import PUBLIC
from qwentrade.adapters.http.examples import finish_schema

FAVICON = "<link rel='icon' type='image/png' href='/static/swagger-ui/favicon-32x32.png'>"
SWAGGER = SwaggerRenderPlugin(
    path="/docs",
    js_url="/static/swagger-ui/swagger-ui-bundle.js",
    css_url="/static/swagger-ui/swagger-ui.css",
    standalone_preset_js_url="/static/swagger-ui/swagger-ui-standalone-preset.js",
    favicon=FAVICON,
)
REDOC = RedocRenderPlugin(
    path="/redoc",
    js_url="/static/redoc/redoc.standalone.js",
    google_fonts=False,
    favicon=FAVICON,
)


def _schema(request: Request) -> dict:
    state = request.app.state
    if "openapi_schema" not in state:
        schema = request.app.openapi_schema.to_schema()
        state["openapi_schema"] = finish_schema(schema, state.get("symbols", ()))
    return state["openapi_schema"]


@get("/openapi.json", opt=PUBLIC, include_in_schema=False, sync_to_thread=False)
def openapi_json(request: Request) -> Response[bytes]:
    """The OpenAPI 3.1 document of this service."""
    return Response(encode_json(_schema(request)), media_type=MediaType.JSON)


@get("/docs", opt=PUBLIC, include_in_schema=False, sync_to_thread=False)
def swagger(request: Request) -> Response[bytes]:
    """Swagger UI over /openapi.json (try the endpoints with your X-API-Key)."""
    return Response(SWAGGER.render(request, _schema(request)), media_type=MediaType.HTML)


@get("/redoc", opt=PUBLIC, include_in_schema=False, sync_to_thread=False)
def redoc(request: Request) -> Response[bytes]:
    """ReDoc over /openapi.json."""
    return Response(REDOC.render(request, _schema(request)), media_type=MediaType.HTML)
