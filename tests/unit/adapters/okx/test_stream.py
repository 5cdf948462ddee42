"""OkxPrivateStream against the fake OKX server on loopback (okx-spec section C)."""

from __future__ import annotations

import json
import logging
import random
import threading
import time

import pytest
from okx_stream_helpers import (
    BTC,
    KEY,
    PASSPHRASE,
    Recorder,
    fake_okx,
    market_buy,
    okx_stream,
    short_intervals,
    wait_for,
)

from qwentrade.adapters.okx.stream import OkxPrivateStream
from qwentrade.adapters.okx.stream_wire import business_url
from qwentrade.domain.venue import (
    AlgoOrder,
    AlgoState,
    AttachedAlgo,
    OrderRequest,
    OrderState,
    StreamStatusKind,
)


@pytest.fixture
def okx():
    with fake_okx() as server:
        yield server


@pytest.fixture
def opened():
    """Streams a test opens; every one is closed afterwards."""
    streams: list[OkxPrivateStream] = []
    yield streams
    for stream in streams:
        stream.close()


def start(okx, opened, **extra) -> tuple[OkxPrivateStream, Recorder]:
    stream = okx_stream(okx, **extra)
    opened.append(stream)
    recorder = Recorder()
    stream.connect(recorder)
    return stream, recorder


def wait_connected(stream: OkxPrivateStream, recorder: Recorder, times: int = 1) -> None:
    wait_for(
        lambda: len(recorder.statuses()) >= times and stream.connected,
        what=f"connected status #{times}",
    )


def test_logs_in_subscribes_and_delivers_orders_and_positions(okx, opened):
    stream, recorder = start(okx, opened)
    wait_connected(stream, recorder)
    state = stream.state()
    assert state.logged_in and state.connected
    assert state.subscribed == ("orders", "positions")
    placed = market_buy(okx.engine, "first1")
    orders = wait_for(lambda: len(recorder.orders("first1")) >= 2 and recorder.orders("first1"))
    assert [o.state for o in orders] == [OrderState.LIVE, OrderState.FILLED]
    assert orders[0].order_id == placed.order_id
    assert orders[1].last_fill is not None and orders[1].last_fill.size == 1
    position = wait_for(recorder.positions)[0]
    assert position.symbol == "BTC-USDT-SWAP" and position.size == 1
    assert recorder.events[0].kind is StreamStatusKind.CONNECTED
    assert stream.state().last_message_at is not None


def test_a_closed_position_arrives_with_size_0(okx, opened):
    stream, recorder = start(okx, opened)
    wait_connected(stream, recorder)
    market_buy(okx.engine, "open1")
    wait_for(lambda: [p for p in recorder.positions() if p.size == 1])
    market_buy(okx.engine, "close1", side="sell")
    closed = wait_for(lambda: [p for p in recorder.positions() if p.size == 0])
    assert not closed[0].is_open


def test_the_login_timestamp_follows_the_server_time_offset(okx, opened):
    okx.faults.skew_clock(120)  # OKX's clock two minutes ahead: a local stamp is stale
    stream, recorder = start(okx, opened, time_offset=lambda: 120.0)
    wait_connected(stream, recorder)
    assert not stream.state().auth_failed


def test_drops_at_random_moments_reconnect_resubscribe_and_announce_connected(okx, opened):
    stream, recorder = start(okx, opened)
    wait_connected(stream, recorder)
    rng = random.Random(5)
    for drop in range(1, 4):
        time.sleep(rng.uniform(0, 0.3))  # anywhere in the session, not a schedule
        okx.faults.drop_websockets()
        wait_connected(stream, recorder, times=drop + 1)
    state = stream.state()
    assert state.reconnects == 3 and state.subscribed == ("orders", "positions")
    assert len(recorder.statuses(StreamStatusKind.DISCONNECTED)) == 3
    market_buy(okx.engine, "after1")
    wait_for(lambda: len(recorder.orders("after1")) == 2, what="orders after reconnects")


def test_a_drop_during_login_is_retried(okx, opened):
    stream, recorder = start(okx, opened)
    okx.faults.drop_websockets()  # maybe before, during or after the login
    wait_connected(stream, recorder)
    market_buy(okx.engine, "retry1")
    wait_for(lambda: len(recorder.orders("retry1")) == 2)


def test_duplicated_and_reordered_pushes_are_delivered_once_each(okx, opened):
    stream, recorder = start(okx, opened)
    wait_connected(stream, recorder)
    okx.faults.duplicate_pushes(4)
    market_buy(okx.engine, "dup1")
    market_buy(okx.engine, "dup2")
    okx.faults.reorder_pushes(2)
    market_buy(okx.engine, "late1")
    wait_for(lambda: len(recorder.orders()) >= 6, what="six order versions")
    time.sleep(0.3)  # room for any duplicate still on its way
    keys = [(o.order_id, o.updated_at, o.state) for o in recorder.orders()]
    assert len(keys) == len(set(keys)) == 6
    assert stream.state().duplicates_skipped >= 4


def test_a_service_upgrade_notice_reconnects_at_once(okx, opened):
    stream, recorder = start(okx, opened, config=short_intervals(reconnect=60.0))
    wait_connected(stream, recorder)
    okx.announce_upgrade(close_after=60.0)
    wait_connected(stream, recorder, times=2)  # long before the 60 s reconnect interval
    assert stream.state().reconnects == 1
    assert "64008" in stream.state().last_error


def test_an_auth_failure_stops_reconnecting_and_says_so(okx, opened, caplog):
    caplog.set_level(logging.DEBUG, logger="qwentrade.adapters.okx")
    stream, recorder = start(okx, opened, secret="not-the-secret")
    state = wait_for(lambda: stream.state().auth_failed and stream.state(), what="auth failure")
    assert "60007" in state.auth_error and not state.connected
    time.sleep(0.5)  # five reconnect intervals: nothing may happen
    assert stream.state().reconnects == 0 and okx.websocket_count() == 0
    (status,) = wait_for(lambda: recorder.statuses(StreamStatusKind.DISCONNECTED))
    assert "authentication failed" in status.reason
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "60007" in warnings[0].getMessage()
    logged = " ".join(r.getMessage() for r in caplog.records) + repr(stream) + repr(state)
    for secret in ("not-the-secret", PASSPHRASE, KEY):
        assert secret not in logged


def test_a_silent_server_is_pinged_and_a_pong_keeps_the_connection(okx, opened):
    stream, recorder = start(okx, opened)  # heartbeat 1 s
    wait_connected(stream, recorder)
    state = wait_for(lambda: stream.state().pongs_received >= 2 and stream.state(), what="pongs")
    assert state.pings_sent >= 2 and state.reconnects == 0 and state.connected


def test_no_pong_means_reconnect(okx, opened, monkeypatch):
    answer = okx.hub._on_text  # the fake has no switch for this; swallow its pings here

    async def without_pong(connection, text):
        if text != "ping":
            await answer(connection, text)

    monkeypatch.setattr(okx.hub, "_on_text", without_pong)
    stream, recorder = start(okx, opened)  # heartbeat 1 s, ping timeout 1 s
    wait_connected(stream, recorder)
    wait_for(lambda: stream.state().reconnects >= 1, timeout=6, what="a reconnect")
    assert "no pong" in stream.state().last_error
    monkeypatch.undo()
    wait_connected(stream, recorder, times=2)


def send_raw(okx, *texts: str) -> None:
    """Send text frames to every connection of the fake, as if OKX had sent them."""

    def send() -> None:
        for connection in list(okx.hub.connections):
            for text in texts:
                connection.send(text)

    okx.hub.loop.call_soon_threadsafe(send)


def test_malformed_frames_and_rows_are_skipped_and_the_stream_goes_on(okx, opened, caplog):
    stream, recorder = start(okx, opened)
    wait_connected(stream, recorder)
    bad_row = {"arg": {"channel": "orders"}, "data": [{"ordId": "1", "state": "filled"}]}
    not_a_list = {"arg": {"channel": "orders"}, "data": "x"}
    send_raw(okx, "{not json", json.dumps(bad_row), json.dumps(not_a_list), "{not json")
    wait_for(lambda: stream.state().malformed_skipped == 4, what="four skipped")
    market_buy(okx.engine, "good1")
    wait_for(lambda: len(recorder.orders("good1")) == 2)
    state = stream.state()
    assert state.connected and state.reconnects == 0
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 3  # the repeated kind of problem is logged once


def test_close_is_idempotent_and_joins_its_threads_within_a_second(okx):
    stream = okx_stream(okx)
    recorder = Recorder()
    stream.connect(recorder)
    wait_connected(stream, recorder)
    began = time.monotonic()
    stream.close()
    stream.close()
    assert time.monotonic() - began < 1.0
    assert not [t for t in threading.enumerate() if t.name.startswith("okx-private-stream")]
    assert not stream.connected
    wait_for(lambda: okx.websocket_count() == 0, what="the server to see the close")
    count = len(recorder.events)
    market_buy(okx.engine, "quiet1")
    time.sleep(0.2)
    assert len(recorder.events) == count  # nothing delivered after close


def test_close_during_reconnect_wait_and_reconnect_after_close(okx):
    stream = okx_stream(okx, config=short_intervals(reconnect=30.0))
    recorder = Recorder()
    stream.connect(recorder)
    try:
        wait_connected(stream, recorder)
        okx.faults.drop_websockets()
        wait_for(lambda: not stream.connected, what="the drop")
        began = time.monotonic()
        stream.close()  # in the middle of a 30 s reconnect wait
        assert time.monotonic() - began < 1.0
        stream.connect(recorder)
        wait_connected(stream, recorder, times=2)
    finally:
        stream.close()


def test_a_slow_consumer_never_blocks_the_socket_and_is_told_to_reconcile(okx, opened):
    gate = threading.Event()
    seen = Recorder()

    def slow(event) -> None:
        gate.wait(10)
        seen(event)

    stream = okx_stream(okx, order_queue_size=3)
    opened.append(stream)
    stream.connect(slow)
    wait_for(lambda: stream.connected, what="connected")
    for n in range(4):  # eight order pushes: more than three can wait
        market_buy(okx.engine, f"burst{n}", side="buy" if n % 2 == 0 else "sell")
    wait_for(lambda: stream.state().dropped_events > 0, what="an overflow")
    pongs = stream.state().pongs_received
    wait_for(lambda: stream.state().pongs_received > pongs, what="the socket still reading")
    gate.set()
    reasons = wait_for(
        lambda: [s.reason for s in seen.statuses(StreamStatusKind.DISCONNECTED)], what="resync"
    )
    assert "fell behind" in reasons[0]
    wait_for(lambda: len(seen.statuses()) >= 2, what="connected after the resync")
    assert stream.state().reconnects == 0  # the socket itself never dropped


def test_orders_algo_is_followed_on_the_business_socket(okx, opened):
    stream, recorder = start(okx, opened, business_url=business_url(okx.ws_url))
    wait_connected(stream, recorder)
    state = stream.state()
    assert state.subscribed == ("orders", "positions", "orders-algo")
    assert state.refused_channels == () and okx.websocket_count() == 2
    # two sockets, one stream: connected once
    assert len(recorder.statuses()) == 1
    stop = AttachedAlgo(sl_trigger_price="1000")
    okx.engine.place_order(OrderRequest(BTC, "buy", "1", "both1", attached_algos=(stop,)))
    [live] = wait_for(lambda: [e for e in recorder.events if isinstance(e, AlgoOrder)])
    assert live.state is AlgoState.LIVE and live.sl_trigger_price == 1000
    assert live.attached_to == recorder.orders("both1")[0].order_id
    okx.engine.cancel_algos([(BTC, live.algo_id)])
    wait_for(
        lambda: [
            e for e in recorder.events if isinstance(e, AlgoOrder) and e.state is AlgoState.CANCELED
        ],
        what="the canceled algo",
    )
    # one outage of both sockets: one disconnected, then one connected
    okx.drop_websockets()
    wait_connected(stream, recorder, times=2)
    time.sleep(0.3)
    assert len(recorder.statuses(StreamStatusKind.DISCONNECTED)) == 1
    assert len(recorder.statuses()) == 2


def test_a_business_socket_alone_dropping_is_an_outage_of_the_stream(okx, opened):
    stream, recorder = start(okx, opened, business_url=business_url(okx.ws_url))
    wait_connected(stream, recorder)
    okx.drop_business_websockets()
    wait_connected(stream, recorder, times=2)
    assert len(recorder.statuses(StreamStatusKind.DISCONNECTED)) == 1
    assert okx.websocket_count() == 2
