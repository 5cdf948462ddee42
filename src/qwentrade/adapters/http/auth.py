"""API-key authentication: the ``X-API-Key`` header against the stored key digest.

Each handler declares who may call it in its ``opt``: ``auth="public"`` (health, the
documentation), ``auth="read"`` (queries: open to all only with ``open_reads``), or the
default, ``"write"`` (every mutating endpoint and ``/config``): the key is always
required. The presented key is hashed and compared to the digest in constant time
(``hmac.compare_digest``); neither the key nor its digest is ever logged or returned. A
refusal is counted in ``/metrics`` and logged with the client's address and the route.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.spec import Components, SecurityScheme

from qwentrade.app.services import api_key_digest

log = logging.getLogger(__name__)

HEADER = "X-API-Key"
SCHEME = "ApiKey"
PUBLIC = {"auth": "public"}
READ = {"auth": "read"}
WRITE = {"auth": "write"}
SECURITY: list[dict[str, list[str]]] = [{SCHEME: []}]
COMPONENTS = Components(
    security_schemes={
        SCHEME: SecurityScheme(
            type="apiKey",
            name=HEADER,
            security_scheme_in="header",
            description="The service's API key (QWENTRADE_API_KEY, or the key printed at "
            "first start). Required by every mutating endpoint and /config; by the "
            "other reads unless QWENTRADE_HTTP_OPEN_READS is true.",
        )
    }
)


def key_matches(presented: str | None, digest: str | None) -> bool:
    """True when ``presented`` hashes to ``digest`` (constant-time compare)."""
    if not presented or not digest:
        return False
    return hmac.compare_digest(api_key_digest(presented).encode(), digest.encode())


def api_key_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Litestar guard: let the request through or raise 401 (counted, logged keyless)."""
    level = handler.opt.get("auth", "write")
    if level == "public":
        return
    state = connection.app.state
    settings = state["http_settings"]
    if level == "read" and settings.open_reads:
        return
    if key_matches(connection.headers.get(HEADER), settings.api_key_digest):
        return
    state["metrics"].auth_failures.inc()
    client = connection.client.host if connection.client else "?"
    missing = HEADER.lower() not in connection.headers
    method = connection.scope.get("method", "")
    route = connection.scope.get("path_template") or connection.url.path
    reason = "no API key" if missing else "wrong API key"
    log.warning("refused %s %s from %s: %s", method, route, client, reason)
    if (notify := state.get("on_auth_failure")) is not None:  # notifications (container)
        notify(method, route, client, reason)
    if settings.api_key_digest is None:
        detail = "no API key is configured: set QWENTRADE_API_KEY and restart the service"
    elif missing:
        detail = f"this endpoint needs the {HEADER} header"
    else:
        detail = f"the {HEADER} header does not hold the service's API key"
    raise NotAuthorizedException(detail=detail, headers={"WWW-Authenticate": HEADER})
