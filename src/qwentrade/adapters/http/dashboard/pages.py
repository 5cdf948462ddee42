"""The dashboard's page shells: navigation, the API-key form and each page's regions.

A page holds no data: its regions load server-rendered fragments (``hx-get`` with
``hx-trigger="load, every Ns"``) and the chart loads JSON from the API, all with the key
from ``sessionStorage``. Everything is escaped here; the pages carry no inline script or
style (see the dashboard's Content-Security-Policy in ``middleware.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import attrs

from qwentrade.domain.records import PENDING_STATES

# name -> (title, path)
PAGES: dict[str, tuple[str, str]] = {
    "market": ("Market", "/"),
    "positions": ("Positions", "/dashboard/positions"),
    "orders": ("Orders", "/dashboard/orders"),
    "signals": ("Signals", "/dashboard/signals"),
    "system": ("System", "/dashboard/system"),
    "config": ("Config", "/dashboard/config"),
}
TIMEFRAMES = ("15m", "4h", "1d")
REFRESH_SECONDS = 5
ASSETS = "/assets"
ORDER_STATES = ("live", "partially_filled", "filled", "canceled", "mmp_canceled")


@attrs.frozen
class PageContext:
    """What every page shows: mode, version, symbols, and which API parts exist."""

    mode: str
    version: str
    symbols: tuple[str, ...]
    open_reads: bool = False
    trading: bool = False
    history: bool = False
    pending: bool = False


def render_page(name: str, context: PageContext) -> str:
    """The full HTML of page ``name`` (a key of ``PAGES``)."""
    title, _ = PAGES[name]
    body = _BODIES[name](context)
    charts = name in ("market", "positions")
    scripts = [f"{ASSETS}/vendor/htmx.min.js", f"{ASSETS}/dashboard.js"]
    if charts:
        scripts += [f"{ASSETS}/vendor/lightweight-charts.standalone.production.js"]
        scripts += [f"{ASSETS}/chart.js"]
    tags = "\n".join(f'<script src="{src}" defer></script>' for src in scripts)
    flags = {
        "data-open-reads": context.open_reads,
        "data-trading": context.trading,
        "data-history": context.history,
        "data-pending": context.pending,
    }
    data = " ".join(f'{k}="{"1" if v else "0"}"' for k, v in flags.items())
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="htmx-config" content='{{"includeIndicatorStyles":false,"allowEval":false,\
"allowScriptTags":false,"selfRequestsOnly":true}}'>
<title>{escape(title)} · qwentrade</title>
<link rel="stylesheet" href="{ASSETS}/dashboard.css">
<link rel="icon" href="data:,">
{tags}
</head>
<body {data} data-page="{escape(name)}">
<a class="skip" href="#main">Skip to the content</a>
<header>
<div class="brand"><span class="name">qwentrade</span>
<span class="badge mode-{escape(context.mode)}">{escape(context.mode)}</span>
<span class="version">v{escape(context.version)}</span></div>
{_nav(name)}
<form id="key-form" class="key-form" autocomplete="off">
<label for="api-key">API key</label>
<input id="api-key" name="api-key" type="password" autocomplete="off" spellcheck="false">
<button type="submit">Use key</button>
<button type="button" id="forget-key">Forget</button>
<span id="key-state" role="status"></span>
</form>
</header>
<main id="main" tabindex="-1">
<h1>{escape(title)}</h1>
{body}
</main>
<div id="toast" class="toast" role="status" aria-live="polite"></div>
</body>
</html>
"""


def _nav(current: str) -> str:
    links = []
    for name, (title, path) in PAGES.items():
        here = ' aria-current="page"' if name == current else ""
        links.append(f'<li><a href="{path}"{here}>{escape(title)}</a></li>')
    return f'<nav aria-label="Pages"><ul>{"".join(links)}</ul></nav>'


def _region(
    fragment: str, label: str, *, every: int | None = REFRESH_SECONDS, form: str = ""
) -> str:
    """A live region that loads ``/dashboard/fragment/<fragment>`` now and every N s."""
    trigger = "load, qt-key from:body, qt-refresh from:body"
    if every:
        trigger += f", every {every}s"
    include = f' hx-include="#{form}"' if form else ""
    return (
        f'<section class="region" aria-label="{escape(label)}">'
        f'<div id="{fragment}-region" class="fragment" hx-get="/dashboard/fragment/{fragment}"'
        f' hx-trigger="{trigger}"{include} aria-live="polite">'
        f'<p class="muted">Loading {escape(label.lower())}…</p></div></section>'
    )


def _options(values: Sequence[str], selected: str | None = None, empty: str | None = None) -> str:
    out = [f'<option value="">{escape(empty)}</option>'] if empty is not None else []
    for value in values:
        chosen = " selected" if value == selected else ""
        out.append(f'<option value="{escape(value)}"{chosen}>{escape(value)}</option>')
    return "".join(out)


def _chart(context: PageContext, *, timeframes: bool = True) -> str:
    first = context.symbols[0] if context.symbols else ""
    frames = (
        '<label for="chart-timeframe">Timeframe</label>'
        f'<select id="chart-timeframe">{_options(TIMEFRAMES, "15m")}</select>'
        if timeframes
        else '<input type="hidden" id="chart-timeframe" value="15m">'
    )
    return f"""<div class="chart-controls">
<label for="chart-symbol">Symbol</label>
<select id="chart-symbol">{_options(context.symbols, first)}</select>
{frames}
<span id="chart-state" class="muted" role="status"></span>
</div>
<div class="legend" aria-hidden="true"><span class="k-ema9">EMA 9</span>
<span class="k-ema21">EMA 21</span><span class="k-ema55">EMA 55</span>
<span class="k-bb">Bollinger</span><span class="k-rsi">RSI (lower pane)</span>
<span class="k-macd">MACD (bottom pane)</span></div>
<div class="chart-wrap">
<div id="chart" class="chart" role="img"
 aria-label="Candles with EMA 9/21/55, Bollinger bands, RSI and MACD panes"></div>
<div id="chart-tip" class="chart-tip" role="tooltip" hidden></div>
</div>
<p class="attribution">Charts by <a href="https://www.tradingview.com/" rel="noopener">TradingView
</a> Lightweight Charts™ (Apache-2.0, shipped with this package).</p>"""


def _market(context: PageContext) -> str:
    return f"""{_chart(context)}
<section aria-labelledby="marks-title">
<h2 id="marks-title">Signals and trades on this chart</h2>
<p class="muted">Hover a marker on the chart for the signal's score and explanation.</p>
<ul id="chart-marks" class="marks" tabindex="0" aria-label="Signals and trades on this chart"></ul>
</section>"""


def _positions(context: PageContext) -> str:
    if not context.trading:
        return '<p class="muted">This service has no trading service.</p>'
    return f"""{_region("positions", "Open positions")}
<section aria-labelledby="plans-title">
<h2 id="plans-title">Change a position's plans</h2>
<form id="plans-form" class="inline-form">
<label for="plans-symbol">Position</label>
<select id="plans-symbol" name="symbol">{_options(context.symbols)}</select>
<label for="plans-sl">Stop-loss trigger</label>
<input id="plans-sl" name="stop_loss" inputmode="decimal" required>
<label for="plans-tp">Take-profit trigger (optional)</label>
<input id="plans-tp" name="take_profit" inputmode="decimal">
<button type="submit">Replace plans</button>
</form>
</section>
<section aria-labelledby="chart-title">
<h2 id="chart-title">Chart with entry, stop-loss and take-profit</h2>
{_chart(context)}
<ul id="chart-marks" class="marks" tabindex="0" aria-label="Signals and trades on this chart"></ul>
</section>"""


def _orders(context: PageContext) -> str:
    parts = []
    if context.history:
        parts.append(f"""<section aria-labelledby="orders-title">
<h2 id="orders-title">Order history</h2>
<form id="orders-filter" class="inline-form" hx-get="/dashboard/fragment/orders"
 hx-target="#orders-region" hx-trigger="change">
<label for="orders-symbol">Symbol</label>
<select id="orders-symbol" name="symbol">{_options(context.symbols, empty="all")}</select>
<label for="orders-status">State</label>
<select id="orders-status" name="status">{_options(ORDER_STATES, empty="all")}</select>
</form>
{_region("orders", "Orders", form="orders-filter")}
</section>""")
    if context.pending:
        parts.append(f"""<section aria-labelledby="pending-title">
<h2 id="pending-title">Pending orders</h2>
<form id="pending-filter" class="inline-form" hx-get="/dashboard/fragment/pending"
 hx-target="#pending-region" hx-trigger="change">
<label for="pending-status">State</label>
<select id="pending-status" name="status">{_options(PENDING_STATES, empty="all")}</select>
</form>
{_region("pending", "Pending orders", form="pending-filter")}
</section>""")
    return "\n".join(parts) or '<p class="muted">This service keeps no orders.</p>'


def _signals(context: PageContext) -> str:
    return f"""<form id="signals-filter" class="inline-form" hx-get="/dashboard/fragment/signals"
 hx-target="#signals-region" hx-trigger="change">
<label for="signals-symbol">Symbol</label>
<select id="signals-symbol" name="symbol">{_options(context.symbols, empty="all")}</select>
<label for="signals-which">Show</label>
<select id="signals-which" name="which"><option value="recent">recent</option>
<option value="active">active only</option></select>
</form>
{_region("signals", "Signals", form="signals-filter")}"""


def _system(context: PageContext) -> str:
    return _region("system", "System state")


def _config(context: PageContext) -> str:
    return (
        '<p class="muted">Changes apply at the next read: no restart. Each key shows its '
        "allowed range.</p>" + _region("config", "Configuration", every=None)
    )


_BODIES = {
    "market": _market,
    "positions": _positions,
    "orders": _orders,
    "signals": _signals,
    "system": _system,
    "config": _config,
}
