"""The fake OKX server as seen by clients we did not write: plain ccxt (REST) and ccxt.pro
(private WebSocket) pointed at it. Every call must succeed and parse.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import ccxt
import ccxt.pro
import pytest

from qwentrade.testing.fake_okx import FakeOkx

SYMBOL = "BTC/USDT:USDT"


@pytest.fixture(scope="module")
def okx() -> Iterator[FakeOkx]:
    """A fake OKX over a real-time market with three days of history."""
    with FakeOkx(history_days=3, seed=3, balance=10000) as server:
        yield server


@pytest.fixture
def exchange(okx: FakeOkx) -> ccxt.okx:
    client = ccxt.okx(okx.ccxt_config(timeout=5000))
    client.load_markets()
    return client


def last_price(exchange: ccxt.okx) -> float:
    return exchange.fetch_ohlcv(SYMBOL, "15m", limit=1)[-1][4]


def test_load_markets_with_ccxt_defaults(okx):
    client = ccxt.okx(okx.ccxt_config())  # every instType, currencies (signed), markets
    markets = client.load_markets()
    btc = markets[SYMBOL]
    assert btc["id"] == "BTC-USDT-SWAP" and btc["swap"] and btc["linear"]
    assert btc["contractSize"] == 0.01 and btc["precision"]["price"] == 0.1
    assert btc["limits"]["amount"]["min"] == 0.01
    assert {"ETH/USDT:USDT", "SOL/USDT:USDT"} <= set(markets)


def test_time_ticker_book_and_funding(exchange):
    assert abs(exchange.fetch_time() - exchange.milliseconds()) < 60_000
    book = exchange.fetch_order_book(SYMBOL, limit=5)
    assert len(book["bids"]) == 5 and book["bids"][0][0] < book["asks"][0][0]
    ticker = exchange.fetch_ticker(SYMBOL)
    assert ticker["last"] > 0
    rate = exchange.fetch_funding_rate(SYMBOL)
    assert rate["fundingTimestamp"] > exchange.milliseconds() - 60_000
    history = exchange.fetch_funding_rate_history(SYMBOL, limit=5)
    assert history and all(h["fundingRate"] is not None for h in history)


def test_fetch_ohlcv_recent_and_paginated_history(exchange):
    recent = exchange.fetch_ohlcv(SYMBOL, "1h", limit=10)
    assert len(recent) == 10 and recent[-1][0] - recent[0][0] == 9 * 3_600_000
    since = exchange.milliseconds() - 2 * 86_400_000
    since -= since % 900_000
    first = exchange.fetch_ohlcv(SYMBOL, "15m", since=since, limit=100)
    assert first[0][0] == since and len(first) == 100
    second = exchange.fetch_ohlcv(SYMBOL, "15m", since=first[-1][0] + 1, limit=100)
    assert second[0][0] == first[-1][0] + 900_000
    every = exchange.fetch_ohlcv(SYMBOL, "15m", since=since, params={"paginate": True})
    times = [c[0] for c in every]
    assert times == sorted(set(times)) and times[0] == since and len(times) >= 190
    days = exchange.fetch_ohlcv(SYMBOL, "1d", limit=3)
    assert all(c[0] % 86_400_000 == 0 for c in days)  # ccxt asks for 1Dutc


def test_order_with_attached_stop_and_target_lifecycle(exchange):
    price = last_price(exchange)
    exchange.set_leverage(5, SYMBOL)
    created = exchange.create_order(
        SYMBOL,
        "market",
        "buy",
        1,
        None,
        {
            "clientOrderId": "ccxtEntry1",
            "stopLoss": {"triggerPrice": round(price * 0.9, 1)},
            "takeProfit": {"triggerPrice": round(price * 1.1, 1)},
        },
    )
    assert created["id"] and created["clientOrderId"] == "ccxtEntry1"
    fetched = exchange.fetch_order(created["id"], SYMBOL)
    assert fetched["status"] == "closed" and fetched["filled"] == 1
    assert fetched["stopLossPrice"] == round(price * 0.9, 1)
    positions = exchange.fetch_positions([SYMBOL])
    assert [(p["side"], p["contracts"], p["leverage"]) for p in positions] == [("long", 1, 5)]
    algos = exchange.fetch_open_orders(SYMBOL, params={"trigger": True, "ordType": "oco"})
    assert len(algos) == 1 and algos[0]["stopLossPrice"] == round(price * 0.9, 1)
    exchange.cancel_order(algos[0]["id"], SYMBOL, {"trigger": True})
    assert exchange.fetch_open_orders(SYMBOL, params={"trigger": True, "ordType": "oco"}) == []
    exchange.create_order(SYMBOL, "market", "sell", 1, None, {"reduceOnly": True})
    assert exchange.fetch_positions([SYMBOL]) == []
    closed = exchange.fetch_closed_orders(SYMBOL)
    assert {o["clientOrderId"] for o in closed} >= {"ccxtEntry1"}
    history = exchange.fetch_positions_history([SYMBOL])
    assert history and history[0]["info"]["direction"] == "long"


def test_resting_limit_order_fetch_and_cancel(exchange):
    price = round(last_price(exchange) * 0.8, 1)
    order = exchange.create_order(SYMBOL, "limit", "buy", 0.5, price)
    assert order["clientOrderId"].startswith("6b9ad766b55dBCDE")  # ccxt's broker id
    open_orders = exchange.fetch_open_orders(SYMBOL)
    assert [o["id"] for o in open_orders] == [order["id"]] and open_orders[0]["price"] == price
    exchange.cancel_order(order["id"], SYMBOL)
    assert exchange.fetch_order(order["id"], SYMBOL)["status"] == "canceled"
    balance = exchange.fetch_balance()
    assert balance["USDT"]["total"] > 0 and balance["USDT"]["free"] <= balance["USDT"]["total"]


def test_standalone_stop_order_through_order_algo(exchange):
    exchange.create_order(SYMBOL, "market", "buy", 1)
    stop = round(last_price(exchange) * 0.9, 1)
    algo = exchange.create_order(
        SYMBOL, "market", "sell", 1, None, {"stopLossPrice": stop, "reduceOnly": True}
    )
    fetched = exchange.fetch_order(algo["id"], SYMBOL, {"trigger": True})
    assert fetched["stopLossPrice"] == stop and fetched["status"] == "open"
    exchange.cancel_order(algo["id"], SYMBOL, {"trigger": True})
    exchange.create_order(SYMBOL, "market", "sell", 1, None, {"reduceOnly": True})


def test_okx_errors_become_the_right_ccxt_exceptions(okx, exchange):
    price = round(last_price(exchange) * 0.8, 1)
    exchange.create_order(SYMBOL, "limit", "buy", 1, price, {"clientOrderId": "dupe1"})
    with pytest.raises(ccxt.InvalidOrder, match="51016"):
        exchange.create_order(SYMBOL, "limit", "buy", 1, price, {"clientOrderId": "dupe1"})
    exchange.cancel_order(None, SYMBOL, {"clientOrderId": "dupe1"})
    with pytest.raises(ccxt.InsufficientFunds):
        exchange.create_order(SYMBOL, "market", "buy", 100000)
    with pytest.raises(ccxt.OrderNotFound):
        exchange.fetch_order("123456", SYMBOL)
    with pytest.raises(ccxt.OrderNotFound):
        exchange.cancel_order("123456", SYMBOL)
    okx.faults.rate_limit("/api/v5/account/balance")
    with pytest.raises(ccxt.RateLimitExceeded):
        exchange.fetch_balance()
    okx.faults.timeout("/api/v5/account/balance", seconds=0)
    with pytest.raises(ccxt.RequestTimeout):
        exchange.fetch_balance()
    okx.faults.server_error("/api/v5/account/balance", status=503, json_body=False)
    with pytest.raises(ccxt.ExchangeNotAvailable):
        exchange.fetch_balance()
    stranger = ccxt.okx(okx.ccxt_config(secret="not-the-secret"))
    stranger.markets, stranger.markets_by_id = exchange.markets, exchange.markets_by_id
    with pytest.raises(ccxt.AuthenticationError):
        stranger.fetch_balance()


async def _watch(okx: FakeOkx) -> tuple[list, list]:
    pro = ccxt.pro.okx(okx.ccxt_config())
    rest = ccxt.okx(okx.ccxt_config())
    try:
        await pro.load_markets()
        rest.load_markets()
        orders_task = asyncio.ensure_future(pro.watch_orders(SYMBOL))
        positions_task = asyncio.ensure_future(pro.watch_positions([SYMBOL]))
        await asyncio.sleep(0)

        async def subscribed() -> None:
            while len(pro.clients) == 0 or not any(
                "orders" in str(c.subscriptions) and "positions" in str(c.subscriptions)
                for c in pro.clients.values()
            ):
                await asyncio.sleep(0.02)

        await asyncio.wait_for(subscribed(), 5)
        await asyncio.wait_for(positions_task, 5)  # the snapshot after subscribing
        positions_task = asyncio.ensure_future(pro.watch_positions([SYMBOL]))
        await asyncio.sleep(0.2)
        await asyncio.to_thread(
            rest.create_order, SYMBOL, "market", "buy", 1, None, {"clientOrderId": "wsWatch1"}
        )
        orders = await asyncio.wait_for(orders_task, 5)
        positions = await asyncio.wait_for(positions_task, 5)
        # A periodic snapshot (every 5 s) may resolve the watch before the fill's push:
        # keep watching, bounded, until the opened position shows.
        deadline = asyncio.get_running_loop().time() + 5
        while not (positions and positions[-1]["contracts"] == 1):
            remaining = deadline - asyncio.get_running_loop().time()
            positions = await asyncio.wait_for(pro.watch_positions([SYMBOL]), remaining)
        # ccxt.pro hands out its live cache: copy it before the closing order updates it.
        orders, positions = [dict(o) for o in orders], [dict(p) for p in positions]
        await asyncio.to_thread(
            rest.create_order, SYMBOL, "market", "sell", 1, None, {"reduceOnly": True}
        )
        return orders, positions
    finally:
        await pro.close()


def test_ccxt_pro_watches_orders_and_positions_after_login(okx):
    orders, positions = asyncio.run(_watch(okx))
    assert orders and orders[-1]["clientOrderId"] == "wsWatch1" and orders[-1]["symbol"] == SYMBOL
    assert positions and positions[-1]["symbol"] == SYMBOL and positions[-1]["contracts"] == 1
