"""ReconciliationService against the simulated exchange (memory, SQLite and PostgreSQL
repositories) and against the fake OKX server (OkxExchange through a real PermitGate,
OkxPrivateStream over its WebSocket)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import attrs
import pytest

from qwentrade.adapters.memory import MemoryConfigStore, MemoryRepositories
from qwentrade.adapters.notify import MemoryNotifier, NotifyingRepositories
from qwentrade.adapters.okx.exchange import OkxExchange
from qwentrade.adapters.okx.gate import PermitGate
from qwentrade.adapters.okx.retry import RetryPolicy
from qwentrade.adapters.okx.signing import OkxCredentials
from qwentrade.adapters.okx.stream import OkxPrivateStream
from qwentrade.adapters.sim import (
    GeneratedPath,
    SimEngine,
    SimExchange,
    SimPrivateStream,
    SteppedClock,
)
from qwentrade.app import reconcile_stream as module
from qwentrade.app.reconcile import ReconciliationService
from qwentrade.app.sync.history import HistorySync
from qwentrade.app.trading import TradingService
from qwentrade.domain.errors import OrderNotFound
from qwentrade.domain.orders import IntentAction, OrderIntent
from qwentrade.domain.position import Side as PositionSide
from qwentrade.domain.ratelimit import Priority
from qwentrade.domain.records import IntentRecord, RelationRecord
from qwentrade.domain.venue import (
    AlgoLeg,
    AlgoRequest,
    AttachedAlgo,
    ExchangePosition,
    OrderRequest,
    StreamStatus,
)
from qwentrade.testing.fake_okx import FakeOkx

BTC, ETH = "BTC-USDT-SWAP", "ETH-USDT-SWAP"
START = datetime(2024, 3, 1, tzinfo=UTC)
KEY, SECRET, PASSPHRASE = "test-key", "test-secret", "test-pass"


def wait_for(condition: Callable[[], object], timeout: float = 10.0, what: str = "it") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


class Recorded:
    """The real TradingService, with every external close it is asked for kept."""

    def __init__(self, trading: TradingService) -> None:
        self.trading = trading
        self.calls: list[tuple[str, str]] = []

    def handle_external_close(self, symbol: str, reason: str = "external"):
        self.calls.append((symbol, reason))
        return self.trading.handle_external_close(symbol, reason)

    def resolve_intent(self, cl_ord_id: str):
        return self.trading.resolve_intent(cl_ord_id)

    def working_symbols(self):
        return self.trading.working_symbols()

    def record_order(self, order):
        return self.trading.record_order(order)


def recorded(exchange, repos, clock) -> Recorded:
    return Recorded(TradingService(exchange, repos, repos.config, clock))


@attrs.define
class World:
    engine: SimEngine
    exchange: SimExchange
    repos: object
    trading: Recorded
    service: ReconciliationService

    def advance(self, delta: timedelta) -> None:
        self.engine.clock.advance(delta)  # type: ignore[attr-defined]
        self.engine.sync()


@pytest.fixture
def world(repos) -> World:
    clock = SteppedClock(START + timedelta(days=3, minutes=7))
    engine = SimEngine(
        balance=Decimal(10000), clock=clock, price_path=GeneratedPath(seed=5, start=START)
    )
    exchange = SimExchange(engine)
    trading = recorded(exchange, repos, clock)
    service = ReconciliationService(exchange, repos, trading, None, repos.config, clock)
    return World(engine, exchange, repos, trading, service)


def intent_record(world, key, action=IntentAction.OPEN, state="SENT", symbol=BTC, age=600):
    at = world.engine.now - timedelta(seconds=age)
    intent = OrderIntent(key, symbol, action, PositionSide.LONG, Decimal(1), at)
    record = IntentRecord.from_intent(intent, updated_at=at)
    world.repos.intents.add(record)
    stored = attrs.evolve(record, state=state)
    if state != "NEW":
        assert world.repos.intents.update(stored, expected_state="NEW")
    return stored


def market(symbol: str, side: str, size: str, cid: str, **extra) -> OrderRequest:
    return OrderRequest(symbol, side, size, cid, **extra)


# -- intents ----------------------------------------------------------------------------


def test_an_outcome_unknown_intent_is_resolved_by_lookup_and_never_resent(world):
    placed = intent_record(world, "placed", state="OUTCOME_UNKNOWN")
    lost = intent_record(world, "lost", state="OUTCOME_UNKNOWN", symbol=ETH)
    # the first one's request reached the venue before its answer was lost
    order = world.exchange.place_order(market(BTC, "buy", "1", placed.client_order_id))
    world.repos.relations.save(
        RelationRecord(placed.client_order_id, BTC, "LONG", START, START, order.order_id)
    )
    report = world.service.reconcile("start")
    assert report.ok, report.failures
    got = world.repos.intents.get("placed")
    assert (got.state, got.order_id) == ("ACKNOWLEDGED", order.order_id)
    assert world.repos.intents.get("lost").state == "NOT_FOUND"
    assert sorted(report.resolved) == ["lost NOT_FOUND", "placed ACKNOWLEDGED"]
    # nothing was sent for the lost one: ETH has no order and no position
    assert world.exchange.order_history(ETH) == [] and world.exchange.positions(ETH) == []
    with pytest.raises(OrderNotFound):
        world.exchange.get_order(ETH, client_order_id=lost.client_order_id)


def test_an_intent_in_flight_is_left_until_the_grace_has_passed(world):
    intent_record(world, "young", state="SENT", age=5)
    assert world.service.reconcile("periodic").resolved == ()
    assert world.repos.intents.get("young").state == "SENT"
    world.advance(timedelta(seconds=60))
    assert world.service.reconcile("periodic").resolved == ("young NOT_FOUND",)


@pytest.mark.parametrize("reason", ["start", "periodic"])
def test_a_round_leaves_an_order_this_process_is_sending_alone(world, reason):
    """The start reconciliation runs on its worker while the policy/pending monitor
    already trade: an open this process has in flight (intent SENT, order not yet at the
    venue) is not settled as lost under it, even once older than the grace (a slow
    venue, a loaded machine); a dead process's intent of the same age is."""
    intent_record(world, "dead", state="SENT", symbol=ETH, age=1)  # before the start
    world.advance(timedelta(seconds=1))
    inside, release = threading.Event(), threading.Event()
    place = world.exchange.place_order

    def slow_place(request):
        inside.set()
        assert release.wait(10)
        return place(request)

    world.exchange.place_order = slow_place
    errors: list[BaseException] = []
    results: list[str] = []

    def open_it():
        try:
            results.append(world.trading.trading.open_position(BTC, "LONG", 100))
        except BaseException as e:  # reported below
            errors.append(e)

    opener = threading.Thread(target=open_it)
    opener.start()
    try:
        assert inside.wait(10)
        if reason == "periodic":
            world.advance(timedelta(minutes=5))  # the open's intent is past the grace
        report = world.service.reconcile(reason)
    finally:
        release.set()
        opener.join(10)
    assert errors == [] and len(results) == 1
    assert report.ok and report.resolved == ("dead NOT_FOUND",)
    assert world.repos.intents.by_client_order_id(results[0]).state == "ACKNOWLEDGED"
    assert world.repos.relations.get(results[0]).status == "OPEN"
    assert world.service.reconcile(reason).resolved == ()


def test_the_start_round_gives_this_process_intents_the_grace(world):
    intent_record(world, "dead", state="SENT", symbol=ETH, age=1)  # an earlier process's
    world.advance(timedelta(seconds=10))
    intent_record(world, "ours", state="SENT", age=1)  # written since this one started
    assert world.service.reconcile("start").resolved == ("dead NOT_FOUND",)
    assert world.repos.intents.get("ours").state == "SENT"
    world.advance(timedelta(minutes=2))
    assert world.service.reconcile("start").resolved == ("ours NOT_FOUND",)


# -- positions --------------------------------------------------------------------------


def test_an_unknown_position_is_adopted_reported_and_protected(world):
    world.exchange.place_order(market(BTC, "buy", "2", "outside1"))
    report = world.service.reconcile("start")
    assert report.adopted == ("BTC-USDT-SWAP LONG",)
    [relation] = world.repos.relations.find(symbol=BTC, status="OPEN")
    [position] = world.exchange.positions(BTC)
    assert relation.pos_id == position.pos_id and relation.client_order_id.startswith("qtx")
    [stop] = world.exchange.open_algos(BTC)
    assert stop.sl_trigger_price < position.mark_price and stop.close_fraction == 1
    assert report.stop_losses == (stop.algo_id,)
    assert world.repos.relations.get(relation.client_order_id).stop_loss_algo_id == stop.algo_id
    status = world.repos.status.get("reconciliation")
    assert status.value == "OK" and "adopted BTC-USDT-SWAP LONG" in status.note
    # the guard's intent is stored and settled, its client order id is the algo's
    [guard] = world.repos.intents.find(symbol=BTC, state="ACKNOWLEDGED")
    assert guard.action == "STOP_LOSS" and guard.client_order_id == stop.algo_client_order_id
    # a second round finds everything in line
    again = world.service.reconcile("periodic")
    assert again.actions == () and len(world.exchange.open_algos(BTC)) == 1


def test_the_guard_follows_the_plan_and_covers_only_what_is_uncovered(world):
    price = world.engine.last_price(BTC)
    world.exchange.place_order(market(BTC, "buy", "3", "entry1"))
    world.repos.relations.save(
        RelationRecord("entry1", BTC, "LONG", START, START, stop_loss_price=price * Decimal("0.9"))
    )
    world.exchange.place_algo(
        AlgoRequest(BTC, "sell", "conditional", size=1, sl_trigger_price=price * Decimal("0.8"))
    )
    report = world.service.reconcile("periodic")
    assert report.ok and report.adopted == ()
    placed = [a for a in world.exchange.open_algos(BTC) if a.algo_id in report.stop_losses]
    assert [(a.size, a.sl_trigger_price) for a in placed] == [
        (Decimal(2), (price * Decimal("0.9")))
    ]


def test_one_stop_loss_split_over_two_orders_is_merged_and_its_take_profit_kept(world):
    price = world.engine.last_price(BTC)
    stop, take = (price * Decimal("0.9")).quantize(Decimal("0.1")), price * Decimal("1.1")
    world.exchange.place_order(market(BTC, "buy", "2", "entry2"))
    oco = world.exchange.place_algo(
        AlgoRequest(BTC, "sell", "oco", size="1.5", sl_trigger_price=stop, tp_trigger_price=take)
    )
    added = world.exchange.place_algo(
        AlgoRequest(BTC, "sell", "conditional", size="0.5", sl_trigger_price=stop)
    )
    world.repos.relations.save(
        RelationRecord("entry2", BTC, "LONG", START, START, stop_loss_algo_id=added.algo_id)
    )
    report = world.service.reconcile("periodic")
    assert report.ok, report.failures
    algos = world.exchange.open_algos(BTC)
    [merged] = [a for a in algos if a.sl_trigger_price is not None]
    [kept] = [a for a in algos if a.tp_trigger_price is not None]
    assert (merged.size, merged.sl_trigger_price, merged.tp_trigger_price) == (2, stop, None)
    assert (kept.size, kept.tp_trigger_price) == (Decimal("1.5"), oco.tp_trigger_price)
    relation = world.repos.relations.get("entry2")
    assert (relation.stop_loss_algo_id, relation.take_profit_algo_id) == (
        merged.algo_id,
        kept.algo_id,
    )
    assert world.service.reconcile("periodic").actions == ()


def test_a_relation_whose_position_is_gone_is_closed_as_an_external_close(world):
    price = world.engine.last_price(BTC)
    world.repos.relations.save(RelationRecord("gone1", BTC, "LONG", START, START))
    world.exchange.place_order(market(BTC, "buy", "1", "e1"))
    world.exchange.place_algo(
        AlgoRequest(BTC, "sell", "conditional", size=1, sl_trigger_price=price / 2)
    )
    # closed outside the system (the venue cancels the reduce-only stop with it)
    world.exchange.place_order(market(BTC, "sell", "1", "x1", reduce_only=True))
    assert world.exchange.positions(BTC) == []
    report = world.service.reconcile("periodic")
    assert world.trading.calls == [(BTC, "external")]
    assert world.repos.relations.get("gone1").status == "CLOSED"
    assert report.closed == ("BTC-USDT-SWAP LONG",) and report.ok
    assert world.service.reconcile("periodic").actions == ()


def test_a_position_the_stop_loss_closed_unseen_is_closed_as_stop_loss(world):
    """No stream event seen (the periodic round finds the position gone first): the
    relation still says the exchange's stop-loss closed it, not "external"."""
    price = world.engine.last_price(BTC)
    stop = (price * Decimal("0.996")).quantize(Decimal("0.1"))
    world.repos.relations.save(
        RelationRecord("sl1", BTC, "LONG", START, START, stop_loss_price=stop)
    )
    world.exchange.place_order(market(BTC, "buy", "1", "e1"))
    world.exchange.place_algo(
        AlgoRequest(BTC, "sell", "conditional", close_fraction=1, sl_trigger_price=stop)
    )
    for _ in range(3000):
        world.advance(timedelta(minutes=1))
        if not world.exchange.positions(BTC):
            break
    [fired] = world.engine.algo_history(BTC, state="effective")
    assert fired.triggered_leg is AlgoLeg.STOP_LOSS
    report = world.service.reconcile("periodic")
    assert world.trading.calls == [(BTC, "external")] and report.closed
    closed = world.repos.relations.get("sl1")
    assert (closed.status, closed.close_reason) == ("CLOSED", "stop_loss")
    assert closed.close_order_id == fired.order_id


# -- the stream consumer ----------------------------------------------------------------


def test_an_entry_filled_on_the_stream_is_told_opened_with_its_fill(repos):
    """A resting limit entry fills later and the stream tells it (no history sync): the
    relation opens through TradingService.record_order, order row first, so the notice
    says the size and the price."""
    clock = SteppedClock(START + timedelta(days=3, minutes=7))
    engine = SimEngine(
        balance=Decimal(10000), clock=clock, price_path=GeneratedPath(seed=5, start=START)
    )
    exchange = SimExchange(engine)
    notifier = MemoryNotifier()
    told = NotifyingRepositories(repos, notifier)
    trading = TradingService(exchange, told, repos.config, clock)
    service = ReconciliationService(exchange, told, trading, None, repos.config, clock)
    price = (engine.last_price(BTC) * Decimal("0.999")).quantize(Decimal("0.1"))
    cl = trading.open_position(BTC, "LONG", 100, order_type="limit", price=price)
    assert repos.relations.get(cl).open_time is None
    for _ in range(3000):
        clock.advance(timedelta(minutes=1))
        engine.sync()
        if exchange.positions(BTC):
            break
    filled = exchange.get_order(BTC, client_order_id=cl)
    assert filled.filled_size > 0
    service.handle_event(filled)
    service.handle_event(filled)  # events repeat
    relation = repos.relations.get(cl)
    assert relation.open_time is not None and relation.pos_id
    [opened] = [n for n in notifier.sent if n.title.startswith("Opened")]
    assert f"{filled.filled_size.normalize():f} contracts at {filled.avg_price.normalize():f}" in (
        opened.body
    ), opened.body


def position_event(world, symbol=BTC, size=0) -> ExchangePosition:
    now = world.engine.now
    return ExchangePosition(
        "p1", symbol, "net", size, None, 100, 0, 0, 0, 5, "cross", None, now, now
    )


def test_a_position_gone_to_zero_is_closed_once_with_the_reason_of_the_trigger(world):
    world.repos.relations.save(
        RelationRecord("r1", BTC, "LONG", START, START, stop_loss_algo_id="sl9")
    )
    intent_record(world, "old-open", state="ACKNOWLEDGED", age=3600)
    price = world.engine.last_price(BTC)
    world.exchange.place_order(market(BTC, "buy", "1", "e1"))
    algo = world.exchange.place_algo(
        AlgoRequest(BTC, "sell", "conditional", close_fraction=1, sl_trigger_price=price / 2)
    )
    triggered = attrs.evolve(
        algo, algo_id="sl9", state="effective", triggered_leg=AlgoLeg.STOP_LOSS
    )
    world.service.handle_event(triggered)
    assert world.repos.relations.get("r1").stop_loss_algo_id is None
    world.exchange.place_order(market(BTC, "sell", "1", "x1", reduce_only=True))
    for _ in range(2):  # events repeat
        world.service.handle_event(position_event(world))
    assert world.trading.calls == [(BTC, "stop_loss")]
    closed = world.repos.relations.get("r1")
    assert (closed.status, closed.close_reason) == ("CLOSED", "stop_loss")


def test_a_take_profit_of_an_earlier_position_does_not_name_a_later_close(world):
    """A partial take-profit fired on an earlier position (its reason kept for the
    symbol's next close), that position closed by hand; a later position closed outside
    is not reported as a take-profit."""
    price = world.engine.last_price(BTC)
    world.exchange.place_order(market(BTC, "buy", "2", "e0"))
    algo = world.exchange.place_algo(
        AlgoRequest(BTC, "sell", "conditional", size=1, tp_trigger_price=price * 2)
    )
    fired = attrs.evolve(algo, state="effective", triggered_leg=AlgoLeg.TAKE_PROFIT)
    world.service.handle_event(fired)
    world.exchange.place_order(market(BTC, "sell", "2", "x0", reduce_only=True))
    world.advance(timedelta(hours=1))
    now = world.engine.now
    world.repos.relations.save(RelationRecord("later", BTC, "LONG", now, now))
    intent_record(world, "old-open", state="ACKNOWLEDGED", age=3600)
    world.exchange.place_order(market(BTC, "buy", "1", "e1"))
    world.advance(timedelta(minutes=5))
    world.exchange.place_order(market(BTC, "sell", "1", "x1", reduce_only=True))
    world.service.handle_event(position_event(world))
    assert world.trading.calls == [(BTC, "external")]
    assert world.repos.relations.get("later").close_reason == "external"


def test_a_close_right_after_our_own_intent_waits_for_the_grace(world):
    world.repos.relations.save(RelationRecord("r1", BTC, "LONG", START, START))
    intent_record(world, "closing", action=IntentAction.CLOSE, state="ACKNOWLEDGED", age=1)
    world.service.handle_event(position_event(world))
    assert world.trading.calls == []
    assert "position_closed" in world.service.pending_requests()


def test_stream_orders_reach_the_order_history_through_history_sync(world):
    history = HistorySync(
        world.exchange, world.repos.history, world.repos.config, world.engine.clock
    )
    stream = SimPrivateStream(world.engine)
    service = ReconciliationService(
        world.exchange,
        world.repos,
        world.trading,
        history,
        world.repos.config,
        world.engine.clock,
        stream,
    )
    service.start()
    try:
        order = world.exchange.place_order(market(BTC, "buy", "1", "streamed1"))
        wait_for(lambda: world.repos.history.order(order.order_id), what="the stored order")
    finally:
        assert service.stop(5)
    stored = world.repos.history.order(order.order_id)
    assert (stored.cl_ord_id, stored.status, stored.filled_amount) == ("streamed1", "filled", 1)


def test_a_full_queue_drops_nothing_silently(world, monkeypatch):
    monkeypatch.setattr(module, "QUEUE_PUT_TIMEOUT", 0.01)
    event = position_event(world, size=1)
    for _ in range(module.EVENT_QUEUE_SIZE):
        world.service.on_event(event)
    assert world.service.dropped == 0
    world.service.on_event(event)  # no worker yet: the queue is full
    assert world.service.dropped == 1
    assert "queue_overflow" in world.service.pending_requests()
    world.service.start()
    try:
        wait_for(lambda: world.service.last_report is not None, what="a reconciliation")
        wait_for(lambda: world.service._queue.empty(), what="the backlog")
        wait_for(lambda: world.service.pending_requests() == {}, what="the requests")
    finally:
        assert world.service.stop(5)
    assert "dropped: 1" in world.repos.status.get("reconciliation").note


def test_a_periodic_reconciliation_follows_the_config_read_live(world):
    world.repos.config.set("RECONCILE_INTERVAL", 600)
    world.service.start()
    try:
        wait_for(lambda: world.service.last_report is not None, what="the start round")
        assert world.service.last_report.reason == "start"
        world.exchange.place_order(market(BTC, "buy", "1", "outside2"))

        def periodic() -> bool:  # the timer may start waiting after a first advance
            world.advance(timedelta(seconds=601))
            time.sleep(0.02)
            return world.service.last_report.reason == "periodic"

        wait_for(periodic, what="a periodic round")
        assert world.service.last_report.adopted == ("BTC-USDT-SWAP LONG",)
    finally:
        assert world.service.stop(5)


# -- against the fake OKX server --------------------------------------------------------


@pytest.fixture
def okx():
    # a real-time market: OKX checks request timestamps against its own time
    server = FakeOkx(
        api_key=KEY, secret=SECRET, passphrase=PASSPHRASE, rate_limits=False, history_days=2
    ).start()
    config = MemoryConfigStore()
    config.set("API_RATE_LIMIT", 1000)
    config.set("API_MIN_INTERVAL", 0)
    config.set("WS_RECONNECT_INTERVAL", 0.1)
    gate = PermitGate(config)
    exchange = OkxExchange(
        gate,
        rest_url=server.rest_url,
        credentials=OkxCredentials(KEY, SECRET, PASSPHRASE),
        config=config,
        order_expiry=0.5,
        backoff=RetryPolicy(base=0.05, cap=0.2),
    )
    yield server, exchange, gate, config
    server.stop()


def test_the_stop_loss_guard_places_at_stop_loss_priority_over_okx(okx):
    server, exchange, gate, config = okx
    repos = MemoryRepositories(config=config)
    service = ReconciliationService(
        exchange,
        repos,
        recorded(exchange, repos, server.engine.clock),
        None,
        config,
        server.engine.clock,
    )
    exchange.place_order(market(BTC, "buy", "1", "naked1"))
    before = gate.state().admitted[Priority.STOP_LOSS]
    report = service.reconcile("start")
    assert report.adopted == ("BTC-USDT-SWAP LONG",) and len(report.stop_losses) == 1
    assert gate.state().admitted[Priority.STOP_LOSS] == before + 1
    [stop] = exchange.open_algos(BTC)
    assert stop.algo_id == report.stop_losses[0] and stop.sl_trigger_price is not None


def test_a_stream_reconnect_triggers_a_reconciliation(okx):
    server, exchange, _gate, config = okx
    repos = MemoryRepositories(config=config)
    stream = OkxPrivateStream(server.ws_url, OkxCredentials(KEY, SECRET, PASSPHRASE), config=config)
    events: list[object] = []
    service = ReconciliationService(
        exchange,
        repos,
        recorded(exchange, repos, server.engine.clock),
        None,
        config,
        server.engine.clock,
        stream,
    )
    original = service.handle_event

    def spy(event):
        events.append(event)
        original(event)

    service.handle_event = spy  # type: ignore[method-assign]
    reasons: list[str] = []
    reconcile = service.reconcile

    def counting(reason="manual"):
        reasons.append(reason)
        return reconcile(reason)

    service.reconcile = counting  # type: ignore[method-assign]
    service.start()
    try:
        wait_for(lambda: "reconnect" in ", ".join(reasons), what="the first connect's round")
        # a position appears while the stream is down: the reconnect's round adopts it
        exchange.place_order(
            market(
                BTC,
                "buy",
                "1",
                "withstop1",
                attached_algos=[AttachedAlgo(sl_trigger_price=1000)],
            )
        )
        count = sum("reconnect" in r for r in reasons)
        server.drop_websockets()
        wait_for(lambda: sum("reconnect" in r for r in reasons) > count, what="a reconnect")
        wait_for(lambda: repos.relations.find(symbol=BTC, status="OPEN"), what="the adoption")
    finally:
        assert service.stop(5)
    assert any(isinstance(e, StreamStatus) and e.kind == "connected" for e in events)
    # its attached stop-loss covers it: the guard placed nothing
    assert len(exchange.open_algos(BTC)) == 1
