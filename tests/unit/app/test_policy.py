"""SignalPolicy: sizing with the position multiplier, ATR and percent stops, the pending
variant, expired signals, a held symbol, the live default and its switch, exactly-once
through a crash, over memory, SQLite and PostgreSQL on the simulated exchange."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from test_pending_helpers import BTC, ETH, M15, SOL, START, market

from qwentrade.adapters.memory import MemoryRepositories
from qwentrade.app.pending import PendingOrderService
from qwentrade.app.policy import SignalPolicy
from qwentrade.app.trading import TradingService
from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.indicators import compute
from qwentrade.domain.market import Timeframe
from qwentrade.domain.records import SignalRecord
from qwentrade.testing.builders import candles_frame

D = Decimal
ATR = D(200)  # the stored candles' high-low range at 50000 (candles_frame's 0.2 % spread)


class Desk:
    """A policy over real trading and pending services on a hand-made market."""

    def __init__(self, repos, mode: str = "sim", atr: bool = True, others=None) -> None:
        prices = [50000.0] * 3 + [49850.0] * 40
        self.repos = repos
        others = {ETH: [3000.0] * 40, **(others or {})}
        self.engine, self.exchange, self.clock = market(prices, others)
        self.trading = TradingService(self.exchange, repos, repos.config, self.clock)
        self.pending = PendingOrderService(
            repos.pending, self.trading, self.exchange, repos.config, self.clock
        )
        self.policy = self.make_policy(mode)
        if atr:
            start = START - 40 * M15
            for symbol, price in ((BTC, 50000.0), (ETH, 3000.0)):
                frame = compute(candles_frame([price] * 40, start=start))
                repos.klines.upsert(Timeframe.M15, frame, symbol=symbol)

    def make_policy(self, mode: str = "sim", signals=None) -> SignalPolicy:
        repos = self.repos
        return SignalPolicy(
            self.trading,
            self.pending,
            signals or repos.signals,
            repos.klines,
            repos.config,
            self.clock,
            mode,
        )

    def signal(
        self,
        symbol: str = BTC,
        kind: str = "LONG",
        multiplier: int = 1,
        age: timedelta = timedelta(0),
        hours: float = 4,
        candle: datetime | None = None,
    ) -> SignalRecord:
        created = self.clock.now() - age
        record = SignalRecord(
            symbol=symbol,
            time=candle or START - M15,
            signal_type=kind,
            score=20,
            price=50000,
            created_at=created,
            expire_at=created + timedelta(hours=hours),
            details={"position_multiplier": multiplier, "score": 20},
        )
        return self.repos.signals.add(record)

    def orders_sent(self) -> int:
        return len(self.exchange.order_history(limit=100)) + len(self.exchange.open_orders())

    def position(self, symbol: str = BTC) -> dict:
        (held,) = self.trading.current_positions(symbol)
        return held


@pytest.fixture
def desk(repos) -> Desk:
    return Desk(repos)


@pytest.fixture
def memory_desk() -> Desk:
    return Desk(MemoryRepositories())


def test_a_signal_opens_with_the_margin_times_its_multiplier_and_atr_stops(desk):
    signal = desk.signal(multiplier=2)
    cl_ord_id = desk.policy.on_signal(signal)
    assert cl_ord_id is not None
    held = desk.position()
    assert held["cl_ord_id"] == cl_ord_id and held["signal_id"] == signal.id
    # 100 USDT x 2 (multiplier) x5 (POLICY_LEVERAGE) / (50000 x 0.01) = 2 contracts
    assert (D(held["size"]), held["leverage"], held["side"]) == (D(2), 5, "LONG")
    (plan,) = held["plans"]
    assert D(plan["stop_loss_trigger"]) == D(50000) - D("1.5") * ATR
    assert D(plan["take_profit_trigger"]) == D(50000) + 3 * ATR
    assert desk.repos.signals.get(signal.id).status == "EXECUTED"
    assert desk.policy.on_signal(signal) is None  # never twice
    assert desk.orders_sent() == 1


def test_without_a_multiplier_the_margin_is_the_configured_one_read_live(memory_desk):
    desk = memory_desk
    desk.repos.config.set("POLICY_MARGIN_PER_TRADE", 300)
    desk.repos.config.set("POLICY_LEVERAGE", 2)
    desk.policy.on_signal(desk.signal(multiplier=1))
    held = desk.position()
    assert (D(held["size"]), held["leverage"]) == (D("1.2"), 2)  # 300 x2 / 500


def test_percent_stops_on_a_short(memory_desk):
    desk = memory_desk
    desk.repos.config.set("POLICY_STOP_MODE", "percent")
    desk.repos.config.set("POLICY_TP_PERCENT", 0)  # no take-profit
    desk.policy.on_signal(desk.signal(kind="SHORT"))
    held = desk.position()
    assert held["side"] == "SHORT"
    (plan,) = held["plans"]
    assert D(plan["stop_loss_trigger"]) == D(50500)  # 1 % above
    assert plan["take_profit_trigger"] is None
    desk.repos.config.set("POLICY_TP_PERCENT", 2)
    desk.repos.config.set("POLICY_SL_PERCENT", 0.5)
    desk.policy.on_signal(desk.signal(symbol=ETH, kind="LONG"))
    (plan,) = desk.position(ETH)["plans"]
    assert (D(plan["stop_loss_trigger"]), D(plan["take_profit_trigger"])) == (2985, 3060)


def test_the_pending_variant_places_a_trigger_order_that_opens_on_the_pullback(desk):
    desk.repos.config.set("POLICY_USE_PENDING", True)
    signal = desk.signal(multiplier=2, age=timedelta(hours=3, minutes=10))
    order_id = desk.policy.on_signal(signal)
    order = desk.pending.get(order_id)
    # 0.2 % below 50000, triggered on the way down; expires with the signal (50 min left)
    assert (order.trigger_price, order.crossing, order.side) == (D("49900.0"), "DOWN", "LONG")
    assert order.expire_at == signal.expire_at
    assert (order.amount, order.leverage, order.signal_id) == (D(200), 5, signal.id)
    assert order.stop_loss_trigger == D("49900.0") - D("1.5") * ATR
    assert desk.orders_sent() == 0
    assert desk.repos.signals.get(signal.id).status == "EXECUTED"
    desk.clock.set(START + 3 * M15)  # 49850: crossed
    assert desk.pending.check().opened == 1
    held = desk.position()
    assert (held["pending_order_id"], held["signal_id"]) == (order_id, signal.id)
    assert desk.orders_sent() == 1


def test_expired_signals_never_trade(memory_desk):
    desk = memory_desk
    stale = desk.signal(age=timedelta(hours=4))  # expire_at == now
    assert desk.policy.on_signal(stale) is None
    assert desk.policy.run() == 0
    assert desk.orders_sent() == 0
    assert desk.repos.signals.get(stale.id).status == "ACTIVE"  # the detector expires it


def test_a_symbol_with_a_position_is_skipped(memory_desk):
    desk = memory_desk
    desk.trading.open_position(BTC, "SHORT", 100, stop_loss_trigger=51000, leverage=3)
    signal = desk.signal()
    assert desk.policy.on_signal(signal) is None
    assert desk.orders_sent() == 1
    assert desk.repos.signals.get(signal.id).status == "ACTIVE"  # may trade once flat
    desk.repos.config.set("POLICY_USE_PENDING", True)
    assert desk.policy.on_signal(signal) is None
    assert desk.pending.list() == []


def test_live_is_off_by_default_and_on_after_one_config_change_which_is_logged(memory_desk, caplog):
    desk = memory_desk
    live = desk.make_policy("live")
    signal = desk.signal()
    with caplog.at_level(logging.INFO, logger="qwentrade.app.policy"):
        assert live.on_signal(signal) is None
        assert live.run() == 0
        assert desk.orders_sent() == 0
        desk.repos.config.set("POLICY_ENABLED", "true")
        assert live.on_signal(signal) is not None
    assert desk.orders_sent() == 1
    switched = [r for r in caplog.records if "ON in live mode" in r.getMessage()]
    assert len(switched) == 1 and switched[0].levelno == logging.WARNING


def test_sim_and_paper_are_on_by_default_and_false_turns_them_off(memory_desk):
    desk = memory_desk
    assert desk.make_policy("sim").enabled() and desk.make_policy("paper").enabled()
    assert not desk.make_policy("live").enabled()
    desk.repos.config.set("POLICY_ENABLED", "false")
    assert desk.policy.on_signal(desk.signal()) is None
    assert desk.orders_sent() == 0
    with pytest.raises(InvalidInput) as info:
        desk.make_policy("backtest-ish")
    assert info.value.field == "mode"


class CrashOnStatus:
    """A signal repository whose first ``set_status`` dies (after the open went out)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.crashes = 1

    def set_status(self, *args, **kwargs):
        if self.crashes:
            self.crashes -= 1
            raise RuntimeError("killed between the open and EXECUTED")
        return self.inner.set_status(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_a_crash_between_the_open_and_executed_never_opens_twice(desk):
    crashing = desk.make_policy(signals=CrashOnStatus(desk.repos.signals))
    signal = desk.signal()
    with pytest.raises(RuntimeError):
        crashing.on_signal(signal)
    assert desk.orders_sent() == 1
    assert desk.repos.signals.get(signal.id).status == "ACTIVE"
    restarted = desk.make_policy()
    assert restarted.run() == 1  # the same key: the first order is found, none is sent
    assert desk.orders_sent() == 1
    assert desk.repos.signals.get(signal.id).status == "EXECUTED"
    assert desk.position()["signal_id"] == signal.id


class ExpiredOnTheWay:
    """Trading whose open lets the detector's expiry sweep pass before it returns (an order
    slow enough for the signal's expire_at to go by while it is on its way)."""

    def __init__(self, inner, signals, at: datetime) -> None:
        self.inner, self.signals, self.at = inner, signals, at

    def open_position(self, *args, **kwargs):
        result = self.inner.open_position(*args, **kwargs)
        assert self.signals.expire(self.at) == 1  # the sweep: ACTIVE -> EXPIRED
        return result

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_a_signal_expired_while_its_order_was_on_its_way_is_executed(desk):
    signal = desk.signal()
    slow = ExpiredOnTheWay(desk.trading, desk.repos.signals, signal.expire_at)
    repos = desk.repos
    policy = SignalPolicy(
        slow, desk.pending, repos.signals, repos.klines, repos.config, desk.clock, "sim"
    )
    assert policy.on_signal(signal) is not None
    assert desk.orders_sent() == 1
    assert desk.position()["signal_id"] == signal.id
    assert desk.repos.signals.get(signal.id).status == "EXECUTED"  # it traded


class AgingSignals:
    """A signal repository whose listing takes a while: the clock moves on meanwhile (a
    pass waiting for the decision lock while the hook trades)."""

    def __init__(self, inner, clock, by: timedelta) -> None:
        self.inner, self.clock, self.by = inner, clock, by

    def active(self, *args, **kwargs):
        found = self.inner.active(*args, **kwargs)
        self.clock.advance(self.by)
        return found

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_run_judges_each_signal_at_the_clock_when_it_decides(memory_desk):
    desk = memory_desk
    signal = desk.signal(age=timedelta(hours=4) - timedelta(minutes=1))  # 1 minute left
    aging = desk.make_policy(signals=AgingSignals(desk.repos.signals, desk.clock, M15))
    assert aging.run() == 0  # listed while valid, expired when judged: not traded
    assert desk.orders_sent() == 0
    assert desk.repos.signals.get(signal.id).status == "ACTIVE"  # the detector expires it


def test_run_trades_the_newest_signal_of_each_symbol_and_cancels_the_older(memory_desk):
    desk = memory_desk
    older = desk.signal(age=timedelta(minutes=30), candle=START - 3 * M15)
    newer = desk.signal(kind="SHORT", age=timedelta(minutes=15), candle=START - 2 * M15)
    eth = desk.signal(symbol=ETH)
    assert desk.policy.run() == 2
    assert desk.position()["side"] == "SHORT"
    assert desk.position(ETH)["signal_id"] == eth.id
    statuses = {s: desk.repos.signals.get(s.id).status for s in (older, newer, eth)}
    assert statuses == {older: "CANCELLED", newer: "EXECUTED", eth: "EXECUTED"}
    assert desk.policy.run() == 0
    assert desk.orders_sent() == 2


def test_no_atr_stored_means_no_trade_yet():
    desk = Desk(MemoryRepositories(), atr=False)
    signal = desk.signal()
    assert desk.policy.on_signal(signal) is None
    assert desk.orders_sent() == 0
    assert desk.repos.signals.get(signal.id).status == "ACTIVE"
    desk.repos.config.set("POLICY_STOP_MODE", "percent")  # percent stops need no ATR
    assert desk.policy.on_signal(signal) is not None


def test_a_refused_trade_cancels_the_signal(memory_desk):
    desk = memory_desk
    desk.repos.config.set("POLICY_MARGIN_PER_TRADE", 0.5)  # buys less than 0.01 contract
    signal = desk.signal()
    assert desk.policy.on_signal(signal) is None
    assert desk.repos.signals.get(signal.id).status == "CANCELLED"
    assert desk.orders_sent() == 0


def test_on_signal_needs_a_stored_signal(memory_desk):
    with pytest.raises(InvalidInput) as info:
        memory_desk.policy.on_signal("BTC LONG")
    assert info.value.field == "signal"


def test_leverage_is_capped_at_the_instruments_maximum():
    desk = Desk(MemoryRepositories(), others={SOL: [200.0] * 40})
    desk.repos.config.set("POLICY_LEVERAGE", 75)  # SOL-USDT-SWAP allows at most 50
    desk.repos.config.set("POLICY_STOP_MODE", "percent")  # no SOL candles stored
    desk.policy.on_signal(desk.signal(symbol=SOL))
    held = desk.position(SOL)
    assert held["leverage"] == 50
    assert D(held["size"]) == D(25)  # 100 USDT x50 / (200 x 1)


def test_the_background_pass_trades_a_signal_the_hook_never_saw(memory_desk):
    desk = memory_desk
    desk.repos.config.set("POLICY_INTERVAL", 30)
    signal = desk.signal()
    desk.policy.start()
    try:
        with pytest.raises(InvalidInput):
            desk.policy.start()
        desk.clock.advance(timedelta(seconds=31))
        _eventually(lambda: desk.repos.signals.get(signal.id).status == "EXECUTED")
    finally:
        assert desk.policy.stop(5)
    assert desk.position()["signal_id"] == signal.id


def _eventually(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "still not true"
        time.sleep(0.005)
