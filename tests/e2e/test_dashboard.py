"""The dashboard in a real headless Chromium (Debian's ``chromium``, driven by Playwright)
against ``qwentrade serve`` in sim mode on loopback.

Each page loads with no console error (CSP violations, failed requests and script errors
are console errors) and no serious or critical axe-core violation; the candle chart's
canvases are drawn (pixels sampled); a signal stored in the database becomes a marker with
its score on hover; a position opened through the API is listed with its SL/TP lines and
closing it from the page closes it; a config key changed from the page is changed.

``DASHBOARD_SCREENSHOTS=dir`` saves a PNG of each page there (docs/screenshots).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import Service, wait_for
from env_helpers import CHROMIUM_MISSING, find_chromium, in_ci, require_chromium
from qwentrade.adapters.sql import SqlRepositories, make_engine, upgrade
from qwentrade.domain.records import SignalRecord

playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright")

if find_chromium() is None and not in_ci():
    pytest.skip(CHROMIUM_MISSING, allow_module_level=True)

BTC = "BTC-USDT-SWAP"
KEY = "dashboard-test-key-0123456789abcdef"
HEADERS = {"X-API-Key": KEY}
AXE = Path(__file__).parent / "assets" / "axe.min.js"
PAGES = {
    "market": "/",
    "positions": "/dashboard/positions",
    "orders": "/dashboard/orders",
    "signals": "/dashboard/signals",
    "system": "/dashboard/system",
    "config": "/dashboard/config",
}
SHOTS = os.environ.get("DASHBOARD_SCREENSHOTS")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    workdir = tmp_path_factory.mktemp("dashboard")
    engine = make_engine(f"sqlite:///{workdir / 'qwentrade.db'}")
    upgrade(engine)
    # The sim signal policy trades by itself: off, so the test's positions are alone.
    SqlRepositories.from_engine(engine).config.set("POLICY_ENABLED", "false")
    engine.dispose()
    # Real-time sim clock: after the backfill the sync jobs write seldom (see the config test).
    env = {"QWENTRADE_SYMBOLS": BTC, "QWENTRADE_API_KEY": KEY, "QWENTRADE_SIM_SPEED": "1"}
    svc = Service(workdir, env).start()
    wait_for(lambda: backfilled(svc.url), 60, "the sync engine's backfill")
    try:
        yield svc
    finally:
        svc.stop()


def backfilled(url: str) -> bool:
    jobs = httpx.get(f"{url}/sync/status", headers=HEADERS).json()["jobs"]
    working = [j for j in jobs if j["state"] != "DISABLED"]
    return all(j["runs"] > 0 and not j["running"] for j in working) and bool(candles(url, 1))


def candles(url: str, limit: int) -> list[dict[str, Any]]:
    response = httpx.get(f"{url}/klines/{BTC}/15m", params={"limit": limit}, headers=HEADERS)
    return response.json()["candles"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=require_chromium(), args=["--no-sandbox"])
        yield chromium
        chromium.close()


class Page:
    """A browser tab with the API key in its sessionStorage, recording console errors."""

    def __init__(self, browser: Any, server: Service, key: str | None = KEY) -> None:
        self.context = browser.new_context(viewport={"width": 1400, "height": 900})
        self.page = self.context.new_page()
        self.url = server.url
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        if key is not None:
            self.page.add_init_script(f"sessionStorage.setItem('qwentrade.apiKey', {key!r})")

    def open(self, path: str) -> Any:
        self.page.goto(self.url + path)
        return self.page

    def wait(self, predicate: str, timeout: float = 20_000) -> None:
        # A function (not a string expression): the page's CSP forbids eval.
        self.page.wait_for_function(predicate, timeout=timeout)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def tab(browser: Any, server: Service) -> Iterator[Page]:
    page = Page(browser, server)
    yield page
    page.close()


def axe_violations(page: Any) -> list[dict[str, Any]]:
    page.evaluate(AXE.read_text())  # by the devtools protocol: not subject to the CSP
    result = page.evaluate(
        """async () => (await axe.run(document, {runOnly: {type: 'tag',
            values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}}))
            .violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                   nodes: v.nodes.slice(0, 3).map(n => n.target)}))"""
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]


def loaded(name: str) -> str:
    """A predicate true once page ``name`` shows its data."""
    if name in ("market", "positions"):
        return "() => Number(document.getElementById('chart').dataset.bars) > 0"
    region = {"orders": "orders", "signals": "signals", "system": "system", "config": "config"}
    return (
        f"() => !!document.querySelector('#{region[name]}-region table, "
        f"#{region[name]}-region .empty')"
    )


@pytest.mark.parametrize("name", list(PAGES))
def test_each_page_loads_without_console_errors_and_passes_axe(tab, name):
    page = tab.open(PAGES[name])
    tab.wait(loaded(name))
    assert page.locator("h1").inner_text().lower() == name
    assert not page.locator("[role=alert]").count(), page.locator("[role=alert]").all_inner_texts()
    violations = axe_violations(page)
    assert violations == [], violations
    # Keyboard: the first Tab reaches the skip link, which moves the focus to the content.
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=name != "market")
    assert tab.errors == []


def test_without_a_key_pages_ask_for_it_and_send_nothing(browser, server):
    tab = Page(browser, server, key=None)
    try:
        page = tab.open("/dashboard/system")
        region = page.locator("#system-region")
        region.get_by_text("Enter the API key").wait_for()
        assert tab.errors == []  # no request was made only to be refused (401)
        page.fill("#api-key", KEY)
        page.get_by_role("button", name="Use key").click()
        page.locator("#system-region table").first.wait_for()
        assert "sim" in region.inner_text()
        assert page.evaluate("() => sessionStorage.getItem('qwentrade.apiKey')") == KEY
        assert page.locator("#api-key").input_value() == ""  # not left in the form
        assert tab.errors == []
    finally:
        tab.close()


def canvas_pixels(page: Any) -> dict[str, int]:
    """Pixels of the chart's canvases: drawn (not background) and candle-coloured."""
    return page.evaluate(
        """() => {
        let drawn = 0, up = 0, down = 0, total = 0;
        for (const c of document.querySelectorAll('#chart canvas')) {
            if (!c.width || !c.height) continue;
            const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            for (let i = 0; i < data.length; i += 4) {
                const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
                total++;
                if (a > 0 && !(r > 245 && g > 245 && b > 245)) drawn++;
                const near = (x, y, z) => Math.abs(r - x) + Math.abs(g - y) + Math.abs(b - z) < 30;
                if (near(0x1a, 0x7f, 0x4b)) up++;  // chart.js COLORS.up
                if (near(0xc0, 0x39, 0x2b)) down++;  // COLORS.down
            }
        }
        return {drawn, up, down, total};
    }"""
    )


def test_the_candle_chart_is_drawn(tab):
    page = tab.open("/")
    tab.wait(loaded("market"))
    page.wait_for_timeout(300)  # the chart paints on the next animation frame
    pixels = canvas_pixels(page)
    assert pixels["total"] > 100_000
    assert pixels["drawn"] > 0.01 * pixels["total"], pixels
    assert pixels["up"] > 50 and pixels["down"] > 50, pixels  # green and red candles
    page.select_option("#chart-timeframe", "4h")
    tab.wait("() => document.getElementById('chart-state').textContent.includes('4h')")
    assert int(page.locator("#chart").get_attribute("data-bars")) > 0
    assert tab.errors == []


def test_a_stored_signal_is_a_marker_with_its_score_on_hover(tab, server):
    bar = candles(server.url, 30)[-20]
    when = datetime.fromisoformat(bar["time"])
    engine = make_engine(f"sqlite:///{server.workdir / 'qwentrade.db'}")
    details = {
        "environment": {"mode": "trend", "active": True, "trend_15m": "up", "trend_4h": "up"},
        "trigger": {"macd_move": "cross_up", "macd_points": 10, "rsi": 41.5, "rsi_points": 5},
        "confirmation": {"volume_points": 5, "bollinger_points": 3, "multi_timeframe_points": 4},
    }
    stored = SqlRepositories.from_engine(engine).signals.add(
        SignalRecord(
            symbol=BTC,
            time=when,
            signal_type="LONG",
            score=27.0,
            price=Decimal(str(bar["close"])),
            created_at=when + timedelta(minutes=15),
            expire_at=datetime.now(UTC) + timedelta(days=365),
            details=details,
        )
    )
    engine.dispose()

    page = tab.open("/")
    item = page.locator(f"#chart-marks li[data-signal-id='{stored.id}']")
    item.wait_for()
    assert "LONG" in item.inner_text() and "score 27" in item.inner_text()
    assert int(page.locator("#chart").get_attribute("data-markers")) >= 1
    # Hover the signal's candle: the tooltip gives its score and each layer's explanation.
    page.wait_for_timeout(300)
    t = page.evaluate(f"() => qwentradeChart.barTime({bar['time']!r})")
    x = page.evaluate(f"() => qwentradeChart.xOf({t})")
    assert x is not None
    box = page.locator("#chart").bounding_box()
    page.mouse.move(box["x"] + x, box["y"] + 100)
    tip = page.locator("#chart-tip")
    tip.wait_for(state="visible")
    text = tip.inner_text()
    assert "LONG signal, score 27" in text
    assert "trigger: MACD cross_up +10" in text and "confirmation: volume +5" in text

    # The signals page explains it layer by layer; an open explanation is not closed by
    # the table's timed refresh (that refresh is skipped while it is open).
    page = tab.open("/dashboard/signals")
    summary = page.get_by_text(f"Explanation of signal {stored.id}", exact=True)
    summary.click()
    explained = page.locator("#signals-region details[open]")
    assert "cross_up +10" in explained.inner_text()
    page.evaluate(
        """() => { window.polls = [];
        document.addEventListener('htmx:configRequest', e => {
            if (e.detail.elt.id === 'signals-region') window.polls.push(e.defaultPrevented);
        }); }"""
    )
    tab.wait("() => window.polls.length > 0", timeout=15_000)  # the next timed refresh
    assert page.evaluate("() => window.polls") == [True]
    assert explained.count() == 1
    assert tab.errors == []


def test_a_position_opened_through_the_api_is_shown_and_closed_from_the_page(tab, server):
    # The page is open before the position exists: it appears without a reload (polling).
    page = tab.open("/dashboard/positions")
    page.locator("#positions-region .empty").wait_for()
    tab.wait("() => Number(document.getElementById('chart').dataset.bars) > 0")
    assert page.locator("#chart").get_attribute("data-price-lines") == "0"
    price = Decimal(str(candles(server.url, 1)[-1]["close"]))
    stop, target = ((price * Decimal(f)).quantize(Decimal("0.1")) for f in ("0.9", "1.1"))
    opened = httpx.post(
        f"{server.url}/trading/open-position",
        json={
            "symbol": BTC,
            "side": "LONG",
            "amount": "100",
            "leverage": 5,
            "stop_loss_trigger": str(stop),
            "take_profit_trigger": str(target),
        },
        headers=HEADERS,
        timeout=30,
    )
    assert opened.status_code == 200, opened.text
    cl_ord_id = opened.json()["cl_ord_id"]

    row = page.locator(f"#positions-region tr[data-symbol='{BTC}']")
    row.wait_for(timeout=15_000)  # the table polls every 5 s
    text = row.inner_text()
    assert cl_ord_id in text and "LONG" in text
    assert f"{stop.normalize():f}" in text and f"{target.normalize():f}" in text
    # The chart (polling every 10 s) draws the entry, the stop-loss and the take-profit.
    tab.wait("() => Number(document.getElementById('chart').dataset.priceLines) >= 3")

    # Change the plans from the page: the form is filled from the row, a new stop is sent.
    row.get_by_role("button", name=f"Change plans of {BTC}").click()
    assert page.locator("#plans-sl").input_value() == f"{stop.normalize():f}"
    assert page.evaluate("() => document.activeElement.id") == "plans-sl"
    closer = (price * Decimal("0.95")).quantize(Decimal("0.1"))
    page.fill("#plans-sl", str(closer))
    page.get_by_role("button", name="Replace plans").click()
    assert toast(tab) == f"Plans of {BTC} replaced"
    held = httpx.get(f"{server.url}/trading/current-position", headers=HEADERS).json()
    stops = {Decimal(a["stop_loss_trigger"]) for a in held[0]["plans"] if a["stop_loss_trigger"]}
    assert stops == {closer}
    row.get_by_text(f"{closer.normalize():f}").wait_for()  # the table shows the new stop

    row.get_by_role("button", name=f"Close {BTC}").click()
    page.locator("#positions-region .empty").wait_for(timeout=20_000)
    assert toast(tab).startswith(f"Closed {BTC} (")
    held = httpx.get(f"{server.url}/trading/current-position", headers=HEADERS).json()
    assert held == []
    status = httpx.get(f"{server.url}/trading/order-status/{cl_ord_id}", headers=HEADERS).json()
    assert status["relation"]["status"] == "CLOSED"
    assert tab.errors == []


def toast(tab: Page) -> str:
    """The next message the page shows in its status box (then cleared)."""
    tab.wait("() => document.getElementById('toast').classList.contains('show')")
    text = tab.page.locator("#toast").inner_text()
    tab.page.evaluate(
        "() => { const t = document.getElementById('toast'); t.className = 'toast'; }"
    )
    return text


def test_a_config_key_is_changed_from_the_page(tab, server):
    page = tab.open("/dashboard/config")
    tab.wait(loaded("config"))
    field = page.get_by_label("New value of DETECTOR_SIGNAL_EXPIRE_HOURS", exact=True)
    field.fill("7")
    page.get_by_role("button", name="Set DETECTOR_SIGNAL_EXPIRE_HOURS", exact=True).click()
    assert toast(tab) == "DETECTOR_SIGNAL_EXPIRE_HOURS = 7"
    entry = httpx.get(f"{server.url}/config/DETECTOR_SIGNAL_EXPIRE_HOURS", headers=HEADERS).json()
    assert entry["value"] == 7
    # Out of range: refused with the key's message, the value stays.
    page.get_by_label("New value of DETECTOR_SIGNAL_EXPIRE_HOURS", exact=True).fill("-3")
    page.get_by_role("button", name="Set DETECTOR_SIGNAL_EXPIRE_HOURS", exact=True).click()
    assert toast(tab).startswith("DETECTOR_SIGNAL_EXPIRE_HOURS refused: ")
    entry = httpx.get(f"{server.url}/config/DETECTOR_SIGNAL_EXPIRE_HOURS", headers=HEADERS).json()
    assert entry["value"] == 7
    # A boolean key is a true/false choice.
    name = "DETECTOR_MACD_RISING_REQUIRES_SIGN"
    page.get_by_label(f"New value of {name}", exact=True).select_option("true")
    page.get_by_role("button", name=f"Set {name}", exact=True).click()
    assert toast(tab) == f"{name} = true"
    assert httpx.get(f"{server.url}/config/{name}", headers=HEADERS).json()["value"] is True
    # The browser logs the refused PUT (400) as a failed resource load, nothing else.
    assert all("400" in e for e in tab.errors), tab.errors


def test_a_pending_order_is_listed_filtered_and_cancelled_from_the_orders_page(tab, server):
    price = Decimal(str(candles(server.url, 1)[-1]["close"]))
    trigger = (price * Decimal("0.8")).quantize(Decimal("0.1"))  # far below: stays PENDING
    created = httpx.post(
        f"{server.url}/pending-order/create",
        json={"symbol": BTC, "side": "LONG", "amount": "50", "trigger_price": str(trigger)},
        headers=HEADERS,
        timeout=30,
    )
    assert created.status_code == 200, created.text
    order_id = created.json()["id"]

    page = tab.open("/dashboard/orders")
    region = page.locator("#pending-region")
    button = region.get_by_role("button", name=f"Cancel {BTC} LONG at {trigger.normalize():f}")
    button.wait_for()
    # The state filter narrows the list: no CANCELLED order yet.
    page.select_option("#pending-status", "CANCELLED")
    region.get_by_text("No pending order matches.").wait_for()
    page.select_option("#pending-status", "PENDING")
    button.click()
    assert toast(tab) == f"Cancelled pending order {order_id}"
    region.get_by_text("No pending order matches.").wait_for()  # PENDING filter: gone
    stored = httpx.get(f"{server.url}/pending-order/{order_id}", headers=HEADERS).json()
    assert stored["status"] == "CANCELLED"
    assert tab.errors == []


# -- the fragments as rendered (no browser) ------------------------------------------------


def test_fragments_escape_whatever_they_show():
    from qwentrade.adapters.http.dashboard import fragments
    from qwentrade.domain.config_keys import ConfigEntry

    evil = "<img src=x onerror=alert(1)>"
    held = [{"symbol": evil, "side": "LONG", "cl_ord_id": '"><script>x</script>', "plans": []}]
    html = fragments.positions(held)
    assert "<img" not in html and "<script" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    entry = ConfigEntry("K", "v", "str", "d", evil, "any text")
    assert "<img" not in fragments.config([entry])


def test_the_system_fragment_shows_the_gate_queue_by_priority_and_failing_jobs():
    from qwentrade.adapters.http.dashboard import fragments
    from qwentrade.adapters.http.dto import SyncJobResponse
    from qwentrade.adapters.http.health import ComponentResult
    from qwentrade.app.services import GateCounters, StreamCounters
    from qwentrade.app.system import Health

    health = Health("ok", "live", "1.2.3", datetime(2026, 1, 1, tzinfo=UTC), 75.0, {})
    gate = GateCounters(
        waiting={"STOP_LOSS": 0, "TRADE": 2, "QUERY": 5},
        admitted={"STOP_LOSS": 1, "TRADE": 9, "QUERY": 40},
        total_wait_seconds={},
        max_wait_seconds={"QUERY": 1.25},
        timed_out={"QUERY": 3},
    )
    job = SyncJobResponse(
        "klines_4h:BTC-USDT-SWAP", "klines_4h", BTC, "FAILING", False, None,
        "timeout talking to OKX", None, None, 10, 4, 3, 5950.0, "",
    )  # fmt: skip
    checks = {"private_stream": ComponentResult("down", "disconnected", 0.0, 0.1)}
    html = fragments.system(health, [job], StreamCounters(False, 7), gate, checks)
    assert "<dt>Mode</dt><dd>live</dd>" in html and "<dd>1.2.3</dd>" in html
    rows = re.findall(r"<tr><td>(STOP_LOSS|TRADE|QUERY)</td>(.*?)</tr>", html)
    assert rows == [
        ("STOP_LOSS", "<td>0</td><td>1</td><td>0</td><td>0</td>"),
        ("TRADE", "<td>2</td><td>9</td><td>0</td><td>0</td>"),
        ("QUERY", "<td>5</td><td>40</td><td>1.25</td><td>3</td>"),
    ]
    assert "disconnected</strong>, 7 reconnects" in html
    assert '<td class="state-failing">FAILING</td>' in html and "<td>1 h 39 m</td>" in html
    assert "<td>timeout talking to OKX</td>" in html
