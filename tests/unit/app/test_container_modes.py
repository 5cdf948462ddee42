"""Each mode built by the container: sim offline, paper and live against a fake OKX server
on loopback (QWENTRADE_OKX_REST_URL pointed at it)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from qwentrade.adapters.okx import OkxExchange
from qwentrade.adapters.sim import SimExchange, SimPrivateStream
from qwentrade.adapters.sim.live import MINUTE, LivePricePath, engine_lag
from qwentrade.app.container import Container, build, prepare_database
from qwentrade.app.settings import Settings
from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.market import Timeframe, TimeRange, from_ms, to_ms
from qwentrade.domain.venue import OrderRequest
from qwentrade.testing.fake_okx import FakeOkx

BTC = "BTC-USDT-SWAP"


@pytest.fixture
def fake() -> Iterator[FakeOkx]:
    with FakeOkx(history_days=1, seed=7) as okx:
        yield okx


def container(tmp_path, **env: str) -> Container:
    environ = {
        "QWENTRADE_DATABASE_URL": f"sqlite:///{tmp_path / 'modes.db'}",
        "QWENTRADE_SYMBOLS": BTC,
        **env,
    }
    built = build(Settings.from_env(environ))
    prepare_database(built)
    return built


def live_env(okx: FakeOkx, **extra: str) -> dict[str, str]:
    return {
        "QWENTRADE_MODE": "live",
        "QWENTRADE_OKX_REST_URL": okx.rest_url,
        "QWENTRADE_OKX_WS_URL": okx.ws_url,
        "QWENTRADE_OKX_API_KEY": okx.credentials.api_key,
        "QWENTRADE_OKX_SECRET": okx.credentials.secret,
        "QWENTRADE_OKX_PASSPHRASE": okx.credentials.passphrase,
        **extra,
    }


def test_sim_trades_and_reads_prices_on_the_same_simulated_exchange(tmp_path):
    built = container(tmp_path)
    assert isinstance(built.exchange(), SimExchange)
    assert built.market_data() is built.exchange()
    [candle] = built.market_data().candles(BTC, Timeframe.M15, limit=1)
    assert candle.symbol == BTC


def test_live_without_a_key_is_refused_at_build_naming_the_variable(tmp_path):
    settings = Settings.from_env({"QWENTRADE_MODE": "live", "QWENTRADE_OKX_SECRET": "s"})
    assert settings.describe()["okx_api_key"] == "not set"  # `qwentrade settings` still works
    with pytest.raises(InvalidInput) as caught:
        build(settings)
    assert caught.value.field == "okx_api_key"
    assert "QWENTRADE_OKX_API_KEY" in str(caught.value)
    assert "QWENTRADE_OKX_PASSPHRASE" in str(caught.value)
    assert "QWENTRADE_OKX_SECRET" not in str(caught.value)
    assert "\n" not in str(caught.value)


def test_paper_reads_okx_public_candles_without_keys(tmp_path, fake):
    built = container(tmp_path, QWENTRADE_MODE="paper", QWENTRADE_OKX_REST_URL=fake.rest_url)
    market = built.market_data()
    assert isinstance(market, OkxExchange) and market.rest.credentials is None
    assert market is not built.exchange()
    end = Timeframe.M15.floor(datetime.now(UTC)) - timedelta(hours=1)
    span = TimeRange(end - timedelta(hours=6), end)
    got = market.candles(BTC, Timeframe.M15, span, limit=300)
    want = fake.engine.candles(BTC, Timeframe.M15, span, limit=300)
    assert len(got) == 24 and got == want


def _okx_bar(okx: FakeOkx, bar: str, opened: datetime) -> list[str]:
    """The one ``bar`` candle opening at ``opened``, as the fake serves it."""
    query = f"instId={BTC}&bar={bar}&before={to_ms(opened) - 1}&after={to_ms(opened) + 1}"
    [row] = httpx.get(f"{okx.rest_url}/api/v5/market/candles?{query}", timeout=10).json()["data"]
    return row


def test_paper_fills_at_a_closed_okx_price_and_sends_no_order(tmp_path, fake):
    built = container(tmp_path, QWENTRADE_MODE="paper", QWENTRADE_OKX_REST_URL=fake.rest_url)
    venue = built.exchange()
    assert isinstance(venue, SimExchange)
    engine = built.sim_engine()
    path = engine.price_path
    # the fake serves 1m bars (cut from its 15m walk): the paper path walks them
    assert isinstance(path, LivePricePath) and path.base == MINUTE
    lagged = engine.clock.now()
    lag = datetime.now(UTC) - lagged
    assert engine_lag(MINUTE) <= lag < engine_lag(MINUTE) + timedelta(seconds=5)

    asked_at = datetime.now(UTC)
    order = venue.place_order(OrderRequest(BTC, "buy", "1", "paper1"))
    placed_at = datetime.now(UTC)
    assert order.state.value == "filled"
    t = engine.now
    holding = MINUTE.floor(t)
    # the latest candle closed at some moment of the call (the one before it only within
    # the grace after a close): never a candle still open at the order's reply
    grace = engine_lag(MINUTE) - MINUTE.duration
    earliest = MINUTE.floor(asked_at - grace) - MINUTE.duration
    latest = MINUTE.floor(placed_at) - MINUTE.duration
    assert earliest <= holding <= latest, (holding, asked_at, placed_at)
    candle = _okx_bar(fake, "1m", holding)
    # the candle the price came from had closed on the fake before the order was placed
    assert candle[8] == "1" and from_ms(candle[0]) + MINUTE.duration <= placed_at
    # a market buy fills at the last price plus the taker's half spread and slippage
    # (adapters/sim/model.py rule 3), the last price inside that closed candle
    config = built.repositories().config
    rate = (
        Decimal(str(config.get("SIM_SPREAD_BPS"))) / 2
        + Decimal(str(config.get("SIM_SLIPPAGE_BPS")))
    ) / 10_000
    assert rate > 0
    low, high = Decimal(candle[3]), Decimal(candle[2])
    assert low * (1 + rate) <= order.avg_price <= high * (1 + rate)
    # nothing the path holds is newer than a closed candle
    series = path.series(BTC, t)
    assert int(series.ts[-1]) + MINUTE.milliseconds <= to_ms(placed_at)
    # simulated: OKX (the fake) holds no position and no order
    assert fake.engine.positions() == [] and fake.engine.order_history() == []
    assert [p.size for p in venue.positions(BTC)] == [Decimal(1)]


def test_paper_refuses_a_symbol_okx_does_not_list(tmp_path, fake):
    built = container(
        tmp_path,
        QWENTRADE_MODE="paper",
        QWENTRADE_OKX_REST_URL=fake.rest_url,
        QWENTRADE_SYMBOLS="DOGE-USDT-SWAP",
    )
    with pytest.raises(InvalidInput) as caught:
        built.exchange()
    assert caught.value.field == "symbols" and "DOGE-USDT-SWAP" in str(caught.value)


def test_live_trades_on_okx_with_the_keys_and_one_exchange(tmp_path, fake):
    built = container(tmp_path, **live_env(fake))
    exchange = built.exchange()
    assert isinstance(exchange, OkxExchange) and built.market_data() is exchange
    assert exchange.balance().cash_balance == Decimal(10000)
    order = exchange.place_order(OrderRequest(BTC, "buy", "1", "live1"))
    assert order.state.value == "filled"
    [position] = fake.engine.positions(BTC)  # the order reached the (fake) exchange
    assert position.size == Decimal(1)


def test_live_demo_sends_the_simulated_trading_header(tmp_path, fake):
    seen = []
    handle = fake.dispatcher.handle

    def recording(method, path, raw_query, headers, body, client_ip="127.0.0.1"):
        seen.append((path, headers.get("x-simulated-trading")))
        return handle(method, path, raw_query, headers, body, client_ip)

    fake.dispatcher.handle = recording  # type: ignore[method-assign]
    built = container(tmp_path, **live_env(fake, QWENTRADE_OKX_DEMO="true"))
    assert built.exchange().balance().cash_balance == Decimal(10000)
    assert seen and all(flag == "1" for _, flag in seen)
    assert any(path.endswith("/account/balance") for path, _ in seen)


def test_live_follows_the_account_over_okx_private_websocket(tmp_path, fake):
    built = container(tmp_path, **live_env(fake))
    stream = built.private_stream()
    events: list = []
    stream.connect(events.append)
    try:
        deadline = time.monotonic() + 20
        while not stream.connected and time.monotonic() < deadline:
            time.sleep(0.02)
        assert stream.connected and stream.state().logged_in
        built.exchange().place_order(OrderRequest(BTC, "buy", "1", "stream1"))
        while time.monotonic() < deadline and not any(
            getattr(e, "client_order_id", "") == "stream1" for e in events
        ):
            time.sleep(0.02)
        assert any(getattr(e, "client_order_id", "") == "stream1" for e in events)
    finally:
        stream.close()


def test_sim_and_paper_follow_the_simulated_exchange(tmp_path, fake):
    assert isinstance(container(tmp_path).private_stream(), SimPrivateStream)
    paper = container(tmp_path, QWENTRADE_MODE="paper", QWENTRADE_OKX_REST_URL=fake.rest_url)
    assert isinstance(paper.private_stream(), SimPrivateStream)


def test_demo_keys_use_okx_demo_websocket_host_unless_a_url_is_given(tmp_path, fake):
    env = live_env(fake, QWENTRADE_OKX_DEMO="true")
    del env["QWENTRADE_OKX_WS_URL"]
    demo = container(tmp_path, **env).private_stream()
    assert demo.url == "wss://wspap.okx.com:8443/ws/v5/private"
    assert demo.business_url == "wss://wspap.okx.com:8443/ws/v5/business"
    given = container(tmp_path, **live_env(fake, QWENTRADE_OKX_DEMO="true")).private_stream()
    assert given.url == fake.ws_url
