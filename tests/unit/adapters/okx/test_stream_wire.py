"""The private stream's pure parts: signing, frames, rows, duplicates and its queues."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from okx_stream_helpers import BTC, stepped_engine

from qwentrade.adapters.okx import wire_trade
from qwentrade.adapters.okx.signing import OkxCredentials
from qwentrade.adapters.okx.stream_queues import EventQueues
from qwentrade.adapters.okx.stream_wire import (
    ALGOS,
    ORDERS,
    POSITIONS,
    Event,
    Pong,
    Push,
    SeenKeys,
    business_url,
    login_message,
    order_key,
    parse_frame,
    position_key,
    row_event,
    subscribe_message,
)
from qwentrade.domain.venue import (
    AlgoOrder,
    AttachedAlgo,
    ExchangePosition,
    Order,
    OrderRequest,
    StreamStatus,
    StreamStatusKind,
)
from qwentrade.testing.fake_okx import account, wire
from qwentrade.testing.fake_okx.auth import Credentials, verify_ws_login

NOW = datetime(2024, 3, 4, tzinfo=UTC)


def order_from_ws(row):
    return row_event(ORDERS, row)


def position_from_ws(row):
    return row_event(POSITIONS, row)


def algo_from_ws(row):
    return row_event(ALGOS, row)


def test_the_login_is_what_okx_verifies():
    credentials = Credentials("k1", "s3cret", "pp")
    stamp = int(NOW.timestamp())
    message = json.loads(login_message(OkxCredentials("k1", "s3cret", "pp"), stamp))
    assert message["op"] == "login" and message["args"][0]["timestamp"] == str(stamp)
    assert verify_ws_login(message["args"][0], credentials, NOW) is None
    wrong = json.loads(login_message(OkxCredentials("k1", "other", "pp"), stamp))["args"][0]
    assert verify_ws_login(wrong, credentials, NOW).code == "60007"


def test_subscriptions_and_urls():
    message = json.loads(subscribe_message(["orders", "positions"]))
    assert [a["channel"] for a in message["args"]] == ["orders", "positions"]
    assert all(a["instType"] == "SWAP" for a in message["args"])
    assert json.loads(message["args"][1]["extraParams"]) == {"updateInterval": "0"}
    demo = "wss://wspap.okx.com:8443/ws/v5/private?brokerId=9999"
    assert business_url(demo) == "wss://wspap.okx.com:8443/ws/v5/business?brokerId=9999"
    with pytest.raises(ValueError):
        business_url("wss://ws.okx.com:8443/ws/v5/public")


def test_frames_are_classified():
    assert parse_frame("pong") == Pong()
    notice = '{"event":"notice","code":"64008","msg":"upgrade","connId":"a"}'
    assert parse_frame(notice) == Event("notice", "64008", "upgrade")
    ack = '{"event":"subscribe","arg":{"channel":"orders","instType":"SWAP"},"connId":"a"}'
    assert parse_frame(ack) == Event("subscribe", channel="orders")
    push = parse_frame('{"arg":{"channel":"orders"},"data":[{"ordId":"1"}]}')
    assert push == Push("orders", ({"ordId": "1"},))
    for bad in ("{", "[]", '{"data":[]}', '{"arg":{"channel":"orders"},"data":[1]}'):
        with pytest.raises(ValueError):
            parse_frame(bad)


def instrument_of(engine):
    return next(i for i in engine.instruments() if i.inst_id == BTC)


@pytest.fixture
def engine_events():
    """Every change of a filled entry with an attached stop-loss, as the engine reports it."""
    engine = stepped_engine()
    events: list = []
    engine.subscribe(events.append)
    stop = AttachedAlgo(sl_trigger_price="1000", tp_trigger_price="1000000")
    engine.place_order(OrderRequest(BTC, "buy", "2", "entry1", attached_algos=[stop], tag="t1"))
    return engine, events


def test_orders_read_back_as_the_fake_writes_them(engine_events):
    engine, events = engine_events
    instrument = instrument_of(engine)
    orders = [e for e in events if isinstance(e, Order)]
    assert len(orders) == 2
    for order in orders:
        fill = order.last_fill if order.filled_size else None
        row = wire.ws_order_dict(order, instrument, Decimal(50000), fill, order.tag)
        assert order_from_ws(row) == order


def test_positions_and_algos_read_back_as_the_fake_writes_them(engine_events):
    engine, events = engine_events
    instrument = instrument_of(engine)
    (position,) = [e for e in events if isinstance(e, ExchangePosition)]
    row = account.position_dict(position, instrument, Decimal(50000), push_time=NOW)
    assert position_from_ws(row) == position
    (algo,) = [e for e in events if isinstance(e, AlgoOrder)]
    assert algo_from_ws(wire.algo_dict(algo, Decimal(50000), algo.tag)) == algo


def test_a_bad_row_raises_value_error(engine_events):
    engine, events = engine_events
    order = next(e for e in events if isinstance(e, Order))
    row = wire.ws_order_dict(order, instrument_of(engine), Decimal(1), None)
    for name, value in (("side", "up"), ("sz", "many"), ("uTime", ""), ("ordId", 5)):
        with pytest.raises(ValueError):
            order_from_ws(row | {name: value})


def test_duplicate_keys_and_their_window():
    row = {"ordId": "1", "uTime": "10", "state": "live", "accFillSz": "0"}
    assert order_key(row) != order_key(row | {"state": "filled", "accFillSz": "1"})
    assert order_key(row) != position_key({"posId": "1", "uTime": "10"})
    seen = SeenKeys(window=60, max_keys=3)
    assert seen.first_time("a", 0) and not seen.first_time("a", 59)
    assert seen.first_time("a", 61)  # forgotten after the window
    for key in "bcd":
        seen.first_time(key, 62)
    assert len(seen) == 3 and seen.first_time("a", 62)  # the oldest made room


def position(pos_id: str, size: str, minute: int = 0) -> ExchangePosition:
    when = datetime(2024, 3, 4, 0, minute, tzinfo=UTC)
    return ExchangePosition(
        pos_id, BTC, "net", size, "100", "100", "0", "0", "10", 10, "cross", None, when, when
    )


def take_all(queues: EventQueues) -> list:
    taken = []
    while batch := queues.take(timeout=0):
        taken.extend(batch)
    return taken


def test_queues_coalesce_open_positions_and_a_close_removes_a_queued_update():
    queues = EventQueues(close_size=2, position_size=2, order_size=2)
    queues.put(position("p1", "1", 1))
    queues.put(position("p1", "2", 2))  # replaces the queued p1
    queues.put(position("p2", "1", 3))
    queues.put(position("p2", "0", 4))  # p2 closed: its queued update goes
    assert [(p.pos_id, p.size) for p in take_all(queues)] == [("p2", 0), ("p1", 2)]
    assert queues.dropped == 0


@pytest.mark.parametrize("kind", ["closes", "positions", "orders"])
def test_an_overflow_drops_the_backlog_and_asks_for_a_reconcile(kind, engine_events):
    _, events = engine_events
    order = next(e for e in events if isinstance(e, Order))
    make = {
        "closes": lambda n: position(f"c{n}", "0", n),
        "positions": lambda n: position(f"o{n}", "1", n),
        "orders": lambda n: order,
    }[kind]
    queues = EventQueues(close_size=3, position_size=3, order_size=3)
    assert all(queues.put(make(n)) for n in range(3))
    assert not queues.put(make(3))  # never blocks: it tells and discards
    assert queues.dropped == 4 and len(queues) == 0
    queues.put(make(4))
    taken = take_all(queues)
    kinds = [e.kind for e in taken[:2]]
    assert kinds == [StreamStatusKind.DISCONNECTED, StreamStatusKind.CONNECTED]
    assert "fell behind" in taken[0].reason and taken[2:] == [make(4)]


def test_statuses_go_first_and_the_oldest_status_gives_way():
    queues = EventQueues()
    queues.put(position("p1", "1"))
    for minute in range(105):
        queues.put(StreamStatus("connected", datetime(2024, 3, 4, 1, minute % 60, tzinfo=UTC)))
    taken = take_all(queues)
    assert len(taken) == 101 and isinstance(taken[-1], ExchangePosition)


DATA = Path(__file__).resolve().parents[3] / "data" / "okx"


@pytest.mark.parametrize(
    ("name", "parse"), [("ws_orders", order_from_ws), ("ws_positions", position_from_ws)]
)
def test_recorded_pushes_parse(name, parse):
    push = parse_frame((DATA / f"{name}.json").read_text())
    assert isinstance(push, Push) and push.rows
    for row in push.rows:
        value = parse(row)
        assert value.symbol == row["instId"] and value.updated_at.tzinfo is not None


def test_recorded_events_parse():
    for frame in json.loads((DATA / "ws_events.json").read_text()).values():
        text = frame if isinstance(frame, str) else json.dumps(frame)
        assert isinstance(parse_frame(text), Event | Pong | Push)


def recorded_rows(name: str) -> tuple[dict, ...]:
    payload = json.loads((DATA / f"{name}.json").read_text())
    return tuple(payload["data"])


@pytest.mark.parametrize(
    ("channel", "rest", "names"),
    [
        (
            ORDERS,
            wire_trade.order_from_okx,
            (
                "ws_orders",
                "http_get_trade_orders_history",
                "http_get_trade_orders_pending",
                "http_get_trade_orders_pending_attached",
            ),
        ),
        (POSITIONS, wire_trade.position_from_okx, ("ws_positions", "http_get_account_positions")),
        (
            ALGOS,
            wire_trade.algo_from_okx,
            (
                "http_get_trade_orders_algo_pending",
                "http_get_trade_orders_algo_pending_close_fraction",
                "http_get_trade_orders_algo_pending_oco",
            ),
        ),
    ],
)
def test_a_recorded_row_reads_the_same_over_rest_and_the_websocket(channel, rest, names):
    for name in names:
        for row in recorded_rows(name):
            assert row_event(channel, row) == rest(row), (name, row)


def test_the_websocket_fill_fields_are_read_by_both_paths():
    (row,) = recorded_rows("ws_orders")
    order = wire_trade.order_from_okx(row)
    assert order == row_event(ORDERS, row)
    fill = order.last_fill
    assert fill is not None and fill.trade_id == "1518905529" and fill.liquidity == "maker"
    assert fill.price == Decimal("103698.9") and fill.size == Decimal("0.03")
    assert fill.time == datetime.fromtimestamp(1746947317402 / 1000, UTC)
    assert order.avg_price == Decimal("103698.9") and order.leverage == 2
    # a REST order names its last fill without the fee: no fill is made up from it
    (rest_row,) = recorded_rows("http_get_trade_orders_history")[:1]
    assert wire_trade.order_from_okx(rest_row).last_fill is None


def test_an_algo_row_of_the_fake_reads_the_same_over_rest_and_the_websocket(engine_events):
    engine, events = engine_events
    (algo,) = [e for e in events if isinstance(e, AlgoOrder)]
    row = wire.ws_algo_dict(algo, instrument_of(engine), Decimal(50000))
    assert row_event(ALGOS, row) == wire_trade.algo_from_okx(row) == algo


def test_algo_types_the_system_does_not_place_are_ignored():
    rows = recorded_rows("ws_orders_algo")
    assert rows and all(row_event(ALGOS, row) is None for row in rows)
