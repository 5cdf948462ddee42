"""Helpers shared by the backtest tests (this module has no tests): hand-made candles with
hand-placed signals, both engines at once, trade frames compared within 1e-9."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from qwentrade.app.backtest import data, run
from qwentrade.app.backtest.params import BacktestParams

DATA = Path(__file__).parents[4] / "tests" / "data" / "candles"
ETH_FILE = DATA / "okx_ETH-USDT-SWAP_15m_2022-11-20_2022-12-20.csv"
ETH = "ETH-USDT-SWAP"
START = datetime(2024, 1, 1, 6, 0, tzinfo=UTC)  # 08:00 UTC, a funding settlement, 8 closes on
SIGNALS = pl.Enum(["LONG", "SHORT"])
# percent stops (no ATR needed), no spread or slippage: the numbers stay round
EXACT = {
    "POLICY_STOP_MODE": "percent",
    "POLICY_SL_PERCENT": 1.0,
    "POLICY_TP_PERCENT": 2.0,
    "spread_bps": 0,
    "slippage_bps": 0,
}


def hand_market(rows: list[tuple[float, float, float, float]], signals: dict[int, str], **kw):
    """A Market of ETH 15m candles ``rows`` (open, high, low, close) from START, and the
    detector verdicts with a signal (score 20, multiplier 1) at the given rows."""
    start_ms = int(START.timestamp() * 1000)
    frame = pl.DataFrame(
        {
            "ts_ms": [start_ms + i * data.MS_15M for i in range(len(rows))],
            "open": [r[0] for r in rows],
            "high": [r[1] for r in rows],
            "low": [r[2] for r in rows],
            "close": [r[3] for r in rows],
            "volume": [100.0] * len(rows),
        }
    )
    market = data.market(frame, ETH, **kw)
    verdicts = pl.DataFrame(
        {
            "time": market.candles["time"],
            "signal_type": pl.Series([signals.get(i) for i in range(len(rows))], dtype=SIGNALS),
            "score": [20] * len(rows),
            "position_multiplier": pl.Series([1] * len(rows), dtype=pl.Int8),
        }
    )
    return market, verdicts


def both(market, verdicts, params) -> dict:
    """The trades of both engines (asserted equal), as dicts."""
    settings = BacktestParams.of(params)
    fast = run(market, settings, engine="fast", verdicts=verdicts)
    replay = run(market, settings, engine="replay", verdicts=verdicts)
    assert_same_trades(fast.trades, replay.trades)
    return {"fast": fast, "replay": replay}


def assert_same_trades(a: pl.DataFrame, b: pl.DataFrame, tolerance: float = 1e-9) -> None:
    assert a.columns == b.columns
    assert a.height == b.height, f"{a.height} trades vs {b.height}"
    for n, (x, y) in enumerate(zip(a.iter_rows(named=True), b.iter_rows(named=True), strict=True)):
        for key, value in x.items():
            other = y[key]
            if isinstance(value, float) and isinstance(other, float):
                assert abs(value - other) <= tolerance, f"trade {n} {key}: {value} != {other}"
            else:
                assert value == other, f"trade {n} {key}: {value} != {other}"


@functools.cache
def real_market():
    """The real ETH candles of tests/data as a Market (computed once per process)."""
    return data.market(data.read_file(ETH_FILE), ETH)
