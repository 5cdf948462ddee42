"""Backtests: the live code replayed (``replay``) and a fast research path (``fast``) that
agrees with it trade for trade; reports and sweeps. ``qwentrade.backtest`` is the notebook
entry point."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from qwentrade.domain.errors import InvalidInput

ENGINES = ("fast", "replay")


def backtest(
    candles: pl.DataFrame | str | Path,
    *,
    engine: str = "fast",
    params: Mapping[str, Any] | None = None,
    symbol: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    funding: Mapping[int, Any] | str | Path | None = None,
    progress: bool = False,
):
    """Backtest the live strategy (detector + signal policy + trading rules) on ``candles``.

    ``candles``: a polars frame or a CSV/Parquet path of 15m OKX candles
    (``ts_ms,open,high,low,close,volume``; 4h derived). ``engine``: ``fast`` (vectorised
    signals, compiled position loop) or ``replay`` (the simulated exchange with
    TradingService and SignalPolicy); both give the same trades. ``params``: config keys
    (``POLICY_*``, ``DETECTOR_*``, ``TRADING_MARGIN_MODE``) and ``balance``, ``maker_fee``,
    ``taker_fee``, ``funding_rate`` (flat, used where no rate is given). ``symbol``: taken
    from the file name when not given. Returns a :class:`BacktestResult` (``.trades``,
    ``.equity``, ``.stats``, ``.plot()``).
    """
    from decimal import Decimal

    from qwentrade.app.backtest import data
    from qwentrade.app.backtest.params import BacktestParams

    if engine not in ENGINES:
        raise InvalidInput("engine", f"must be fast or replay, got {engine!r}")
    settings = BacktestParams.of(params)
    if isinstance(candles, str | Path):
        symbol = symbol or data.symbol_from_name(candles)
        candles = data.read_file(candles)
    if not isinstance(candles, pl.DataFrame):
        raise InvalidInput("candles", "give a polars DataFrame or a CSV/Parquet file path")
    if symbol is None:
        raise InvalidInput("symbol", "give symbol= (e.g. ETH-USDT-SWAP)")
    rates: Mapping[int, Decimal]
    if isinstance(funding, str | Path):
        rates = data.read_funding(funding)
    else:
        rates = {int(k): Decimal(str(v)) for k, v in (funding or {}).items()}
    market = data.market(
        candles, symbol, start=start, end=end, funding=rates, flat_rate=settings.funding_rate
    )
    return run(market, settings, engine=engine, progress=progress)


def run(market, params, *, engine: str = "fast", progress: bool = False, verdicts=None):
    """Run ``engine`` on a prepared :class:`~qwentrade.app.backtest.data.Market`."""
    if engine == "replay":
        from qwentrade.app.backtest.replay import run_replay

        return run_replay(market, params, verdicts=verdicts, progress=progress)
    if engine == "fast":
        from qwentrade.app.backtest.fast import run_fast

        return run_fast(market, params, verdicts=verdicts)
    raise InvalidInput("engine", f"must be fast or replay, got {engine!r}")


__all__ = ["ENGINES", "backtest", "run"]
