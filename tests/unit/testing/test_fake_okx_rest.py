"""The fake OKX REST endpoints: envelope, OKX error codes, pagination, trading."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from fake_okx_helpers import BTC, ETH, START, OkxClient, advance, stepped_engine

from qwentrade.domain.market import to_ms
from qwentrade.testing.fake_okx import FakeOkx

CANDLES = "/api/v5/market/candles"
HISTORY = "/api/v5/market/history-candles"
BATCH = "/api/v5/trade/batch-orders"
ORDER = "/api/v5/trade/order"


def order(cl_ord_id: str, sz: str = "1", **extra) -> dict:
    return {
        "instId": BTC,
        "tdMode": "cross",
        "side": "buy",
        "ordType": "market",
        "sz": sz,
        "clOrdId": cl_ord_id,
        **extra,
    }


def last_price(client) -> float:
    return float(client.data(client.get(CANDLES, f"instId={BTC}&bar=15m&limit=1"))[0][4])


def test_public_time_reports_market_time(okx, client):
    ts = client.data(client.get("/api/v5/public/time", signed=False))[0]["ts"]
    assert ts == str(to_ms(okx.engine.server_time()))


def test_instruments_for_every_inst_type(client):
    swaps = client.data(client.get("/api/v5/public/instruments", "instType=SWAP", signed=False))
    assert [row["instId"] for row in swaps] == [BTC, ETH, "SOL-USDT-SWAP"]
    btc = swaps[0]
    assert (btc["ctVal"], btc["lotSz"], btc["tickSz"], btc["minSz"]) == (
        "0.01",
        "0.01",
        "0.1",
        "0.01",
    )
    assert client.data(client.get("/api/v5/public/instruments", "instType=SPOT")) == []
    missing = client.get("/api/v5/public/instruments").json()
    assert missing["code"] == "50014" and "instType" in missing["msg"]
    assert client.get("/api/v5/public/instruments", "instType=CFD").json()["code"] == "51000"


def test_candles_newest_first_with_only_the_newest_unconfirmed(okx, client):
    rows = client.data(client.get(CANDLES, f"instId={BTC}&bar=15m&limit=5"))
    assert len(rows) == 5 and all(len(r) == 9 and all(isinstance(v, str) for v in r) for r in rows)
    times = [int(r[0]) for r in rows]
    assert times == sorted(times, reverse=True) and times[0] - times[1] == 900_000
    assert [r[8] for r in rows] == ["0", "1", "1", "1", "1"]
    assert times[0] <= to_ms(okx.engine.server_time()) < times[0] + 900_000
    vol, vol_ccy = float(rows[1][5]), float(rows[1][6])
    assert vol == pytest.approx(vol_ccy / 0.01, rel=1e-3)  # contracts of 0.01 BTC


def test_candle_pagination_with_after_and_before(client):
    newest = client.data(client.get(CANDLES, f"instId={BTC}&bar=1H&limit=3"))
    cursor = newest[-1][0]
    older = client.data(client.get(CANDLES, f"instId={BTC}&bar=1H&limit=3&after={cursor}"))
    assert [int(r[0]) for r in older] == [int(cursor) - 3_600_000 * i for i in (1, 2, 3)]
    newer = client.data(client.get(CANDLES, f"instId={BTC}&bar=1H&before={older[0][0]}"))
    assert [r[0] for r in newer] == [r[0] for r in newest]
    between = client.data(
        client.get(CANDLES, f"instId={BTC}&bar=1H&after={newest[0][0]}&before={older[-1][0]}")
    )
    assert [r[0] for r in between] == [r[0] for r in newest[1:] + older[:-1]]


def test_candles_serve_the_latest_1440_bars_and_history_candles_the_rest():
    with FakeOkx(stepped_engine(days=16), rate_limits=False, run_market=False) as okx:
        client = OkxClient(okx.rest_url)
        start = to_ms(START)
        query = f"instId={BTC}&bar=15m&after={start + 3_600_000}"
        assert client.data(client.get(CANDLES, query)) == []  # more than 1440 bars back
        old = client.data(client.get(HISTORY, query))
        assert [int(r[0]) for r in old] == [start + 900_000 * i for i in (3, 2, 1, 0)]
        assert all(r[8] == "1" for r in old)
        oldest_recent = client.data(client.get(CANDLES, f"instId={BTC}&bar=15m&limit=300"))
        assert len(oldest_recent) == 300
        client.close()


def test_day_bars_align_to_utc8_and_utc(client):
    utc8 = client.data(client.get(CANDLES, f"instId={BTC}&bar=1D&limit=3"))
    utc = client.data(client.get(CANDLES, f"instId={BTC}&bar=1Dutc&limit=3"))
    assert all(int(r[0]) % 86_400_000 == 16 * 3_600_000 for r in utc8)
    assert all(int(r[0]) % 86_400_000 == 0 for r in utc)
    h4 = client.data(client.get(CANDLES, f"instId={BTC}&bar=4H&limit=300"))
    closed_day = utc8[1]
    parts = [r for r in h4 if int(closed_day[0]) <= int(r[0]) < int(closed_day[0]) + 86_400_000]
    assert len(parts) == 6
    assert float(closed_day[2]) == max(float(r[2]) for r in parts)
    assert float(closed_day[3]) == min(float(r[3]) for r in parts)
    assert closed_day[1] == parts[-1][1] and closed_day[4] == parts[0][4]


def test_unknown_bar_and_instrument(client):
    assert client.get(CANDLES, f"instId={BTC}&bar=1s").json()["code"] == "51000"
    assert client.get(CANDLES, f"instId={BTC}&bar=1W").json()["code"] == "51000"
    unknown = client.get(CANDLES, "instId=DOGE-USDT-SWAP&bar=15m")
    assert unknown.status_code == 200 and unknown.json()["code"] == "51001"


def test_funding_rate_and_history(okx, client):
    rate = client.data(client.get("/api/v5/public/funding-rate", f"instId={BTC}"))[0]
    assert int(rate["fundingTime"]) > to_ms(okx.engine.server_time())
    assert int(rate["nextFundingTime"]) - int(rate["fundingTime"]) == 8 * 3_600_000
    history = client.data(client.get("/api/v5/public/funding-rate-history", f"instId={BTC}"))
    times = [int(r["fundingTime"]) for r in history]
    assert times == sorted(times, reverse=True) and len(times) >= 9
    assert all(t % (8 * 3_600_000) == 0 for t in times)
    page = client.data(
        client.get("/api/v5/public/funding-rate-history", f"instId={BTC}&after={times[2]}&limit=2")
    )
    assert [int(r["fundingTime"]) for r in page] == times[3:5]


def test_books_depth(client):
    book = client.data(client.get("/api/v5/market/books", f"instId={BTC}&sz=3"))[0]
    assert len(book["asks"]) == len(book["bids"]) == 3 and isinstance(book["seqId"], int)
    assert float(book["bids"][0][0]) < float(book["asks"][0][0])
    assert client.get("/api/v5/market/books", f"instId={BTC}&sz=401").json()["code"] == "51000"


def test_market_order_opens_a_position_and_shows_in_balance(client):
    placed = client.post(ORDER, order("open1")).json()
    assert placed["code"] == "0" and placed["data"][0]["sCode"] == "0"
    assert "inTime" in placed and "outTime" in placed
    found = client.data(client.get(ORDER, f"instId={BTC}&clOrdId=open1"))[0]
    assert found["state"] == "filled" and found["accFillSz"] == "1" and found["avgPx"] != ""
    assert float(found["fee"]) < 0
    held = client.data(client.get("/api/v5/account/positions"))
    assert [(p["instId"], p["pos"], p["posSide"]) for p in held] == [(BTC, "1", "net")]
    balance = client.data(client.get("/api/v5/account/balance"))[0]["details"][0]
    assert float(balance["frozenBal"]) > 0 and float(balance["availBal"]) < 10000


def test_duplicate_client_id_is_51016_while_the_first_is_live(client):
    price = last_price(client)
    resting = order("dup1", ordType="limit", px=f"{price * 0.9:.1f}")
    assert client.post(ORDER, resting).json()["code"] == "0"
    again = client.post(ORDER, resting).json()
    assert again["code"] == "1" and again["msg"] == "All operations failed"
    assert again["data"][0]["sCode"] == "51016" and again["data"][0]["clOrdId"] == "dup1"


def test_a_batch_answers_per_item_with_code_2_on_partial_success(client):
    reply = client.post(BATCH, [order("b1"), order("b2", sz="0.001"), order("b3", sz="99999")])
    body = reply.json()
    assert reply.status_code == 200 and body["code"] == "2"
    assert [item["sCode"] for item in body["data"]] == ["0", "51121", "51008"]
    assert all(
        set(item) >= {"clOrdId", "ordId", "tag", "ts", "sCode", "sMsg"} for item in body["data"]
    )
    failed = client.post(BATCH, [order("b4", sz="0.001")]).json()
    assert failed["code"] == "1"


def test_orders_without_a_client_id_show_an_empty_one_and_echo_the_tag(client):
    body = {k: v for k, v in order("x").items() if k != "clOrdId"} | {"tag": "mytag1"}
    item = client.data(client.post(ORDER, body))[0]
    assert item["clOrdId"] == "" and item["tag"] == "mytag1"
    found = client.data(client.get(ORDER, f"instId={BTC}&ordId={item['ordId']}"))[0]
    assert found["clOrdId"] == "" and found["tag"] == "mytag1"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"sz": "abc"}, "51000"),
        ({"side": "up"}, "51000"),
        ({"tdMode": "cash"}, "51000"),
        ({"clOrdId": "not-alnum!"}, "51000"),
        ({"instId": "DOGE-USDT-SWAP"}, "51001"),
        ({"ordType": "limit"}, "50014"),
        ({"posSide": "long"}, "51000"),
    ],
)
def test_bad_order_parameters(client, change, code):
    item = client.post(ORDER, order("bad1") | change).json()
    assert item["code"] == "1" and item["data"][0]["sCode"] == code


def test_unknown_orders_and_cancels(client):
    missing = client.get(ORDER, f"instId={BTC}&ordId=123")
    assert missing.status_code == 200 and missing.json() == {
        "code": "51603",
        "msg": "Order does not exist",
        "data": [],
    }
    cancel = client.post("/api/v5/trade/cancel-order", {"instId": BTC, "ordId": "123"}).json()
    assert cancel["code"] == "1" and cancel["data"][0]["sCode"] == "51400"


def test_cancel_a_resting_order_then_it_is_in_history(okx, client):
    price = last_price(client)
    client.post(ORDER, order("rest1", ordType="limit", px=f"{price * 0.9:.1f}"))
    pending = client.data(client.get("/api/v5/trade/orders-pending", f"instId={BTC}"))
    assert [o["clOrdId"] for o in pending] == ["rest1"] and pending[0]["state"] == "live"
    done = client.data(
        client.post("/api/v5/trade/cancel-order", {"instId": BTC, "clOrdId": "rest1"})
    )
    assert done[0]["sCode"] == "0"
    history = client.data(client.get("/api/v5/trade/orders-history", "instType=SWAP"))
    assert [(o["clOrdId"], o["state"]) for o in history] == [("rest1", "canceled")]
    assert client.get("/api/v5/trade/orders-history").json()["code"] == "50014"
    advance(okx.engine, timedelta(hours=3))  # unfilled cancels stay 2 hours only
    assert client.data(client.get("/api/v5/trade/orders-history", "instType=SWAP")) == []


def test_orders_history_pages_by_order_id(client):
    ids = [client.data(client.post(ORDER, order(f"h{i}")))[0]["ordId"] for i in range(4)]
    page = client.data(client.get("/api/v5/trade/orders-history", "instType=SWAP&limit=2"))
    assert [o["ordId"] for o in page] == ids[::-1][:2]
    rest = client.data(
        client.get("/api/v5/trade/orders-history", f"instType=SWAP&after={page[-1]['ordId']}")
    )
    assert [o["ordId"] for o in rest] == ids[::-1][2:]


def test_attached_stop_and_target_become_an_oco_algo(client):
    price = last_price(client)
    body = order("prot1") | {
        "attachAlgoOrds": [
            {
                "slTriggerPx": f"{price * 0.95:.1f}",
                "slOrdPx": "-1",
                "slTriggerPxType": "last",
                "tpTriggerPx": f"{price * 1.05:.1f}",
                "tpOrdPx": "-1",
                "tpTriggerPxType": "last",
            }
        ]
    }
    assert client.data(client.post(BATCH, [body]))[0]["sCode"] == "0"
    algos = client.data(client.get("/api/v5/trade/orders-algo-pending", "ordType=conditional,oco"))
    assert len(algos) == 1 and algos[0]["ordType"] == "oco" and algos[0]["state"] == "live"
    assert algos[0]["slOrdPx"] == "-1" and algos[0]["reduceOnly"] == "true"
    parent = client.data(client.get(ORDER, f"instId={BTC}&clOrdId=prot1"))[0]
    assert parent["attachAlgoOrds"][0]["attachAlgoId"] == algos[0]["algoId"]
    assert client.get("/api/v5/trade/orders-algo-pending").json()["code"] == "50014"


def test_standalone_algo_lookup_cancel_and_history(client):
    client.post(ORDER, order("pos1"))
    price = last_price(client)
    placed = client.post(
        "/api/v5/trade/order-algo",
        {
            "instId": BTC,
            "tdMode": "cross",
            "side": "sell",
            "ordType": "conditional",
            "sz": "1",
            "slTriggerPx": f"{price * 0.9:.1f}",
            "slOrdPx": "-1",
            "reduceOnly": True,
            "algoClOrdId": "stop1",
        },
    ).json()
    assert placed["code"] == "0" and placed["data"][0]["algoClOrdId"] == "stop1"
    algo_id = placed["data"][0]["algoId"]
    got = client.data(client.get("/api/v5/trade/order-algo", "algoClOrdId=stop1"))[0]
    assert got["algoId"] == algo_id
    assert Decimal(got["slTriggerPx"]) == Decimal(f"{price * 0.9:.1f}")
    canceled = client.post(
        "/api/v5/trade/cancel-algos",
        [{"instId": BTC, "algoId": algo_id}, {"instId": BTC, "algoId": "9"}],
    )
    assert canceled.json()["code"] == "2"
    assert [i["sCode"] for i in canceled.json()["data"]] == ["0", "51400"]
    history = client.data(
        client.get("/api/v5/trade/orders-algo-history", "ordType=conditional&state=canceled")
    )
    assert [a["algoId"] for a in history] == [algo_id]


def test_stop_fires_when_the_market_crosses_it(okx, client):
    client.post(ORDER, order("long1"))
    price = last_price(client)
    stop = f"{price * 0.999:.1f}"
    client.post(
        "/api/v5/trade/order-algo",
        {
            "instId": BTC,
            "tdMode": "cross",
            "side": "sell",
            "ordType": "conditional",
            "closeFraction": "1",
            "slTriggerPx": stop,
            "reduceOnly": "true",
        },
    )
    for _ in range(200):
        advance(okx.engine, timedelta(minutes=15))
        if not client.data(client.get("/api/v5/account/positions")):
            break
    else:
        raise AssertionError("the stop never fired in 50 hours of market")
    history = client.data(client.get("/api/v5/account/positions-history", f"instId={BTC}"))
    assert history[0]["type"] == "2" and history[0]["direction"] == "long"
    effective = client.data(
        client.get("/api/v5/trade/orders-algo-history", "ordType=conditional&state=effective")
    )
    assert effective[0]["actualSide"] == "sl" and effective[0]["ordId"] != ""


def test_leverage_and_account_config(client):
    assert client.data(
        client.post("/api/v5/account/set-leverage", {"instId": BTC, "lever": 5, "mgnMode": "cross"})
    )[0] == {"lever": "5", "mgnMode": "cross", "instId": BTC, "posSide": ""}
    info = client.data(client.get("/api/v5/account/leverage-info", f"instId={BTC}&mgnMode=cross"))
    assert info[0]["lever"] == "5"
    too_high = client.post(
        "/api/v5/account/set-leverage", {"instId": BTC, "lever": "101", "mgnMode": "cross"}
    ).json()
    assert too_high["code"] == "59102"
    config = client.data(client.get("/api/v5/account/config"))[0]
    assert config["posMode"] == "net_mode" and config["autoLoan"] is False


def test_envelope_errors_for_methods_paths_and_bodies(client):
    assert client.http.delete("/api/v5/public/time").json()["code"] == "50115"
    unknown = client.get("/api/v5/market/nothing", signed=False)
    assert unknown.status_code == 404
    broken = client.post(ORDER, "{not json")
    assert broken.status_code == 400 and broken.json()["code"] == "50002"
    empty = client.post(ORDER, "")
    assert empty.json()["code"] == "50000"
    too_many = client.post(BATCH, [order(f"m{i}") for i in range(21)]).json()
    assert too_many["code"] == "51000"
