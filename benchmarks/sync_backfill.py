"""Sync engine: a year of candle backfill for 3 symbols in sim, and close-to-signal lag.

1. Backfill. On an empty database, the kline jobs (``SyncEngine.run_once``) fill 365 days
   of 15m, 4h and 1d candles with indicators for three symbols from the simulated
   exchange. Printed per series: rows stored, candle requests made and the limit
   ceil(missing / 300); then the median wall time of ``--repeat`` runs beside a reference
   measured in the same run: the same pages fetched from the simulated exchange without
   storing anything (the ratio is what storing with indicators costs on top).
2. Lag. Then the clock steps through ``--closes`` 15m closes; at each close plus
   ``KLINE_SYNC_DELAY`` the 15m jobs run (fetch the close, store it with indicators,
   judge it, store a signal when one fires). The lag from a candle's close to its stored
   signal is that delay plus the run's wall time: medians over all closes and over the
   closes that stored a signal.

    .venv/bin/python benchmarks/sync_backfill.py [--url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from qwentrade.adapters.sim import GeneratedPath, SimEngine, SimExchange
from qwentrade.adapters.sim.clock import SteppedClock
from qwentrade.adapters.sql import SqlRepositories, make_engine, upgrade
from qwentrade.app.backfill import PAGE_SIZE, KlineBackfill
from qwentrade.app.detection import DetectionService
from qwentrade.app.sync.engine import SyncEngine
from qwentrade.app.sync.klines import KlineSync
from qwentrade.app.sync.specs import kline_specs
from qwentrade.domain.instruments import DEFAULT_INSTRUMENTS
from qwentrade.domain.market import Timeframe
from qwentrade.domain.series import STORED_TIMEFRAMES, closed_span, missing_ranges, plan_pages

SYMBOLS = ("BTC-USDT-SWAP", "ETH-USDT-SWAP", "SOL-USDT-SWAP")
DAYS = 365
NOW = datetime(2026, 1, 1, 0, 0, 5, tzinfo=UTC)
PATH_START = datetime(2024, 6, 1, tzinfo=UTC)


class Counting:
    """The simulated exchange, counting candle requests per series."""

    def __init__(self, exchange: SimExchange) -> None:
        self._exchange = exchange
        self.calls: Counter[tuple[str, Timeframe]] = Counter()

    def candles(self, symbol, timeframe, span=None, limit=100):
        self.calls[(symbol, timeframe)] += 1
        return self._exchange.candles(symbol, timeframe, span, limit)

    def __getattr__(self, name):
        return getattr(self._exchange, name)


def world(url: str, clock: SteppedClock) -> tuple[SyncEngine, Counting, SqlRepositories]:
    engine = make_engine(url)
    upgrade(engine)
    repos = SqlRepositories.from_engine(engine)
    for timeframe in STORED_TIMEFRAMES:
        repos.config.set(f"KLINE_{timeframe.value.upper()}_START_DAYS", DAYS)
    path = GeneratedPath(SYMBOLS, seed=1, start=PATH_START)
    market = Counting(
        SimExchange(
            SimEngine([DEFAULT_INSTRUMENTS[s] for s in SYMBOLS], clock=clock, price_path=path)
        )
    )
    klines = KlineSync(
        market,  # type: ignore[arg-type]
        repos.klines,
        KlineBackfill(market, repos.klines, clock, config=repos.config),  # type: ignore[arg-type]
        repos.config,
        detection=DetectionService(repos.klines, repos.signals, clock, repos.config),
        signals=repos.signals,
        status=repos.status,
    )
    specs = kline_specs(klines, repos.klines, repos.config)
    return SyncEngine(specs, SYMBOLS, clock, repos.status, klines=klines), market, repos


def fetch_only(clock: SteppedClock) -> float:
    """The reference: the same pages from the simulated exchange, nothing stored."""
    path = GeneratedPath(SYMBOLS, seed=1, start=PATH_START)
    exchange = SimExchange(
        SimEngine([DEFAULT_INSTRUMENTS[s] for s in SYMBOLS], clock=clock, price_path=path)
    )
    now = clock.now()
    started = time.perf_counter()
    for symbol in SYMBOLS:
        for timeframe in STORED_TIMEFRAMES:
            span = closed_span(timeframe, now - timedelta(days=DAYS), now)
            opens = [span.start + i * timeframe.duration for i in range(_count(span, timeframe))]
            for page in plan_pages(timeframe, missing_ranges(timeframe, opens), PAGE_SIZE):
                exchange.candles(symbol, timeframe, span=page, limit=PAGE_SIZE)
    return time.perf_counter() - started


def _count(span, timeframe: Timeframe) -> int:
    return (span.end - span.start) // timeframe.duration


def backfill(url_for, repeat: int) -> tuple[SyncEngine, SteppedClock, SqlRepositories]:
    times, references = [], []
    kept = None
    for run in range(repeat):
        clock = SteppedClock(NOW)
        url = url_for(run)
        engine, market, repos = world(url, clock)
        started = time.perf_counter()
        results = engine.run_once()
        times.append(time.perf_counter() - started)
        references.append(fetch_only(SteppedClock(NOW)))
        assert {r.state for r in results} == {"OK"}, results
        if run == 0:
            print(f"{DAYS} days of candles for {len(SYMBOLS)} symbols, from empty:")
            print(f"  {'series':<22} {'rows':>7} {'requests':>9} {'limit':>6}")
            for symbol in SYMBOLS:
                for timeframe in STORED_TIMEFRAMES:
                    span = closed_span(timeframe, NOW - timedelta(days=DAYS), NOW)
                    expected = _count(span, timeframe)
                    rows = repos.klines.range(symbol, timeframe).height
                    limit = math.ceil(expected / PAGE_SIZE)
                    calls = market.calls[(symbol, timeframe)]
                    flag = "" if rows == expected and calls <= limit else "  <- WRONG"
                    print(
                        f"  {symbol + ' ' + timeframe.label:<22} {rows:>7} {calls:>9} "
                        f"{limit:>6}{flag}"
                    )
            restarted, fresh, _ = world(url, clock)  # a second start on the same database
            second = restarted.run_once()
            print(
                f"  a second start: {sum(r.rows for r in second)} rows, "
                f"{sum(fresh.calls.values())} requests"
            )
        kept = (engine, clock, repos)
    median, reference = statistics.median(times), statistics.median(references)
    print(
        f"  backfill {median:.2f} s (median of {repeat}); the same pages fetched without "
        f"storing {reference:.2f} s: {median / reference:.1f}x"
    )
    assert kept is not None
    return kept


def lag(engine: SyncEngine, clock: SteppedClock, repos: SqlRepositories, closes: int) -> None:
    delay = float(repos.config.get("KLINE_SYNC_DELAY"))
    all_runs, with_signal = [], []
    step = Timeframe.M15.duration
    for _ in range(closes):
        clock.set(Timeframe.M15.floor(clock.now()) + step + timedelta(seconds=delay))
        for symbol in SYMBOLS:
            before = len(repos.signals.find(symbol=symbol, limit=None))
            started = time.perf_counter()
            engine.run_once(kinds=["klines_15m"], symbols=[symbol])
            seconds = time.perf_counter() - started
            all_runs.append(delay + seconds)
            if len(repos.signals.find(symbol=symbol, limit=None)) > before:
                with_signal.append(delay + seconds)
    print(f"close -> stored signal, {closes} closes x {len(SYMBOLS)} symbols:")
    print(
        f"  KLINE_SYNC_DELAY {delay:g} s + one symbol's 15m run: median "
        f"{statistics.median(all_runs):.3f} s (all {len(all_runs)} runs)"
        + (
            f", {statistics.median(with_signal):.3f} s over the {len(with_signal)} runs "
            "that stored a signal"
            if with_signal
            else ", no signal fired"
        )
    )
    print(f"  the run alone: {statistics.median(all_runs) - delay:.3f} s median")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="PostgreSQL URL (default: a temporary SQLite file)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--closes", type=int, default=48)
    args = parser.parse_args()
    created: list[str] = []
    admin = None
    with tempfile.TemporaryDirectory() as directory:
        if args.url:
            admin = make_engine(args.url).execution_options(isolation_level="AUTOCOMMIT")

            def url_for(run: int) -> str:
                name = f"qt_bench_sync_{uuid.uuid4().hex[:8]}"
                with admin.connect() as connection:
                    connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
                created.append(name)
                return sa.make_url(args.url).set(database=name).render_as_string(False)
        else:

            def url_for(run: int) -> str:
                return f"sqlite:///{Path(directory) / f'bench{run}.db'}"

        try:
            engine, clock, repos = backfill(url_for, args.repeat)
            lag(engine, clock, repos, args.closes)
        finally:
            for name in created:
                assert admin is not None
                with admin.connect() as connection:
                    connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
