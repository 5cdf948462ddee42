"""Benchmark of the signal detector: detect_history over a whole history, and one detect call.

Target (issue "Domain core"): detect_history evaluates at least 1,000,000 15m closes per
second on the whole history with indicators precomputed.

    .venv/bin/python benchmarks/bench_detector.py                # 1,500,000 synthetic closes
    .venv/bin/python benchmarks/bench_detector.py --rows 2000000
    .venv/bin/python benchmarks/bench_detector.py --csv-15m okx_BTC-USDT-SWAP_15m.csv \\
        --csv-4h okx_BTC-USDT-SWAP_4h.csv                        # real OKX candles (ts_ms,...)

Prints the median of 5 runs after a warm-up, closes per second and the ratio to the target.
"""

from __future__ import annotations

import argparse
import statistics
import time

import polars as pl

from qwentrade.domain.detector import detect, detect_history
from qwentrade.domain.indicators import IndicatorParams, compute
from qwentrade.testing.builders import resample, synthetic_candles

TARGET = 1_000_000  # 15m closes per second


def load_csv(path: str) -> pl.DataFrame:
    """OKX candles saved as ``ts_ms,open,high,low,close,volume``."""
    frame = pl.read_csv(path)
    return frame.select(
        pl.col("ts_ms").cast(pl.Datetime("ms", "UTC")).alias("time"),
        "open",
        "high",
        "low",
        "close",
        "volume",
    )


def timed(function, repeat: int) -> list[float]:
    function()  # warm-up
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        runs.append(time.perf_counter() - start)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_500_000, help="synthetic 15m candles")
    parser.add_argument("--csv-15m", help="real 15m candles instead of synthetic ones")
    parser.add_argument("--csv-4h", help="real 4h candles (with --csv-15m)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    start = time.perf_counter()
    if args.csv_15m:
        raw_15m = load_csv(args.csv_15m)
        raw_4h = load_csv(args.csv_4h) if args.csv_4h else resample(raw_15m)
        source = f"{args.csv_15m}"
    else:
        raw_15m = synthetic_candles(args.rows, seed=11)
        raw_4h = resample(raw_15m)
        source = "synthetic (qwentrade.testing.builders.synthetic_candles)"
    frame_15m = compute(raw_15m, IndicatorParams.for_timeframe("15m"))
    frame_4h = compute(raw_4h, IndicatorParams.for_timeframe("4H"))
    prepared = time.perf_counter() - start
    rows = frame_15m.height
    print(f"data: {source}: {rows:,} 15m and {frame_4h.height:,} 4h candles")
    print(f"  candles + indicators prepared in {prepared:.2f} s (not timed below)")

    runs = timed(lambda: detect_history(frame_15m, frame_4h), args.repeat)
    median = statistics.median(runs)
    rate = rows / median
    print(
        f"detect_history: median {median * 1000:.1f} ms of {args.repeat} "
        f"(min {min(runs) * 1000:.1f}, max {max(runs) * 1000:.1f})"
    )
    print(f"  {rate:,.0f} closes/s = {rate / TARGET:.2f} x the {TARGET:,}/s target")

    history = detect_history(frame_15m, frame_4h)
    counts = dict(history.get_column("signal_type").value_counts().iter_rows())
    print(f"  signals: LONG {counts.get('LONG', 0):,}, SHORT {counts.get('SHORT', 0):,}")

    tail = frame_15m.tail(400)  # detect reads the last rows; the 4h frame is whole
    single = timed(lambda: detect(tail, frame_4h), 200)
    print(
        f"detect (one close, 4h frame of {frame_4h.height:,} rows): median "
        f"{statistics.median(single) * 1e6:.0f} us"
    )
    small_4h = frame_4h.tail(80)
    single_small = timed(lambda: detect(frame_15m.tail(100), small_4h), 200)
    print(
        f"detect (100 x 15m, 80 x 4h, the live case): median "
        f"{statistics.median(single_small) * 1e6:.0f} us"
    )


if __name__ == "__main__":
    main()
