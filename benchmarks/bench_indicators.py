"""Indicators: the whole set on short frames (100, 300, 600 candles) and over 1,000,000
candles, against TA-Lib in the same run, and the incremental update per candle.

    .venv/bin/python benchmarks/bench_indicators.py [candles.csv] [--rows N] [--runs 5]

The CSV (``ts_ms,open,high,low,close,volume``, as in ``data/candles``) replaces the
generated candles. Both sides compute EMA 9/21/55, RSI 7, MACD 8/17/9, Bollinger 20/2 with
its width, ATR 14, OBV and its EMA 9, ADX 14, and both keep their results: qwentrade as
the columns of the frame ``compute`` returns (validation included), TA-Lib as its 16
arrays plus the width. Runs alternate between the two; the medians and their ratio are
printed, with process CPU time beside wall time (the machine is shared: CPU time shows
the work, wall time what a caller waits). ``compute`` runs TA-Lib's own functions for
the recurrences, so what it adds is the input checks, its own (exact) Bollinger Bands and
building the frame.

Short frames: ``compute()`` (validation, every column, the frame) against TA-Lib's whole
set, each the median over runs of the mean of many calls; the target holds each of them
to 3x TA-Lib's time on the largest (600 candles). One core: the 1,000,000-candle
comparison again with the process pinned to one CPU (``os.sched_setaffinity``), so
``compute`` does not split its work over two threads, in CPU time (``process_time``).
The load average is printed before and after: the figures depend on it.

OPENBLAS_NUM_THREADS defaults to 1 here: the library's matrix products are small and
single-threaded anyway, and OpenBLAS threads only compete with its own two workers.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
import talib

from qwentrade.domain.indicators import IncrementalIndicators, IndicatorParams, compute
from qwentrade.testing.builders import synthetic_candles

WHOLE_SET_TARGET = 1.5  # x TA-Lib's time
ONE_CORE_TARGET = 1.5  # x TA-Lib's CPU time, both on one core
SMALL_TARGET = 3.0  # every short frame, x TA-Lib's time at the largest
SMALL_ROWS = (100, 300, 600)
UPDATE_TARGET_US = 10.0


def load(path: Path | None, rows: int) -> pl.DataFrame:
    if path is None:
        return synthetic_candles(rows)
    return pl.read_csv(path).select(
        pl.from_epoch("ts_ms", time_unit="ms").dt.replace_time_zone("UTC").alias("time"),
        *(pl.col(name).cast(pl.Float64) for name in ("open", "high", "low", "close", "volume")),
    )


def talib_whole_set(candles: pl.DataFrame) -> Callable[[], dict[str, np.ndarray]]:
    high, low, close, volume = (
        candles[name].to_numpy() for name in ("high", "low", "close", "volume")
    )

    def run() -> dict[str, np.ndarray]:
        out = {f"ema_{period}": talib.EMA(close, period) for period in (9, 21, 55)}
        out["rsi_7"] = talib.RSI(close, 7)
        out["macd_line"], out["signal_line"], out["histogram"] = talib.MACD(close, 8, 17, 9)
        upper, middle, lower = talib.BBANDS(close, 20, 2.0, 2.0)
        out["bb_upper"], out["bb_middle"], out["bb_lower"] = upper, middle, lower
        out["bb_width"] = (upper - lower) / middle
        out["atr_14"] = talib.ATR(high, low, close, 14)
        out["obv"] = talib.OBV(close, volume)
        out["obv_ema_9"] = talib.EMA(out["obv"], 9)
        out["adx_14"] = talib.ADX(high, low, close, 14)
        return out

    return run


def timed(work: Callable[[], object]) -> tuple[float, float]:
    """(wall, cpu) seconds of one call; the result is dropped only after the clock stops."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    del result
    return wall, cpu


def whole_set(candles: pl.DataFrame, runs: int) -> float:
    contenders = {
        "qwentrade": lambda: compute(candles),
        "TA-Lib": talib_whole_set(candles),
    }
    walls: dict[str, list[float]] = {name: [] for name in contenders}
    cpus: dict[str, list[float]] = {name: [] for name in contenders}
    for work in contenders.values():
        timed(work)  # warm-up
    for _ in range(runs):
        for name, work in contenders.items():
            wall, cpu = timed(work)
            walls[name].append(wall)
            cpus[name].append(cpu)
    print(f"whole set, {candles.height:,} candles, median of {runs} runs:")
    for name in contenders:
        wall, fastest = statistics.median(walls[name]) * 1e3, min(walls[name]) * 1e3
        cpu = statistics.median(cpus[name]) * 1e3
        print(f"  {name:10s} {wall:8.1f} ms wall  (min {fastest:6.1f})  {cpu:8.1f} ms CPU")
    ratio = statistics.median(walls["qwentrade"]) / statistics.median(walls["TA-Lib"])
    cpu_ratio = statistics.median(cpus["qwentrade"]) / statistics.median(cpus["TA-Lib"])
    verdict = "meets" if ratio <= WHOLE_SET_TARGET else "MISSES"
    print(
        f"  ratio      {ratio:8.2f} x TA-Lib wall ({cpu_ratio:.2f} x in CPU time); "
        f"{verdict} the target of {WHOLE_SET_TARGET} x"
    )
    return ratio


def small_frames(runs: int, calls: int = 200) -> float:
    """compute() against TA-Lib on short frames; the ratio of the slowest of them to
    TA-Lib's whole set on the largest frame."""
    print(f"short frames, whole set, median of {runs} runs of {calls} calls:")
    ours: dict[int, float] = {}
    reference: dict[int, float] = {}
    for rows in SMALL_ROWS:
        candles = synthetic_candles(rows)
        contenders = {"qwentrade": lambda c=candles: compute(c), "TA-Lib": talib_whole_set(candles)}
        per_call: dict[str, list[float]] = {name: [] for name in contenders}
        for work in contenders.values():
            work()
        for _ in range(runs):
            for name, work in contenders.items():
                started = time.perf_counter()
                for _ in range(calls):
                    work()
                per_call[name].append((time.perf_counter() - started) / calls)
        ours[rows], reference[rows] = (
            statistics.median(per_call[name]) * 1e6 for name in contenders
        )
    largest = SMALL_ROWS[-1]
    for rows in SMALL_ROWS:
        print(
            f"  {rows:5d} rows  qwentrade {ours[rows]:7.1f} us  TA-Lib {reference[rows]:6.1f} us"
            f"  {ours[rows] / reference[rows]:.2f} x; {ours[rows] / reference[largest]:.2f} x "
            f"TA-Lib at {largest}"
        )
    ratio = max(ours.values()) / reference[largest]
    verdict = "meets" if ratio <= SMALL_TARGET else "MISSES"
    print(
        f"  slowest {ratio:.2f} x TA-Lib at {largest} rows: {verdict} the target of "
        f"{SMALL_TARGET} x"
    )
    return ratio


def one_core(candles: pl.DataFrame, runs: int) -> float:
    """The whole set with the process pinned to one CPU: CPU time against TA-Lib's."""
    allowed = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(allowed)})
    try:
        contenders = {"qwentrade": lambda: compute(candles), "TA-Lib": talib_whole_set(candles)}
        cpus: dict[str, list[float]] = {name: [] for name in contenders}
        for work in contenders.values():
            timed(work)
        for _ in range(runs):
            for name, work in contenders.items():
                cpus[name].append(timed(work)[1])
    finally:
        os.sched_setaffinity(0, allowed)
    print(f"whole set on one core (pinned to CPU {min(allowed)}), {candles.height:,} candles:")
    for name in contenders:
        cpu, fastest = statistics.median(cpus[name]) * 1e3, min(cpus[name]) * 1e3
        print(f"  {name:10s} {cpu:8.1f} ms CPU (min {fastest:6.1f})")
    ratio = statistics.median(cpus["qwentrade"]) / statistics.median(cpus["TA-Lib"])
    verdict = "meets" if ratio <= ONE_CORE_TARGET else "MISSES"
    print(
        f"  ratio      {ratio:8.2f} x TA-Lib CPU time; {verdict} the target of {ONE_CORE_TARGET} x"
    )
    return ratio


def incremental(candles: pl.DataFrame, runs: int, updates: int = 20_000) -> float:
    params = IndicatorParams()
    updates = min(updates, candles.height - params.warmup)
    split = candles.height - updates
    history = compute(candles.head(split))
    rows = list(candles.slice(split).iter_rows(named=True))
    started = time.perf_counter()
    IncrementalIndicators.from_batch(history, params)
    resume_ms = (time.perf_counter() - started) * 1e3
    per_candle = []
    for _ in range(runs):
        state = IncrementalIndicators.from_batch(history, params)
        update = state.update
        started = time.perf_counter()
        for row in rows:
            update(row)
        per_candle.append((time.perf_counter() - started) / len(rows) * 1e6)
    median = statistics.median(per_candle)
    verdict = "meets" if median <= UPDATE_TARGET_US else "MISSES"
    print(f"incremental, {len(rows):,} candles after from_batch ({resume_ms:.1f} ms), {runs} runs:")
    print(
        f"  update     {median:8.2f} us per candle, whole set (min {min(per_candle):.2f}); "
        f"{verdict} the target of {UPDATE_TARGET_US:.0f} us"
    )
    return median


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "csv", nargs="?", type=Path, help="candles (ts_ms,open,high,low,close,volume)"
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="generated candles")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    candles = load(args.csv, args.rows)
    load_average = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(
        f"numpy {np.__version__}, polars {pl.__version__}, TA-Lib {talib.__ta_version__.decode()}, "
        f"{os.cpu_count()} CPUs, load average {load_average}, "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}"
    )
    small = small_frames(args.runs)
    ratio = whole_set(candles, args.runs)
    single = one_core(candles, args.runs)
    update_us = incremental(candles, args.runs)
    load_average = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"load average after: {load_average}")
    met = (
        small <= SMALL_TARGET
        and ratio <= WHOLE_SET_TARGET
        and single <= ONE_CORE_TARGET
        and update_us <= UPDATE_TARGET_US
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
