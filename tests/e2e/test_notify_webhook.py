"""Notifications delivered through Apprise to a real webhook receiver on loopback
(Apprise's ``json://`` posts): every kind once through the container's wiring (sim mode,
SQLite), retries with backoff after a 500, kinds switched off, the rate limit, the
private-stream watch, and no secret in any payload."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import attrs
import pytest
from litestar.testing import TestClient

from qwentrade.adapters.memory import MemoryConfigStore
from qwentrade.adapters.notify import AppriseNotifier, StreamWatcher
from qwentrade.adapters.sim import SteppedClock
from qwentrade.app.container import Container, build, prepare_database
from qwentrade.app.settings import Settings
from qwentrade.domain.errors import ExchangeUnavailable, InvalidInput
from qwentrade.domain.notify import NoticeKind, Notification
from qwentrade.domain.records import SignalRecord
from qwentrade.domain.venue import AlgoLeg, OrderRequest

BTC, ETH = "BTC-USDT-SWAP", "ETH-USDT-SWAP"
T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
API_KEY = "api-key-7f3a9c1e5b"
OKX_KEY, OKX_SECRET, OKX_PASSPHRASE = "okx-key-2b8d4f", "okx-secret-9e1c7a", "okx-pass-4d6b2f"
COINGLASS_KEY = "coinglass-key-5a3e8c"
HOOK_TOKEN = "hook-token-8c2f6d1a"  # in the target URL's path: a secret like the rest


@attrs.define
class Post:
    path: str
    body: dict
    raw: str


class Receiver:
    """A webhook on 127.0.0.1: records each POST; ``fail(n)`` answers the next n with 500;
    ``hold()`` keeps requests waiting until ``release()``."""

    def __init__(self) -> None:
        self.posts: list[Post] = []
        self.refused = 0
        self._failures = 0
        self._open = threading.Event()
        self._open.set()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                receiver._open.wait(30)
                with receiver._lock:
                    failing = receiver._failures > 0
                    if failing:
                        receiver._failures -= 1
                        receiver.refused += 1
                    else:
                        receiver.posts.append(Post(self.path, json.loads(raw), raw))
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self, path: str = HOOK_TOKEN) -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def fail(self, times: int) -> None:
        with self._lock:
            self._failures = times

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def titles(self) -> list[str]:
        with self._lock:
            return [post.body["title"] for post in self.posts]

    def wait_for(self, count: int, timeout: float = 20.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while len(self.titles()) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} posts, got {self.titles()}")
            time.sleep(0.01)
        return self.titles()

    def close(self) -> None:
        self._open.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    yield hook
    hook.close()


def wait_until(condition: Callable[[], object], timeout: float = 20.0, what: str = "it"):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)
    return result


def notice(kind: NoticeKind = NoticeKind.SIGNAL, subject: str = BTC, body: str = "b"):
    return Notification(kind, subject, f"{kind.value} {subject}", body, T0)


def notifier_for(receiver: Receiver, clock, **config) -> tuple[AppriseNotifier, MemoryConfigStore]:
    store = MemoryConfigStore()
    for key, value in config.items():
        store.set(key, value)
    notifier = AppriseNotifier([receiver.url()], store, clock, secrets=[API_KEY])
    return notifier, store


# -- the container: every kind, once, with no secret ------------------------------------


def sim_container(tmp_path: Path, receiver: Receiver) -> Container:
    environ = {
        "QWENTRADE_DATABASE_URL": f"sqlite:///{tmp_path / 'notify.db'}",
        "QWENTRADE_SYMBOLS": f"{BTC},{ETH}",
        "QWENTRADE_SIM_SPEED": "600",  # pending triggers need the price to move
        "QWENTRADE_NOTIFY_URLS": receiver.url(),
        "QWENTRADE_API_KEY": API_KEY,
        "QWENTRADE_OKX_API_KEY": OKX_KEY,
        "QWENTRADE_OKX_SECRET": OKX_SECRET,
        "QWENTRADE_OKX_PASSPHRASE": OKX_PASSPHRASE,
        "QWENTRADE_COINGLASS_API_KEY": COINGLASS_KEY,
        "QWENTRADE_LOG_FILE": "",
    }
    container = build(Settings.from_env(environ))
    prepare_database(container)
    config = container.repositories().config
    config.set("NOTIFY_SYNC_FAILING_RUNS", 2)
    return container


def expect(receiver: Receiver, seen: list[str], *titles: str) -> None:
    """The next posts are exactly ``titles`` (prefixes), in order."""
    got = receiver.wait_for(len(seen) + len(titles))
    new = got[len(seen) :]
    assert len(new) == len(titles) and all(
        title.startswith(prefix) for title, prefix in zip(new, titles, strict=True)
    ), new
    seen.extend(new)


def trigger_a_pending_order(container: Container) -> str:
    """Pending orders just above BTC and just below ETH; the simulated market crosses one
    (the other is then cancelled); its symbol."""
    pending = container.pending_orders()
    up = pending.create(BTC, "LONG", 100, pending.last_price(BTC) * Decimal("1.0003"))
    down = pending.create(ETH, "SHORT", 100, pending.last_price(ETH) * Decimal("0.9997"))

    def triggered() -> str | None:
        pending.check()
        for order in (up, down):
            if pending.get(order.id).status == "TRIGGERED":
                return order.symbol
        return None

    symbol = wait_until(triggered, timeout=60, what="a pending order to trigger")
    for order in (up, down):
        if pending.get(order.id).status == "PENDING":
            pending.cancel(order.id)
    return symbol


def hit(container: Container, symbol: str, leg: AlgoLeg) -> None:
    """Open ``symbol`` with a stop-loss and take-profit; the venue reports ``leg``
    triggered and the position gone; reconciliation records the close."""
    trading, exchange = container.trading(), container.exchange()
    price = container.pending_orders().last_price(symbol)
    trading.open_position(
        symbol,
        "LONG",
        100,
        stop_loss_trigger=price * Decimal("0.9"),
        take_profit_trigger=price * Decimal("1.1"),
    )
    [algo] = exchange.open_algos(symbol)
    reconciler = container.reconciler()
    reconciler.handle_event(attrs.evolve(algo, state="effective", triggered_leg=leg))
    [held] = exchange.positions(symbol)
    exchange.place_order(
        OrderRequest(symbol, "sell", str(held.contracts), f"x{leg.name[:4]}", reduce_only=True)
    )
    reconciler.reconcile("periodic")


def test_every_kind_is_delivered_once_through_the_container(tmp_path, receiver, monkeypatch):
    container = sim_container(tmp_path, receiver)
    notifier = container.notifications()
    assert isinstance(notifier, AppriseNotifier)
    notifier.start()
    seen: list[str] = []
    try:
        # a new signal, as the sync engine hands it to its subscribers
        now = container.clock().now()
        signal = SignalRecord(BTC, now, "LONG", 19, Decimal("62000"), now, now + timedelta(hours=4))
        container.kline_sync().on_signal(signal)
        expect(receiver, seen, "LONG signal BTC-USDT-SWAP (score 19)")

        # a pending order expires; another triggers and opens its position
        pending = container.pending_orders()
        far = pending.create(BTC, "LONG", 100, pending.last_price(BTC) * Decimal("0.5"))
        pending.check(container.clock().now() + timedelta(hours=2))
        assert pending.get(far.id).status == "EXPIRED"
        expect(receiver, seen, "Pending order expired: LONG BTC")
        symbol = trigger_a_pending_order(container)
        expect(
            receiver,
            seen,
            "Pending order triggered",
            f"Opened {'LONG' if symbol == BTC else 'SHORT'} {symbol}",
        )

        # that position is added to, reduced and closed through the trading service
        trading = container.trading()
        trading.add_position(symbol, 50)
        trading.reduce_position(symbol, 30)
        trading.close_position(symbol)
        expect(receiver, seen, "Added to", "Reduced", "Closed")

        # the venue's stop-loss and take-profit close positions
        hit(container, BTC, AlgoLeg.STOP_LOSS)
        expect(receiver, seen, "Opened LONG BTC", "Stop-loss hit: LONG BTC")
        hit(container, ETH, AlgoLeg.TAKE_PROFIT)
        expect(receiver, seen, "Opened LONG ETH", "Take-profit hit: LONG ETH")

        # a position closed outside the system, then one opened outside it
        trading.open_position(BTC, "LONG", 100)
        [held] = container.exchange().positions(BTC)
        container.exchange().place_order(
            OrderRequest(BTC, "sell", str(held.contracts), "outside1", reduce_only=True)
        )
        container.reconciler().reconcile("periodic")
        expect(receiver, seen, "Opened LONG BTC", "LONG BTC-USDT-SWAP closed outside")
        container.exchange().place_order(OrderRequest(ETH, "buy", "1", "outside2"))
        container.reconciler().reconcile("periodic")
        expect(receiver, seen, "Adopted an unknown LONG position ETH")

        # a sync job failing NOTIFY_SYNC_FAILING_RUNS (2) runs in a row, then recovering
        engine = container.sync_engine()
        market = container.market_data()
        real_order_book = market.order_book

        def down(*args, **kwargs):
            raise ExchangeUnavailable(f"venue down (key {OKX_KEY})")

        monkeypatch.setattr(market, "order_book", down)
        for _ in range(3):
            engine.run_once(kinds=["order_book"], symbols=[BTC])
        expect(receiver, seen, "Sync job order_book:BTC-USDT-SWAP failing")
        monkeypatch.setattr(market, "order_book", real_order_book)
        [result] = engine.run_once(kinds=["order_book"], symbols=[BTC])
        assert result.state == "OK"
        expect(receiver, seen, "Sync job order_book:BTC-USDT-SWAP recovered")

        # an HTTP request with a wrong key
        with TestClient(container.http_app()) as client:
            refused = client.post(
                "/trading/close-position", json={"symbol": BTC}, headers={"X-API-Key": "guess"}
            )
        assert refused.status_code == 401
        expect(receiver, seen, "Refused an HTTP request")
    finally:
        assert notifier.stop(10)
    # 13 kinds (the stream watch has its own test below), 17 events: nothing else, nothing twice
    assert len(seen) == 17 and receiver.titles() == seen
    assert {post.path for post in receiver.posts} == {f"/{HOOK_TOKEN}"}
    payloads = "\n".join(post.raw for post in receiver.posts)
    for secret in (API_KEY, OKX_KEY, OKX_SECRET, OKX_PASSPHRASE, COINGLASS_KEY, HOOK_TOKEN):
        assert secret not in payloads
    failing = next(post.body for post in receiver.posts if "failing" in post.body["title"])
    assert "venue down (key ********)" in failing["message"] and failing["type"] == "failure"
    assert notifier.failed == 0 and notifier.dropped == 0


def test_serve_starts_the_notifier_first_and_watches_the_stream(tmp_path, receiver):
    container = sim_container(tmp_path, receiver)
    components = dict(container.background_components())
    names = list(components)
    assert names[0] == "notifier" and components["notifier"] is container.notifier()
    assert names.index("reconciliation") < names.index("stream-watch")
    assert isinstance(components["stream-watch"], StreamWatcher)


# -- the notifier: retries, switches, rate limit, never blocking --------------------------


def test_a_failed_delivery_is_retried_with_backoff_then_delivered(receiver):
    clock = SteppedClock(T0, auto_advance=True)  # a retry's wait moves it, at once
    notifier, _ = notifier_for(receiver, clock, NOTIFY_RETRY_DELAY=2, NOTIFY_RETRIES=3)
    receiver.fail(2)  # 500, 500, then 200
    notifier.start()
    try:
        notifier.send(notice())
        assert receiver.wait_for(1) == [f"signal {BTC}"]
    finally:
        assert notifier.stop(5)
    assert receiver.refused == 2 and (notifier.delivered, notifier.retried) == (1, 2)
    assert clock.now() == T0 + timedelta(seconds=2 + 4)  # the backoff doubles


def test_a_target_that_keeps_failing_is_logged_and_the_next_notification_goes(receiver, caplog):
    clock = SteppedClock(T0, auto_advance=True)
    notifier, _ = notifier_for(receiver, clock, NOTIFY_RETRY_DELAY=1, NOTIFY_RETRIES=2)
    receiver.fail(3)
    notifier.start()
    try:
        notifier.send(notice(subject="lost"))  # never raises into the caller
        notifier.send(notice(subject="next"))
        assert receiver.wait_for(1) == ["signal next"]
    finally:
        assert notifier.stop(5)
    assert (receiver.refused, notifier.failed, notifier.delivered) == (3, 1, 1)
    [record] = [r for r in caplog.records if "not delivered" in r.getMessage()]
    assert "target #1 json after 3 attempt(s)" in record.getMessage()
    assert HOOK_TOKEN not in caplog.text and str(receiver.port) not in caplog.text


def test_a_kind_switched_off_is_not_delivered_and_the_switch_is_read_live(receiver):
    notifier, config = notifier_for(receiver, SteppedClock(T0), NOTIFY_SIGNAL=False)
    notifier.start()
    try:
        notifier.send(notice(NoticeKind.SIGNAL, "off"))
        notifier.send(notice(NoticeKind.POSITION_OPENED, "on"))
        assert receiver.wait_for(1) == ["position_opened on"]
        config.set("NOTIFY_SIGNAL", True)
        config.set("NOTIFY_POSITION_OPENED", False)
        notifier.send(notice(NoticeKind.POSITION_OPENED, "off"))
        notifier.send(notice(NoticeKind.SIGNAL, "on"))
        assert receiver.wait_for(2) == ["position_opened on", "signal on"]
    finally:
        assert notifier.stop(5)
    assert receiver.titles() == ["position_opened on", "signal on"]


def test_the_rate_limit_holds_per_kind_and_subject(receiver):
    clock = SteppedClock(T0)
    notifier, _ = notifier_for(
        receiver, clock, NOTIFY_RATE_LIMIT_COUNT=2, NOTIFY_RATE_LIMIT_WINDOW=60
    )
    notifier.start()
    try:
        for _ in range(10):  # a flapping job
            notifier.send(notice(NoticeKind.SYNC_FAILING, "klines_15m:BTC"))
        notifier.send(notice(NoticeKind.SYNC_FAILING, "funding_rate:BTC"))
        receiver.wait_for(3)
        clock.advance(timedelta(seconds=60))
        notifier.send(notice(NoticeKind.SYNC_FAILING, "klines_15m:BTC"))
        receiver.wait_for(4)
    finally:
        assert notifier.stop(5)
    assert receiver.titles() == ["sync_failing klines_15m:BTC"] * 2 + [
        "sync_failing funding_rate:BTC",
        "sync_failing klines_15m:BTC",
    ]
    assert "8 similar notifications held back" in receiver.posts[-1].body["message"]


def test_send_never_waits_for_a_stuck_target(receiver):
    notifier, _ = notifier_for(receiver, SteppedClock(T0), NOTIFY_RATE_LIMIT_COUNT=1000)
    receiver.hold()  # the first delivery hangs in the receiver
    notifier.start()
    try:
        for index in range(150):  # more than the queue holds
            notifier.send(notice(subject=f"s{index}"))
        assert notifier.dropped > 0  # the queue is bounded: the overflow was dropped
        receiver.release()
        receiver.wait_for(150 - notifier.dropped)
    finally:
        assert notifier.stop(10)
    assert len(receiver.titles()) == 150 - notifier.dropped


def test_a_notification_text_carrying_a_secret_is_redacted_before_it_leaves(receiver):
    notifier, _ = notifier_for(receiver, SteppedClock(T0))
    notifier.start()
    try:
        leak = f"error from {receiver.url()}: header {API_KEY}, path {HOOK_TOKEN}"
        notifier.send(notice(NoticeKind.SYNC_FAILING, "job", body=leak))
        receiver.wait_for(1)
    finally:
        assert notifier.stop(5)
    raw = receiver.posts[0].raw
    assert API_KEY not in raw and HOOK_TOKEN not in raw
    message = receiver.posts[0].body["message"]
    assert message == "error from ********: header ********, path ********"


def test_an_unusable_target_url_is_refused_at_build_without_echoing_it():
    with pytest.raises(InvalidInput, match=r"notify_urls: URL #1 \(nosuch://...\)") as raised:
        AppriseNotifier(["nosuch://secret-token-here"], MemoryConfigStore(), SteppedClock(T0))
    assert "secret-token-here" not in str(raised.value)


def test_the_private_stream_down_past_the_threshold_is_told_once_and_its_return(receiver):
    clock = SteppedClock(T0, auto_advance=True)  # each of the watcher's waits moves it 5 s
    notifier, config = notifier_for(receiver, clock, NOTIFY_STREAM_DOWN_SECONDS=30)

    def connected() -> bool:  # down from +10 s to +130 s, and again for 20 s from +200 s
        seconds = (clock.now() - T0).total_seconds()
        return not (10 <= seconds < 130 or 200 <= seconds < 220)

    watcher = StreamWatcher(connected, notifier, config, clock, interval=5)
    notifier.start()
    watcher.start()
    try:
        receiver.wait_for(2)
        wait_until(lambda: clock.now() > T0 + timedelta(seconds=300), what="the blip to pass")
    finally:
        assert watcher.stop(5)
        assert notifier.stop(5)
    assert receiver.titles() == ["Private stream down", "Private stream restored"]
    down, back = (post.body["message"] for post in receiver.posts)
    assert "down for 35 s" in down and "after 120 s down" in back
