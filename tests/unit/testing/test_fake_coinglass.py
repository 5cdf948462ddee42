"""The fake CoinGlass v4 server: key check, envelope, errors, rate limit, and data that
follows the simulated market."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fake_okx_helpers import stepped_engine

from qwentrade.domain.market import Timeframe, to_ms
from qwentrade.testing.fake_coinglass import FakeCoinGlass

KEY = "cg-test-key"
OI = "/api/futures/open-interest/aggregated-history"


@pytest.fixture(scope="module")
def engine():
    return stepped_engine(days=12)


@pytest.fixture(scope="module")
def coinglass(engine) -> Iterator[httpx.Client]:
    server = FakeCoinGlass(engine, api_key=KEY)
    with server, httpx.Client(base_url=server.base_url, headers={"CG-API-KEY": KEY}) as http:
        yield http


def data(response: httpx.Response):
    body = response.json()
    assert response.status_code == 200 and body["code"] == "0" and body["msg"] == "success", body
    return body["data"]


def test_open_interest_follows_the_price(coinglass, engine):
    rows = data(coinglass.get(OI, params={"symbol": "BTC", "interval": "4h", "limit": 10}))
    assert len(rows) == 10 and all(set(r) == {"time", "open", "high", "low", "close"} for r in rows)
    assert all(isinstance(r["close"], str) and isinstance(r["time"], int) for r in rows)
    times = [r["time"] for r in rows]
    assert times == sorted(times) and all(t % (4 * 3_600_000) == 0 for t in times)
    assert times[-1] == to_ms(Timeframe.H4.floor(engine.server_time()))
    candles = engine.candles("BTC-USDT-SWAP", Timeframe.H4, limit=10)
    for row, candle in zip(rows, candles, strict=True):
        coins = float(row["close"]) / candle.close
        assert 700_000 < coins < 1_100_000
        assert float(row["low"]) <= float(row["open"]) <= float(row["high"])


def test_start_and_end_time_select_the_rows(coinglass, engine):
    now = to_ms(Timeframe.H1.floor(engine.server_time()))
    start, end = now - 10 * 3_600_000, now - 5 * 3_600_000
    rows = data(
        coinglass.get(
            OI, params={"symbol": "ETH", "interval": "1h", "start_time": start, "end_time": end}
        )
    )
    assert [r["time"] for r in rows] == list(range(start, end + 1, 3_600_000))
    first = data(
        coinglass.get(
            OI, params={"symbol": "ETH", "interval": "1h", "start_time": start, "limit": 2}
        )
    )
    assert [r["time"] for r in first] == [start, start + 3_600_000]


def test_ratios_and_liquidations(coinglass):
    ratio = data(
        coinglass.get(
            "/api/futures/global-long-short-account-ratio/history",
            params={"exchange": "OKX", "symbol": "BTCUSDT", "interval": "1h", "limit": 5},
        )
    )
    row = ratio[-1]
    assert row["global_account_long_percent"] + row["global_account_short_percent"] == 100
    assert row["global_account_long_short_ratio"] == pytest.approx(
        row["global_account_long_percent"] / row["global_account_short_percent"], abs=0.01
    )
    top = data(
        coinglass.get(
            "/api/futures/top-long-short-position-ratio/history",
            params={"exchange": "OKX", "symbol": "ETHUSDT", "interval": "4h"},
        )
    )
    assert "top_position_long_short_ratio" in top[0] and len(top) <= 1000
    liq = data(
        coinglass.get(
            "/api/futures/liquidation/aggregated-history",
            params={"exchange_list": "OKX,Binance", "symbol": "SOL", "interval": "1d", "limit": 3},
        )
    )
    assert len(liq) == 3 and all(r["aggregated_long_liquidation_usd"] > 0 for r in liq)
    pair = data(
        coinglass.get(
            "/api/futures/liquidation/history",
            params={"exchange": "OKX", "symbol": "BTCUSDT", "interval": "4h", "limit": 2},
        )
    )
    assert isinstance(pair[0]["long_liquidation_usd"], str)


def test_etf_flows_and_fear_greed_are_daily(coinglass, engine):
    flows = data(coinglass.get("/api/etf/bitcoin/flow-history"))
    assert len(flows) == 12 and all(r["timestamp"] % 86_400_000 == 0 for r in flows)
    assert all(sum(e["flow_usd"] for e in r["etf_flows"]) == r["flow_usd"] for r in flows)
    days = engine.candles("BTC-USDT-SWAP", Timeframe.D1, limit=13)
    assert flows[-1]["price_usd"] == round(days[-2].close, 2)
    assert {
        e["etf_ticker"]
        for e in data(coinglass.get("/api/etf/ethereum/flow-history"))[0]["etf_flows"]
    } == {"ETHA", "FETH", "ETHE"}
    (index,) = data(coinglass.get("/api/index/fear-greed-history"))
    assert len(index["data_list"]) == len(index["price_list"]) == len(index["time_list"]) == 12
    assert all(5 <= v <= 95 for v in index["data_list"])


def test_the_api_key_is_required(coinglass):
    missing = httpx.get(str(coinglass.base_url) + OI, params={"symbol": "BTC", "interval": "4h"})
    assert missing.status_code == 401 and missing.json()["code"] == "401"
    wrong = coinglass.get(
        OI, params={"symbol": "BTC", "interval": "4h"}, headers={"CG-API-KEY": "nope"}
    )
    assert wrong.status_code == 401


def test_parameter_errors(coinglass):
    assert coinglass.get(OI, params={"symbol": "BTC"}).json()["code"] == "400"
    assert coinglass.get(OI, params={"symbol": "DOGE", "interval": "4h"}).json()["code"] == "400"
    assert coinglass.get(OI, params={"symbol": "BTC", "interval": "2h"}).json()["code"] == "400"
    assert (
        coinglass.get(OI, params={"symbol": "BTC", "interval": "4h", "limit": 1001}).json()["code"]
        == "400"
    )
    assert coinglass.get("/api/nothing").status_code == 404


def test_plan_limits_intervals_and_requests_per_minute(engine):
    server = FakeCoinGlass(engine, api_key=KEY, plan="hobbyist")
    with server, httpx.Client(base_url=server.base_url, headers={"CG-API-KEY": KEY}) as http:
        gated = http.get(OI, params={"symbol": "BTC", "interval": "1h"})
        assert gated.status_code == 200
        assert gated.json() == {"code": "401", "msg": "Upgrade plan"}
        replies = [http.get("/api/user/account/subscription") for _ in range(30)]
        assert replies[-1].status_code == 429 and replies[-1].json()["code"] == "429"
        assert replies[-2].headers["API-KEY-MAX-LIMIT"] == "30"
        assert replies[-2].headers["API-KEY-USE-LIMIT"] == "30"
        assert replies[0].json()["data"]["level"] == "HOBBYIST"
