"""Change events: the engine's listener hook and SimPrivateStream."""

from __future__ import annotations

import threading
import time

from sim_helpers import BTC, D, at, engine, flat

from qwentrade.adapters.sim import SimExchange, SimPrivateStream
from qwentrade.domain.venue import (
    AlgoOrder,
    AlgoState,
    AttachedAlgo,
    Balance,
    ExchangePosition,
    Order,
    OrderRequest,
    OrderState,
    StreamStatus,
    StreamStatusKind,
)


def wait_for(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def describe(event) -> str:
    if isinstance(event, Order):
        return f"order:{event.state.value}"
    if isinstance(event, AlgoOrder):
        return f"algo:{event.state.value}"
    if isinstance(event, ExchangePosition):
        return f"position:{event.size}"
    if isinstance(event, Balance):
        return "balance"
    return f"status:{event.kind.value}"


def test_listeners_see_every_change_in_order_including_the_stop_firing():
    sim, _ = engine([*flat(100000), (100000, 100000, 98000, 98000), *flat(98000)])
    seen = []
    unsubscribe = sim.subscribe(lambda e: seen.append(describe(e)))
    sim.place_order(
        OrderRequest(
            BTC, "buy", "1", "s1", attached_algos=[AttachedAlgo(sl_trigger_price="99000.0")]
        )
    )
    assert seen == ["order:live", "order:filled", "algo:live", "position:1", "balance"]
    seen.clear()
    sim.advance(at(30))
    assert seen == [
        "algo:effective",
        "order:live",
        "order:filled",
        "position:0",
        "balance",
    ]
    unsubscribe()
    sim.place_order(OrderRequest(BTC, "buy", "1", "s2"))
    assert len(seen) == 5


def test_a_broken_listener_does_not_break_the_exchange():
    sim, _ = engine(flat(100000, 2))

    def broken(event):
        raise RuntimeError("consumer bug")

    sim.subscribe(broken)
    order = sim.place_order(OrderRequest(BTC, "buy", "1", "b1"))
    assert order.state is OrderState.FILLED


def test_private_stream_delivers_on_its_own_thread_and_may_call_back():
    sim, _ = engine(flat(100000, 2))
    exchange = SimExchange(sim)
    stream = SimPrivateStream(sim)
    got = []
    threads = set()

    def on_event(event):
        threads.add(threading.current_thread().name)
        got.append(event)
        if isinstance(event, Order) and event.state is OrderState.FILLED:
            exchange.positions()  # calling back must not deadlock

    stream.connect(on_event)
    assert stream.connected
    exchange.place_order(OrderRequest(BTC, "buy", "1", "p1"))
    wait_for(lambda: any(isinstance(e, Balance) for e in got))
    stream.close()
    assert not stream.connected
    assert isinstance(got[0], StreamStatus) and got[0].kind is StreamStatusKind.CONNECTED
    assert threads == {"sim-private-stream"}
    count = len(got)
    exchange.place_order(OrderRequest(BTC, "buy", "1", "p2"))
    time.sleep(0.05)
    assert len(got) == count  # closed: nothing more arrives


def test_a_consumer_that_falls_behind_gets_a_reconnect_to_reconcile():
    sim, _ = engine(flat(100000, 2))
    stream = SimPrivateStream(sim, queue_size=3)
    release = threading.Event()
    got = []

    def slow(event):
        release.wait(5)
        got.append(event)

    stream.connect(slow)
    for i in range(4):  # each order makes several events: the queue overflows
        sim.place_order(OrderRequest(BTC, "buy", "1", f"o{i}"))
    release.set()
    wait_for(
        lambda: any(
            isinstance(e, StreamStatus) and e.kind is StreamStatusKind.DISCONNECTED for e in got
        )
    )
    wait_for(lambda: isinstance(got[-1], StreamStatus))
    stream.close()
    kinds = [e.kind for e in got if isinstance(e, StreamStatus)]
    assert kinds[-2:] == [StreamStatusKind.DISCONNECTED, StreamStatusKind.CONNECTED]


def test_synchronous_stream_for_backtests():
    sim, _ = engine(flat(100000, 2))
    stream = SimPrivateStream(sim, threaded=False)
    got = []
    stream.connect(got.append)
    sim.place_order(OrderRequest(BTC, "buy", "1", "y1"))
    assert [describe(e) for e in got] == [
        "status:connected",
        "order:live",
        "order:filled",
        "position:1",
        "balance",
    ]
    stream.close()
    assert all(e.state is not AlgoState.LIVE for e in got if isinstance(e, AlgoOrder))
    assert got[-1].cash_balance == D(10000) - D("0.5")
