"""HistorySync against the simulated exchange on a stepped clock: the order and position
history backfills once, then reads only what is new; an order opened long before and
completed later is still caught; with a healthy private stream the periodic runs make no
request and the stream's events fill the tables; after a drop the gap is read from the
disconnection on; replaying every event twice (and in reverse) changes nothing; over the
OKX adapter and the fake OKX server the stored history is what OKX lists."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sync_world import eventually

from okx_helpers import okx_client
from qwentrade.adapters.memory import MemoryRepositories
from qwentrade.adapters.sim import GeneratedPath, SimEngine, SimExchange, SimPrivateStream
from qwentrade.adapters.sim.clock import SteppedClock
from qwentrade.app.container import build, prepare_database
from qwentrade.app.settings import Settings
from qwentrade.app.sync.history import OVERLAP, HistorySync
from qwentrade.domain.errors import ExchangeUnavailable
from qwentrade.domain.market import TimeRange
from qwentrade.domain.venue import OrderRequest, StreamStatus
from qwentrade.domain.venue.stream import StreamStatusKind
from qwentrade.testing.fake_okx import FakeOkx

START = datetime(2025, 1, 1, tzinfo=UTC)
BTC, ETH = "BTC-USDT-SWAP", "ETH-USDT-SWAP"


class CountingExchange:
    """The simulated exchange, counting the calls made to it and the spans asked."""

    def __init__(self, exchange: SimExchange) -> None:
        self._exchange = exchange
        self.calls: Counter[str] = Counter()
        self.spans: list[TimeRange | None] = []

    def __getattr__(self, name: str):
        method = getattr(self._exchange, name)

        def counted(*args, **kwargs):
            self.calls[name] += 1
            if name in ("order_history", "position_history"):
                self.spans.append(kwargs.get("span", args[1] if len(args) > 1 else None))
            return method(*args, **kwargs)

        return counted


@pytest.fixture
def engine() -> SimEngine:
    clock = SteppedClock(START + timedelta(days=2))
    return SimEngine(
        balance=Decimal(100000), clock=clock, price_path=GeneratedPath(seed=3, start=START)
    )


def step(engine: SimEngine, minutes: float) -> datetime:
    engine.clock.advance(timedelta(minutes=minutes))  # type: ignore[attr-defined]
    return engine.sync()


class Trader:
    """Places and closes positions on the engine so the account has a history."""

    def __init__(self, engine: SimEngine) -> None:
        self.engine = engine
        self.exchange = SimExchange(engine)
        self.count = 0

    def _id(self) -> str:
        self.count += 1
        return f"t{self.count}"

    def round_trip(self, symbol: str, size: str = "2") -> None:
        """Open ``size`` contracts, close one a minute later, the rest a minute after."""
        self.exchange.place_order(OrderRequest(symbol, "buy", size, self._id()))
        step(self.engine, 1)
        self.exchange.place_order(OrderRequest(symbol, "sell", "1", self._id(), reduce_only=True))
        step(self.engine, 1)
        rest = str(Decimal(size) - 1)
        self.exchange.place_order(OrderRequest(symbol, "sell", rest, self._id(), reduce_only=True))

    def resting(self, symbol: str) -> str:
        bid = self.exchange.order_book(symbol, 1).bids[0][0]
        price = (bid / 2).quantize(Decimal(1))  # far below: it rests
        request = OrderRequest(symbol, "buy", "1", self._id(), order_type="limit", price=price)
        return self.exchange.place_order(request).order_id


def truth(exchange: SimExchange) -> tuple[dict, dict]:
    """Every order (completed and open) and position-history row the venue knows."""
    orders = {o.order_id: o for o in exchange.order_history(limit=100000)}
    orders.update({o.order_id: o.to_record() for o in exchange.open_orders()})
    positions = {(p.pos_id, p.updated_at): p for p in exchange.position_history(limit=100000)}
    return orders, positions


def stored(repos) -> tuple[dict, dict]:
    orders = {o.order_id: o for o in repos.history.orders(limit=None)}
    positions = {(p.pos_id, p.updated_at): p for p in repos.history.positions(limit=None)}
    return orders, positions


def test_backfill_then_only_what_is_new_and_a_restart_resumes(engine, repos):
    exchange = CountingExchange(SimExchange(engine))
    trader = Trader(engine)
    for symbol in (BTC, ETH, BTC):
        trader.round_trip(symbol)
        step(engine, 45)
    sync = HistorySync(exchange, repos.history, repos.config, engine.clock)
    now = engine.sync()
    written = sync.order_history(None, now) + sync.position_history(None, now)
    orders, positions = truth(SimExchange(engine))
    assert len(orders) == 9 and len(positions) == 6
    assert written == 15 and stored(repos) == (orders, positions)
    assert exchange.spans[0].start == now - timedelta(days=90)  # the window, read live

    # the next run reads only from the last one (minus the overlap) and writes nothing new
    exchange.spans.clear()
    later = step(engine, 0.5)
    assert sync.order_history(None, later) == 0 and sync.position_history(None, later) == 0
    assert [s.start for s in exchange.spans] == [now - OVERLAP, now - OVERLAP]

    # new trades are picked up; a restart (new object, same tables) resumes from the tables
    trader.round_trip(ETH)
    step(engine, 10)
    restarted = HistorySync(exchange, repos.history, repos.config, engine.clock)
    newest_order = max(o.created_at for o in stored(repos)[0].values())
    exchange.spans.clear()
    now = engine.sync()
    assert restarted.order_history(None, now) == 3
    assert restarted.position_history(None, now) == 2
    assert stored(repos) == truth(SimExchange(engine))
    assert exchange.spans[0].start == newest_order - OVERLAP  # not the whole window again


def test_an_order_opened_long_ago_and_completed_later_is_caught(engine):
    repos = MemoryRepositories()
    exchange = SimExchange(engine)
    trader = Trader(engine)
    resting = trader.resting(BTC)
    sync = HistorySync(exchange, repos.history, repos.config, engine.clock)
    assert sync.order_history(None, engine.sync()) == 1
    assert repos.history.order(resting).status == "live"
    step(engine, 600)  # ten hours: far beyond the span a run reads
    exchange.cancel_order(BTC, order_id=resting)
    assert sync.order_history(None, engine.sync()) == 1
    assert repos.history.order(resting).status == "canceled"


def test_the_window_is_read_live_from_the_config(engine):
    repos = MemoryRepositories()
    exchange = CountingExchange(SimExchange(engine))
    repos.config.set("ORDER_HISTORY_START_DAYS", 2)
    repos.config.set("POSITION_HISTORY_START_DAYS", 3)
    sync = HistorySync(exchange, repos.history, repos.config, engine.clock)
    now = engine.sync()
    sync.order_history(None, now)
    sync.position_history(None, now)
    assert [s.start for s in exchange.spans] == [now - timedelta(days=2), now - timedelta(days=3)]


def test_with_a_healthy_stream_runs_make_no_request_and_events_fill_the_tables(engine):
    repos = MemoryRepositories()
    venue = SimExchange(engine)
    exchange = CountingExchange(venue)
    trader = Trader(engine)
    trader.round_trip(BTC)  # before the stream: history the CONNECTED fill must read
    step(engine, 30)
    events: list = []
    stream = SimPrivateStream(engine, threaded=False)
    stream.connect(events.append)
    sync = HistorySync(
        exchange, repos.history, repos.config, engine.clock, lambda: stream.connected
    )
    try:
        assert sync.record(events.pop(0)) == 5  # CONNECTED: 3 orders, 2 position rows
        trader.round_trip(ETH)
        step(engine, 5)
        exchange.calls.clear()
        for event in list(events):
            sync.record(event)
        events.clear()
        # the closes read their position rows at once; nothing else asked the venue
        assert set(exchange.calls) <= {"position_history"}
        exchange.calls.clear()
        now = step(engine, 1)
        assert sync.order_history(None, now) == 0 and sync.position_history(None, now) == 0
        assert exchange.calls == Counter()
        assert stored(repos) == truth(venue)

        # the stream drops: orders placed meanwhile are read from the drop on
        dropped = engine.sync()
        sync.record(StreamStatus(StreamStatusKind.DISCONNECTED, dropped))
        trader.round_trip(BTC, size="3")
        events.clear()  # never delivered
        now = step(engine, 1)
        exchange.spans.clear()
        assert sync.order_history(None, now) == 3
        assert sync.position_history(None, now) == 2
        assert all(s.start == dropped - OVERLAP for s in exchange.spans)
        assert stored(repos) == truth(venue)
    finally:
        stream.close()


def test_stream_connected_false_means_rest_even_after_a_connected_event(engine):
    repos = MemoryRepositories()
    exchange = CountingExchange(SimExchange(engine))
    sync = HistorySync(exchange, repos.history, repos.config, engine.clock, lambda: False)
    sync.record(StreamStatus(StreamStatusKind.CONNECTED, engine.sync()))
    exchange.calls.clear()
    sync.order_history(None, step(engine, 1))
    assert exchange.calls["order_history"] == 1


def test_replaying_every_event_twice_and_in_reverse_changes_nothing(engine):
    repos = MemoryRepositories()
    venue = SimExchange(engine)
    trader = Trader(engine)
    events: list = []
    stream = SimPrivateStream(engine, threaded=False)
    stream.connect(events.append)
    try:
        resting = trader.resting(ETH)
        for symbol in (BTC, ETH):
            trader.round_trip(symbol)
            step(engine, 20)
        venue.cancel_order(ETH, order_id=resting)
        sync = HistorySync(venue, repos.history, repos.config, engine.clock)
        for event in events:
            sync.record(event)
        once = stored(repos)
        assert once == truth(venue)
        for event in [*events, *reversed(events)]:
            sync.record(event)
        assert stored(repos) == once
        assert repos.history.order(resting).status == "canceled"
    finally:
        stream.close()


def test_over_okx_the_history_matches_what_okx_lists():
    repos = MemoryRepositories()
    with FakeOkx(history_days=1, seed=2, rate_limits=False) as server:
        okx, config = okx_client(server, quick=False)
        okx.place_order(OrderRequest(BTC, "buy", "2", "h1"))
        okx.place_order(OrderRequest(BTC, "sell", "1", "h2", reduce_only=True))
        okx.place_order(OrderRequest(BTC, "sell", "1", "h3", reduce_only=True))
        bid = okx.order_book(ETH, 1).bids[0][0]
        price = (bid / 2).quantize(Decimal(1))
        resting = okx.place_order(OrderRequest(ETH, "buy", "1", "h4", "limit", price)).order_id
        sync = HistorySync(okx, repos.history, config, server.engine.clock)
        now = datetime.now(UTC)
        assert sync.order_history(None, now) == 4
        assert sync.position_history(None, now) == 2
        listed = {o.order_id: o for o in okx.order_history(limit=1000)}
        listed[resting] = okx.get_order(ETH, order_id=resting).to_record()
        positions = {(p.pos_id, p.updated_at): p for p in okx.position_history(limit=1000)}
        assert stored(repos) == (listed, positions)
        okx.cancel_order(ETH, order_id=resting)
        assert sync.order_history(None, datetime.now(UTC)) == 1
        assert repos.history.order(resting).status == "canceled"


def test_in_sim_mode_the_stream_consumer_fills_the_history_through_record(tmp_path):
    built = build(
        Settings.from_env(
            {"QWENTRADE_DATABASE_URL": f"sqlite:///{tmp_path / 'sim.db'}", "QWENTRADE_SYMBOLS": BTC}
        )
    )
    prepare_database(built)
    exchange, history = built.exchange(), built.repositories().history
    before = Trader(engine=built.sim_engine())
    early = before.resting(BTC)  # placed before the stream: the CONNECTED fill reads it
    reconciler = built.reconciler()
    reconciler.start()
    try:
        eventually(lambda: history.order(early) is not None, timeout=10)
        late = before.resting(BTC)
        exchange.cancel_order(BTC, order_id=late)
        eventually(lambda: getattr(history.order(late), "status", "") == "canceled", timeout=10)
        # the stream is healthy and handed its events over: the periodic run has nothing to do
        assert built.history_sync().order_history(None, built.clock().now()) == 0
    finally:
        reconciler.stop()


class FailingExchange(CountingExchange):
    """The simulated exchange, unreachable while ``down``."""

    down = False

    def __getattr__(self, name: str):
        if self.down and name in ("order_history", "position_history", "open_orders"):
            raise ExchangeUnavailable(f"{name}: connection refused")
        return super().__getattr__(name)


def test_a_gap_fill_that_fails_leaves_the_stream_untrusted_until_rest_has_read_it(engine):
    repos = MemoryRepositories()
    venue = SimExchange(engine)
    exchange = FailingExchange(venue)
    Trader(engine).round_trip(ETH)
    sync = HistorySync(exchange, repos.history, repos.config, engine.clock, lambda: True)
    exchange.down = True
    assert sync.record(StreamStatus(StreamStatusKind.CONNECTED, engine.sync())) == 0
    exchange.down = False
    now = step(engine, 1)
    assert sync.order_history(None, now) == 3 and sync.position_history(None, now) == 2
    assert stored(repos) == truth(venue)


def test_stream_rows_written_before_any_run_do_not_hide_older_history(engine):
    repos = MemoryRepositories()
    venue = SimExchange(engine)
    trader = Trader(engine)
    trader.round_trip(BTC)  # history no run has read yet
    step(engine, 120)
    events: list = []
    stream = SimPrivateStream(engine, threaded=False)
    stream.connect(events.append)
    try:
        trader.round_trip(ETH)
        sync = HistorySync(venue, repos.history, repos.config, engine.clock)
        for event in events[1:]:  # a consumer that does not hand over StreamStatus
            sync.record(event)
        now = step(engine, 1)
        sync.order_history(None, now)
        sync.position_history(None, now)
        assert stored(repos) == truth(venue)
    finally:
        stream.close()
