"""MarketSync against the fake CoinGlass and fake OKX servers on loopback and the simulated
exchange, on stepped clocks: a backfill from empty stores exactly the due points with no
more than ceil(missing / page) requests, a second run (and a restart) asks for nothing, an
outage is repaired exactly, OKX's statistics fill in without a CoinGlass key while the
CoinGlass-only kinds are disabled, and source errors reach the caller with nothing
written."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from qwentrade.adapters.coinglass import CoinGlassClient, CoinGlassSource
from qwentrade.adapters.memory import MemoryRepositories
from qwentrade.adapters.okx import OkxExchange, OkxMarketSource, PermitGate
from qwentrade.adapters.okx.market_source import history_start
from qwentrade.adapters.sim import GeneratedPath, SimEngine, SimExchange, SteppedClock
from qwentrade.app.container import build, prepare_database
from qwentrade.app.settings import Settings
from qwentrade.app.sync.base import JobDisabled
from qwentrade.app.sync.market import MarketSync
from qwentrade.domain.errors import (
    AuthFailed,
    ExchangeRejected,
    ExchangeUnavailable,
    InvalidInput,
)
from qwentrade.domain.market import (
    BookSnapshot,
    EtfFlow,
    FearGreed,
    FundingRate,
    Liquidation,
    OpenInterest,
    Sentiment,
    Timeframe,
    TimeRange,
)
from qwentrade.testing.fake_coinglass import FakeCoinGlass
from qwentrade.testing.fake_okx import FakeOkx

KEY = "cg-sync-key"
BTC, ETH = "BTC-USDT-SWAP", "ETH-USDT-SWAP"
START = datetime(2024, 3, 1, tzinfo=UTC)
QUARTER, HOUR, DAY = timedelta(minutes=15), timedelta(hours=1), timedelta(days=1)


class Transport(httpx.HTTPTransport):
    """A real HTTP transport that counts requests per path and can fail like a network
    that is down (the client sees a connect error)."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: Counter[str] = Counter()
        self.down = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        self.paths[request.url.path] = self.paths[request.url.path] + 1
        return super().handle_request(request)


class CountingExchange:
    """The simulated exchange, counting the calls made to it."""

    def __init__(self, exchange: SimExchange) -> None:
        self._exchange = exchange
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str):
        method = getattr(self._exchange, name)

        def counted(*args, **kwargs):
            self.calls[name] += 1
            return method(*args, **kwargs)

        return counted


def stepped_engine(days: float = 40) -> SimEngine:
    clock = SteppedClock(START + timedelta(days=days, minutes=7))
    return SimEngine(
        balance=Decimal(10000), clock=clock, price_path=GeneratedPath(seed=7, start=START)
    )


@pytest.fixture(scope="module")
def engine() -> SimEngine:
    return stepped_engine()


@pytest.fixture(scope="module")
def coinglass_server(engine) -> Iterator[FakeCoinGlass]:
    with FakeCoinGlass(engine, api_key=KEY) as fake:
        yield fake


def coinglass(server: FakeCoinGlass, transport: Transport) -> CoinGlassSource:
    client = CoinGlassClient(
        KEY, base_url=server.base_url, transport=transport, sleep=lambda s: None, max_retries=1
    )
    return CoinGlassSource(client)


def closes(step: timedelta, now: datetime, days: float) -> list[datetime]:
    """Open times of the ``step`` intervals that ended in the last ``days`` days."""
    first = now - timedelta(days=days)
    slot = START + math.ceil((first - START) / step) * step
    out = []
    while slot + step <= now:
        out.append(slot)
        slot += step
    return out


def short_windows(repos) -> None:
    # the daily kinds' windows inside the fake's 40 days of market, read live
    repos.config.set("ETF_FLOW_START_DAYS", 30)
    repos.config.set("FEAR_GREED_START_DAYS", 30)


def test_a_backfill_from_empty_stores_every_due_point_then_asks_for_nothing(
    engine, coinglass_server, repos
):
    short_windows(repos)
    transport = Transport()
    exchange = CountingExchange(SimExchange(engine))
    source = coinglass(coinglass_server, transport)
    sync = MarketSync(exchange, repos.market, repos.config, engine.clock, source, None)
    now = engine.sync()

    written = {
        "open_interest": sync.open_interest(BTC, now),
        "market_sentiment": sync.market_sentiment(BTC, now),
        "liquidation": sync.liquidation(BTC, now),
        "etf_flow": sync.etf_flow("BTC", now) + sync.etf_flow("ETH", now),
        "fear_greed": sync.fear_greed(None, now),
        "funding_rate": sync.funding_rate(BTC, now),
        "order_book": sync.order_book(BTC, now),
    }
    expected = {
        OpenInterest: closes(QUARTER, now, 30),
        Sentiment: closes(HOUR, now, 30),
        Liquidation: closes(HOUR, now, 30),
        FearGreed: closes(DAY, now, 30),
    }
    for kind, times in expected.items():
        assert [p.time for p in repos.market.range(kind, BTC)] == times, kind.__name__
    assert written["open_interest"] == len(expected[OpenInterest]) == 30 * 96 - 1
    assert written["market_sentiment"] == written["liquidation"] == 30 * 24 - 1
    days = [t.date() for t in closes(DAY, now, 30)]
    for asset in ("BTC", "ETH"):
        assert [f.date for f in repos.market.range(EtfFlow, asset)] == days
    assert written["etf_flow"] == 2 * len(days) and written["fear_greed"] == len(days)
    # funding: every settlement of the window (00/08/16 UTC) up to now, with the next one
    rates = repos.market.range(FundingRate, BTC)
    eight = timedelta(hours=8)
    settlements = [START + k * eight for k in range(200) if START + k * eight <= now]
    assert [r.time for r in rates] == [t for t in settlements if t >= now - timedelta(days=30)]
    assert all(r.next_funding_time == r.time + timedelta(hours=8) for r in rates)
    assert written["order_book"] == 1 and repos.market.latest(BookSnapshot, BTC).time == now
    # at most ceil(missing / page) requests per series (open interest reads a day more)
    paths = transport.paths
    oi_rows = written["open_interest"] + 96
    assert paths["/api/futures/open-interest/aggregated-history"] <= math.ceil(oi_rows / 1000)
    assert paths["/api/futures/global-long-short-account-ratio/history"] == 1
    assert paths["/api/futures/liquidation/aggregated-history"] == 1
    assert paths["/api/etf/bitcoin/flow-history"] == paths["/api/etf/ethereum/flow-history"] == 1
    assert paths["/api/index/fear-greed-history"] == 1
    assert exchange.calls["funding_history"] == 1
    # the values are the source's (open interest: the interval's close, a day's change)
    oi = repos.market.range(OpenInterest, BTC)
    direct = source.open_interest(BTC, Timeframe.M15, TimeRange(oi[0].time, now))
    assert oi == direct[: len(oi)] and oi[-1].change_24h is not None

    # a second run and a restart (a new MarketSync on the same tables) ask for nothing
    before = {kind: repos.market.range(kind) for kind in (*expected, EtfFlow, FundingRate)}
    restarted = MarketSync(exchange, repos.market, repos.config, engine.clock, source, None)
    for run in (sync, restarted):
        transport.paths.clear()
        exchange.calls.clear()
        again = (
            run.open_interest(BTC, now)
            + run.market_sentiment(BTC, now)
            + run.liquidation(BTC, now)
            + run.etf_flow("BTC", now)
            + run.etf_flow("ETH", now)
            + run.fear_greed(None, now)
            + run.funding_rate(BTC, now)
            + run.order_book(BTC, now)
        )
        assert again == 0 and transport.paths == Counter() and exchange.calls == Counter()
    assert {kind: repos.market.range(kind) for kind in before} == before


def test_an_outage_of_the_source_is_repaired_exactly():
    engine = stepped_engine(days=12)
    repos = MemoryRepositories()
    repos.config.set("OPEN_INTEREST_START_DAYS", 10)
    with FakeCoinGlass(engine, api_key=KEY) as server:
        transport = Transport()
        sync = MarketSync(
            SimExchange(engine), repos.market, repos.config, engine.clock,
            coinglass(server, transport), None,
        )  # fmt: skip
        assert sync.open_interest(ETH, engine.sync()) == 10 * 96 - 1
        transport.down = True
        for _ in range(24):  # six hours of failing runs, every 15 minutes
            engine.clock.advance(QUARTER)  # type: ignore[attr-defined]
            with pytest.raises(ExchangeUnavailable):
                sync.open_interest(ETH, engine.sync())
        transport.down = False
        transport.paths.clear()
        now = engine.sync()
        assert sync.open_interest(ETH, now) == 24
        assert sum(transport.paths.values()) == 1
    times = [p.time for p in repos.market.range(OpenInterest, ETH)]
    assert len(times) == 10 * 96 - 1 + 24  # no hole, no duplicate, up to the last close
    assert times == [times[0] + k * QUARTER for k in range(len(times))]
    assert times[-1] + QUARTER == Timeframe.M15.floor(now)


def test_without_a_coinglass_key_okx_statistics_fill_in_and_coinglass_kinds_are_disabled():
    repos = MemoryRepositories()
    repos.config.set("API_RATE_LIMIT", 1000)
    repos.config.set("API_MIN_INTERVAL", 0)
    with FakeOkx(history_days=20, seed=4, rate_limits=False) as server:
        okx = OkxExchange(PermitGate(repos.config), rest_url=server.rest_url, config=repos.config)
        paths: Counter[str] = Counter()
        request = okx.rest.request

        def counted(method, path, *args, **kwargs):
            paths[path] += 1
            return request(method, path, *args, **kwargs)

        okx.rest.request = counted  # type: ignore[method-assign]
        sync = MarketSync(
            SimExchange(server.engine), repos.market, repos.config, server.engine.clock,
            None, OkxMarketSource(okx), okx_history_start=history_start,
        )  # fmt: skip
        now = datetime.now(UTC)
        assert sync.open_interest(BTC, now) == 1440  # OKX keeps 1,440 periods: 15 days
        oi = repos.market.range(OpenInterest, BTC)
        end = Timeframe.M15.floor(now)  # the newest 1,440 closed quarters
        assert [p.time for p in oi] == [end - (1440 - k) * QUARTER for k in range(1440)]
        assert paths["rubik/stat/contracts/open-interest-history"] <= math.ceil(1440 / 100) + 1
        assert sync.market_sentiment(BTC, now) > 20 * 24 - 2  # all 20 days the fake has
        hours = sync.liquidation(BTC, now)  # OKX keeps the last day of liquidation orders
        assert 22 <= hours <= 24
        liquidations = repos.market.range(Liquidation, BTC)
        assert all(now - DAY <= h.time and h.time + HOUR <= now for h in liquidations)
        for run, target in ((sync.etf_flow, "BTC"), (sync.fear_greed, None)):
            with pytest.raises(JobDisabled, match="QWENTRADE_COINGLASS_API_KEY"):
                run(target, now)
        paths.clear()
        assert sync.open_interest(BTC, now) + sync.market_sentiment(BTC, now) == 0
        assert sync.liquidation(BTC, now) == 0
        assert not [p for p in paths if p.startswith(("rubik", "public/liq"))]


def test_in_sim_mode_the_kinds_without_a_source_are_disabled_with_the_reason(engine):
    repos = MemoryRepositories()
    sync = MarketSync(
        SimExchange(engine), repos.market, repos.config, engine.clock, None, None, offline=True
    )
    now = engine.sync()
    for run, target in (
        (sync.open_interest, BTC),
        (sync.market_sentiment, BTC),
        (sync.liquidation, BTC),
        (sync.etf_flow, "BTC"),
        (sync.fear_greed, None),
    ):
        with pytest.raises(JobDisabled, match="sim mode"):
            run(target, now)
    assert sync.funding_rate(ETH, now) == 90 and sync.order_book(ETH, now) == 1
    assert repos.market.range(OpenInterest) == []


def test_a_wrong_key_and_a_plan_limit_reach_the_caller_and_nothing_is_written(
    engine, coinglass_server
):
    repos = MemoryRepositories()
    client = CoinGlassClient("not-the-key", base_url=coinglass_server.base_url, max_retries=0)
    sync = MarketSync(
        SimExchange(engine), repos.market, repos.config, engine.clock,
        CoinGlassSource(client), None,
    )  # fmt: skip
    with pytest.raises(AuthFailed) as caught:
        sync.open_interest(BTC, engine.sync())
    assert "not-the-key" not in str(caught.value)
    with FakeCoinGlass(engine, api_key=KEY, plan="hobbyist") as hobbyist:
        client = CoinGlassClient(KEY, base_url=hobbyist.base_url, max_retries=0)
        sync = MarketSync(
            SimExchange(engine), repos.market, repos.config, engine.clock,
            CoinGlassSource(client), None,
        )  # fmt: skip
        with pytest.raises(ExchangeRejected, match="Upgrade plan"):
            sync.liquidation(BTC, engine.sync())  # hourly: below the Hobbyist 4h minimum
        assert sync.etf_flow("BTC", engine.sync()) > 0  # daily series are allowed
    assert repos.market.range(OpenInterest) == repos.market.range(Liquidation) == []


def test_the_order_book_takes_one_snapshot_per_run_at_most_one_a_minute():
    engine = stepped_engine(days=2)
    repos = MemoryRepositories()
    repos.config.set("ORDER_BOOK_DEPTH", 3)
    sync = MarketSync(SimExchange(engine), repos.market, repos.config, engine.clock, None, None)
    assert sync.order_book(BTC, engine.sync()) == 1
    assert sync.order_book(BTC, engine.sync()) == 0  # a replay adds nothing
    engine.clock.advance(HOUR)  # type: ignore[attr-defined]
    assert sync.order_book(BTC, engine.sync()) == 1
    books = repos.market.range(BookSnapshot, BTC)
    assert len(books) == 2 and all(len(b.bids) == len(b.asks) == 3 for b in books)


def test_the_container_picks_the_sources_per_mode(tmp_path):
    def container(name: str, **env: str):
        environ = {
            "QWENTRADE_DATABASE_URL": f"sqlite:///{tmp_path / name}",
            "QWENTRADE_SYMBOLS": BTC,
            **env,
        }
        built = build(Settings.from_env(environ))
        prepare_database(built)
        return built

    sim = container("sim.db")
    now = sim.clock().now()
    with pytest.raises(JobDisabled, match="sim mode"):
        sim.market_sync().open_interest(BTC, now)
    assert sim.market_sync().funding_rate(BTC, now) == 90
    assert sim.history_sync().order_history(None, now) == 0
    with FakeOkx(history_days=2, seed=3) as okx:
        paper = dict(QWENTRADE_MODE="paper", QWENTRADE_OKX_REST_URL=okx.rest_url)
        no_key = container("paper.db", **paper)
        with pytest.raises(InvalidInput, match="QWENTRADE_COINGLASS_API_KEY"):
            no_key.coinglass()
        assert no_key.market_sync().market_sentiment(BTC, now) > 24  # from OKX
        with pytest.raises(JobDisabled, match="QWENTRADE_COINGLASS_API_KEY"):
            no_key.market_sync().fear_greed(None, now)
        with FakeCoinGlass(okx.engine, api_key=KEY) as server:
            keyed = container(
                "keyed.db",
                **paper,
                QWENTRADE_COINGLASS_API_KEY=KEY,
                QWENTRADE_COINGLASS_URL=server.base_url,
            )
            assert keyed.market_sync().fear_greed(None, now) >= 1  # from CoinGlass
            assert KEY not in repr(keyed.coinglass())


def test_the_engine_runs_the_market_jobs_disabled_ones_reported_not_failing(tmp_path):
    environ = {
        "QWENTRADE_DATABASE_URL": f"sqlite:///{tmp_path / 'engine.db'}",
        "QWENTRADE_SYMBOLS": f"{BTC},{ETH}",
        "QWENTRADE_MODE": "paper",
    }
    kinds = ["open_interest", "market_sentiment", "liquidation", "etf_flow", "fear_greed"]
    with FakeOkx(history_days=2, seed=3, rate_limits=False) as okx:
        built = build(Settings.from_env({**environ, "QWENTRADE_OKX_REST_URL": okx.rest_url}))
        prepare_database(built)
        built.repositories().config.set("API_RATE_LIMIT", 1000)  # the fake does not limit
        built.repositories().config.set("API_MIN_INTERVAL", 0)
        engine = built.sync_engine()
        first = {r.job_id: r for r in engine.run_once(kinds=kinds)}
        again = engine.run_once(kinds=kinds)
    states = {job: (r.state, r.rows) for job, r in first.items()}
    for symbol in (BTC, ETH):
        for kind in ("open_interest", "market_sentiment", "liquidation"):
            state, rows = states[f"{kind}:{symbol}"]
            assert state == "OK" and rows > 0, (kind, symbol)
    disabled = [job for job, (state, _) in states.items() if state == "DISABLED"]
    assert sorted(disabled) == ["etf_flow:BTC", "etf_flow:ETH", "fear_greed"]
    status = {s["job"]: s for s in engine.status()}
    assert "QWENTRADE_COINGLASS_API_KEY" in status["fear_greed"]["note"]
    assert all(r.rows == 0 for r in again)


class WeekdaysOnly:
    """CoinGlass, as a source with no ETF flows at weekends (the funds do not trade)."""

    def __init__(self, source: CoinGlassSource) -> None:
        self.source = source

    def etf_flows(self, asset: str, span: TimeRange) -> list[EtfFlow]:
        return [f for f in self.source.etf_flows(asset, span) if f.date.weekday() < 5]


def test_days_the_source_never_has_are_not_asked_for_again(engine, coinglass_server):
    repos = MemoryRepositories()
    short_windows(repos)
    transport = Transport()
    source = WeekdaysOnly(coinglass(coinglass_server, transport))
    now = engine.sync()

    def fresh() -> MarketSync:
        return MarketSync(
            SimExchange(engine), repos.market, repos.config, engine.clock, source, None
        )  # type: ignore[arg-type]

    sync = fresh()
    days = [t.date() for t in closes(DAY, now, 30)]
    assert sync.etf_flow("BTC", now) == sum(1 for d in days if d.weekday() < 5)
    assert sync.etf_flow("BTC", now) == 0
    assert transport.paths["/api/etf/bitcoin/flow-history"] == 1  # the weekends: not again
    # a restart forgets which days the source lacks: one request covers all of them
    assert fresh().etf_flow("BTC", now) == 0
    assert transport.paths["/api/etf/bitcoin/flow-history"] == 2
