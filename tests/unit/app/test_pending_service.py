"""PendingOrderService: create/get/list/cancel, supersede, expiry, and the monitor pass that
triggers an order into the trading service exactly once (racing monitors, a crash between
TRIGGERED and the open), over memory, SQLite and PostgreSQL on the simulated exchange."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from test_pending_helpers import BTC, ETH, START, Flaky, at, market

from qwentrade.adapters.memory import MemoryRepositories
from qwentrade.adapters.sql import SqlRepositories
from qwentrade.app.pending import RESUME_AFTER, PendingMonitor, PendingOrderService
from qwentrade.app.trading import TradingService
from qwentrade.domain.errors import (
    ExchangeUnavailable,
    InvalidInput,
    InvalidTransition,
    OrderNotFound,
)
from qwentrade.domain.schedule import Every

D = Decimal
# BTC sits at 50000 for two candles, rises to 50600 in candle 2, falls to 49400 in 3 and
# stays there (ten hours); ETH stays at 3000.
PRICES = [50000.0, 50000.0, 50600.0] + [49400.0] * 40


class Desk:
    """A pending-order service over a trading service on a hand-made market."""

    def __init__(self, repos, prices=PRICES, failures: int = 0, error=None) -> None:
        self.repos = repos
        self.engine, self.exchange, self.clock = market(prices, {ETH: [3000.0] * 40})
        self.trading = Flaky(
            TradingService(self.exchange, repos, repos.config, self.clock), failures, error
        )
        self.service = self.make_service()

    def make_service(self) -> PendingOrderService:
        return PendingOrderService(
            self.repos.pending, self.trading, self.exchange, self.repos.config, self.clock
        )

    def to(self, candle: int, minutes: int = 1) -> None:
        self.clock.set(START + candle * timedelta(minutes=15) + timedelta(minutes=minutes))

    def check(self):
        return self.service.check(self.clock.now())

    def orders_sent(self) -> int:
        return len(self.exchange.order_history(limit=100)) + len(self.exchange.open_orders())


@pytest.fixture
def desk(repos) -> Desk:
    return Desk(repos)


@pytest.fixture
def memory_desk() -> Desk:
    return Desk(MemoryRepositories())


def long_above(service: PendingOrderService, **changes):
    """A LONG that triggers when BTC rises to 50500 (it is at 50000 at first)."""
    arguments = dict(
        symbol=BTC,
        side="LONG",
        amount=100,
        trigger_price=50500,
        stop_loss_trigger=49800,
        take_profit_trigger=52000,
        leverage=10,
    )
    arguments.update(changes)
    return service.create(**arguments)


# -- create, get, list, cancel ----------------------------------------------------------------


def test_create_stores_a_pending_order_with_its_crossing_and_default_expiry(desk):
    record = long_above(desk.service, signal_id=7)
    assert record.status == "PENDING"
    assert record.crossing == "UP"  # 50500 is above the 50000 now
    assert record.amount == D(100)  # USDT of margin, as open_position takes it
    assert (record.trigger_price, record.stop_loss_trigger) == (D("50500.0"), D("49800.0"))
    assert record.expire_at - record.created_at == timedelta(hours=1)
    assert record.signal_id == 7
    assert desk.service.get(record.id) == record
    below = desk.service.create(ETH, "short", 50, 2900, leverage=None)
    assert (below.crossing, below.side) == ("DOWN", "SHORT")
    assert below.leverage == desk.repos.config.get("TRADING_DEFAULT_LEVERAGE")
    assert desk.orders_sent() == 0 and desk.trading.calls == []


BAD_INPUT = [
    ({"symbol": "DOGE-USDT-SWAP"}, "symbol"),
    ({"symbol": ""}, "symbol"),
    ({"symbol": 5}, "symbol"),
    ({"side": "buy"}, "side"),
    ({"side": 1}, "side"),
    ({"amount": 0}, "amount"),
    ({"amount": -5}, "amount"),
    ({"amount": "lots"}, "amount"),
    ({"amount": True}, "amount"),
    ({"amount": "0.5"}, "amount"),  # 0.5 USDT x10 buys 0.0099 BTC contracts: below 0.01
    ({"trigger_price": 0}, "trigger_price"),
    ({"trigger_price": -1}, "trigger_price"),
    ({"trigger_price": "high"}, "trigger_price"),
    ({"trigger_price": 50000}, "trigger_price"),  # the price now: it would fire at once
    ({"stop_loss_trigger": 50600}, "stop_loss_trigger"),  # above the level of a LONG
    ({"stop_loss_trigger": -3}, "stop_loss_trigger"),
    ({"take_profit_trigger": 50400}, "take_profit_trigger"),  # below the level of a LONG
    ({"leverage": 0}, "leverage"),
    ({"leverage": 101}, "leverage"),  # BTC allows 1..100
    ({"leverage": "5"}, "leverage"),
    ({"leverage": True}, "leverage"),
    ({"signal_id": "7"}, "signal_id"),
    ({"signal_id": True}, "signal_id"),
    ({"expire_hours": 0}, "expire_hours"),
    ({"expire_hours": -1}, "expire_hours"),
    ({"expire_hours": 721}, "expire_hours"),
    ({"expire_hours": "soon"}, "expire_hours"),
    ({"order_id": ""}, "order_id"),
]


@pytest.mark.parametrize(("change", "field"), BAD_INPUT, ids=[f for _, f in BAD_INPUT])
def test_bad_input_names_the_field_and_writes_nothing(memory_desk, change, field):
    desk = memory_desk
    with pytest.raises(InvalidInput) as info:
        long_above(desk.service, **change)
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")
    assert desk.repos.pending.find(limit=None) == []
    assert desk.orders_sent() == 0 and desk.trading.calls == []


def test_unknown_symbols_reload_the_instruments_at_most_once_a_minute(memory_desk):
    desk = memory_desk

    class Counting:
        def __init__(self, inner) -> None:
            self.inner, self.loads = inner, 0

        def instruments(self):
            self.loads += 1
            return self.inner.instruments()

        def __getattr__(self, name):
            return getattr(self.inner, name)

    exchange = Counting(desk.exchange)
    service = PendingOrderService(
        desk.repos.pending, desk.trading, exchange, desk.repos.config, desk.clock
    )
    for _ in range(5):
        with pytest.raises(InvalidInput, match="DOGE-USDT-SWAP is not a swap"):
            long_above(service, symbol="doge-usdt-swap")
    assert service.instrument("btc-usdt-swap").inst_id == BTC
    assert exchange.loads == 1


def test_bad_input_writes_nothing_on_sql_either(desk):
    with pytest.raises(InvalidInput, match="stop_loss_trigger"):
        long_above(desk.service, stop_loss_trigger=51000)
    assert desk.repos.pending.find(limit=None) == []


def test_get_list_and_cancel(desk):
    first = long_above(desk.service)
    other = desk.service.create(ETH, "LONG", 50, 3100)
    with pytest.raises(OrderNotFound):
        desk.service.get("no-such-order")
    with pytest.raises(InvalidInput) as info:
        desk.service.get("")
    assert info.value.field == "order_id"
    assert {o.id for o in desk.service.list()} == {first.id, other.id}
    assert [o.id for o in desk.service.list(symbol=ETH)] == [other.id]
    cancelled = desk.service.cancel(first.id)
    assert (cancelled.status, cancelled.reason) == ("CANCELLED", "cancelled")
    assert [o.id for o in desk.service.list(status="cancelled")] == [first.id]
    assert [o.id for o in desk.service.list("PENDING")] == [other.id]
    assert desk.service.get(first.id).status == "CANCELLED"
    with pytest.raises(InvalidTransition):
        desk.service.cancel(first.id)
    for bad, field in [
        ({"status": "OPEN"}, "status"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"offset": -1}, "offset"),
        ({"symbol": ""}, "symbol"),
    ]:
        with pytest.raises(InvalidInput) as info:
            desk.service.list(**bad)
        assert info.value.field == field
    assert desk.orders_sent() == 0  # cancelling sends nothing: nothing was on the exchange


def test_a_new_order_supersedes_the_older_pending_one_of_its_symbol(desk):
    first = long_above(desk.service)
    eth = desk.service.create(ETH, "LONG", 50, 3100)
    desk.clock.advance(timedelta(seconds=1))
    second = long_above(desk.service, trigger_price=50550)
    older = desk.service.get(first.id)
    assert (older.status, older.reason) == ("CANCELLED", f"superseded by {second.id}")
    assert desk.service.get(second.id).status == "PENDING"
    assert desk.service.get(eth.id).status == "PENDING"  # other symbols are left alone


def test_orders_created_at_the_same_instant_supersede_in_creation_order(memory_desk):
    desk = memory_desk  # the stepped clock stands still: every create has the same time
    made = [long_above(desk.service, trigger_price=50500 + i) for i in range(20)]
    assert [o.id for o in desk.service.list("PENDING")] == [made[-1].id]
    assert desk.check().superseded == 0  # the monitor agrees on which one is the newest
    assert desk.service.get(made[-1].id).status == "PENDING"


def test_the_monitor_supersedes_a_straggler_left_by_a_crash(memory_desk):
    desk = memory_desk
    first = long_above(desk.service)
    desk.clock.advance(timedelta(seconds=1))
    second = long_above(desk.service, trigger_price=50550)
    # a crash between storing the second and cancelling the first leaves both PENDING
    desk.repos.pending.save(first)
    counts = desk.check()
    assert counts.superseded == 1
    assert desk.service.get(first.id).status == "CANCELLED"
    assert desk.service.get(second.id).status == "PENDING"


# -- expiry -----------------------------------------------------------------------------------


def test_expiry_at_one_hour_by_default_and_never_a_trigger_after_it(desk):
    desk.to(0)
    record = long_above(desk.service, trigger_price=50550)  # reached only in candle 2
    desk.clock.set(record.expire_at - timedelta(seconds=1))
    assert desk.check().expired == 0
    desk.clock.set(record.expire_at)
    counts = desk.check()
    assert counts.expired == 1 and counts.triggered == 0
    expired = desk.service.get(record.id)
    assert (expired.status, expired.closed_at) == ("EXPIRED", record.expire_at)
    desk.to(5)  # the level is crossed after the expiry: nothing happens
    assert desk.check().triggered == 0
    assert desk.trading.calls == [] and desk.orders_sent() == 0


def test_the_expiry_key_is_read_at_each_create(desk):
    first = long_above(desk.service)
    desk.repos.config.set("PENDING_ORDER_EXPIRE_HOURS", 0.25)
    second = desk.service.create(ETH, "LONG", 50, 3100)
    assert first.expire_at - first.created_at == timedelta(hours=1)
    assert second.expire_at - second.created_at == timedelta(minutes=15)
    desk.clock.set(second.expire_at)
    assert desk.check().expired == 1
    assert desk.service.get(second.id).status == "EXPIRED"
    assert desk.service.get(first.id).status == "PENDING"
    third = desk.service.create(ETH, "LONG", 50, 3100, expire_hours=2)
    assert third.expire_at - third.created_at == timedelta(hours=2)


# -- triggering -------------------------------------------------------------------------------


def test_a_crossing_triggers_once_and_opens_the_position_with_its_stops(desk):
    record = long_above(desk.service, signal_id=None)
    desk.to(1)
    assert desk.check().triggered == 0
    desk.to(2)  # 50600 >= 50500
    counts = desk.check()
    assert (counts.triggered, counts.opened) == (1, 1)
    stored = desk.service.get(record.id)
    assert stored.status == "TRIGGERED"
    assert stored.fill_price == D("50600.0")
    assert stored.reason.startswith("opened ")
    cl_ord_id = stored.reason.removeprefix("opened ")
    assert desk.trading.calls == [f"pending:{record.id}"]
    (position,) = desk.trading.current_positions(BTC)
    assert position["cl_ord_id"] == cl_ord_id
    assert position["pending_order_id"] == record.id
    assert position["side"] == "LONG"
    assert D(position["size"]) == D("1.97")  # 100 USDT x10 / (50600 x 0.01) down to the lot
    (plan,) = position["plans"]  # the stop-loss and take-profit are held by the exchange
    assert (D(plan["stop_loss_trigger"]), D(plan["take_profit_trigger"])) == (49800, 52000)
    for _ in range(3):
        desk.clock.advance(timedelta(minutes=1))
        assert desk.check() == type(counts)()
    assert desk.orders_sent() == 1


def test_two_monitors_racing_open_exactly_once(sql):
    repos = SqlRepositories.from_engine(sql)
    desk = Desk(repos)
    record = long_above(desk.service)
    desk.to(2)
    monitors = [desk.make_service() for _ in range(4)]
    barrier = threading.Barrier(len(monitors))
    results = []

    def run(service):
        barrier.wait()
        results.append(service.check(desk.clock.now()))

    threads = [threading.Thread(target=run, args=(m,)) for m in monitors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sum(r.triggered for r in results) == 1
    assert desk.trading.calls == [f"pending:{record.id}"]
    assert desk.orders_sent() == 1
    assert len(desk.exchange.positions(BTC)) == 1


def test_a_crash_between_triggered_and_the_open_is_resumed_once(desk):
    desk.trading.failures = 1  # the process "dies" after TRIGGERED is written
    record = long_above(desk.service)
    desk.to(2)
    counts = desk.check()
    assert (counts.triggered, counts.opened, counts.retrying) == (1, 0, 1)
    stored = desk.service.get(record.id)
    assert (stored.status, stored.reason) == ("TRIGGERED", "")
    assert desk.orders_sent() == 0
    restarted = desk.make_service()  # a new process: nothing remembered but the database
    desk.clock.advance(RESUME_AFTER - timedelta(seconds=1))
    assert restarted.check(desk.clock.now()).opened == 0  # still within the first's grace
    desk.clock.advance(timedelta(seconds=1))
    assert restarted.check(desk.clock.now()).opened == 1
    assert desk.service.get(record.id).reason.startswith("opened ")
    desk.clock.advance(RESUME_AFTER)
    assert restarted.check(desk.clock.now()).opened == 0
    assert desk.trading.calls == [f"pending:{record.id}"] * 2
    assert desk.orders_sent() == 1 and len(desk.exchange.positions(BTC)) == 1


class LostAnswer(Flaky):
    """The open reaches the exchange, then the answer is lost (the caller dies)."""

    def open_position(self, *args, **kwargs) -> str:
        self.calls.append(kwargs.get("key"))
        cl_ord_id = self.inner.open_position(*args, **kwargs)
        if self.failures > 0:
            self.failures -= 1
            raise ExchangeUnavailable("connection reset after the order went out")
        return cl_ord_id


def test_an_open_whose_answer_was_lost_is_never_sent_again(memory_desk):
    desk = memory_desk
    desk.trading = LostAnswer(desk.trading.inner, failures=1)
    desk.service = desk.make_service()
    record = long_above(desk.service)
    desk.to(2)
    assert desk.check().retrying == 1
    assert desk.orders_sent() == 1  # it did go out
    desk.clock.advance(RESUME_AFTER)
    assert desk.check().opened == 1
    assert desk.orders_sent() == 1  # the repeat with the same key sent nothing
    stored = desk.service.get(record.id)
    (position,) = desk.trading.current_positions(BTC)
    assert stored.reason == f"opened {position['cl_ord_id']}"


def test_a_refused_open_is_noted_and_not_retried(memory_desk):
    desk = memory_desk
    desk.trading.open_position(BTC, "SHORT", 100, stop_loss_trigger=51000, leverage=5)
    record = long_above(desk.service)
    desk.to(2)
    counts = desk.check()
    assert (counts.triggered, counts.failed) == (1, 1)
    stored = desk.service.get(record.id)
    assert stored.reason.startswith("open failed: PositionExists")
    desk.clock.advance(RESUME_AFTER * 3)
    assert desk.check().opened == 0
    assert desk.trading.calls == [None, f"pending:{record.id}"]


def test_an_interrupted_open_is_not_resumed_after_the_order_expired(memory_desk):
    desk = memory_desk
    desk.trading.failures = 1
    record = long_above(desk.service, expire_hours=0.75)
    desk.to(2)
    desk.check()
    desk.clock.set(record.expire_at)
    counts = desk.check()
    assert (counts.opened, counts.failed) == (0, 1)
    assert desk.service.get(record.id).reason.startswith("not opened: ")
    assert desk.orders_sent() == 0


def test_a_symbol_without_a_price_is_skipped_and_counted(memory_desk):
    desk = memory_desk

    class NoPrices:
        def __init__(self, inner):
            self.inner = inner

        def candles(self, *args, **kwargs):
            raise ExchangeUnavailable("the venue is down")

        def __getattr__(self, name):
            return getattr(self.inner, name)

    record = long_above(desk.service)
    service = PendingOrderService(
        desk.repos.pending, desk.trading, NoPrices(desk.exchange), desk.repos.config, desk.clock
    )
    desk.to(2)
    assert service.check(desk.clock.now()).price_errors == 1
    assert desk.service.get(record.id).status == "PENDING"
    assert desk.check().opened == 1


def test_the_monitor_runs_the_pass_on_its_interval(memory_desk):
    desk = memory_desk
    record = long_above(desk.service)
    monitor = PendingMonitor(desk.service, desk.repos.config, desk.clock)
    monitor.start()
    try:
        desk.to(2)  # the clock jumps past several 5 s intervals: a pass runs
        _eventually(lambda: desk.service.get(record.id).reason.startswith("opened "))
        assert monitor.status().runs >= 1
    finally:
        assert monitor.stop(5)
    assert desk.orders_sent() == 1


def test_the_monitor_interval_is_read_live(memory_desk):
    desk = memory_desk
    desk.repos.config.set("PENDING_MONITOR_INTERVAL", 60)
    monitor = PendingMonitor(desk.service, desk.repos.config, desk.clock)
    assert monitor.status().next_run == START + timedelta(seconds=60)
    desk.repos.config.set("PENDING_MONITOR_INTERVAL", 7)
    monitor.start()
    try:
        desk.clock.set(START + timedelta(seconds=60))
        _eventually(lambda: monitor.status().runs == 1 and not monitor.status().running)
        # the next run follows the new interval: the next multiple of 7 s after 60 s
        assert monitor.status().next_run == Every(7).next_after(START + timedelta(seconds=60))
    finally:
        assert monitor.stop(5)


def _eventually(predicate, timeout: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "still not true"
        time.sleep(0.005)


def test_check_uses_the_clock_when_no_time_is_given(memory_desk):
    desk = memory_desk
    record = long_above(desk.service)
    desk.clock.set(at(0) + timedelta(hours=2))
    assert desk.service.check().expired == 1
    assert desk.service.get(record.id).status == "EXPIRED"
