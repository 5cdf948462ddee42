"""OKX market statistics (open interest, long/short ratio, liquidations): the parsers on
recorded/documented payloads (tests/data/okx), the paging and the interval aggregation
(pure), and OkxExchange's readers against the fake OKX server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from qwentrade.adapters.memory import MemoryConfigStore
from qwentrade.adapters.okx import market_stats, wire, wire_market
from qwentrade.adapters.okx.exchange import OkxExchange
from qwentrade.adapters.okx.gate import PermitGate
from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.market import Liquidation, Timeframe, TimeRange, from_ms, to_ms
from qwentrade.testing.fake_okx import FakeOkx

DATA = Path(__file__).parents[3] / "data" / "okx"
BTC = "BTC-USDT-SWAP"
HOUR = timedelta(hours=1)


def data(name: str) -> list:
    payload = json.loads((DATA / f"{name}.json").read_text())
    assert wire.envelope_failure(payload) is None
    return payload["data"]


# -- parsers ---------------------------------------------------------------------------


def test_open_interest_is_the_usd_value_at_ts():
    [item] = data("http_get_public_open_interest")
    point = wire_market.open_interest_from_okx(item)
    assert point.symbol == BTC
    assert point.time == datetime(2024, 10, 12, 10, 18, 34, 766000, tzinfo=UTC)
    assert point.open_interest == pytest.approx(1676426045.35)
    assert point.change_24h is None and point.open is None


def test_open_interest_history_rows_are_ts_contracts_coins_usd():
    [row] = data("http_get_rubik_stat_contracts_open_interest_history")
    point = wire_market.open_interest_history_from_okx(BTC, row)
    assert point.time == from_ms(1790550000000)
    assert point.open_interest == pytest.approx(2360916466.88)


def test_the_long_short_ratio_splits_into_account_shares():
    rows = data("http_get_rubik_stat_contracts_long_short_account_ratio_contract")
    sentiment = wire_market.sentiment_from_okx(BTC, rows[0])
    assert sentiment.time == from_ms(1729323600000)
    assert sentiment.long_short_ratio == pytest.approx(0.9398602814619824)
    assert sentiment.long_account_ratio + sentiment.short_account_ratio == pytest.approx(1)
    assert sentiment.long_account_ratio / sentiment.short_account_ratio == pytest.approx(
        sentiment.long_short_ratio
    )
    with pytest.raises(ValueError, match="longShortAcctRatio"):
        wire_market.sentiment_from_okx(BTC, ["1729323600000", "-1"])


def test_a_liquidation_detail_is_worth_contracts_times_face_value_times_bankruptcy_price():
    [item] = data("http_get_public_liquidation_orders")
    [(time, side, usd)] = wire_market.liquidation_fills_from_okx(item, Decimal("10"))
    assert time == from_ms(1692266434010)
    assert side == "short"  # posSide; a buy liquidation order closes a short
    assert usd == pytest.approx(13 * 10 * 0.007831)


@pytest.mark.parametrize(
    ("detail", "side"),
    [
        ({"posSide": "long", "side": "sell"}, "long"),
        ({"posSide": "", "side": "sell"}, "long"),
        ({"side": "buy"}, "short"),
    ],
)
def test_the_liquidated_side_falls_back_to_the_order_side(detail, side):
    assert wire_market.liquidated_side(detail) == side


# -- paging and aggregation (pure) -------------------------------------------------------


def test_series_pages_back_with_exclusive_bounds_until_a_short_page():
    start = datetime(2024, 3, 1, tzinfo=UTC)
    stamps = [to_ms(start + i * HOUR) for i in range(250)]
    asked: list[dict] = []

    def get(path: str, params: dict, instrument: str | None) -> list:
        asked.append(params)
        begin, end = int(params["begin"]), int(params["end"])
        rows = [[str(t), "1"] for t in reversed(stamps) if begin < t < end]
        return rows[: int(params["limit"])]

    span = TimeRange(start + 10 * HOUR, start + 240 * HOUR)
    rows = market_stats.series_rows(get, "x", BTC, span, "1H")
    assert [int(r[0]) for r in rows] == stamps[10:240]
    assert len(asked) == 3 and all(p["begin"] == str(to_ms(span.start) - 1) for p in asked)
    assert asked[0]["end"] == str(to_ms(span.end))
    assert asked[1]["end"] == str(stamps[140])


def test_a_series_that_ignores_the_cursor_is_not_followed_forever():
    def get(path: str, params: dict, instrument: str | None) -> list:
        return [[str(to_ms(datetime(2024, 3, 2, tzinfo=UTC))), "1"]] * 100

    span = TimeRange(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 3, tzinfo=UTC))
    assert len(market_stats.series_rows(get, "x", BTC, span, "1H")) == 1


def test_periods_are_our_timeframes_only():
    assert market_stats.period_of(Timeframe.D1) == "1Dutc"
    with pytest.raises(InvalidInput) as caught:
        market_stats.period_of("1m")  # type: ignore[arg-type]
    assert caught.value.field == "period"


def test_intervals_cover_the_known_ended_part_of_the_span_with_zeros_where_nothing_happened():
    now = datetime(2024, 3, 5, 12, 30, tzinfo=UTC)
    span = TimeRange(now - timedelta(days=2), now + HOUR)
    fills = [
        (datetime(2024, 3, 5, 1, 10, tzinfo=UTC), "long", 100.0),
        (datetime(2024, 3, 5, 1, 50, tzinfo=UTC), "short", 40.0),
        (datetime(2024, 3, 5, 1, 59, tzinfo=UTC), "long", 1.5),
        (datetime(2024, 3, 4, 3, 0, tzinfo=UTC), "long", 7.0),  # before the known day
        (datetime(2024, 3, 5, 12, 10, tzinfo=UTC), "long", 9.0),  # interval still running
    ]
    out = market_stats.liquidation_intervals(BTC, fills, Timeframe.H1, span, now)
    times = [p.time for p in out]
    assert times[0] == datetime(2024, 3, 4, 13, tzinfo=UTC)  # first hour wholly in the day
    assert times[-1] == datetime(2024, 3, 5, 11, tzinfo=UTC)  # last ended hour
    assert times == [times[0] + i * HOUR for i in range(len(times))]
    by_time = {p.time: p for p in out}
    assert by_time[datetime(2024, 3, 5, 1, tzinfo=UTC)] == Liquidation(
        BTC, datetime(2024, 3, 5, 1, tzinfo=UTC), 101.5, 40.0
    )
    assert sum(p.total_liquidation for p in out) == pytest.approx(141.5)


# -- against the fake OKX server -----------------------------------------------------------


@pytest.fixture(scope="module")
def okx() -> Iterator[tuple[FakeOkx, OkxExchange]]:
    with FakeOkx(history_days=3, seed=5) as server:
        config = MemoryConfigStore()
        config.set("API_RATE_LIMIT", 1000)
        config.set("API_MIN_INTERVAL", 0)
        yield server, OkxExchange(PermitGate(config), rest_url=server.rest_url, config=config)


def test_open_interest_now_and_its_history_agree(okx):
    _server, exchange = okx
    now = exchange.open_interest(BTC)
    assert now.symbol == BTC and now.open_interest > 0
    assert abs(now.time - datetime.now(UTC)) < timedelta(seconds=30)
    end = Timeframe.H1.floor(datetime.now(UTC))
    history = exchange.open_interest_history(BTC, TimeRange(end - timedelta(days=2), end))
    assert [p.time for p in history] == [end - timedelta(hours=48 - i) for i in range(48)]
    assert history[-1].open_interest == pytest.approx(now.open_interest, rel=0.05)
    assert all(p.change_24h is None for p in history[:24])
    day_later = history[24]
    assert day_later.change_24h == pytest.approx(day_later.open_interest - history[0].open_interest)
    # the same answer every time (deterministic), paging over 100 rows a request
    quarters = exchange.open_interest_history(
        BTC, TimeRange(end - timedelta(days=2), end), Timeframe.M15
    )
    assert len(quarters) == 192
    assert {p.time: p.open_interest for p in quarters if p.time.minute == 0} == {
        p.time: p.open_interest for p in history
    }


def test_the_long_short_ratio_leans_with_the_period_it_closes(okx):
    _server, exchange = okx
    end = Timeframe.H1.floor(datetime.now(UTC))
    span = TimeRange(end - timedelta(hours=12), end)
    ratios = exchange.long_short_ratio_history(BTC, span, Timeframe.H1)
    assert [s.time for s in ratios] == [span.start + i * HOUR for i in range(12)]
    assert all(0.15 <= s.long_account_ratio <= 0.85 for s in ratios)
    assert ratios == exchange.long_short_ratio_history(BTC, span, Timeframe.H1)


def test_liquidations_add_up_the_fake_s_orders_per_interval(okx):
    _server, exchange = okx
    now = datetime.now(UTC)
    span = TimeRange(now - timedelta(days=2), now)
    hours = exchange.liquidations(BTC, span, Timeframe.H1)
    assert 22 <= len(hours) <= 24  # the last day, whole hours, ended
    assert hours[0].time >= now - timedelta(days=1) and hours[-1].time + HOUR <= now
    assert sum(h.total_liquidation for h in hours) > 0
    assert any(h.long_liquidation > h.short_liquidation for h in hours)
    # the same hours at a finer interval add up to the same totals
    quarters = exchange.liquidations(BTC, TimeRange(hours[2].time, hours[5].time), Timeframe.M15)
    assert len(quarters) == 12
    assert sum(q.total_liquidation for q in quarters) == pytest.approx(
        sum(h.total_liquidation for h in hours[2:5])
    )
    before = TimeRange(now - timedelta(days=3), now - timedelta(days=2))
    assert exchange.liquidations(BTC, before) == []
