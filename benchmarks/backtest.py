"""Backtest speed on a real candle file (issue 15's targets), references measured in the
same run.

    .venv/bin/python benchmarks/backtest.py ../shared/data/candles/okx_ETH-USDT-SWAP_15m.csv

Prints medians of:

- the research path (``--engine fast``): the position loop given the detector's verdicts,
  and the whole run (verdicts + loop), against a plain numpy loop doing the simplest
  version of the same job (one position at a time, stop-loss/take-profit found with
  ``argmax`` over the following candles' lows/highs, no fees, funding or exact money);
- the parity path (``--engine replay``, the live code over the simulated exchange) on the
  whole file (or the first ``--replay-candles``), per candle and per trade, against the
  fast path on the same candles and the issue's <= ~1 s target (backtesting.py's time);
- a 100-point sweep (10 stop x 10 target ATR multiples) on ``--workers`` processes.

vectorbt, backtesting.py and freqtrade are not installed here; the issue's figures for
this file on this machine are printed for comparison as text.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from qwentrade.app.backtest import data, run, sweep
from qwentrade.app.backtest.params import BacktestParams
from qwentrade.app.backtest.replay import signals

REFERENCES = (
    "issue 15's figures (117,720 ETH 15m candles, ~5,700 trades, this machine): "
    "freqtrade ~26 s, backtesting.py 0.9-1.2 s, vectorbt 20-30 ms, a plain numpy loop 31 ms"
)


def median_time(fn, runs: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(runs):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def numpy_loop(market, verdicts, params) -> int:
    """The reference: enter at the next open on each signal while flat, exit at the first
    candle whose low/high reaches the stop/target (argmax over the following candles)."""
    o = market.candles["open"].to_numpy()
    h = market.candles["high"].to_numpy()
    low = market.candles["low"].to_numpy()
    atr = market.candles["atr_14"].fill_null(np.nan).to_numpy()
    kind = verdicts["signal_type"].to_physical().fill_null(-1).to_numpy()
    sl_k = float(params.get("POLICY_SL_ATR_MULTIPLE"))
    tp_k = float(params.get("POLICY_TP_ATR_MULTIPLE"))
    n = o.size
    trades, i = 0, 0
    pnl = 0.0
    candidates = np.flatnonzero(kind >= 0)
    while True:
        k = np.searchsorted(candidates, i)
        if k >= candidates.size or candidates[k] >= n - 1:
            break
        r = candidates[k]
        side = 1.0 if kind[r] == 0 else -1.0
        entry = o[r + 1]
        stop, target = entry - side * sl_k * atr[r], entry + side * tp_k * atr[r]
        lows, highs = low[r + 1 :], h[r + 1 :]
        hit_stop = (lows <= stop) if side > 0 else (highs >= stop)
        hit_target = (highs >= target) if side > 0 else (lows <= target)
        a = np.argmax(hit_stop) if hit_stop.any() else n
        b = np.argmax(hit_target) if hit_target.any() else n
        exit_row = min(a, b)
        pnl += side * ((stop if a <= b else target) - entry)
        trades += 1
        i = r + 1 + exit_row + 1
    return trades


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", help="a 15m candle CSV/Parquet (ts_ms,open,high,low,close,volume)")
    parser.add_argument("--symbol", help="default: from the file name")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--replay-candles", type=int, default=0, help="0: the whole file")
    parser.add_argument("--replay-runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sweep-points", type=int, default=100)
    args = parser.parse_args()
    path = Path(args.path)
    symbol = args.symbol or data.symbol_from_name(path)
    params = BacktestParams()

    start = time.perf_counter()
    candles = data.read_file(path)
    market = data.market(candles, symbol)
    print(f"{market.candles.height} candles of {symbol}; loading + indicators "
          f"{time.perf_counter() - start:.2f} s")  # fmt: skip
    verdicts_time, verdicts = median_time(lambda: signals(market, params), 3)
    run(market, params, engine="fast", verdicts=verdicts)  # compile (cached on disk after)
    loop, result = median_time(
        lambda: run(market, params, engine="fast", verdicts=verdicts), args.runs
    )
    whole, _ = median_time(lambda: run(market, params, engine="fast"), 3)
    reference, ref_trades = median_time(lambda: numpy_loop(market, verdicts, params), args.runs)
    trades = result.trades.height
    print(f"detector verdicts (detect_history, whole file): {verdicts_time * 1000:8.1f} ms")
    print(f"fast path, position loop ({trades} trades):      {loop * 1000:8.1f} ms  "
          f"(x{loop / reference:.2f} the numpy loop)")  # fmt: skip
    print(f"fast path, verdicts + loop:                     {whole * 1000:8.1f} ms")
    print(f"plain numpy loop reference ({ref_trades} trades):   {reference * 1000:8.1f} ms")
    half = market.candles.height // 2
    half_market = data.market(candles.head(half), symbol)
    half_verdicts = signals(half_market, params)
    half_loop, _ = median_time(
        lambda: run(half_market, params, engine="fast", verdicts=half_verdicts), args.runs
    )
    print(
        f"fast path loop on half the candles:             {half_loop * 1000:8.1f} ms "
        f"(full/half x{loop / half_loop:.2f}: linear is x2)"
    )

    part = min(args.replay_candles or candles.height, candles.height)
    replay_market = data.market(candles.head(part), symbol)
    replay_verdicts = signals(replay_market, params)
    replay, replayed = median_time(
        lambda: run(replay_market, params, engine="replay", verdicts=replay_verdicts),
        args.replay_runs,
    )
    fast_part, _ = median_time(
        lambda: run(replay_market, params, engine="fast", verdicts=replay_verdicts), args.runs
    )
    per_candle = replay / part
    trades_replayed = max(1, replayed.trades.height)
    print(f"replay path on {part} candles ({replayed.trades.height} trades): "
          f"{replay:.2f} s = {per_candle * 1e6:.1f} us/candle, "
          f"{replay / trades_replayed * 1000:.2f} ms/trade; the fast path there "
          f"{fast_part * 1000:.1f} ms (replay/fast x{replay / fast_part:.0f})")  # fmt: skip
    verdict = "met" if replay <= 1.2 else "NOT met"
    print(
        f"issue 15's replay target (<= ~1 s, backtesting.py 0.9-1.2 s, on the whole file): "
        f"{verdict}" + ("" if part == market.candles.height else " (not the whole file)")
    )

    grid = [
        {"POLICY_SL_ATR_MULTIPLE": 0.5 + 0.25 * a, "POLICY_TP_ATR_MULTIPLE": 1.0 + 0.5 * b}
        for a in range(10)
        for b in range(10)
    ][: args.sweep_points]
    start = time.perf_counter()
    rows = sweep.run_points(market, grid, workers=args.workers)
    elapsed = time.perf_counter() - start
    print(f"{len(rows)}-point sweep on {args.workers} processes (fast path, whole file): "
          f"{elapsed:.1f} s (target < 60 s)")  # fmt: skip
    print(REFERENCES)
    return 0


if __name__ == "__main__":
    sys.exit(main())
