"""The OKX permit gate: windows, interval, priorities, endpoint limits, config, penalty, close.

Most tests run real caller threads on a fake clock (``gate_helpers``): the test moves time to
the gate's next admission and checks who went and when, so nothing sleeps for real. One test
uses the real clock with short limits and checks only arithmetic and order.
"""

from __future__ import annotations

import itertools
import threading

import pytest
from gate_helpers import Callers, FakeClock, eventually

from qwentrade.adapters.memory import MemoryConfigStore
from qwentrade.adapters.okx import (
    OKX_LIMITS,
    EndpointLimit,
    GateClosed,
    LimitRule,
    PermitGate,
    PermitTimeout,
)
from qwentrade.domain.errors import ExchangeUnavailable, InvalidInput, RateLimited
from qwentrade.domain.ratelimit import Priority, to_ticks

QUERY, TRADE, STOP_LOSS = Priority.QUERY, Priority.TRADE, Priority.STOP_LOSS
CANDLES = "GET /api/v5/market/candles"
HISTORY = "GET /api/v5/market/history-candles"
ORDER = "POST /api/v5/trade/order"
BTC, ETH = "BTC-USDT-SWAP", "ETH-USDT-SWAP"


def make_gate(config=None, **kwargs):
    clock = FakeClock()
    gate = PermitGate(config, clock=clock, wait=clock.wait, **kwargs)
    return gate, clock, Callers(gate, clock)


def store(**values):
    config = MemoryConfigStore()
    for key, value in values.items():
        config.set(key, value)
    return config


def take(gate, n, priority=QUERY, endpoint=CANDLES, instrument=None):
    """Admit ``n`` calls from the test's thread (each must go at once)."""
    for _ in range(n):
        with gate.permit(priority, endpoint, instrument, timeout=0):
            pass


def assert_limits_hold(times, limit, window, interval):
    ticks = sorted(to_ticks(at) for at in times)
    for before, after in itertools.pairwise(ticks):
        assert after - before >= to_ticks(interval)
    for first, last in zip(ticks, ticks[limit:], strict=False):
        assert last - first >= to_ticks(window)  # at most `limit` in any [t, t + window)


# -- the original's defaults: 10 per 2 s, 0.2 s apart --------------------------------------


def test_defaults_without_a_config_store_are_the_originals():
    gate, _, callers = make_gate()
    with gate.permit(QUERY, CANDLES) as at:
        assert at == 0.0
    state = gate.state()
    assert (state.limit, state.window, state.min_interval) == (10, 2.0, 0.2)
    for i in range(12):
        callers.start(f"q{i}", QUERY)
    callers.run()
    times = [0.0, *callers.times().values()]
    assert sorted(callers.times().values())[:3] == [0.2, 0.4, 0.6]
    assert_limits_hold(times, 10, 2.0, 0.2)
    assert max(times) == pytest.approx(2.4)  # 13 calls: 0.0 .. 1.8, then 2.0, 2.2, 2.4


def test_window_is_never_exceeded_and_waiters_go_at_the_first_time_it_allows():
    _, _, callers = make_gate(store(API_RATE_LIMIT=3, API_MIN_INTERVAL=0.1))
    for i in range(8):
        callers.start(f"q{i}", QUERY)
    callers.run()
    times = sorted(callers.times().values())
    assert times == pytest.approx([0.0, 0.1, 0.2, 2.0, 2.1, 2.2, 4.0, 4.1])
    assert_limits_hold(times, 3, 2.0, 0.1)
    assert callers.names() == [f"q{i}" for i in range(8)]  # equal priority: first come


def test_real_threads_and_clock_keep_window_and_interval():
    """Real time, short limits: 30 calls from 6 threads, checked on the admission times."""
    gate = PermitGate(store(API_MIN_INTERVAL=0.01, API_RATE_WINDOW=0.1, API_RATE_LIMIT=3))
    times: list[float] = []
    lock = threading.Lock()

    def caller(k):
        for i in range(5):
            with gate.permit(Priority((k + i) % 3), ORDER, (BTC, ETH)[k % 2]) as at, lock:
                times.append(at)

    threads = [threading.Thread(target=caller, args=(k,)) for k in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(times) == 30
    assert_limits_hold(times, 3, 0.1, 0.01)
    assert sum(gate.state().admitted.values()) == 30


# -- priorities ------------------------------------------------------------------------------


def test_a_stop_loss_behind_eight_waiting_queries_takes_the_next_free_slot():
    gate, clock, callers = make_gate()
    take(gate, 1)  # the gate is busy until 0.2
    for i in range(8):
        callers.start(f"q{i}", QUERY)
    clock.advance_to(0.1)
    callers.start("stop", STOP_LOSS, ORDER, BTC)
    assert gate.state().waiting == {QUERY: 8, TRADE: 0, STOP_LOSS: 1}
    assert callers.step() == pytest.approx(0.2)  # the next free slot
    assert callers.names() == ["stop"]
    callers.run()
    assert callers.names() == ["stop", *(f"q{i}" for i in range(8))]
    assert gate.state().max_wait[STOP_LOSS] == pytest.approx(0.1)


def test_priority_then_arrival_decides_the_order():
    gate, clock, callers = make_gate()
    take(gate, 1)
    for name, priority in [("q1", QUERY), ("t1", TRADE), ("q2", QUERY), ("s1", STOP_LOSS)]:
        callers.start(name, priority)
        clock.advance_to(clock.now + 0.01)
    callers.start("t2", TRADE)
    callers.run()
    assert callers.names() == ["s1", "t1", "t2", "q1", "q2"]


def test_a_higher_priority_arrival_is_not_held_by_a_sleeping_lower_one():
    gate, clock, callers = make_gate()
    take(gate, 1)
    callers.start("query", QUERY)  # sleeps until 0.2
    clock.advance_to(0.19)
    callers.start("trade", TRADE)
    callers.step()
    assert callers.times() == {"trade": 0.2}


def test_an_endpoint_limited_stop_loss_lets_queries_through_that_do_not_delay_it():
    limits = {ORDER: EndpointLimit(1, 2.0, LimitRule.USER_INSTRUMENT)}
    gate, _, callers = make_gate(endpoint_limits=limits)
    take(gate, 1, STOP_LOSS, ORDER, BTC)  # BTC orders: next at 2.0
    callers.start("stop", STOP_LOSS, ORDER, BTC)
    for i in range(3):
        callers.start(f"q{i}", QUERY)
    callers.run()
    assert callers.times() == pytest.approx({"q0": 0.2, "q1": 0.4, "q2": 0.6, "stop": 2.0})


def test_a_query_that_would_delay_an_endpoint_limited_stop_loss_waits_for_it():
    limits = {ORDER: EndpointLimit(1, 0.3, LimitRule.USER_INSTRUMENT)}
    gate, _, callers = make_gate(endpoint_limits=limits)
    take(gate, 1, STOP_LOSS, ORDER, BTC)  # the stop-loss may go at 0.3
    callers.start("stop", STOP_LOSS, ORDER, BTC)
    callers.start("query", QUERY)  # free at 0.2, but then the stop-loss would wait to 0.4
    callers.run()
    assert callers.names() == ["stop", "query"]
    assert callers.times() == pytest.approx({"stop": 0.3, "query": 0.5})


# -- per-endpoint limits ---------------------------------------------------------------------


def test_okx_endpoint_limits_bind_where_tighter_than_the_global_one():
    gate, _, callers = make_gate(store(API_RATE_LIMIT=1000, API_MIN_INTERVAL=0))
    take(gate, 20, QUERY, HISTORY)  # history-candles: 20 per 2 s
    callers.start("history", QUERY, HISTORY)
    take(gate, 1, QUERY, CANDLES)  # another endpoint still goes at once
    assert gate.state().next_admission_at == 2.0
    callers.run()
    assert callers.times() == {"history": 2.0}


def test_per_instrument_limits_count_each_instrument_apart():
    limits = {ORDER: EndpointLimit(2, 2.0, LimitRule.USER_INSTRUMENT)}
    gate, _, callers = make_gate(store(API_MIN_INTERVAL=0), endpoint_limits=limits)
    take(gate, 2, TRADE, ORDER, BTC)
    take(gate, 2, TRADE, ORDER, ETH)  # ETH has its own counter
    callers.start("btc", TRADE, ORDER, BTC)
    callers.run()
    assert callers.times() == {"btc": 2.0}


def test_per_user_limits_share_one_counter_across_instruments():
    limits = {ORDER: EndpointLimit(2, 2.0, LimitRule.USER)}
    gate, _, callers = make_gate(store(API_MIN_INTERVAL=0), endpoint_limits=limits)
    take(gate, 1, TRADE, ORDER, BTC)
    take(gate, 1, TRADE, ORDER, ETH)
    callers.start("btc", TRADE, ORDER, BTC)
    callers.run()
    assert callers.times() == {"btc": 2.0}


def test_the_okx_table_holds_the_documented_limits():
    assert OKX_LIMITS[CANDLES] == EndpointLimit(40, 2.0, LimitRule.IP)
    assert OKX_LIMITS[HISTORY] == EndpointLimit(20, 2.0, LimitRule.IP)
    assert OKX_LIMITS[ORDER] == EndpointLimit(60, 2.0, LimitRule.USER_INSTRUMENT)
    assert OKX_LIMITS["GET /api/v5/account/config"].requests == 5
    for endpoint, limit in OKX_LIMITS.items():
        method, path = endpoint.split(" ")
        assert method in {"GET", "POST"} and path.startswith("/api/v5/")
        assert limit.requests <= 60 and limit.window > 0
    per_instrument = OKX_LIMITS[ORDER]
    assert per_instrument.counter(ORDER, BTC) != per_instrument.counter(ORDER, ETH)
    assert OKX_LIMITS[CANDLES].counter(CANDLES, BTC) == OKX_LIMITS[CANDLES].counter(CANDLES, ETH)


@pytest.mark.parametrize("requests, window", [(0, 2.0), (True, 2.0), (5, 0), (5, float("nan"))])
def test_an_endpoint_limit_refuses_nonsense(requests, window):
    with pytest.raises(InvalidInput):
        EndpointLimit(requests, window, LimitRule.IP)


# -- configuration without restart -----------------------------------------------------------


def test_a_config_change_applies_without_restart_within_a_second():
    config = store(API_RATE_LIMIT=2, API_MIN_INTERVAL=0)
    gate, clock, callers = make_gate(config)
    take(gate, 2)
    callers.start("third", QUERY)
    assert gate.state().next_admission_at == 2.0
    config.set("API_RATE_LIMIT", 3)
    clock.advance_to(0.5)  # the read at 0.0 is still fresh: the old limit holds
    callers.settle()
    assert callers.names() == []
    assert clock.wakes[-1] == 1.0  # it sleeps until the config may have changed, not to 2.0
    clock.advance_to(1.0)  # a second old: read again, the third permit is free
    eventually(lambda: callers.names() == ["third"])
    assert callers.times() == {"third": 1.0}
    assert gate.state().limit == 3


def test_a_tighter_config_delays_the_next_admission():
    config = store(API_MIN_INTERVAL=0.1)
    gate, clock, callers = make_gate(config)
    take(gate, 1)
    config.set("API_MIN_INTERVAL", 0.5)
    clock.advance_to(1.0)
    take(gate, 1)  # reads the new interval at 1.0
    callers.start("next", QUERY)
    callers.run()
    assert callers.times() == {"next": 1.5}


# -- timeout, penalty, close -----------------------------------------------------------------


def test_a_timeout_raises_rate_limited_and_frees_the_place():
    gate, clock, callers = make_gate()
    take(gate, 1)
    with pytest.raises(PermitTimeout) as caught:
        take(gate, 1)  # timeout=0 on a busy gate
    assert isinstance(caught.value, RateLimited)
    callers.start("impatient", STOP_LOSS, timeout=0.1)
    callers.start("patient", QUERY)
    clock.advance_to(0.1)
    eventually(lambda: len(callers.errors) == 1)
    assert isinstance(callers.errors[0][1], PermitTimeout)
    callers.run()
    assert callers.times() == {"patient": 0.2}
    state = gate.state()
    assert state.timed_out == {QUERY: 1, TRADE: 0, STOP_LOSS: 1}
    assert sum(state.waiting.values()) == 0


def test_penalise_admits_nothing_until_the_penalty_ends():
    gate, clock, callers = make_gate()
    take(gate, 1)
    gate.penalise(5.0)
    assert gate.state().penalised_until == 5.0
    callers.start("stop", STOP_LOSS)
    assert gate.state().next_admission_at == 5.0
    clock.advance_to(4.9)
    callers.settle()
    assert callers.names() == []
    callers.run()
    assert callers.times() == {"stop": 5.0}
    gate.penalise(1.0)
    gate.penalise(0.5)  # a shorter penalty does not shorten the longer one
    assert gate.state().penalised_until == 6.0


def test_close_wakes_every_waiter_with_an_error_and_refuses_later_permits():
    gate, _, callers = make_gate()
    take(gate, 1)
    for name, priority in [("q", QUERY), ("t", TRADE), ("s", STOP_LOSS)]:
        callers.start(name, priority)
    gate.close()
    eventually(lambda: len(callers.errors) == 3)
    assert all(isinstance(e, GateClosed) for _, e in callers.errors)
    assert isinstance(callers.errors[0][1], ExchangeUnavailable)
    with pytest.raises(GateClosed):
        take(gate, 1, STOP_LOSS)
    state = gate.state()
    assert state.closed and sum(state.waiting.values()) == 0


# -- state and input -------------------------------------------------------------------------


def test_state_counts_admissions_and_waits_per_priority():
    gate, _, callers = make_gate()
    take(gate, 1)
    callers.start("q1", QUERY)
    callers.start("q2", QUERY)
    callers.start("t", TRADE)
    callers.run()
    state = gate.state()
    assert state.admitted == {QUERY: 3, TRADE: 1, STOP_LOSS: 0}
    assert state.total_wait[QUERY] == pytest.approx(0 + 0.4 + 0.6)
    assert state.max_wait[QUERY] == pytest.approx(0.6)
    assert state.max_wait[TRADE] == pytest.approx(0.2)
    assert state.next_admission_at is None


def test_an_exception_in_the_call_does_not_return_the_permit():
    gate, _, callers = make_gate()
    with pytest.raises(KeyError), gate.permit(QUERY, CANDLES):
        raise KeyError("the call failed")
    callers.start("next", QUERY)
    callers.run()
    assert callers.times() == {"next": 0.2}  # the failed call counted: it reached OKX


@pytest.mark.parametrize(
    "priority, endpoint, timeout, field",
    [
        (1, CANDLES, None, "priority"),
        (QUERY, "candles", None, "endpoint"),
        (QUERY, CANDLES, -1, "timeout"),
        (QUERY, CANDLES, float("nan"), "timeout"),
    ],
)
def test_bad_arguments_name_the_field(priority, endpoint, timeout, field):
    gate = PermitGate()
    with pytest.raises(InvalidInput) as caught, gate.permit(priority, endpoint, timeout=timeout):
        pass
    assert caught.value.field == field
    with pytest.raises(InvalidInput):
        gate.penalise(-1)


def test_a_caller_interrupted_while_waiting_leaves_the_queue():
    clock = FakeClock()

    def interrupted(condition, seconds):
        raise KeyboardInterrupt  # Ctrl-C in a notebook while the call waits

    gate = PermitGate(clock=clock, wait=interrupted)
    take(gate, 1)
    with pytest.raises(KeyboardInterrupt), gate.permit(STOP_LOSS, CANDLES):
        pass
    assert sum(gate.state().waiting.values()) == 0
    clock.advance_to(0.2)
    take(gate, 1, QUERY)  # nobody ghost-waits ahead of it
