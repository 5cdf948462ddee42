"""OkxMarketSource: the MarketDataSource port over OKX's statistics, against the fake OKX
server. A point is named by its interval's OPEN time (OKX stamps the period's end), the
open interest carries its 24 h change, and what OKX does not publish is refused naming
the source."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from qwentrade.adapters.memory import MemoryConfigStore
from qwentrade.adapters.okx import OkxExchange, OkxMarketSource, PermitGate
from qwentrade.adapters.okx.market_source import STATS_PERIODS, history_start
from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.market import Timeframe, TimeRange
from qwentrade.ports.market_data import MarketDataSource
from qwentrade.testing.fake_okx import FakeOkx

BTC = "BTC-USDT-SWAP"
HOUR = timedelta(hours=1)


@pytest.fixture(scope="module")
def okx() -> Iterator[OkxExchange]:
    with FakeOkx(history_days=4, seed=9, rate_limits=False) as server:
        config = MemoryConfigStore()
        config.set("API_RATE_LIMIT", 1000)
        config.set("API_MIN_INTERVAL", 0)
        yield OkxExchange(PermitGate(config), rest_url=server.rest_url, config=config)


def conforms(source: OkxMarketSource) -> MarketDataSource:
    return source  # the type checker proves the port is implemented


def test_open_interest_is_named_by_the_interval_it_closes(okx):
    source = OkxMarketSource(okx)
    end = Timeframe.H1.floor(datetime.now(UTC))
    span = TimeRange(end - 12 * HOUR, end)
    points = source.open_interest(BTC, Timeframe.H1, span)
    assert [p.time for p in points] == [span.start + k * HOUR for k in range(12)]
    # OKX's value stamped at the period's end is the close of the interval opening before
    stamped = okx.open_interest_history(BTC, TimeRange(span.start + HOUR, end + HOUR))
    assert [p.open_interest for p in points] == [p.open_interest for p in stamped]
    # a day more was read, so every point knows its 24 h change
    day_before = okx.open_interest_history(BTC, TimeRange(span.start - 23 * HOUR, end - 23 * HOUR))
    assert [p.change_24h for p in points] == pytest.approx(
        [p.open_interest - b.open_interest for p, b in zip(points, day_before, strict=True)]
    )


def test_the_long_short_ratio_is_named_by_the_interval_it_closes(okx):
    source = OkxMarketSource(okx)
    end = Timeframe.H1.floor(datetime.now(UTC))
    span = TimeRange(end - 6 * HOUR, end)
    ratios = source.sentiment(BTC, Timeframe.H1, span)
    assert [s.time for s in ratios] == [span.start + k * HOUR for k in range(6)]
    stamped = okx.long_short_ratio_history(BTC, TimeRange(span.start + HOUR, end + HOUR))
    assert [s.long_short_ratio for s in ratios] == [s.long_short_ratio for s in stamped]


def test_liquidations_are_the_last_day_s_ended_intervals(okx):
    now = datetime.now(UTC)
    hours = OkxMarketSource(okx).liquidations(
        BTC, Timeframe.H1, TimeRange(now - 3 * 24 * HOUR, now)
    )
    assert 22 <= len(hours) <= 24
    assert hours[0].time >= history_start("liquidations", Timeframe.H1, now) - HOUR
    assert all(h.time + HOUR <= now for h in hours)


def test_what_okx_does_not_publish_is_refused_naming_the_source(okx):
    source = OkxMarketSource(okx)
    span = TimeRange(datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 2, 1, tzinfo=UTC))
    for call in (lambda: source.etf_flows("BTC", span), lambda: source.fear_greed(span)):
        with pytest.raises(InvalidInput, match="QWENTRADE_COINGLASS_API_KEY") as caught:
            call()
        assert caught.value.field == "source"
    with pytest.raises(InvalidInput, match="period"):
        source.open_interest(BTC, "2h", span)  # type: ignore[arg-type]


def test_history_start_is_what_okx_keeps():
    now = datetime(2025, 3, 1, 10, 20, tzinfo=UTC)
    quarter = Timeframe.M15.duration
    assert (
        history_start("open_interest", Timeframe.M15, now)
        == datetime(2025, 3, 1, 10, 15, tzinfo=UTC) - STATS_PERIODS * quarter
    )
    assert (
        history_start("sentiment", Timeframe.H1, now)
        == datetime(2025, 3, 1, 10, tzinfo=UTC) - 1440 * HOUR
    )
    assert (
        history_start("liquidations", Timeframe.H1, now)
        == datetime(2025, 2, 28, 10, tzinfo=UTC) + HOUR
    )
