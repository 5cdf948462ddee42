"""The fake OKX private WebSocket, driven by websocket-client (okx-spec section C)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import websocket
from fake_okx_helpers import (
    BTC,
    KEY,
    PASSPHRASE,
    SECRET,
    is_push,
    okx_sign,
    stepped_engine,
    wait_for,
    ws_close_code,
    ws_connect,
    ws_login,
    ws_next,
    ws_subscribe,
)

from qwentrade.testing.fake_okx import FakeOkx

ORDERS = {"channel": "orders", "instType": "ANY"}
POSITIONS = {"channel": "positions", "instType": "SWAP"}
MARKET_BUY = {"instId": BTC, "tdMode": "cross", "side": "buy", "ordType": "market", "sz": "1"}


@pytest.fixture
def ws(okx):
    connection = ws_connect(okx.ws_url)
    yield connection
    connection.close()


def buy(client, cl_ord_id: str, **extra) -> dict:
    return client.data(
        client.post("/api/v5/trade/order", MARKET_BUY | {"clOrdId": cl_ord_id} | extra)
    )[0]


def test_login_then_subscribe_is_acknowledged(ws):
    login = ws_login(ws)
    assert login["event"] == "login" and login["code"] == "0" and login["connId"]
    ws.send(json.dumps({"id": "7", "op": "subscribe", "args": [ORDERS]}))
    ack = ws_next(ws)
    assert ack == {"id": "7", "event": "subscribe", "arg": ORDERS, "connId": login["connId"]}
    count = ws_next(ws)
    assert count["event"] == "channel-conn-count" and count["channel"] == "orders"


def test_a_wrong_signature_fails_login_and_closes_with_4001(ws):
    failed = ws_login(ws, secret="wrong")
    assert failed["event"] == "error" and failed["code"] == "60007"
    assert ws_close_code(ws) == 4001


def test_a_stale_login_timestamp_expires(ws):
    assert ws_login(ws, stamp=str(int(time.time()) - 60))["code"] == "60006"


def test_private_channels_need_login_and_requests_must_be_valid(ws):
    ws.send(json.dumps({"op": "subscribe", "args": [ORDERS]}))
    assert ws_next(ws)["code"] == "60011"
    ws.send("hello")
    assert ws_next(ws)["code"] == "60012"
    ws_login(ws)
    ws.send(json.dumps({"op": "subscribe", "args": [{"channel": "tickers", "instId": BTC}]}))
    assert ws_next(ws)["code"] == "60018"
    ws.send(json.dumps({"op": "subscribe", "args": [{"channel": "orders"}]}))
    assert ws_next(ws)["code"] == "60013"


def test_text_ping_gets_text_pong(ws):
    ws.send("ping")
    assert ws.recv() == "pong"


def test_orders_are_pushed_live_then_filled_with_the_fill(okx, client, ws):
    ws_login(ws)
    ws_subscribe(ws, ORDERS)
    placed = buy(client, "push1", tag="abc")
    live = ws_next(ws, is_push("orders"))["data"][0]
    assert (live["ordId"], live["state"], live["fillSz"], live["avgPx"]) == (
        placed["ordId"],
        "live",
        "0",
        "0",
    )
    filled = ws_next(ws, is_push("orders"))
    order = filled["data"][0]
    assert filled["arg"] == ORDERS | {"uid": okx.state.uid}
    assert order["state"] == "filled" and order["clOrdId"] == "push1" and order["tag"] == "abc"
    assert order["fillSz"] == "1" and float(order["fillPx"]) > 0 and float(order["fillFee"]) < 0


def test_positions_snapshot_then_event_updates(client, ws):
    buy(client, "held1")
    ws_login(ws)
    ws.send(json.dumps({"op": "subscribe", "args": [POSITIONS]}))
    snapshot = ws_next(ws, is_push("positions"))
    assert snapshot["eventType"] == "snapshot" and snapshot["lastPage"] is True
    assert [(p["instId"], p["pos"]) for p in snapshot["data"]] == [(BTC, "1")]
    buy(client, "held2")
    update = ws_next(ws, is_push("positions"))
    assert update["eventType"] == "event_update" and update["data"][0]["pos"] == "2"
    assert update["data"][0]["pTime"]


def test_a_closed_net_position_is_pushed_with_pos_0(client, ws):
    buy(client, "o1")
    ws_login(ws)
    ws_subscribe(ws, POSITIONS)
    ws_next(ws, is_push("positions"))  # snapshot
    buy(client, "c1", side="sell")
    closed = ws_next(ws, is_push("positions"))["data"][0]
    assert closed["pos"] == "0" and closed["posSide"] == "net"


def test_unsubscribe_stops_pushes(client, ws):
    ws_login(ws)
    ws_subscribe(ws, ORDERS)
    ws.send(json.dumps({"op": "unsubscribe", "args": [ORDERS]}))
    assert ws_next(ws)["event"] == "unsubscribe"
    buy(client, "quiet1")
    ws.send("ping")
    assert ws_next(ws) == "pong"  # no order push came before it


def test_instrument_filters_select_pushes(client, ws):
    ws_login(ws)
    ws_subscribe(ws, {"channel": "orders", "instType": "SWAP", "instId": "ETH-USDT-SWAP"})
    buy(client, "btc1")
    ws.send("ping")
    assert ws_next(ws) == "pong"


def test_idle_connections_are_closed_with_4004():
    with FakeOkx(stepped_engine(), rate_limits=False, ws_idle_timeout=0.3) as okx:
        ws = ws_connect(okx.ws_url)
        try:
            assert ws_close_code(ws) == 4004
        finally:
            ws.close()


def test_notice_before_a_scheduled_disconnect(okx, ws):
    ws_login(ws)
    okx.announce_upgrade(close_after=0.2)
    notice = ws_next(ws)
    assert notice["event"] == "notice" and notice["code"] == "64008"
    assert ws_close_code(ws) == 1012


def test_fault_drops_every_connection(okx, ws):
    ws_login(ws)
    other = ws_connect(okx.ws_url)
    try:
        wait_for(lambda: okx.websocket_count() == 2, what="two connections")
        okx.faults.drop_websockets()
        assert ws_close_code(ws) == 4006 and ws_close_code(other) == 4006
        wait_for(lambda: okx.websocket_count() == 0, what="connections gone")
    finally:
        other.close()


def test_fault_duplicates_pushes(okx, client, ws):
    ws_login(ws)
    ws_subscribe(ws, ORDERS)
    okx.faults.duplicate_pushes(1)
    buy(client, "dup1")
    first, second, third = (ws_next(ws, is_push("orders"))["data"][0] for _ in range(3))
    assert first == second and first["state"] == "live" and third["state"] == "filled"


def test_fault_reorders_pushes(okx, client, ws):
    ws_login(ws)
    ws_subscribe(ws, ORDERS)
    okx.faults.reorder_pushes(2)
    buy(client, "late1")
    states = [ws_next(ws, is_push("orders"))["data"][0]["state"] for _ in range(2)]
    assert states == ["filled", "live"]


def test_periodic_position_snapshots_unless_update_interval_is_0():
    server = FakeOkx(
        stepped_engine(),
        api_key=KEY,
        secret=SECRET,
        passphrase=PASSPHRASE,
        rate_limits=False,
        positions_interval=0.2,
    )
    with server as okx:
        periodic, quiet = ws_connect(okx.ws_url), ws_connect(okx.ws_url, timeout=0.8)
        try:
            ws_login(periodic)
            ws_subscribe(periodic, POSITIONS)
            kinds = [ws_next(periodic, is_push("positions"))["eventType"] for _ in range(3)]
            assert kinds == ["snapshot"] * 3
            ws_login(quiet)
            ws_subscribe(quiet, POSITIONS | {"extraParams": json.dumps({"updateInterval": "0"})})
            assert ws_next(quiet, is_push("positions"))["eventType"] == "snapshot"
            with pytest.raises(websocket.WebSocketTimeoutException):
                ws_next(quiet, is_push("positions"))
        finally:
            periodic.close()
            quiet.close()


def test_python_okx_style_login_with_a_numeric_timestamp(ws):
    stamp = int(time.time())
    ws.send(
        json.dumps(
            {
                "op": "login",
                "args": [
                    {
                        "apiKey": KEY,
                        "passphrase": PASSPHRASE,
                        "timestamp": stamp,
                        "sign": okx_sign(SECRET, f"{stamp}GET/users/self/verify"),
                    }
                ],
            }
        )
    )
    assert ws_next(ws)["code"] == "0"


def test_account_channel_pushes_the_balance(client, ws):
    ws_login(ws)
    ws_subscribe(ws, {"channel": "account"})
    buy(client, "acct1")
    push = ws_next(ws, is_push("account"))
    detail = push["data"][0]["details"][0]
    assert detail["ccy"] == "USDT" and float(detail["frozenBal"]) > 0


ALGOS = {"channel": "orders-algo", "instType": "SWAP"}
DATA = Path(__file__).parents[2] / "data" / "okx"


def test_the_business_socket_pushes_algo_orders_after_login(okx, client):
    business = ws_connect(okx.business_ws_url)
    try:
        business.send(json.dumps({"op": "subscribe", "args": [ALGOS]}))
        assert ws_next(business)["code"] == "60011"  # log in first, as on the private socket
        assert ws_login(business)["code"] == "0"
        business.send(json.dumps({"op": "subscribe", "args": [ORDERS]}))
        assert ws_next(business)["code"] == "60018"  # orders live on the private socket
        ws_subscribe(business, ALGOS)
        stop = {"slTriggerPx": "1000", "slOrdPx": "-1"}
        buy(client, "alg1", attachAlgoOrds=[stop])
        push = ws_next(business, is_push("orders-algo"))
        [row] = push["data"]
        recorded = json.loads((DATA / "ws_orders_algo.json").read_text())["data"][0]
        assert {k: type(row.get(k)) for k in recorded} == {k: type(v) for k, v in recorded.items()}
        assert row["state"] == "live" and row["slTriggerPx"] == "1000"
        assert push["arg"] == ALGOS | {"uid": okx.state.uid}
        pending = client.data(
            client.get("/api/v5/trade/orders-algo-pending", "ordType=conditional,oco")
        )
        body = [{"instId": BTC, "algoId": row["algoId"]}]
        assert [p["algoId"] for p in pending] == [row["algoId"]]
        client.post("/api/v5/trade/cancel-algos", body)
        canceled = ws_next(business, is_push("orders-algo"))["data"][0]
        assert canceled["algoId"] == row["algoId"] and canceled["state"] == "canceled"
    finally:
        business.close()
