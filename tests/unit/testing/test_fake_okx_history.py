"""The fake OKX history endpoints over the engine's own queries: exact order-id paging,
finished algos that outlive the server, and tags kept by the engine."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fake_okx_helpers import BTC, KEY, PASSPHRASE, SECRET, OkxClient, stepped_engine

from qwentrade.adapters.sim import SimEngine
from qwentrade.domain.venue import AlgoRequest, AlgoType, OrderRequest
from qwentrade.testing.fake_okx import FakeOkx

ORDER = "/api/v5/trade/order"
BATCH = "/api/v5/trade/batch-orders"
ORDERS_HISTORY = "/api/v5/trade/orders-history"
ALGO_HISTORY = "/api/v5/trade/orders-algo-history"


def serve(engine: SimEngine) -> FakeOkx:
    # run_market=False: the stepped clock stands still, so every order shares one ms
    return FakeOkx(
        engine,
        api_key=KEY,
        secret=SECRET,
        passphrase=PASSPHRASE,
        rate_limits=False,
        run_market=False,
    )


@pytest.fixture
def engine() -> SimEngine:
    return stepped_engine(balance=1_000_000)


@pytest.fixture
def client(engine: SimEngine) -> Iterator[OkxClient]:
    with serve(engine) as server:
        http = OkxClient(server.rest_url)
        yield http
        http.close()


def order(cl_ord_id: str, **extra) -> dict:
    return {
        "instId": BTC,
        "tdMode": "cross",
        "side": "buy",
        "ordType": "market",
        "sz": "1",
        "clOrdId": cl_ord_id,
        **extra,
    }


def place_many(client: OkxClient, count: int, prefix: str, **extra) -> list[str]:
    """``count`` orders sent in batches of 20 (buy, sell, ...); their ids, oldest first."""
    items = [
        order(f"{prefix}{i}", **({"side": "buy" if i % 2 == 0 else "sell"} | extra))
        for i in range(count)
    ]
    ids = []
    for start in range(0, count, 20):
        answer = client.data(client.post(BATCH, items[start : start + 20]))
        assert all(item["sCode"] == "0" for item in answer), answer
        ids.extend(item["ordId"] for item in answer)
    return ids


def walk(client: OkxClient, path: str, query: str, key: str) -> list[str]:
    """Every row's ``key``, newest first, paging with ``after`` = the last row's id."""
    seen: list[str] = []
    cursor = ""
    while True:
        page = client.data(client.get(path, query + cursor))
        seen.extend(row[key] for row in page)
        if len(page) < 100:
            return seen
        cursor = f"&after={page[-1][key]}"


def test_orders_history_pages_exactly_across_more_than_100_orders_of_one_ms(engine, client):
    ids = place_many(client, 150, "m")
    assert len({engine.get_order(BTC, order_id=i).created_at for i in ids}) == 1
    assert walk(client, ORDERS_HISTORY, "instType=SWAP&limit=100", "ordId") == ids[::-1]
    newer = client.data(client.get(ORDERS_HISTORY, f"instType=SWAP&before={ids[139]}"))
    assert [o["ordId"] for o in newer] == ids[:139:-1]
    between = client.data(
        client.get(ORDERS_HISTORY, f"instType=SWAP&after={ids[120]}&before={ids[117]}")
    )
    assert [o["ordId"] for o in between] == [ids[119], ids[118]]


def test_orders_history_filters_read_past_the_first_100_orders(client):
    market_ids = place_many(client, 4, "k")
    # bids far below the market: canceled unfilled, and kept in history for 2 hours
    place_many(client, 120, "l", side="buy", ordType="ioc", px="1.0")
    filled = client.data(client.get(ORDERS_HISTORY, "instType=SWAP&ordType=market"))
    assert [o["ordId"] for o in filled] == market_ids[::-1]
    latest = client.data(client.get(ORDERS_HISTORY, "instType=SWAP&state=filled&limit=3"))
    assert latest == filled[:3]
    assert len(client.data(client.get(ORDERS_HISTORY, "instType=SWAP&state=canceled"))) == 100


def stop_request(tag: str = "") -> AlgoRequest:
    return AlgoRequest(
        BTC, "sell", AlgoType.CONDITIONAL, size="1", tp_trigger_price="999999.0", tag=tag
    )


def test_algo_history_includes_algos_finished_before_the_server_started(engine):
    engine.place_order(OrderRequest(BTC, "buy", "1", "early1", tag="before1"))
    early = engine.place_algo(stop_request(tag="guard1"))
    engine.cancel_algos([(BTC, early.algo_id)])
    with serve(engine) as first:
        http = OkxClient(first.rest_url)
        later = http.data(
            http.post(
                "/api/v5/trade/order-algo",
                {
                    "instId": BTC,
                    "tdMode": "cross",
                    "side": "sell",
                    "ordType": "conditional",
                    "sz": "1",
                    "tpTriggerPx": "999999.0",
                    "tpOrdPx": "-1",
                    "reduceOnly": True,
                    "tag": "guard2",
                },
            )
        )[0]["algoId"]
        http.post("/api/v5/trade/cancel-algos", [{"instId": BTC, "algoId": later}])
        http.close()
    # a new server over the same engine: nothing was learnt from events, all comes from it
    with serve(engine) as second:
        http = OkxClient(second.rest_url)
        rows = http.data(http.get(ALGO_HISTORY, "ordType=conditional&state=canceled"))
        assert [(a["algoId"], a["tag"]) for a in rows] == [
            (later, "guard2"),
            (early.algo_id, "guard1"),
        ]
        older = http.data(
            http.get(ALGO_HISTORY, f"ordType=conditional&state=canceled&after={later}")
        )
        assert [a["algoId"] for a in older] == [early.algo_id]
        assert http.data(http.get(ALGO_HISTORY, "ordType=oco&state=canceled")) == []
        assert http.get(ALGO_HISTORY, "ordType=conditional&state=live").json()["code"] == "51000"
        [entry] = http.data(http.get(ORDER, f"instId={BTC}&clOrdId=early1"))
        assert entry["tag"] == "before1"
        http.close()


def test_algo_history_pages_across_more_than_100_algos(engine, client):
    engine.place_order(OrderRequest(BTC, "buy", "1", "held1"))
    ids = [engine.place_algo(stop_request()).algo_id for _ in range(130)]
    for start in range(0, 130, 10):
        engine.cancel_algos([(BTC, i) for i in ids[start : start + 10]])
    query = "ordType=conditional&state=canceled&limit=100"
    assert walk(client, ALGO_HISTORY, query, "algoId") == ids[::-1]


def test_orders_without_a_client_id_still_show_an_empty_one_with_the_tag(client):
    body = {k: v for k, v in order("x").items() if k != "clOrdId"} | {"tag": "notag1"}
    item = client.data(client.post(ORDER, body))[0]
    [row] = client.data(client.get(ORDERS_HISTORY, "instType=SWAP"))
    assert (row["ordId"], row["clOrdId"], row["tag"]) == (item["ordId"], "", "notag1")
