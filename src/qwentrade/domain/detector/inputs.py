"""Reading candle frames for the detector: column checks, times, floats.

Frames are polars DataFrames of CLOSED candles sorted by ``time``, the candle's OPEN time
(a UTC ``Datetime``; a naive one is read as UTC; integer epoch milliseconds are accepted
too), with the indicator columns of ``indicators.compute``. A 15m candle opened at ``t``
closes at ``t + 15 min``; the 4h candle used at that close is the latest whose close
``open + 4 h`` is at or before it, so nothing from the future is ever read.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from qwentrade.domain.detector.params import DetectorParams
from qwentrade.domain.errors import InvalidInput

MS_15M = 15 * 60 * 1000
MS_4H = 4 * 60 * 60 * 1000
COLUMNS_4H = ("close", "ema_21", "histogram")


def columns_15m(params: DetectorParams) -> tuple[str, ...]:
    """The 15m columns the detector reads (besides ``time``)."""
    return ("close", "volume", "ema_55", "histogram", params.rsi_column, "bb_width")


def check_frame(frame: object, field: str, columns: tuple[str, ...]) -> pl.DataFrame:
    """``frame`` if it is a DataFrame with ``time`` and ``columns``, else InvalidInput."""
    if not isinstance(frame, pl.DataFrame):
        raise InvalidInput(field, f"expected a polars DataFrame, got {type(frame).__name__}")
    missing = [name for name in ("time", *columns) if name not in frame.columns]
    if missing:
        raise InvalidInput(
            field,
            f"missing column(s) {', '.join(missing)}: pass candles with their indicators "
            "(the output of qwentrade.domain.indicators.compute)",
        )
    return frame


def epoch_ms(frame: pl.DataFrame, field: str) -> np.ndarray:
    """Open times as int64 epoch milliseconds, checked to be strictly increasing."""
    column = frame.get_column("time")
    if isinstance(column.dtype, pl.Datetime):
        times = column.dt.epoch("ms").to_numpy()
    elif column.dtype.is_integer():
        times = column.cast(pl.Int64).to_numpy()
    else:
        raise InvalidInput(f"{field}.time", f"expected datetimes, got {column.dtype}")
    if column.null_count():
        raise InvalidInput(f"{field}.time", "has nulls: every candle needs its open time")
    if times.size > 1 and not bool(np.all(times[1:] > times[:-1])):
        raise InvalidInput(
            f"{field}.time", "must be strictly increasing: sort the candles and drop duplicates"
        )
    return times


def floats(frame: pl.DataFrame, name: str) -> np.ndarray:
    """Column ``name`` as float64 with nulls as NaN (NaN and infinities count as missing)."""
    column = frame.get_column(name)
    if not column.dtype.is_numeric():
        raise InvalidInput(name, f"expected numbers, got {column.dtype}")
    return column.cast(pl.Float64).to_numpy()


def last_closed_4h(close_ms_15m: np.ndarray | int, open_ms_4h: np.ndarray) -> np.ndarray:
    """Index of the last 4h candle closed at each 15m close (-1 when none)."""
    return np.searchsorted(open_ms_4h + MS_4H, close_ms_15m, side="right") - 1
