"""A sync world for the engine tests: memory repositories, the simulated exchange on a
manual clock (``manual_clock.ManualClock``), and exchange wrappers that count, fail or
hold back candles."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import attrs

from manual_clock import ManualClock
from qwentrade.adapters.memory import MemoryRepositories
from qwentrade.adapters.sim import GeneratedPath, SimEngine, SimExchange
from qwentrade.app.backfill import KlineBackfill
from qwentrade.app.detection import DetectionService
from qwentrade.app.sync.engine import SyncEngine
from qwentrade.app.sync.klines import KlineSync
from qwentrade.app.sync.specs import kline_specs
from qwentrade.domain.errors import ExchangeUnavailable
from qwentrade.domain.instruments import DEFAULT_INSTRUMENTS

SYMBOLS = ("BTC-USDT-SWAP", "ETH-USDT-SWAP")
START = datetime(2025, 1, 1, tzinfo=UTC)
NOW = datetime(2025, 3, 1, 0, 0, 30, tzinfo=UTC)


class Venue:
    """The simulated exchange behind switches: candle requests counted per series, a
    symbol's source failing, the newest close held back unconfirmed (as OKX before it
    confirms a candle)."""

    def __init__(self, exchange: SimExchange) -> None:
        self._exchange = exchange
        self.calls: Counter[tuple[str, str]] = Counter()
        self.failing: set[str] = set()
        self.unconfirmed_newest = False
        self._lock = threading.Lock()

    def candles(self, symbol, timeframe, span=None, limit=100):
        with self._lock:
            self.calls[(symbol, timeframe.label)] += 1
        if symbol in self.failing:
            raise ExchangeUnavailable(f"{symbol}: the venue does not answer")
        candles = self._exchange.candles(symbol, timeframe, span, limit)
        if self.unconfirmed_newest:
            candles = [
                attrs.evolve(c, confirmed=False) if i == len(candles) - 1 else c
                for i, c in enumerate(candles)
            ]
        return candles

    def __getattr__(self, name):
        return getattr(self._exchange, name)


class CountingDetection:
    """The detection service, counting the closes it judged."""

    def __init__(self, service: DetectionService) -> None:
        self._service = service
        self.judged: Counter[tuple[str, datetime]] = Counter()

    @property
    def params(self):
        return self._service.params

    def detect(self, symbol, at=None, store=True):
        self.judged[(symbol, at)] += 1
        return self._service.detect(symbol, at=at, store=store)


@attrs.define
class World:
    clock: ManualClock
    venue: Venue
    repos: MemoryRepositories
    detection: CountingDetection
    symbols: tuple[str, ...] = SYMBOLS

    def klines(self) -> KlineSync:
        backfill = KlineBackfill(self.venue, self.repos.klines, self.clock)
        return KlineSync(
            self.venue,
            self.repos.klines,
            backfill,
            self.repos.config,
            detection=self.detection,  # type: ignore[arg-type]
            signals=self.repos.signals,
            status=self.repos.status,
        )

    def engine(self, extra_specs=(), **kwargs) -> SyncEngine:
        klines = self.klines()
        specs = kline_specs(klines, self.repos.klines, self.repos.config) + list(extra_specs)
        return SyncEngine(
            specs, self.symbols, self.clock, self.repos.status, klines=klines, **kwargs
        )


def make_world(
    now: datetime = NOW,
    symbols: tuple[str, ...] = SYMBOLS,
    days: tuple[int, int, int] = (3, 12, 20),
) -> World:
    clock = ManualClock(now)
    path = GeneratedPath(symbols, seed=11, start=START)
    engine = SimEngine([DEFAULT_INSTRUMENTS[s] for s in symbols], clock=clock, price_path=path)
    repos = MemoryRepositories()
    for key, value in zip(
        ("KLINE_15M_START_DAYS", "KLINE_4H_START_DAYS", "KLINE_1D_START_DAYS"), days, strict=True
    ):
        repos.config.set(key, value)
    detection = CountingDetection(
        DetectionService(repos.klines, repos.signals, clock, repos.config)
    )
    return World(clock, Venue(SimExchange(engine)), repos, detection, symbols)


def eventually(predicate: Callable[[], object], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {timeout} s")
        time.sleep(0.002)
