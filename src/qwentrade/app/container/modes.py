"""What each mode builds: the order venue, the market-data source, the simulated engine
and the private stream of sim, paper and live, and the check ``build`` makes for each
without building anything (the table is in ``qwentrade.app.container``'s docstring).

The providers of :class:`~qwentrade.app.container.adapters.AdapterProviders` look their
mode up in the tables at the end (``EXCHANGES``, ``MARKET_DATA``, ``ENGINES``,
``STREAMS``, ``EXCHANGE_CHECKS``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from qwentrade.app.settings import Mode, Settings, SettingsError
from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.instruments import DEFAULT_INSTRUMENTS

if TYPE_CHECKING:
    from qwentrade.adapters.okx import OkxExchange
    from qwentrade.adapters.sim import SimEngine
    from qwentrade.adapters.sim.live import Bar
    from qwentrade.adapters.sim.model import Costs
    from qwentrade.app.container.adapters import AdapterProviders
    from qwentrade.domain.instruments import Instrument
    from qwentrade.domain.market import Candle
    from qwentrade.ports.exchange import Exchange, PrivateStream

# The simulated market is one deterministic path: the same seed from the same start, so
# candles stored by one run are the candles the next run sees (upserts never flip-flop).
SIM_SEED = 1
SIM_START = datetime(2025, 1, 1, tzinfo=UTC)


def _check_sim(settings: Settings) -> None:
    unknown = [s for s in settings.symbols if s not in DEFAULT_INSTRUMENTS]
    if unknown:
        raise SettingsError(
            "QWENTRADE_SYMBOLS",
            f"sim mode simulates {', '.join(DEFAULT_INSTRUMENTS)}; it has no instrument "
            f"facts for {', '.join(unknown)}",
        )


def _check_live(settings: Settings) -> None:
    missing = settings.missing_okx_credentials()
    if missing:
        # InvalidInput naming the setting: the CLI prints one line and exits 1, as for an
        # unreachable database (a start that cannot go on, not a malformed value).
        raise InvalidInput(
            missing[0].removeprefix("QWENTRADE_").lower(),
            "live mode needs an OKX API key, secret and passphrase; missing: "
            + ", ".join(missing)
            + " (or use QWENTRADE_MODE=paper: OKX prices, simulated orders, no keys)",
        )


def _no_check(settings: Settings) -> None:
    return None


def _sim_exchange(container: AdapterProviders) -> Exchange:
    from qwentrade.adapters.sim import SimExchange

    return SimExchange(container.sim_engine())


def _okx_exchange(container: AdapterProviders) -> Exchange:
    return container.okx()


def _same_as_orders(container: AdapterProviders) -> Exchange:
    return container.exchange()


def _generated_engine(container: AdapterProviders) -> SimEngine:
    from qwentrade.adapters.sim import GeneratedPath, SimEngine

    settings = container.settings
    _check_sim(settings)
    path = GeneratedPath(settings.symbols, seed=SIM_SEED, start=SIM_START)
    instruments = [DEFAULT_INSTRUMENTS[s] for s in settings.symbols]
    return SimEngine(
        instruments, clock=container.clock(), price_path=path, costs=_sim_costs(container)
    )


def _sim_costs(container: AdapterProviders) -> Callable[[], Costs]:
    """The simulated exchange's spread, slippage and price band, read from the config at
    each fill or placement that needs them (SIM_SPREAD_BPS, SIM_SLIPPAGE_BPS,
    SIM_PRICE_BAND_PERCENT; adapters/sim/model.py)."""
    from decimal import Decimal

    from qwentrade.adapters.sim.model import Costs

    def costs() -> Costs:
        config = container.repositories().config
        return Costs(
            spread_bps=Decimal(str(config.get("SIM_SPREAD_BPS"))),
            slippage_bps=Decimal(str(config.get("SIM_SLIPPAGE_BPS"))),
            price_band=Decimal(str(config.get("SIM_PRICE_BAND_PERCENT"))) / 100,
        )

    return costs


def _paper_engine(container: AdapterProviders) -> SimEngine:
    """A simulated exchange on OKX's closed candles, its clock one bar + grace behind."""
    from qwentrade.adapters.sim import SimEngine
    from qwentrade.adapters.sim.live import LaggedClock, LivePricePath, engine_lag

    okx = container.okx()
    symbols = container.settings.symbols
    instruments = _okx_instruments(okx, symbols)
    real = container.clock()
    bar = _paper_bar(okx, symbols[0], real.now())
    clock = LaggedClock(real, engine_lag(bar))
    path = LivePricePath(
        symbols,
        _okx_candles(okx, bar),
        clock=real,
        start=bar.floor(clock.now()),
        bar=bar,
        funding=okx.funding_rate,
    )
    return SimEngine(instruments, clock=clock, price_path=path, costs=_sim_costs(container))


def _no_engine(container: AdapterProviders) -> SimEngine:
    raise InvalidInput(
        "mode", "live mode trades on OKX itself: it has no simulated exchange (use sim or paper)"
    )


def _okx_instruments(okx: OkxExchange, symbols: tuple[str, ...]) -> list[Instrument]:
    """OKX's facts (contract value, lot, tick) of each configured symbol."""
    listed = {i.inst_id: i for i in okx.instruments()}
    unknown = [s for s in symbols if s not in listed]
    if unknown:
        raise InvalidInput(
            "symbols",
            f"OKX lists no live USDT swap {', '.join(unknown)}; set QWENTRADE_SYMBOLS to "
            "swaps OKX trades, e.g. BTC-USDT-SWAP",
        )
    return [listed[s] for s in symbols]


# 51000 "Parameter bar error": the venue does not serve that bar (the fake OKX server
# builds nothing finer than its 15m path).
BAR_REFUSED = "51000"
PAPER_CANDLE_PAGE = 300  # OKX's most candles per request


def _paper_bar(okx: OkxExchange, symbol: str, now: datetime) -> Bar:
    """1m, unless the venue refuses it (then 15m): one public request at start."""
    from qwentrade.adapters.sim.live import MINUTE, QUARTER
    from qwentrade.domain.errors import ExchangeRejected

    try:
        _okx_candles(okx, MINUTE)(symbol, MINUTE.floor(now) - 2 * MINUTE.duration)
    except ExchangeRejected as e:
        if e.code != BAR_REFUSED:
            raise
        return QUARTER
    return MINUTE


def _okx_candles(okx: OkxExchange, bar: Bar) -> Callable[[str, datetime], list[Candle]]:
    """``fetch(symbol, since)`` for LivePricePath: ONE public ``/market/candles`` request
    for ``bar`` candles opening at or after ``since`` (OKX ``before`` = newer than; the
    newest 300 when there are more), through the permit gate. The OKX exchange's own
    ``candles`` serves the stored timeframes only, so the row is read here."""
    from qwentrade.adapters.okx import wire_market
    from qwentrade.domain.market import to_ms
    from qwentrade.domain.ratelimit import Priority

    def fetch(symbol: str, since: datetime) -> list[Candle]:
        params = {
            "instId": symbol,
            "bar": bar.value,
            "before": str(to_ms(since) - 1),
            "limit": str(PAPER_CANDLE_PAGE),
        }
        rows = okx.rest.request(
            "GET", "market/candles", params, priority=Priority.QUERY, instrument=symbol
        )
        return [wire_market.candle_from_okx(symbol, row) for row in rows]

    return fetch


# OKX's demo-trading private WebSocket (the REST host is the same; a header says demo).
OKX_WS_URL = "wss://ws.okx.com:8443/ws/v5/private"
OKX_DEMO_WS_URL = "wss://wspap.okx.com:8443/ws/v5/private"


def _sim_stream(container: AdapterProviders) -> PrivateStream:
    from qwentrade.adapters.sim import SimPrivateStream

    return SimPrivateStream(container.sim_engine())


def _okx_stream(container: AdapterProviders) -> PrivateStream:
    """OKX's private WebSocket (orders, positions; orders-algo on the business socket),
    signed with the live keys, its clock corrected by the REST adapter's offset."""
    from qwentrade.adapters.okx import OkxPrivateStream
    from qwentrade.adapters.okx.stream_wire import business_url

    settings = container.settings
    okx = container.okx()
    url = settings.okx_ws_url
    if settings.okx_demo and url == OKX_WS_URL:
        url = OKX_DEMO_WS_URL  # demo keys are refused by the production host
    rest = okx.rest
    assert rest.credentials is not None  # live mode: _check_live has run
    offset = rest.clock
    return OkxPrivateStream(
        url,
        rest.credentials,
        business_url=business_url(url),
        config=container.repositories().config,
        time_offset=lambda: offset.offset_ms / 1000,
    )


# What each mode trades on, where its market data comes from, its simulated engine (if
# any), and the check made at build time without building any of them.
STREAMS: dict[Mode, Callable[[AdapterProviders], PrivateStream]] = {
    Mode.SIM: _sim_stream,
    Mode.PAPER: _sim_stream,
    Mode.LIVE: _okx_stream,
}
EXCHANGES: dict[Mode, Callable[[AdapterProviders], Exchange]] = {
    Mode.SIM: _sim_exchange,
    Mode.PAPER: _sim_exchange,
    Mode.LIVE: _okx_exchange,
}
MARKET_DATA: dict[Mode, Callable[[AdapterProviders], Exchange]] = {
    Mode.SIM: _same_as_orders,
    Mode.PAPER: _okx_exchange,
    Mode.LIVE: _okx_exchange,
}
ENGINES: dict[Mode, Callable[[AdapterProviders], SimEngine]] = {
    Mode.SIM: _generated_engine,
    Mode.PAPER: _paper_engine,
    Mode.LIVE: _no_engine,
}
EXCHANGE_CHECKS: dict[Mode, Callable[[Settings], None]] = {
    Mode.SIM: _check_sim,
    Mode.PAPER: _no_check,
    Mode.LIVE: _check_live,
}


def _sim_resume_time(container: AdapterProviders) -> datetime:
    """Where an accelerated simulated market resumes: the latest stored 15m close (an
    earlier run's simulated time may be ahead of the wall clock), else now."""
    from qwentrade.domain.market import Timeframe

    now = datetime.now(UTC)
    try:
        stats = container.kline_index().stats(Timeframe.M15)
    except Exception:  # no schema yet (a command that does not migrate): start now
        return now
    closes = [s.last + Timeframe.M15.duration for s in stats if s.last is not None]
    return max([now, *closes])
