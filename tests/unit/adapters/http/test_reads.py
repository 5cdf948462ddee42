"""Read endpoints through the real ASGI app: signals, klines, history, config, database."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from storage_samples import BTC, ETH, T0, klines, order, position, signal

from qwentrade.domain.market import Timeframe


def test_signals_lists_active_signals_with_their_explanation(api):
    now = api.container.clock().now()
    fresh = signal(at=now - timedelta(minutes=15))
    api.repos.signals.add(fresh)
    api.repos.signals.add(signal(symbol=ETH, at=T0))  # expired long ago
    body = api.get("/signals").json()
    assert [s["symbol"] for s in body] == [BTC]
    assert body[0]["details"]["environment"]["adx"] == 27.5
    assert Decimal(body[0]["price"]) == Decimal("42000.5")
    everything = api.get("/signals", params={"active": "false", "symbol": ETH}).json()
    assert [s["symbol"] for s in everything] == [ETH]


def test_klines_returns_the_newest_candles_oldest_first_with_indicators(api):
    api.repos.klines.upsert(Timeframe.M15, klines(count=10))
    body = api.get(f"/klines/{BTC}/15m", params={"limit": 3}).json()
    assert body["count"] == 3 and body["timeframe"] == "15m"
    closes = [c["close"] for c in body["candles"]]
    assert closes == [107.0, 108.0, 109.0]
    candle = body["candles"][0]
    assert "symbol" not in candle
    assert {"time", "open", "high", "low", "close", "volume"} < set(candle)
    assert len(candle) > 6  # and the indicator columns
    start = (T0 + timedelta(minutes=30)).isoformat()
    end = (T0 + timedelta(minutes=60)).isoformat()
    span = api.get(f"/klines/{BTC}/15m", params={"start": start, "end": end}).json()
    assert [c["close"] for c in span["candles"]] == [102.0, 103.0]


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/klines/DOGE-USDT-SWAP/15m", "symbol"),
        (f"/klines/{BTC}/1h", "timeframe"),
        (f"/klines/{BTC}/15m?limit=0", "limit"),
        (f"/klines/{BTC}/15m?start=yesterday", "start"),
        ("/signals?symbol=NOPE-USDT-SWAP", "symbol"),
        ("/order-history/orders?limit=-1", "limit"),
        ("/order-history/orders?status=exploded", "status"),
        ("/position-history/positions?offset=x", "offset"),
    ],
)
def test_bad_query_is_400_naming_the_field(api, path, field):
    response = api.get(path)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field


def test_naive_time_is_refused_naming_it(api):
    response = api.get(f"/klines/{BTC}/15m", params={"start": "2025-01-01T00:00:00"})
    assert response.status_code == 400
    assert response.json()["field"] == "start"


def test_order_history_lists_gets_and_sums(api):
    api.repos.history.upsert_orders(
        [
            order("1", at=T0),
            order("2", at=T0 + timedelta(minutes=1), status="canceled"),
            order("3", symbol=ETH),
        ]
    )
    listed = api.get("/order-history/orders", params={"symbol": BTC}).json()
    assert [o["order_id"] for o in listed] == ["2", "1"]
    assert Decimal(listed[1]["avg_price"]) == Decimal("42123.45678901")
    filled = api.get("/order-history/orders", params={"status": "filled"}).json()
    assert {o["order_id"] for o in filled} == {"1", "3"}
    assert api.get("/order-history/orders/2").json()["status"] == "canceled"
    assert api.get("/order-history/orders/qt2").json()["order_id"] == "2"  # by clOrdId
    missing = api.get("/order-history/orders/999")
    assert missing.status_code == 404 and "999" in missing.json()["detail"]
    stats = api.get(f"/order-history/symbols/{BTC}/stats").json()
    assert stats["orders"] == 2 and stats["filled"] == 1
    assert Decimal(stats["fee"]) == Decimal("-0.0246913578")
    status = api.get("/order-history/status").json()
    assert status["rows"] == 3 and status["last_update"] is not None


def test_position_history_lists_gets_and_sums(api):
    api.repos.history.upsert_positions(
        [position("p1"), position("p2", realized="-5"), position("p3", symbol=ETH)]
    )
    listed = api.get("/position-history/positions", params={"symbol": BTC}).json()
    assert {p["pos_id"] for p in listed} == {"p1", "p2"}
    assert api.get("/position-history/positions/p3").json()["symbol"] == ETH
    assert api.get("/position-history/positions/nope").status_code == 404
    stats = api.get(f"/position-history/symbols/{BTC}/stats").json()
    assert (stats["positions"], stats["wins"], stats["losses"]) == (2, 1, 1)
    assert stats["win_rate"] == 0.5 and Decimal(stats["realized_pnl"]) == Decimal("7.34")
    empty = api.get("/position-history/symbols/SOL-USDT-SWAP/stats").json()
    assert empty["positions"] == 0
    assert api.get("/position-history/status").json()["rows"] == 3


def test_config_lists_reads_and_changes_keys(api):
    keys = {e["key"]: e for e in api.get("/config").json()}
    assert keys["DETECTOR_SIGNAL_THRESHOLD"]["value"] == 15
    assert api.get("/config/detector.signal_threshold").json()["key"] == (
        "DETECTOR_SIGNAL_THRESHOLD"
    )
    changed = api.put("/config/DETECTOR_SIGNAL_THRESHOLD", {"value": "18"})
    assert changed.status_code == 200 and changed.json()["value"] == 18
    assert api.repos.config.get("DETECTOR_SIGNAL_THRESHOLD") == 18
    refused = api.put("/config/DETECTOR_SIGNAL_THRESHOLD", {"value": 99})
    assert refused.status_code == 400 and refused.json()["field"] == "DETECTOR_SIGNAL_THRESHOLD"
    assert api.repos.config.get("DETECTOR_SIGNAL_THRESHOLD") == 18
    assert api.get("/config/NO_SUCH_KEY").status_code == 404
    assert api.put("/config/NO_SUCH_KEY", {"value": 1}).status_code == 404
    assert api.put("/config/DETECTOR_SIGNAL_THRESHOLD", {}).json()["field"] == "value"


def test_database_test_and_tables(api):
    body = api.get("/database/test").json()
    assert body["status"] == "ok" and api.container.database().dialect.name in body["database"]
    api.repos.history.upsert_orders([order("1"), order("2")])
    tables = {t["name"]: t["rows"] for t in api.get("/database/tables").json()}
    assert tables["order_history"] == 2 and "klines_15m" in tables


def test_detector_detects_and_reports(api):
    missing = api.post("/market-detector/detect", {"symbol": BTC})
    assert missing.status_code == 404 and "backfill" in missing.json()["detail"]
    api.repos.klines.upsert(Timeframe.M15, klines(count=120))
    api.repos.klines.upsert(Timeframe.H4, klines(count=60, timeframe=Timeframe.H4))
    body = api.post("/market-detector/detect", {"symbol": BTC}).json()
    assert body["symbol"] == BTC
    assert body["result"]["score"] == sum(body["result"]["parts"].values())
    status = api.get("/market-detector/status").json()
    assert status["symbols"][0] == BTC and status["params"]["signal_threshold"] == 15


def test_sync_status_lists_jobs_but_not_the_key_digest(api):
    now = api.container.clock().now()
    api.repos.status.record_run("klines_15m:BTC-USDT-SWAP", now, ok=True, rows=5)
    api.repos.status.set_state("http_api_key", "OK", now, note="sha256:abc")
    jobs = {j["job"]: j for j in api.get("/sync/status").json()["jobs"]}
    assert "http_api_key" not in jobs
    assert jobs["klines_15m:BTC-USDT-SWAP"]["rows_stored"] == 5
    assert jobs["klines_15m:BTC-USDT-SWAP"]["state"] == "OK"
    assert {"funding_rate:ETH-USDT-SWAP", "order_history", "klines_1d:SOL-USDT-SWAP"} <= set(jobs)
