"""PendingOrderService under random sequences of creates, cancels, price moves, monitor
passes and crashes between TRIGGERED and the open (hypothesis), on the simulated exchange:

- at most one PENDING order per symbol, always;
- a TRIGGERED order's level was crossed by its fill price, before its expiry;
- every entry order on the exchange belongs to exactly one triggered order (the clOrdId
  its note names), and no order is ever sent twice;
- once the monitor has run past the resume grace without crashes, no triggered order is
  left without an outcome unless it expired first.
"""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from test_pending_helpers import BTC, ETH, Flaky, market

from qwentrade.adapters.memory import MemoryRepositories
from qwentrade.app.pending import OPENED, RESUME_AFTER, PendingOrderService
from qwentrade.app.trading import TradingService
from qwentrade.domain.errors import InvalidInput, InvalidTransition

CANDLES = 192  # two days of 15m candles: more than 30 steps of at most an hour


def walk(seed: int, start: float) -> list[float]:
    """A random walk of 15m closes, about 0.6 % a candle."""
    steps = np.random.default_rng(seed).normal(0.0, 0.006, CANDLES)
    return [round(float(p), 1) for p in start * np.exp(np.cumsum(steps))]


class PendingServiceMachine(RuleBasedStateMachine):
    @initialize(seed=st.integers(0, 2**16))
    def build(self, seed: int) -> None:
        self.repos = MemoryRepositories()
        self.engine, self.exchange, self.clock = market(
            walk(seed, 50000.0), {ETH: walk(seed + 1, 3000.0)}
        )
        inner = TradingService(self.exchange, self.repos, self.repos.config, self.clock)
        self.trading = Flaky(inner)
        self.service = PendingOrderService(
            self.repos.pending, self.trading, self.exchange, self.repos.config, self.clock
        )
        self.ids: list[str] = []

    @rule(
        symbol=st.sampled_from([BTC, ETH]),
        side=st.sampled_from(["LONG", "SHORT"]),
        distance=st.sampled_from([-0.008, -0.004, -0.002, -0.001, 0.001, 0.002, 0.004, 0.008]),
        protect=st.booleans(),
        hours=st.sampled_from([None, 0.5, 2.0]),
    )
    def create(self, symbol, side, distance, protect, hours) -> None:
        price = self.service.last_price(symbol)
        level = price * Decimal(repr(1 + distance))
        stop = target = None
        if protect:  # 1.5 % beyond the level on the losing side, 3 % on the winning one
            sign = 1 if side == "LONG" else -1
            stop = level * Decimal(repr(1 - sign * 0.015))
            target = level * Decimal(repr(1 + sign * 0.03))
        try:
            record = self.service.create(symbol, side, 100, level, stop, target, 5, None, hours)
        except InvalidInput as e:
            assert e.field == "trigger_price"  # rounded onto the price itself: refused
            return
        self.ids.append(record.id)

    @rule(which=st.integers(0, 50))
    def cancel(self, which: int) -> None:
        if not self.ids:
            return
        order_id = self.ids[which % len(self.ids)]
        try:
            assert self.service.cancel(order_id).status == "CANCELLED"
        except InvalidTransition:
            assert self.service.get(order_id).status != "PENDING"

    @rule(minutes=st.integers(1, 60), crash=st.booleans())
    def tick(self, minutes: int, crash: bool) -> None:
        """The market moves on, then a monitor pass (dying before its opens if ``crash``)."""
        self.clock.advance(timedelta(minutes=minutes))
        self.trading.failures = 1 if crash else 0
        self.service.check(self.clock.now())
        self.trading.failures = 0

    @invariant()
    def one_pending_order_per_symbol(self) -> None:
        if not hasattr(self, "repos"):
            return
        pending = self.repos.pending.open()
        assert len({o.symbol for o in pending}) == len(pending)

    @invariant()
    def triggers_crossed_their_level_before_expiry(self) -> None:
        if not hasattr(self, "repos"):
            return
        for order in self.repos.pending.find(status="TRIGGERED", limit=None):
            assert order.closed_at is not None and order.closed_at < order.expire_at
            assert order.fill_price is not None
            if order.crossing == "UP":
                assert order.fill_price >= order.trigger_price
            else:
                assert order.fill_price <= order.trigger_price

    @invariant()
    def every_entry_belongs_to_one_triggered_order(self) -> None:
        if not hasattr(self, "repos"):
            return
        sent = [o.cl_ord_id for o in self.exchange.order_history(limit=100) if not o.reduce_only]
        sent += [o.client_order_id for o in self.exchange.open_orders() if not o.reduce_only]
        assert len(sent) == len(set(sent))  # never sent twice
        notes = [
            o.reason.removeprefix(OPENED)
            for o in self.repos.pending.find(status="TRIGGERED", limit=None)
            if o.reason.startswith(OPENED)
        ]
        assert sorted(sent) == sorted(notes)

    def teardown(self) -> None:
        if not hasattr(self, "repos"):
            return
        self.clock.advance(RESUME_AFTER)
        self.service.check(self.clock.now())
        now = self.clock.now()
        for order in self.repos.pending.find(status="TRIGGERED", limit=None):
            assert order.reason or order.expire_at <= now, order


# SOAK_PENDING_EXAMPLES for a long run (make soak: 3000; make test: 40 examples, about 2 s)
PendingServiceMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("SOAK_PENDING_EXAMPLES", "40")),
    stateful_step_count=30,
    deadline=None,
)
test_pending_service_machine = PendingServiceMachine.TestCase
