"""The composition root: the only module that knows every adapter.

``build(settings)`` returns a :class:`Container`; the CLI, the HTTP service, a notebook
and the tests all start here with different settings. Each provider is a method that
builds its object once, on first call (one database engine, one exchange, one service of
each kind per container), and imports its adapter only then: ``qwentrade config get``
imports the SQL adapter and nothing of the exchange, the indicators or the HTTP app, and
a backfill with nothing missing imports neither the exchange nor polars.

Modes pick two things apart: ``market_data()`` (where candles and funding come from:
backfill, sync) and ``exchange()`` (where orders go):

======  =================================  ==========================================
mode    market_data()                      exchange()
======  =================================  ==========================================
sim     the simulated exchange             the same simulated exchange
paper   OKX public endpoints (no keys)     a simulated exchange on OKX's closed candles
live    OKX (keys required)                the same OKX exchange (one permit gate)
======  =================================  ==========================================

In paper mode the simulated exchange walks OKX's closed 1m candles on a clock one bar and
a grace behind real time (``adapters/sim/live.py`` says why and what it costs); the
candles reach it through a fetch function made here, as the sim adapter never imports
the OKX one.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from qwentrade.app.settings import Mode, Settings, SettingsError
from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.instruments import DEFAULT_INSTRUMENTS

if TYPE_CHECKING:
    import sqlalchemy as sa
    from litestar import Litestar

    from qwentrade.adapters.coinglass import CoinGlassSource
    from qwentrade.adapters.notify import NotifyingRepositories, StreamWatcher
    from qwentrade.adapters.okx import OkxExchange, OkxMarketSource, PermitGate
    from qwentrade.adapters.sim import SimEngine
    from qwentrade.adapters.sim.live import Bar
    from qwentrade.adapters.sim.model import Costs
    from qwentrade.adapters.sql import SqlRepositories
    from qwentrade.adapters.sql.repositories.kline_index import SqlKlineIndex
    from qwentrade.app.backfill import KlineBackfill
    from qwentrade.app.detection import DetectionService
    from qwentrade.app.gaps import KlineGaps
    from qwentrade.app.locks import TradingLeases
    from qwentrade.app.pending import PendingMonitor, PendingOrderService
    from qwentrade.app.policy import SignalPolicy
    from qwentrade.app.reconcile import ReconciliationService
    from qwentrade.app.services import GateCounters, Services, StreamCounters, TableInfo
    from qwentrade.app.sync.engine import SyncEngine
    from qwentrade.app.sync.history import HistorySync
    from qwentrade.app.sync.klines import KlineSync
    from qwentrade.app.sync.market import MarketSync
    from qwentrade.app.system import SystemService
    from qwentrade.app.trading import TradingService
    from qwentrade.domain.instruments import Instrument
    from qwentrade.domain.market import Candle
    from qwentrade.ports.clock import Clock
    from qwentrade.ports.exchange import Exchange, PrivateStream
    from qwentrade.ports.market_data import MarketDataSource
    from qwentrade.ports.notifier import Notifier

# The simulated market is one deterministic path: the same seed from the same start, so
# candles stored by one run are the candles the next run sees (upserts never flip-flop).
SIM_SEED = 1
SIM_START = datetime(2025, 1, 1, tzinfo=UTC)

T = TypeVar("T")


def _once(build: Callable[[Container], T]) -> Callable[[Container], T]:
    """A provider: built on the first call, the same object afterwards (a singleton per
    container; the lock makes two threads asking at once build it once)."""
    name = build.__name__

    @functools.wraps(build)
    def provide(self: Container) -> T:
        with self._lock:
            if name not in self._built:
                self._built[name] = build(self)
            return self._built[name]

    return provide


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


def _sim_exchange(container: Container) -> Exchange:
    from qwentrade.adapters.sim import SimExchange

    return SimExchange(container.sim_engine())


def _okx_exchange(container: Container) -> Exchange:
    return container.okx()


def _same_as_orders(container: Container) -> Exchange:
    return container.exchange()


def _generated_engine(container: Container) -> SimEngine:
    from qwentrade.adapters.sim import GeneratedPath, SimEngine

    settings = container.settings
    _check_sim(settings)
    path = GeneratedPath(settings.symbols, seed=SIM_SEED, start=SIM_START)
    instruments = [DEFAULT_INSTRUMENTS[s] for s in settings.symbols]
    return SimEngine(
        instruments, clock=container.clock(), price_path=path, costs=_sim_costs(container)
    )


def _sim_costs(container: Container) -> Callable[[], Costs]:
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


def _paper_engine(container: Container) -> SimEngine:
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


def _no_engine(container: Container) -> SimEngine:
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


# What each mode trades on, where its market data comes from, its simulated engine (if
# any), and the check made at build time without building any of them.
# OKX's demo-trading private WebSocket (the REST host is the same; a header says demo).
OKX_WS_URL = "wss://ws.okx.com:8443/ws/v5/private"
OKX_DEMO_WS_URL = "wss://wspap.okx.com:8443/ws/v5/private"


def _sim_stream(container: Container) -> PrivateStream:
    from qwentrade.adapters.sim import SimPrivateStream

    return SimPrivateStream(container.sim_engine())


def _okx_stream(container: Container) -> PrivateStream:
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


STREAMS: dict[Mode, Callable[[Container], PrivateStream]] = {
    Mode.SIM: _sim_stream,
    Mode.PAPER: _sim_stream,
    Mode.LIVE: _okx_stream,
}
EXCHANGES: dict[Mode, Callable[[Container], Exchange]] = {
    Mode.SIM: _sim_exchange,
    Mode.PAPER: _sim_exchange,
    Mode.LIVE: _okx_exchange,
}
MARKET_DATA: dict[Mode, Callable[[Container], Exchange]] = {
    Mode.SIM: _same_as_orders,
    Mode.PAPER: _okx_exchange,
    Mode.LIVE: _okx_exchange,
}
ENGINES: dict[Mode, Callable[[Container], SimEngine]] = {
    Mode.SIM: _generated_engine,
    Mode.PAPER: _paper_engine,
    Mode.LIVE: _no_engine,
}
EXCHANGE_CHECKS: dict[Mode, Callable[[Settings], None]] = {
    Mode.SIM: _check_sim,
    Mode.PAPER: _no_check,
    Mode.LIVE: _check_live,
}


class Container:
    """Providers from settings to services: call one to get its (single) object."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.RLock()
        self._built: dict[str, Any] = {}

    def mode(self) -> str:
        return self.settings.mode.value

    @_once
    def clock(self) -> Clock:
        """Real time; in sim mode with ``QWENTRADE_SIM_SPEED`` other than 1, simulated time
        running that many times faster, resumed where the stored candles end (never
        earlier than now), so a restart continues the simulated market."""
        from qwentrade.adapters.sim.clock import AcceleratedClock, RealClock

        speed = self.settings.sim_speed
        if self.settings.mode is not Mode.SIM or speed is None or speed == 1:
            return RealClock()
        return AcceleratedClock(_sim_resume_time(self), speed)

    @_once
    def database(self) -> sa.Engine:
        from qwentrade.adapters.sql.engine import make_engine

        return make_engine(self.settings.database_url)

    @_once
    def repositories(self) -> SqlRepositories:
        from qwentrade.adapters.sql.repositories import SqlRepositories

        return SqlRepositories.from_engine(self.database())

    @_once
    def kline_index(self) -> SqlKlineIndex:
        """``missing_closes`` and ``stats`` of the klines tables, without the candle code."""
        from qwentrade.adapters.sql.repositories.kline_index import SqlKlineIndex

        return SqlKlineIndex(self.database())

    @_once
    def sim_engine(self) -> SimEngine:
        """The simulated exchange: on the generated market (sim) or on OKX's closed
        candles (paper); live has none."""
        return ENGINES[self.settings.mode](self)

    @_once
    def permit_gate(self) -> PermitGate:
        """The one permit gate of this process's OKX calls (limits from the config table)."""
        from qwentrade.adapters.okx import PermitGate

        return PermitGate(self.repositories().config)

    @_once
    def okx(self) -> OkxExchange:
        """OKX at ``okx_rest_url``: signed with the three keys in live mode, public only
        (no keys) in paper mode."""
        from qwentrade.adapters.okx import OkxCredentials, OkxExchange

        settings = self.settings
        credentials = None
        if settings.mode is Mode.LIVE:
            _check_live(settings)
            key, secret, passphrase = (
                settings.okx_api_key,
                settings.okx_secret,
                settings.okx_passphrase,
            )
            assert key and secret and passphrase  # _check_live
            credentials = OkxCredentials(key.reveal(), secret.reveal(), passphrase.reveal())
        return OkxExchange(
            self.permit_gate(),
            rest_url=settings.okx_rest_url,
            credentials=credentials,
            demo=settings.okx_demo,
            config=self.repositories().config,
        )

    @_once
    def exchange(self) -> Exchange:
        """Where orders go: the simulated exchange (sim, paper) or OKX (live)."""
        return EXCHANGES[self.settings.mode](self)

    @_once
    def private_stream(self) -> PrivateStream:
        """Account updates of the order venue: the simulated exchange's (sim, paper) or
        OKX's private WebSocket (live; OKX's demo host with ``QWENTRADE_OKX_DEMO``)."""
        return STREAMS[self.settings.mode](self)

    @_once
    def market_data(self) -> Exchange:
        """Where candles and funding come from: the simulated market (sim) or OKX."""
        return MARKET_DATA[self.settings.mode](self)

    @_once
    def coinglass(self) -> CoinGlassSource:
        """CoinGlass v4 at ``coinglass_url`` with ``QWENTRADE_COINGLASS_API_KEY``; only when
        a key is set (otherwise ``InvalidInput`` naming the setting)."""
        from qwentrade.adapters.coinglass import CoinGlassClient, CoinGlassSource

        key = self.settings.coinglass_api_key
        if key is None:
            raise InvalidInput(
                "coinglass_api_key", "no CoinGlass key: set QWENTRADE_COINGLASS_API_KEY"
            )
        return CoinGlassSource(CoinGlassClient(key, base_url=self.settings.coinglass_url))

    @_once
    def okx_statistics(self) -> OkxMarketSource:
        """OKX's own public statistics (open interest, long/short ratio, liquidations;
        recent history only), through the OKX exchange's permit gate; no keys needed."""
        from qwentrade.adapters.okx import OkxMarketSource

        return OkxMarketSource(self.okx())

    @_once
    def market_sync(self) -> MarketSync:
        """The market-data jobs: funding and order books from ``market_data()``; open
        interest, sentiment and liquidations from CoinGlass with a key, else from OKX's
        statistics; ETF flows and fear & greed from CoinGlass only. ``sim`` runs offline:
        the kinds with no source there are disabled with the reason."""
        from qwentrade.app.sync.market import MarketSync

        repositories = self.repositories()
        offline = self.settings.mode is Mode.SIM
        coinglass: MarketDataSource | None = None
        okx_statistics: MarketDataSource | None = None
        history_start = None
        if not offline and self.settings.coinglass_api_key is not None:
            coinglass = self.coinglass()
        elif not offline:
            from qwentrade.adapters.okx.market_source import history_start

            okx_statistics = self.okx_statistics()
        return MarketSync(
            self.market_data(),
            repositories.market,
            repositories.config,
            self.clock(),
            coinglass,
            okx_statistics,
            okx_history_start=history_start,
            offline=offline,
        )

    @_once
    def history_sync(self) -> HistorySync:
        """The order and position history of the order venue (``exchange()``); it follows
        the private stream once the stream's consumer hands it the events (``record``)."""
        from qwentrade.app.sync.history import HistorySync

        repositories = self.repositories()

        def stream_connected() -> bool:
            stream = self._built.get("private_stream")
            return bool(stream is not None and stream.connected)

        return HistorySync(
            self.exchange(),
            repositories.history,
            repositories.config,
            self.clock(),
            stream_connected,
        )

    @_once
    def gaps(self) -> KlineGaps:
        from qwentrade.app.gaps import KlineGaps

        return KlineGaps(self.kline_index(), self.clock(), self.repositories().config)

    @_once
    def backfill(self) -> KlineBackfill:
        from qwentrade.app.backfill import KlineBackfill

        repositories = self.repositories()
        return KlineBackfill(
            self.market_data(), repositories.klines, self.clock(), config=repositories.config
        )

    @_once
    def detection(self) -> DetectionService:
        from qwentrade.app.detection import DetectionService

        repositories = self.repositories()
        return DetectionService(
            repositories.klines, repositories.signals, self.clock(), repositories.config
        )

    @_once
    def trading_leases(self) -> TradingLeases:
        """This instance's hold on the symbols it trades (rows in ``trading_lease``)."""
        from qwentrade.adapters.sql.repositories.trading import SqlLeaseRepository
        from qwentrade.app.locks import TradingLeases

        return TradingLeases(
            SqlLeaseRepository(self.database()),
            self.clock(),
            self.repositories().config,
            symbols=self.settings.symbols,
        )

    @_once
    def trading(self) -> TradingService:
        """Open/add/reduce/close positions on the order venue (``exchange()``)."""
        from qwentrade.app.trading import TradingService

        repositories = self.repositories()
        return TradingService(
            self.exchange(),
            self.notifying_repositories(),  # opens, adds, reduces, closes are notified
            repositories.config,
            self.clock(),
            leases=self.trading_leases(),
        )

    @_once
    def pending_orders(self) -> PendingOrderService:
        """Pending trigger orders: they open through ``trading()`` when price crosses."""
        from qwentrade.app.pending import PendingOrderService

        repositories = self.repositories()
        return PendingOrderService(
            self.notifying_repositories().pending,  # triggers and expiries are notified
            self.trading(),
            self.exchange(),
            repositories.config,
            self.clock(),
        )

    @_once
    def pending_monitor(self) -> PendingMonitor:
        """Checks pending orders every ``PENDING_MONITOR_INTERVAL`` seconds."""
        from qwentrade.app.pending import PendingMonitor

        return PendingMonitor(self.pending_orders(), self.repositories().config, self.clock())

    @_once
    def signal_policy(self) -> SignalPolicy:
        """Trades on signals (``POLICY_*`` keys; on by default in sim and paper): each new
        signal the sync engine stores, and a pass every ``POLICY_INTERVAL`` seconds."""
        from qwentrade.app.policy import SignalPolicy

        repositories = self.repositories()
        policy = SignalPolicy(
            self.trading(),
            self.pending_orders(),
            repositories.signals,
            repositories.klines,
            repositories.config,
            self.clock(),
            self.mode(),
        )
        self.sync_engine().subscribe(policy.on_signal)
        return policy

    @_once
    def reconciler(self) -> ReconciliationService:
        """Reconciliation (at start, after each private-stream reconnect, periodically) and
        the private-stream consumer, on the order venue and its stream; stream orders and
        positions go to ``history_sync()`` when this build has it."""
        from qwentrade.app.reconcile import ReconciliationService

        repositories = self.repositories()
        history = getattr(self, "history_sync", None)
        return ReconciliationService(
            self.exchange(),
            self.notifying_repositories(),  # adoptions and external closes are notified
            self.trading(),
            None if history is None else history(),
            repositories.config,
            self.clock(),
            self.private_stream(),
        )

    @_once
    def kline_sync(self) -> KlineSync:
        """The candle jobs (klines_15m/4h/1d) with detection on each new 15m close."""
        from qwentrade.app.sync.klines import KlineSync

        repositories = self.repositories()
        return KlineSync(
            self.market_data(),
            repositories.klines,
            self.backfill(),
            repositories.config,
            detection=self.detection(),
            signals=repositories.signals,
            status=repositories.status,
        )

    @_once
    def sync_engine(self) -> SyncEngine:
        """Every sync job of the configured symbols on one scheduler (app/sync/specs.py):
        candles with detection, the seven market kinds, the account's history."""
        from qwentrade.app.sync.engine import SyncEngine
        from qwentrade.app.sync.specs import history_specs, kline_specs, market_specs

        repositories = self.repositories()
        config = repositories.config
        klines = self.kline_sync()
        specs = (
            kline_specs(klines, repositories.klines, config)
            + market_specs(self.market_sync(), repositories.market, config)
            + history_specs(self.history_sync(), config)
        )
        return SyncEngine(
            specs, self.settings.symbols, self.clock(), repositories.status, klines=klines
        )

    def background_components(self) -> list[tuple[str, Any]]:
        """The long-running components ``qwentrade serve`` starts, in this order (and
        stops in reverse): ``(name, component)`` pairs with ``start()``/``stop(timeout)``."""
        return [
            ("notifier", self.notifications()),  # first: stopped last, it flushes its queue
            ("trading-leases", self.trading_leases()),
            ("reconciliation", self.reconciler()),
            ("stream-watch", self.stream_watcher()),
            ("sync", self.sync_engine()),
            ("pending-monitor", self.pending_monitor()),
            ("signal-policy", self.signal_policy()),
        ]

    @_once
    def notifier(self) -> Notifier:
        """Where notifications go: the Apprise URLs of ``QWENTRADE_NOTIFY_URLS`` (a
        background queue: ``start()``/``stop()``); without any, a MemoryNotifier that keeps
        the last ones. Kinds are switched and rate-limited by the ``NOTIFY_*`` keys."""
        from qwentrade.adapters.notify import AppriseNotifier, MemoryNotifier
        from qwentrade.app.settings import notify_url_list

        config = self.repositories().config
        urls = notify_url_list(self.settings.notify_urls)
        if not urls:
            return MemoryNotifier(config, self.clock())
        return AppriseNotifier(urls, config, self.clock(), secrets=self.settings.secrets())

    @_once
    def notifying_repositories(self) -> NotifyingRepositories:
        """``repositories()`` whose intents, relations and pending orders tell the notifier
        what a stored change means (a position opened, closed by its stop-loss, ...)."""
        from qwentrade.adapters.notify import NotifyingRepositories

        return NotifyingRepositories(self.repositories(), self.notifier())

    @_once
    def notifications(self) -> Notifier:
        """``notifier()`` with the sync engine's sources wired: each new signal, and a job
        failing ``NOTIFY_SYNC_FAILING_RUNS`` runs in a row (the trading sources go through
        ``notifying_repositories()``, the HTTP key refusals through ``http_app()``)."""
        from qwentrade.adapters.notify import SyncFailureListener
        from qwentrade.domain.notify import signal_notice

        notifier = self.notifier()
        engine = self.sync_engine()
        engine.subscribe(lambda signal: notifier.send(signal_notice(signal)))
        engine.on_run(SyncFailureListener(notifier, self.repositories().config))
        return notifier

    @_once
    def stream_watcher(self) -> StreamWatcher:
        """Tells the private stream down for more than ``NOTIFY_STREAM_DOWN_SECONDS``."""
        from qwentrade.adapters.notify import StreamWatcher

        stream = self.private_stream()
        return StreamWatcher(
            lambda: stream.connected, self.notifier(), self.repositories().config, self.clock()
        )

    @_once
    def system(self) -> SystemService:
        from qwentrade.app.system import SystemService

        # Component checks run in the HTTP adapter's health monitor (off the event loop,
        # with a timeout): see services().health_checks.
        return SystemService(mode=self.mode())

    @_once
    def services(self) -> Services:
        """The bundle the HTTP adapter serves (services this build lacks stay None)."""
        from qwentrade.app.services import Services

        repositories = self.repositories()
        optional = {
            name: getattr(self, provider)()
            for name, provider in (("trading", "trading"), ("pending", "pending_orders"))
            if hasattr(self, provider)
        }
        return Services(
            system=self.system(),
            mode=self.mode(),
            symbols=self.settings.symbols,
            clock=self.clock(),
            config=repositories.config,
            klines=repositories.klines,
            signals=repositories.signals,
            history=repositories.history,
            intents=repositories.intents,
            relations=repositories.relations,
            status=repositories.status,
            detection=self.detection(),
            sync=self.sync_engine(),
            health_checks=_health_checks(self),
            database_test=functools.partial(_database_test, self.database()),
            database_tables=functools.partial(_database_tables, self.database()),
            gate_state=functools.partial(_gate_counters, self),
            stream_state=functools.partial(_stream_counters, self),
            **optional,
        )

    def api_key_digest(self) -> str | None:
        """The digest of the HTTP API key: of ``QWENTRADE_API_KEY`` when set, else the one
        stored at first start (``qwentrade serve`` generates it), else None."""
        from qwentrade.app.services import API_KEY_COMPONENT, api_key_digest

        if self.settings.api_key:
            return api_key_digest(self.settings.api_key.reveal())
        stored = self.repositories().status.get(API_KEY_COMPONENT)
        return stored.note if stored and stored.note else None

    @_once
    def http_app(self) -> Litestar:
        from qwentrade.adapters.http.app import HttpSettings, create_app

        settings = self.settings
        http = HttpSettings(
            api_key_digest=self.api_key_digest(),
            open_reads=settings.http_open_reads,
            cors_origins=settings.http_cors_origins,
            max_body_bytes=settings.http_max_body_bytes,
        )
        app = create_app(self.services(), http)
        notifier, clock = self.notifier(), self.clock()

        def on_auth_failure(method: str, route: str, client: str, reason: str) -> None:
            from qwentrade.domain.notify import auth_failure_notice

            notifier.send(auth_failure_notice(method, route, client, reason, clock.now()))

        app.state["on_auth_failure"] = on_auth_failure  # adapters/http/auth.py calls it
        return app


def _sim_resume_time(container: Container) -> datetime:
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


def _health_checks(container: Container) -> dict[str, Callable[[], str]]:
    """The components ``/health`` reports: database, exchange, private stream, scheduler."""
    from qwentrade.app.services import ComponentDisabled

    database = container.database()

    def check_database() -> str:
        with database.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
        return ""

    def check_exchange() -> str:
        return f"server time {container.exchange().server_time().isoformat()}"

    def check_stream() -> str:
        if "private_stream" not in container._built:
            raise ComponentDisabled("not started by this process")
        if not container.private_stream().connected:
            raise ConnectionError("the private stream is not delivering events")
        return "connected"

    def check_scheduler() -> str:
        engine = container._built.get("sync_engine")
        if engine is None or getattr(engine, "_scheduler", None) is None:
            raise ComponentDisabled("the sync engine is not started in this process")
        if engine.stop_event.is_set():
            raise RuntimeError("the sync engine has stopped")
        failing = [job["job"] for job in engine.status() if job["state"] == "FAILING"]
        return f"running; failing: {', '.join(failing)}" if failing else "running"

    return {
        "database": check_database,
        "exchange": check_exchange,
        "private_stream": check_stream,
        "scheduler": check_scheduler,
    }


def _database_test(engine: sa.Engine) -> str:
    """``<dialect> <server version>, schema <revision>`` after one round trip."""
    with engine.connect() as connection:
        revision = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        version = ".".join(str(part) for part in (engine.dialect.server_version_info or ()))
    return f"{engine.dialect.name} {version}, schema {revision}"


def _database_tables(engine: sa.Engine) -> list[TableInfo]:
    """Every table of the database (of its schema) with its exact row count."""
    import sqlalchemy as sa

    from qwentrade.app.services import TableInfo

    with engine.connect() as connection:
        names = sorted(sa.inspect(connection).get_table_names())
        count = sa.select(sa.func.count())
        return [
            TableInfo(name, connection.execute(count.select_from(sa.table(name))).scalar_one())
            for name in names
        ]


def _gate_counters(container: Container) -> GateCounters | None:
    """The permit gate's counters, when this process has built one (OKX calls)."""
    from qwentrade.app.services import GateCounters

    gate = container._built.get("permit_gate")
    if gate is None:
        return None
    state = gate.state()

    def named(values: Any) -> dict[str, Any]:
        return {priority.name: value for priority, value in values.items()}

    return GateCounters(
        waiting=named(state.waiting),
        admitted=named(state.admitted),
        total_wait_seconds=named(state.total_wait),
        max_wait_seconds=named(state.max_wait),
        timed_out=named(state.timed_out),
    )


def _stream_counters(container: Container) -> StreamCounters | None:
    """The private stream's state, when this process has started it."""
    from qwentrade.app.services import StreamCounters

    stream = container._built.get("private_stream")
    if stream is None:
        return None
    state = getattr(stream, "state", None)
    reconnects = state().reconnects if callable(state) else 0
    return StreamCounters(connected=bool(stream.connected), reconnects=reconnects)


def prepare_database(container: Container) -> str:
    """Migrate the database to head (refusing one newer than the code); the revision.

    A database already at head costs one query: Alembic is imported only to migrate."""
    from qwentrade.adapters.sql import ensure_schema

    return ensure_schema(container.database())


def build(settings: Settings) -> Container:
    """A container for ``settings``. What a mode needs is checked here without building
    anything (sim: symbols it simulates; live: the three OKX keys, ``InvalidInput`` naming
    the first missing variable), so a start that cannot work stops at once with one clear
    error; the exchange itself is built on first use."""
    EXCHANGE_CHECKS[settings.mode](settings)
    return Container(settings)
