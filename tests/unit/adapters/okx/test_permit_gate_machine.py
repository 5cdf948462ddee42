"""The thread-facing permit gate as a state machine: callers arrive, time passes, limits hold.

Beside ``gate_helpers`` (a fake clock the machine moves and real caller threads), so it
lives here rather than in ``tests/unit/machines``; the pure schedule's machine is there.
"""

from __future__ import annotations

import itertools
from collections import defaultdict

from gate_helpers import Callers, FakeClock
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from qwentrade.adapters.memory import MemoryConfigStore
from qwentrade.adapters.okx import EndpointLimit, LimitRule, PermitGate
from qwentrade.domain.ratelimit import Priority, to_ticks

GLOBAL_ONLY = "GET /api/v5/public/time-unlisted"  # not in the table: the global limit alone
ORDER = "POST /api/v5/trade/order"
ENDPOINTS = [GLOBAL_ONLY, ORDER]
INSTRUMENTS = ["BTC-USDT-SWAP", "ETH-USDT-SWAP"]


def limits_hold(ticks: list[int], limit: int, window: int, gap: int) -> bool:
    ticks = sorted(ticks)
    windows = all(last - first >= window for first, last in zip(ticks, ticks[limit:], strict=False))
    gaps = all(after - before >= gap for before, after in itertools.pairwise(ticks))
    return windows and gaps


class PermitGateMachine(RuleBasedStateMachine):
    @initialize(
        limit=st.integers(1, 5),
        window_ms=st.sampled_from([100, 500, 2000]),
        gap_ms=st.sampled_from([0, 10, 50]),
        order_limit=st.integers(1, 3),
        order_window_ms=st.sampled_from([100, 700, 3000]),
        per_instrument=st.booleans(),
    )
    def setup(self, limit, window_ms, gap_ms, order_limit, order_window_ms, per_instrument):
        config = MemoryConfigStore()
        config.set("API_MIN_INTERVAL", gap_ms / 1000)
        config.set("API_RATE_WINDOW", window_ms / 1000)
        config.set("API_RATE_LIMIT", limit)
        rule_ = LimitRule.USER_INSTRUMENT if per_instrument else LimitRule.USER
        self.order_limit = EndpointLimit(order_limit, order_window_ms / 1000, rule_)
        self.clock = FakeClock()
        self.gate = PermitGate(
            config,
            clock=self.clock,
            wait=self.clock.wait,
            endpoint_limits={ORDER: self.order_limit},
        )
        self.callers = Callers(self.gate, self.clock)
        self.limit, self.window, self.gap = (
            limit,
            to_ticks(window_ms / 1000),
            to_ticks(gap_ms / 1000),
        )
        # name -> (priority, endpoint, instrument, admissions before it arrived)
        self.calls: dict[str, tuple[Priority, str, str, int]] = {}
        self.count = 0

    @rule(
        callers=st.lists(
            st.tuples(
                st.sampled_from(list(Priority)),
                st.sampled_from(ENDPOINTS),
                st.sampled_from(INSTRUMENTS),
            ),
            min_size=1,
            max_size=3,
        )
    )
    def arrive(self, callers):
        for priority, endpoint, instrument in callers:
            self.count += 1
            name = f"c{self.count}"
            self.callers.settle()
            self.calls[name] = (priority, endpoint, instrument, len(self.callers.names()))
            self.callers.start(name, priority, endpoint, instrument)
        self.callers.settle()

    @rule()
    def next_admission(self):
        self.callers.step()

    @rule(ms=st.integers(1, 1500))
    def time_passes(self, ms):
        self.callers.settle()
        self.clock.advance_to(self.clock.now + ms / 1000)
        self.callers.settle()

    def teardown(self):
        self.gate.close()
        for thread in self.callers.threads:
            thread.join(5)

    @invariant()
    def no_errors(self):
        assert self.callers.errors == []

    @invariant()
    def the_global_limits_hold(self):
        ticks = [to_ticks(at) for at in self.callers.times().values()]
        assert limits_hold(ticks, self.limit, self.window, self.gap)

    @invariant()
    def each_order_counter_holds_its_limit(self):
        counters = defaultdict(list)
        for name, at in self.callers.times().items():
            _, endpoint, instrument, _ = self.calls[name]
            if endpoint == ORDER:
                counters[self.order_limit.counter(ORDER, instrument)].append(to_ticks(at))
        window = to_ticks(self.order_limit.window)
        for ticks in counters.values():
            assert limits_hold(ticks, self.order_limit.requests, window, 0)

    @invariant()
    def on_the_global_limit_alone_the_higher_priority_goes_first(self):
        times = self.callers.times()
        for index, low in enumerate(self.callers.names()):
            low_priority, low_endpoint, _, _ = self.calls[low]
            for high, (high_priority, high_endpoint, _, before) in self.calls.items():
                if (
                    GLOBAL_ONLY not in (low_endpoint, high_endpoint)
                    or low_endpoint != high_endpoint
                ):
                    continue
                if high_priority > low_priority and before <= index:
                    # it was waiting when `low` went: it must have gone first (or with it)
                    assert high in times and times[high] <= times[low]

    @invariant()
    def nobody_waits_while_a_permit_is_free(self):
        state = self.gate.state()
        if sum(state.waiting.values()):
            assert state.next_admission_at is not None
            assert state.next_admission_at > self.clock.now


PermitGateMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=25, deadline=None
)
TestPermitGateMachine = PermitGateMachine.TestCase
