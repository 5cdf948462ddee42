"""The PrivateStream port's contract: every implementation in ``private_stream_fixtures.STREAMS``
passes it (SimPrivateStream; OkxPrivateStream over the fake OKX server)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from private_stream_fixtures import STREAMS, SYMBOL, StreamVenue

from qwentrade.domain.venue import (
    AlgoOrder,
    AlgoState,
    AttachedAlgo,
    Balance,
    ExchangePosition,
    Order,
    OrderRequest,
    OrderState,
    StreamEvent,
    StreamStatus,
    StreamStatusKind,
)


@pytest.fixture(params=sorted(STREAMS))
def venue(request) -> StreamVenue:
    made = STREAMS[request.param]()
    yield made
    made.close()


class Recorder:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[StreamEvent] = []

    def __call__(self, event: StreamEvent) -> None:
        with self._lock:
            self._events.append(event)

    def of(self, kind: type) -> list:
        with self._lock:
            return [e for e in self._events if isinstance(e, kind)]

    def statuses(self, kind: StreamStatusKind) -> list[StreamStatus]:
        return [s for s in self.of(StreamStatus) if s.kind is kind]

    def orders(self, client_order_id: str) -> list[Order]:
        return [o for o in self.of(Order) if o.client_order_id == client_order_id]

    def __len__(self) -> int:
        with self._lock:
            return len(self._events)

    @property
    def first(self) -> StreamEvent:
        with self._lock:
            return self._events[0]


def wait_for(condition: Callable[[], Any], timeout: float = 5.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def connected(venue: StreamVenue) -> Recorder:
    recorder = Recorder()
    venue.stream.connect(recorder)
    wait_for(
        lambda: venue.stream.connected and recorder.statuses(StreamStatusKind.CONNECTED),
        what="the connected status",
    )
    return recorder


def buy(venue: StreamVenue, client_order_id: str, side: str = "buy", **extra) -> Order:
    return venue.engine.place_order(OrderRequest(SYMBOL, side, "1", client_order_id, **extra))


def test_connected_is_the_first_event(venue):
    recorder = connected(venue)
    assert isinstance(recorder.first, StreamStatus)
    assert recorder.first.kind is StreamStatusKind.CONNECTED
    assert recorder.first.time.tzinfo is not None


def test_an_order_is_delivered_live_then_filled_with_its_position(venue):
    recorder = connected(venue)
    placed = buy(venue, "c1")
    orders = wait_for(lambda: len(recorder.orders("c1")) == 2 and recorder.orders("c1"))
    assert [o.state for o in orders] == [OrderState.LIVE, OrderState.FILLED]
    assert {o.order_id for o in orders} == {placed.order_id}
    assert orders[1].filled_size == 1 and orders[1].avg_price is not None
    position = wait_for(lambda: recorder.of(ExchangePosition))[-1]
    assert position.symbol == SYMBOL and position.size == 1


def test_a_closed_position_is_delivered_with_size_0(venue):
    recorder = connected(venue)
    buy(venue, "o1")
    wait_for(lambda: [p for p in recorder.of(ExchangePosition) if p.size == 1])
    buy(venue, "x1", side="sell")
    closed = wait_for(lambda: [p for p in recorder.of(ExchangePosition) if p.size == 0])
    assert not closed[0].is_open


def test_connect_twice_is_one_connection(venue):
    recorder = connected(venue)
    venue.stream.connect(recorder)
    buy(venue, "t1")
    wait_for(lambda: len(recorder.orders("t1")) == 2)
    assert len(recorder.statuses(StreamStatusKind.CONNECTED)) == 1
    assert len(recorder.orders("t1")) == 2


def test_a_failing_consumer_does_not_stop_delivery(venue):
    recorder = Recorder()

    def fragile(event: StreamEvent) -> None:
        recorder(event)
        if isinstance(event, Order):
            raise RuntimeError("consumer bug")

    venue.stream.connect(fragile)
    wait_for(lambda: venue.stream.connected)
    buy(venue, "f1")
    buy(venue, "f2", side="sell")
    wait_for(lambda: len(recorder.orders("f2")) == 2, what="orders after a failing call")


def test_close_is_idempotent_and_stops_delivery(venue):
    recorder = connected(venue)
    venue.stream.close()
    venue.stream.close()
    assert not venue.stream.connected
    seen = len(recorder)
    buy(venue, "q1")
    time.sleep(0.2)
    assert len(recorder) == seen


def test_a_dropped_connection_is_followed_by_connected_again(venue):
    if not venue.wire_faults:
        pytest.skip(f"{venue.name} has no transport to drop")
    recorder = connected(venue)
    venue.drop()
    wait_for(lambda: len(recorder.statuses(StreamStatusKind.CONNECTED)) == 2, what="reconnect")
    assert recorder.statuses(StreamStatusKind.DISCONNECTED)
    buy(venue, "r1")
    wait_for(lambda: len(recorder.orders("r1")) == 2, what="orders after the reconnect")


def test_duplicated_pushes_are_delivered_once(venue):
    if not venue.wire_faults:
        pytest.skip(f"{venue.name} cannot duplicate pushes")
    recorder = connected(venue)
    venue.duplicate(10)
    buy(venue, "d1")
    wait_for(lambda: len(recorder.orders("d1")) >= 2)
    time.sleep(0.2)
    assert len(recorder.orders("d1")) == 2


def test_attached_algos_are_delivered(venue):
    if not venue.algo_orders:
        pytest.skip(f"{venue.name} does not follow algo orders")
    recorder = connected(venue)
    stop = AttachedAlgo(sl_trigger_price="1000")
    buy(venue, "a1", attached_algos=[stop])
    algo = wait_for(lambda: recorder.of(AlgoOrder))[0]
    assert algo.state is AlgoState.LIVE and algo.sl_trigger_price == 1000


def test_balances_are_delivered(venue):
    if not venue.balances:
        pytest.skip(f"{venue.name} does not follow the balance")
    recorder = connected(venue)
    buy(venue, "b1")
    assert wait_for(lambda: recorder.of(Balance))[0].currency == "USDT"
