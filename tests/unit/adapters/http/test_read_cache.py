"""/klines and /metrics answer from a refresh-ahead cache (adapters/http/cache.py).

Through the real ASGI app of a sim-mode container: the cache's clock is replaced by a
hand-moved one, the underlying reads (``KlineRepository.range``, ``HttpMetrics.render``)
are counted, and a read can be held on an event to catch the cache mid-refresh.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import polars as pl
import pytest
from http_helpers import HEADERS
from storage_samples import BTC, ETH, T0, klines

from qwentrade.adapters.http.cache import HARD_AGE_FACTOR, MAX_ENTRIES
from qwentrade.adapters.http.dto import KlinesResponse
from qwentrade.adapters.http.routes.market import KLINES_CACHE_SECONDS, klines_json
from qwentrade.adapters.http.routes.system import METRICS_CACHE_SECONDS
from qwentrade.domain.market import Timeframe

KLINES = f"/klines/{BTC}/15m"


class Clock:
    """The cache's monotonic clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Counted:
    """Wraps a read: counts the calls, can fail or wait for ``release`` first."""

    def __init__(self, read: Callable[..., Any]) -> None:
        self.read = read
        self.calls = 0
        self.fail = 0  # this many next calls raise
        self.hold = False  # next calls wait for release
        self.release = threading.Event()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.hold:
            assert self.release.wait(10), "the test never released the read"
        if self.fail:
            self.fail -= 1
            raise RuntimeError("database gone")
        return self.read(*args, **kwargs)


@pytest.fixture
def cached(api, monkeypatch):
    """(api, clock, counted kline reads, counted metrics readings, the cache)."""
    cache = api.client.app.state["read_cache"]
    clock = Clock()
    cache.clock = clock
    candles = api.container.services().klines
    reads = Counted(candles.range)
    monkeypatch.setattr(candles, "range", reads)
    metrics = api.client.app.state["metrics"]
    renders = Counted(metrics.render)
    monkeypatch.setattr(metrics, "render", renders)
    api.repos.klines.upsert(Timeframe.M15, klines(count=10))
    return api, clock, reads, renders, cache


def settle(cache) -> None:
    """Wait (polling, bounded) until no background read runs."""
    deadline = time.monotonic() + 10
    while cache.reading:
        assert time.monotonic() < deadline, "a background read never finished"
        time.sleep(0.002)


def closes(response) -> list[float]:
    assert response.status_code == 200, response.text
    return [c["close"] for c in response.json()["candles"]]


def add_candle(api, index: int) -> None:
    """Store candle ``index`` of the sample series (close 100 + index)."""
    one = klines(count=index + 1).tail(1)
    api.repos.klines.upsert(Timeframe.M15, one)


def test_fresh_answers_are_shared_and_stale_ones_served_during_one_refresh(cached):
    api, clock, reads, _, cache = cached
    assert closes(api.get(KLINES, params={"limit": 2})) == [108.0, 109.0]
    assert reads.calls == 1
    add_candle(api, 10)
    clock.now += KLINES_CACHE_SECONDS - 0.01
    assert closes(api.get(KLINES, params={"limit": 2})) == [108.0, 109.0]
    assert reads.calls == 1  # fresh: no read

    clock.now += 0.02  # stale: served while ONE background read replaces it
    reads.hold = True
    for _ in range(5):
        assert closes(api.get(KLINES, params={"limit": 2})) == [108.0, 109.0]
    assert reads.calls == 1 + 1 and cache.reading == 1
    reads.release.set()
    settle(cache)
    assert closes(api.get(KLINES, params={"limit": 2})) == [109.0, 110.0]
    assert reads.calls == 2  # the refreshed answer is fresh again


def test_concurrent_requests_after_the_hard_age_share_one_read(cached):
    api, clock, reads, _, cache = cached
    assert closes(api.get(KLINES, params={"limit": 2})) == [108.0, 109.0]
    add_candle(api, 10)
    clock.now += HARD_AGE_FACTOR * KLINES_CACHE_SECONDS + 0.01
    arrived = 0
    get = cache.get

    async def counting_get(*args: Any, **kwargs: Any) -> bytes:
        nonlocal arrived
        arrived += 1
        return await get(*args, **kwargs)

    cache.get = counting_get
    reads.hold = True
    with ThreadPoolExecutor(8) as pool:
        answers = [pool.submit(api.get, KLINES, params={"limit": 2}) for _ in range(8)]
        deadline = time.monotonic() + 10
        while arrived < 8:  # every request waits on the one read
            assert time.monotonic() < deadline
            time.sleep(0.002)
        assert reads.calls == 2
        reads.release.set()
        assert [closes(a.result(10)) for a in answers] == [[109.0, 110.0]] * 8
    assert reads.calls == 2  # one for the first answer, one for all eight


def test_an_answer_past_its_hard_age_is_read_again_in_the_request(cached):
    api, clock, reads, _, cache = cached
    assert closes(api.get(KLINES, params={"limit": 2})) == [108.0, 109.0]
    add_candle(api, 10)
    clock.now += HARD_AGE_FACTOR * KLINES_CACHE_SECONDS
    assert closes(api.get(KLINES, params={"limit": 2})) == [109.0, 110.0]
    assert reads.calls == 2 and cache.reading == 0


def test_metrics_are_never_older_than_the_hard_age(cached):
    api, clock, _, renders, cache = cached
    failures = re.compile(r"^qwentrade_http_auth_failures_total (\S+)$", re.M)

    def refused() -> float:
        text = api.get("/metrics").text
        return float(failures.search(text).group(1))

    assert refused() == 0 and renders.calls == 1
    assert api.client.get("/signals").status_code == 401  # counted at once
    clock.now += METRICS_CACHE_SECONDS / 2
    assert refused() == 0 and renders.calls == 1  # one reading per second
    clock.now += METRICS_CACHE_SECONDS  # stale: served, one background reading
    renders.hold = True
    assert refused() == 0 and refused() == 0
    assert renders.calls == 2
    renders.release.set()
    settle(cache)
    assert refused() == 1 and renders.calls == 2
    assert api.client.get("/signals").status_code == 401
    clock.now += HARD_AGE_FACTOR * METRICS_CACHE_SECONDS
    assert refused() == 2 and renders.calls == 3  # read in the request


def test_each_query_gets_its_own_answer(cached):
    api, _, reads, _, _ = cached
    api.repos.klines.upsert(Timeframe.M15, klines(symbol=ETH, count=5, base=500.0))
    start = (T0 + timedelta(minutes=30)).isoformat()
    hour = (T0 + timedelta(hours=1)).isoformat()
    queries = [
        (KLINES, {"limit": 2}, [108.0, 109.0]),
        (KLINES, {"limit": 3}, [107.0, 108.0, 109.0]),
        (KLINES, {"limit": 2, "start": start, "end": hour}, [102.0, 103.0]),
        (KLINES, {"limit": 2, "end": hour}, [102.0, 103.0]),
        (KLINES, {"limit": 2, "end": (T0 + timedelta(minutes=45)).isoformat()}, [101.0, 102.0]),
        (f"/klines/{ETH}/15m", {"limit": 2}, [503.0, 504.0]),
        (f"/klines/{BTC}/4h", {"limit": 2}, []),
    ]  # fmt: skip
    for _ in range(2):  # the second time from the cache
        for path, params, expected in queries:
            body = api.get(path, params=params).json()
            assert [c["close"] for c in body["candles"]] == expected, (path, params)
            assert body["symbol"] == path.split("/")[2]
    assert reads.calls == len(queries)
    # The same query with its parameters in another order shares the answer.
    end = T0.isoformat()
    assert closes(api.get(KLINES, params=[("end", end), ("limit", 2)])) == []
    assert closes(api.get(KLINES, params=[("limit", 2), ("end", end)])) == []
    assert reads.calls == len(queries) + 1


def test_errors_are_never_cached(cached, caplog):
    api, clock, reads, renders, cache = cached
    reads.fail = 1
    assert api.get(KLINES, params={"limit": 2}).status_code == 500
    assert closes(api.get(KLINES, params={"limit": 2})) == [108.0, 109.0]
    assert reads.calls == 2
    assert api.get(f"/klines/{BTC}/1h").status_code == 400  # refused before any read
    assert api.get(f"/klines/{BTC}/1h").status_code == 400
    assert reads.calls == 2

    # A failed background refresh leaves the older answer, logged, until its hard age.
    clock.now += KLINES_CACHE_SECONDS + 0.01
    reads.fail = 2
    assert closes(api.get(KLINES, params={"limit": 2})) == [108.0, 109.0]
    settle(cache)
    assert "background refresh" in caplog.text and "database gone" in caplog.text
    assert closes(api.get(KLINES, params={"limit": 2})) == [108.0, 109.0]
    settle(cache)
    assert reads.calls == 4
    clock.now += HARD_AGE_FACTOR * KLINES_CACHE_SECONDS
    reads.fail = 1
    assert api.get(KLINES, params={"limit": 2}).status_code == 500  # not the old answer
    assert closes(api.get(KLINES, params={"limit": 2})) == [108.0, 109.0]
    assert reads.calls == 6

    renders.fail = 1
    assert api.get("/metrics").status_code == 500
    assert api.get("/metrics").status_code == 200
    assert renders.calls == 2


def test_the_key_is_checked_before_a_cached_answer_is_served(cached):
    api, _, reads, renders, _ = cached
    assert closes(api.get(KLINES, params={"limit": 2})) == [108.0, 109.0]
    assert api.get("/metrics").status_code == 200
    for path in (f"{KLINES}?limit=2", "/metrics"):
        assert api.client.get(path).status_code == 401
        assert api.client.get(path, headers={"X-API-Key": "wrong"}).status_code == 401
        assert api.client.get(path, headers=HEADERS).status_code == 200
    assert reads.calls == 1 and renders.calls == 1


def test_the_caches_are_bounded(api):
    cache = api.client.app.state["read_cache"]
    for day in range(MAX_ENTRIES + 20):
        start = f"2025-{1 + day // 28:02d}-{1 + day % 28:02d}T00:00:00Z"
        assert api.get(KLINES, params={"start": start}).status_code == 200
    assert cache.entries == MAX_ENTRIES and cache.reading == 0
    # Litestar's response cache (/signals and the other cache=N routes) as well.
    for offset in range(MAX_ENTRIES + 20):
        assert api.get("/signals", params={"offset": offset}).status_code == 200
    assert api.client.app.stores.get("response_cache").entries == MAX_ENTRIES


def test_klines_json_is_the_json_of_the_response_object():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    values = [None, math.nan, math.inf, -math.inf, -0.0, 0.0, 1e16, 1.5e20, 1e-7, 63701.95701076333]
    frame = pl.DataFrame(
        {
            "time": [start + timedelta(minutes=15 * i, microseconds=1500 * i) for i in range(10)],
            "close": values,
            "ema_9": list(reversed(values)),
        },
        schema={"time": pl.Datetime("us", "UTC"), "close": pl.Float64, "ema_9": pl.Float64},
    )
    for rows in (frame, frame.head(0), frame.head(1)):
        expected = KlinesResponse(BTC, "15m", rows.height, rows.to_dicts())
        got = klines_json(BTC, "15m", rows)
        assert json.loads(got) == json.loads(msgspec.json.encode(expected))
    plain = frame.slice(4, 6).filter(pl.col("close").abs() < 1e15)  # no exponents
    expected = KlinesResponse(BTC, "15m", plain.height, plain.to_dicts())
    assert klines_json(BTC, "15m", plain) == msgspec.json.encode(expected)


def test_klines_answer_has_the_same_json_as_before(cached):
    api, *_ = cached
    api.repos.klines.upsert(Timeframe.H4, klines(count=60, timeframe=Timeframe.H4))
    for timeframe, limit in ((Timeframe.M15, 10), (Timeframe.H4, 60)):
        frame = api.repos.klines.range(BTC, timeframe, limit=limit, newest_first=True)
        frame = frame.reverse().drop("symbol")
        expected = KlinesResponse(BTC, timeframe.label, frame.height, frame.to_dicts())
        got = api.get(f"/klines/{BTC}/{timeframe.label}", params={"limit": limit})
        assert got.headers["content-type"] == "application/json"
        assert got.content == msgspec.json.encode(expected)


def test_the_freshness_is_documented(api):
    paths = api.client.get("/openapi.json").json()["paths"]
    klines_text = paths["/klines/{symbol}/{timeframe}"]["get"]["description"]
    metrics_text = paths["/metrics"]["get"]["description"]
    assert f"as is for {KLINES_CACHE_SECONDS:g} s" in klines_text
    assert f"older than {HARD_AGE_FACTOR * KLINES_CACHE_SECONDS:g} s" in klines_text
    assert f"as is for {METRICS_CACHE_SECONDS:g} s" in metrics_text
    assert f"older than {HARD_AGE_FACTOR * METRICS_CACHE_SECONDS:g} s" in metrics_text
