"""The dashboard: server-rendered HTML pages over the service's own API.

Pages (``pages.py``) are plain HTML shells rendered here; their data comes as HTML
fragments rendered by the server (``fragments.py``, refreshed by htmx's polling) and, for
the candle charts, as JSON from the ordinary API endpoints (``static/chart.js`` draws them
with TradingView's Lightweight Charts). Mutations (close a position, change its plans,
cancel a pending order, set a config key) call the same API endpoints as any client with
the API key the user typed, which the page keeps in ``sessionStorage`` only.

Every script and style is a file in ``static/`` (vendored libraries in ``static/vendor``
with their licences): no CDN, no build step, no inline script (the pages run under a
strict Content-Security-Policy).
"""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).parent / "static"
