"""What every response gets: security headers, and a count and latency in /metrics.

Done around the whole app (not per route), so 404s, 405s, 413s and the documentation
pages carry the same headers as the API.
"""

from __future__ import annotations

import time
from typing import Any

from litestar import Litestar

# The API answers JSON only: nothing may load, frame or run from it.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# Swagger UI and ReDoc pages: their scripts and styles come from /static on this service
# (vendored), plus the small inline script Litestar writes to start them; images may be
# data: URIs (icons), ReDoc runs its search in a blob: worker. Nothing from elsewhere.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' "
    "'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
DOCS_PATHS = frozenset({"/docs", "/redoc"})
# The dashboard's pages (/ and /dashboard/...): scripts and styles are files from /assets
# (no inline script or style element); charts set element styles from script (CSSOM, not
# covered by style-src); data comes from this service only.
DASHBOARD_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
COMMON_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]


class QwentradeApp(Litestar):
    """Litestar, with the headers and measurements above around every HTTP exchange."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        started = time.perf_counter()
        path = scope.get("path", "")
        if path.rstrip("/") in DOCS_PATHS:
            csp = DOCS_CSP.encode()
        elif path == "/" or path.startswith("/dashboard/"):
            csp = DASHBOARD_CSP.encode()
        else:
            csp = API_CSP.encode()
        static = path.startswith(("/static/", "/assets/"))
        status = 500

        async def send_with_headers(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                present = {name.lower() for name, _ in message.get("headers", [])}
                headers = list(message.get("headers", []))
                for name, value in COMMON_HEADERS:
                    if name not in present and not (static and name == b"cache-control"):
                        headers.append((name, value))
                headers.append((b"content-security-policy", csp))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await super().__call__(scope, receive, send_with_headers)
        finally:
            route = scope.get("path_template") or "unmatched"
            metrics = self.state.get("metrics")
            if metrics is not None:
                metrics.observe(scope["method"], route, status, time.perf_counter() - started)
