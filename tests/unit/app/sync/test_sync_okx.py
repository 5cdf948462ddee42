"""The kline jobs against the fake OKX server on loopback, through the real OKX adapter:
exact backfill with at most ceil(missing / 300) requests per series (recent and history
endpoints), nothing requested on a second start, an outage repaired."""

from __future__ import annotations

import math
from collections import Counter
from datetime import timedelta

import pytest
from polars.testing import assert_frame_equal

from qwentrade.adapters.memory import MemoryRepositories
from qwentrade.adapters.okx import OkxExchange, PermitGate
from qwentrade.app.backfill import KlineBackfill
from qwentrade.app.detection import DetectionService
from qwentrade.app.sync.engine import SyncEngine
from qwentrade.app.sync.klines import KlineSync
from qwentrade.app.sync.specs import kline_specs
from qwentrade.domain.errors import ExchangeUnavailable
from qwentrade.domain.market import Timeframe
from qwentrade.domain.series import closed_span
from qwentrade.testing.fake_okx import FakeOkx

SYMBOL = "BTC-USDT-SWAP"
WINDOWS = {Timeframe.M15: 20, Timeframe.H4: 20, Timeframe.D1: 20}  # 1,920 15m: > 1,440 recent


@pytest.fixture
def venue():
    with FakeOkx(history_days=25, seed=3, rate_limits=False) as server:
        yield server


def okx_world(server, repos=None):
    repos = repos or MemoryRepositories()
    repos.config.set("API_RATE_LIMIT", 1000)
    repos.config.set("API_MIN_INTERVAL", 0)
    for timeframe, days in WINDOWS.items():
        repos.config.set(f"KLINE_{timeframe.value.upper()}_START_DAYS", days)
    okx = OkxExchange(PermitGate(repos.config), rest_url=server.rest_url, config=repos.config)
    requests: Counter[tuple[str, str]] = Counter()
    request = okx.rest.request
    failing = []

    def counted(method, path, params=None, *args, **kwargs):
        if failing:
            raise ExchangeUnavailable("the venue is down")
        requests[(path, (params or {}).get("bar", ""))] += 1
        return request(method, path, params, *args, **kwargs)

    okx.rest.request = counted  # type: ignore[method-assign]
    clock = server.engine.clock
    klines = KlineSync(
        okx,
        repos.klines,
        KlineBackfill(okx, repos.klines, clock, config=repos.config),
        repos.config,
        detection=DetectionService(repos.klines, repos.signals, clock, repos.config),
        signals=repos.signals,
        status=repos.status,
    )
    engine = SyncEngine(
        kline_specs(klines, repos.klines, repos.config), (SYMBOL,), clock, repos.status,
        klines=klines,
    )  # fmt: skip
    return engine, repos, requests, failing, clock


def candle_requests(requests, timeframe):
    bar = {"15m": "15m", "4h": "4H", "1d": "1Dutc"}[timeframe.label]
    return sum(n for (path, b), n in requests.items() if "candles" in path and b == bar)


def test_a_backfill_over_okx_is_exact_within_the_page_limit_and_not_repeated(venue):
    engine, repos, requests, _failing, clock = okx_world(venue)
    results = engine.run_once()
    assert {r.state for r in results} == {"OK"}, results
    now = clock.now()
    for timeframe, days in WINDOWS.items():
        span = closed_span(timeframe, now - timedelta(days=days), now)
        expected = (span.end - span.start) // timeframe.duration
        stored = repos.klines.range(SYMBOL, timeframe)
        # a close in the last seconds may not be there yet; everything else is, once
        assert expected - 1 <= stored.height <= expected, timeframe
        assert stored["time"].is_unique().all()
        assert candle_requests(requests, timeframe) <= math.ceil(expected / 300), timeframe
    assert any("history-candles" in path for path, _ in requests)  # older than 1,440 bars
    before = Counter(requests)
    engine.run_once()  # a second start over the same database
    asked = Counter(requests) - before
    assert not [path for path, _ in asked if "history" in path]  # no history request
    assert sum(asked.values()) <= len(WINDOWS)  # at most a close that came meanwhile


def test_an_outage_of_okx_is_repaired_when_it_returns(venue):
    engine, repos, *_ = okx_world(venue)
    engine.run_once(kinds=["klines_15m"])
    stored = repos.klines.range(SYMBOL, Timeframe.M15)
    # a database that missed the last six hours while the venue was down
    survivor = MemoryRepositories()
    survivor.klines.upsert(Timeframe.M15, stored.head(stored.height - 24), symbol=SYMBOL)
    engine, repos, requests, failing, _clock = okx_world(venue, survivor)
    failing.append(True)
    [down] = engine.run_once(kinds=["klines_15m"])
    assert down.state == "FAILING" and "down" in down.error
    failing.clear()
    [back] = engine.run_once(kinds=["klines_15m"])
    assert back.state == "OK"
    healed = repos.klines.range(SYMBOL, Timeframe.M15)
    # the same rows; indicators equal up to float rounding (extended vs paged computation)
    assert_frame_equal(healed.head(stored.height), stored, rel_tol=1e-12, abs_tol=0.0)
    assert candle_requests(requests, Timeframe.M15) == 1  # the six hours: one request
