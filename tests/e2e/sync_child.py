"""The process the sync kill trials start (and SIGKILL): the kline sync engine over the
simulated market on an accelerated clock, writing to the database at ``url``.

A forkserver (``multiprocessing``) imports this module once, with everything a trial
needs, so each trial forks a warm interpreter instead of importing qwentrade again. It
only imports: polars must not have started its thread pool before a fork (a forked
child would hang in it).
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime

import psycopg  # noqa: F401  (warm: the PostgreSQL driver)

from qwentrade.adapters.sim import GeneratedPath, SimEngine, SimExchange
from qwentrade.adapters.sim.clock import AcceleratedClock
from qwentrade.adapters.sql import SqlRepositories, make_engine
from qwentrade.adapters.sql.repositories import klines as _klines  # noqa: F401
from qwentrade.adapters.sql.repositories import signals as _signals  # noqa: F401
from qwentrade.adapters.sql.repositories import status as _status  # noqa: F401
from qwentrade.app.backfill import KlineBackfill
from qwentrade.app.detection import DetectionService
from qwentrade.app.sync.engine import SyncEngine
from qwentrade.app.sync.klines import KlineSync
from qwentrade.app.sync.specs import kline_specs
from qwentrade.domain.instruments import DEFAULT_INSTRUMENTS

SEED = 1
SPEED = 1800.0  # two 15m candles per real second
PATH_START = datetime(2025, 1, 1, tzinfo=UTC)


def build(url: str, symbols: tuple[str, ...], clock) -> tuple[SyncEngine, SqlRepositories]:
    """The kline sync engine over the simulated market at ``url`` (migrated already)."""
    repos = SqlRepositories.from_engine(make_engine(url))
    path = GeneratedPath(symbols, seed=SEED, start=PATH_START)
    market = SimExchange(
        SimEngine([DEFAULT_INSTRUMENTS[s] for s in symbols], clock=clock, price_path=path)
    )
    backfill = KlineBackfill(market, repos.klines, clock, config=repos.config)
    detection = DetectionService(repos.klines, repos.signals, clock, repos.config)
    klines = KlineSync(
        market,
        repos.klines,
        backfill,
        repos.config,
        detection=detection,
        signals=repos.signals,
        status=repos.status,
    )
    specs = kline_specs(klines, repos.klines, repos.config)
    return SyncEngine(specs, symbols, clock, repos.status, klines=klines), repos


def run(url: str, symbols: tuple[str, ...], start: datetime) -> None:
    """Start the engine at clock time ``start`` (accelerated) and run until killed."""
    engine, _repos = build(url, symbols, AcceleratedClock(start, SPEED))
    engine.start()
    threading.Event().wait()


def preloaded() -> None:
    """Exit 1 unless this process was forked from a server that had imported this module
    before (the trials' start-up then costs no imports)."""
    import sys

    sys.exit(0 if os.getppid() == _WARMED_IN else 1)


_WARMED_IN = os.getpid()
