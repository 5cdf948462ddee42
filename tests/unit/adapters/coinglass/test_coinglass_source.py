"""CoinGlassSource against the fake CoinGlass v4 server (qwentrade.testing.fake_coinglass):
every series parses into domain values that follow the simulated market, spans page,
and the server's errors and rate limit arrive as domain errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from qwentrade.adapters.coinglass import CoinGlassClient, CoinGlassSource
from qwentrade.adapters.sim import GeneratedPath, SimEngine, SteppedClock
from qwentrade.domain.errors import AuthFailed, ExchangeRejected, InvalidInput, RateLimited
from qwentrade.domain.market import Timeframe, TimeRange
from qwentrade.ports.market_data import MarketDataSource
from qwentrade.testing.fake_coinglass import FakeCoinGlass

KEY = "cg-contract-key"
BTC, ETH = "BTC-USDT-SWAP", "ETH-USDT-SWAP"
START = datetime(2024, 3, 1, tzinfo=UTC)
DAYS = 12


class CountingTransport(httpx.HTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return super().handle_request(request)


@pytest.fixture(scope="module")
def engine() -> SimEngine:
    clock = SteppedClock(START + timedelta(days=DAYS, minutes=7))
    return SimEngine(
        balance=Decimal(10000), clock=clock, price_path=GeneratedPath(seed=7, start=START)
    )


@pytest.fixture(scope="module")
def server(engine) -> Iterator[FakeCoinGlass]:
    with FakeCoinGlass(engine, api_key=KEY) as fake:
        yield fake


@pytest.fixture
def transport() -> CountingTransport:
    return CountingTransport()


@pytest.fixture
def source(server, transport) -> Iterator[CoinGlassSource]:
    client = CoinGlassClient(
        KEY, base_url=server.base_url, transport=transport, sleep=lambda s: None
    )
    with client:
        yield CoinGlassSource(client)


def conforms(source: CoinGlassSource) -> MarketDataSource:
    return source  # the type checker proves the port is implemented


def span_hours(engine: SimEngine, back: int, length: int) -> TimeRange:
    end = Timeframe.H1.floor(engine.server_time()) - timedelta(hours=back)
    return TimeRange(end - timedelta(hours=length), end)


def test_open_interest_in_usd_follows_the_price(source, engine):
    span = span_hours(engine, back=10, length=48)
    points = conforms(source).open_interest(BTC, Timeframe.H1, span)
    assert [p.time for p in points] == [span.start + timedelta(hours=i) for i in range(48)]
    candles = {c.time: c for c in engine.candles(BTC, Timeframe.H1, limit=100)}
    for point in points:
        assert point.symbol == BTC and point.open_interest == point.close
        assert 700_000 < point.open_interest / candles[point.time].close < 1_100_000  # coins
        assert point.low <= point.open <= point.high
    # the source reads 24 h before the span, so every point knows its 24 h change
    before = {
        p.time: p.open_interest
        for p in source.open_interest(
            BTC, Timeframe.H1, TimeRange(span.start - timedelta(hours=24), span.end)
        )
    }
    for point in points:
        change = point.open_interest - before[point.time - timedelta(hours=24)]
        assert point.change_24h == pytest.approx(change)
        assert point.change_percent_24h == pytest.approx(
            change / (point.open_interest - change) * 100
        )


def test_sentiment_is_the_okx_account_ratio_as_fractions(source, engine, transport):
    span = span_hours(engine, back=0, length=8)
    points = source.sentiment(ETH, Timeframe.H4, span)
    assert len(points) == 2 and all(p.time in span and p.symbol == ETH for p in points)
    for point in points:
        assert 0.15 <= point.long_account_ratio <= 0.85
        assert point.long_account_ratio + point.short_account_ratio == pytest.approx(1)
        ratio = point.long_account_ratio / point.short_account_ratio
        assert point.long_short_ratio == pytest.approx(ratio, abs=0.01)
    assert transport.paths == ["/api/futures/global-long-short-account-ratio/history"]


def test_liquidations_in_usd(source, engine):
    span = TimeRange(START + timedelta(days=2), START + timedelta(days=5))
    points = source.liquidations(BTC, Timeframe.D1, span)
    assert [p.time for p in points] == [START + timedelta(days=d) for d in (2, 3, 4)]
    candles = {c.time: c for c in engine.candles(BTC, Timeframe.D1, limit=20)}
    for point in points:
        assert point.long_liquidation > 0 and point.short_liquidation > 0
        notional = candles[point.time].volume * candles[point.time].close
        assert 0.004 * notional <= point.long_liquidation  # the fake's floor: 0.4 % of volume
        assert point.total_liquidation == point.long_liquidation + point.short_liquidation


def test_a_long_span_is_read_in_pages(source, engine, transport):
    span = TimeRange(START, Timeframe.M15.floor(engine.server_time()))
    points = source.liquidations(BTC, Timeframe.M15, span)
    expected = (span.end - span.start) // timedelta(minutes=15)
    assert expected > 1000  # more than one page
    assert [p.time for p in points] == [
        span.start + timedelta(minutes=15) * i for i in range(expected)
    ]
    assert len(transport.paths) == 2


def test_etf_flows_are_daily_and_net_in_minus_out(source, engine):
    span = TimeRange(START + timedelta(days=3), START + timedelta(days=8))
    flows = source.etf_flows("BTC", span)
    assert [f.date for f in flows] == [(START + timedelta(days=d)).date() for d in range(3, 8)]
    for flow in flows:
        assert flow.symbol == "BTC" and flow.price_usd > 0
        assert flow.total_flow_in - flow.total_flow_out == flow.net_flow
    assert source.etf_flows("ETH-USDT-SWAP", span)[0].symbol == "ETH"
    with pytest.raises(InvalidInput, match="asset"):
        source.etf_flows("SOL", span)


def test_fear_greed_is_a_daily_index(source, engine):
    span = TimeRange(START, engine.server_time())
    points = source.fear_greed(span)
    assert len(points) == DAYS  # closed days only
    assert [p.time for p in points] == [START + timedelta(days=d) for d in range(DAYS)]
    assert all(5 <= p.value <= 95 for p in points)


def test_a_wrong_key_is_auth_failed_without_the_key(server):
    wrong = "cg-wrong-key-987"
    client = CoinGlassClient(wrong, base_url=server.base_url)
    with client, pytest.raises(AuthFailed) as caught:
        CoinGlassSource(client).fear_greed(TimeRange(START, START + timedelta(days=1)))
    assert wrong not in str(caught.value) and KEY not in str(caught.value)


def test_an_unknown_coin_and_an_unknown_timeframe_are_invalid_input(source, engine):
    span = span_hours(engine, back=0, length=4)
    with pytest.raises(InvalidInput) as caught:
        source.open_interest("DOGE-USDT-SWAP", Timeframe.H1, span)
    assert caught.value.field == "symbol"
    with pytest.raises(InvalidInput, match="timeframe"):
        source.open_interest(BTC, "2h", span)  # type: ignore[arg-type]


def test_hobbyist_plan_and_rate_limit(engine):
    span = TimeRange(START + timedelta(days=1), START + timedelta(days=2))
    with FakeCoinGlass(engine, api_key=KEY, plan="hobbyist") as fake:
        sleeps: list[float] = []
        client = CoinGlassClient(
            KEY,
            base_url=fake.base_url,
            requests_per_minute=1000,  # more than the plan: the server's 429 must be met
            max_retries=2,
            sleep=sleeps.append,
        )
        with client:
            source = CoinGlassSource(client)
            with pytest.raises(ExchangeRejected, match="Upgrade plan"):
                source.liquidations(BTC, Timeframe.H1, span)  # Hobbyist starts at 4h
            for _ in range(29):  # the plan's 30 requests per minute, the first included
                assert len(source.liquidations(BTC, Timeframe.H4, span)) == 6
            assert sleeps == []
            with pytest.raises(RateLimited):
                source.liquidations(BTC, Timeframe.H4, span)
            assert sleeps == [2.0, 4.0]  # backed off twice, then gave up
