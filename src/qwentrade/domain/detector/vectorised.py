"""``detect_history``: the detector at every 15m close of a history, in whole-array numpy.

It agrees exactly with :func:`~qwentrade.domain.detector.detect` called at each close:
every float is computed with the same operations in the same order as
:mod:`~qwentrade.domain.detector.layers` (window sums run oldest to newest from 0.0, one
shifted slice at a time), so even values on a threshold decide the same way.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from qwentrade.domain.detector import inputs
from qwentrade.domain.detector.params import DetectorParams

SIGNAL_TYPES = pl.Enum(["LONG", "SHORT"])
MARKET_MODES = pl.Enum(["BULL", "BEAR", "NEUTRAL"])


def detect_history(
    candles_15m: pl.DataFrame,
    candles_4h: pl.DataFrame,
    params: DetectorParams | None = None,
    *,
    explain: bool = False,
) -> pl.DataFrame:
    """One row per 15m close, as ``detect`` would judge it with the candles up to that close.

    Columns: ``time`` (the 15m candle's open time, as given), ``sufficient`` (False where
    ``detect`` says insufficient_data), ``market_mode`` and ``active`` (null when
    insufficient), ``score``, ``signal_type`` (LONG/SHORT or null), the points of each
    component (``points_environment``, ``points_macd``, ``points_rsi``, ``points_volume``,
    ``points_bollinger``, ``points_multi_timeframe``), ``position_multiplier``,
    ``multi_tf_aligned`` (null when insufficient) and ``confirmed`` (the original's names,
    as :meth:`DetectionResult.original_outputs` gives them).
    The n-th row counts the n candles up to it, so the first ``required_15m - 1`` rows
    are insufficient exactly as ``detect`` on a frame that short would be. With ``explain``
    the window statistics follow (null where insufficient): ``bb_width_mean``,
    ``volume_mean``, ``volume_std``, ``volume_threshold``, equal to the bit to what
    ``detect`` reports.
    """
    params = params or DetectorParams()
    frame = inputs.check_frame(candles_15m, "candles_15m", inputs.columns_15m(params))
    frame_4h = inputs.check_frame(candles_4h, "candles_4h", inputs.COLUMNS_4H)
    times = inputs.epoch_ms(frame, "candles_15m")
    times_4h = inputs.epoch_ms(frame_4h, "candles_4h")
    rows = times.size
    close, volume, ema_55, histogram, rsi, bb_width = (
        inputs.floats(frame, name) for name in inputs.columns_15m(params)
    )
    close_4h, ema_21_4h, histogram_4h = (inputs.floats(frame_4h, n) for n in inputs.COLUMNS_4H)
    bars = params.macd_rising_bars
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        index_4h = inputs.last_closed_4h(times + inputs.MS_15M, times_4h)
        row_4h = np.maximum(index_4h, 0)
        if times_4h.size == 0:  # nothing to gather: every row is insufficient anyway
            close_4h = ema_21_4h = histogram_4h = np.full(1, np.nan)
        c4, e4 = close_4h[row_4h], ema_21_4h[row_4h]

        sufficient = (np.arange(1, rows + 1) >= params.required_15m) & (
            index_4h + 1 >= params.required_4h
        )
        missing = ~(
            np.isfinite(close)
            & np.isfinite(ema_55)
            & np.isfinite(rsi)
            & np.isfinite(c4)
            & np.isfinite(e4)
        )
        missing |= _any_missing(bb_width, params.bollinger_window)
        missing |= _any_missing(volume, params.volume_window)
        missing |= _any_missing(histogram, bars + 1)
        if params.multi_timeframe:
            missing |= _any_missing(histogram_4h, bars + 1)[row_4h]
        sufficient &= ~missing

        # environment
        neutral = np.abs(close - ema_55) <= params.neutral_band * ema_55
        bull = ~neutral & (close > ema_55)
        bb_mean = _window_mean(bb_width, params.bollinger_window)
        active = (bb_mean > 0.0) & (bb_width >= params.active_width_ratio * bb_mean)
        aligned = ((close > ema_55) & (c4 > e4)) | ((close < ema_55) & (c4 < e4))
        env_passed = active & ~neutral & (aligned | (not params.environment_requires_alignment))
        judged = sufficient & active & ~neutral

        # trigger
        up, down = _macd_moves(histogram, bars, params.macd_rising_requires_sign)
        macd_ok = np.where(bull, up, down)
        rsi_ok = np.where(bull, rsi < params.rsi_long_max, rsi > params.rsi_short_min)
        doubled = np.where(
            bull, rsi < params.rsi_double_long_below, rsi > params.rsi_double_short_above
        )

        # confirmation
        volume_mean = _window_mean(volume, params.volume_window)
        volume_std = _window_std(volume, volume_mean, params.volume_window)
        volume_threshold = volume_mean + params.volume_std_multiplier * volume_std
        volume_ok = (volume > volume_mean) & (volume >= volume_threshold)
        bb_ok = (bb_mean > 0.0) & (bb_width >= params.confirm_width_ratio * bb_mean)
        if params.multi_timeframe:
            up_4h, down_4h = _macd_moves(histogram_4h, bars, params.macd_rising_requires_sign)
            long_4h = ((close_4h > ema_21_4h) & up_4h)[row_4h]
            short_4h = ((close_4h < ema_21_4h) & down_4h)[row_4h]
            resonance = np.where(bull, long_4h, short_4h)
        else:
            resonance = np.zeros(rows, dtype=bool)

    points = {
        "points_environment": _points(sufficient & env_passed, params.points_environment),
        "points_macd": _points(judged & macd_ok, params.points_macd),
        "points_rsi": _points(judged & rsi_ok, params.points_rsi),
        "points_volume": _points(judged & volume_ok, params.points_volume),
        "points_bollinger": _points(judged & bb_ok, params.points_bollinger),
        "points_multi_timeframe": _points(judged & resonance, params.points_multi_timeframe),
    }
    score = sum(p.astype(np.int16) for p in points.values()) if rows else np.zeros(0, np.int16)
    gate = rsi_ok if params.rsi_gate_blocks_signal else True
    signal = judged & (score >= params.signal_threshold) & gate
    signal_code = np.where(signal, np.where(bull, 1, 2), 0).astype(np.int8)
    mode_code = np.where(sufficient, np.where(neutral, 3, np.where(bull, 1, 2)), 0)
    explained = {
        "bb_width_mean": bb_mean,
        "volume_mean": volume_mean,
        "volume_std": volume_std,
        "volume_threshold": volume_threshold,
    }
    return pl.DataFrame(
        [
            frame.get_column("time"),
            pl.Series("sufficient", sufficient),
            _enum("market_mode", mode_code, MARKET_MODES),
            pl.Series("active", active).set(pl.Series(~sufficient), None),
            pl.Series("score", np.asarray(score, dtype=np.int16)),
            _enum("signal_type", signal_code, SIGNAL_TYPES),
            *(pl.Series(name, values) for name, values in points.items()),
            pl.Series("position_multiplier", np.where(judged & doubled, 2, 1).astype(np.int8)),
            pl.Series("multi_tf_aligned", aligned).set(pl.Series(~sufficient), None),
            pl.Series("confirmed", judged & (volume_ok | bb_ok)),
            *(
                pl.Series(name, np.where(sufficient, values, np.nan)).fill_nan(None)
                for name, values in (explained.items() if explain else ())
            ),
        ]
    )


def _shifted(values: np.ndarray, lag: int) -> np.ndarray:
    """``values`` delayed by ``lag`` rows (NaN in front): out[i] = values[i - lag]."""
    if lag == 0:
        return values
    out = np.full(values.shape, np.nan)
    out[lag:] = values[: values.size - lag]
    return out


def _macd_moves(
    histogram: np.ndarray, bars: int, requires_sign: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(LONG move, SHORT move) per row, as ``layers.macd_move`` decides them."""
    last, previous = histogram, _shifted(histogram, 1)
    if requires_sign:
        rising, falling = previous > 0.0, previous < 0.0
    else:  # NaN compares False either way, as a NaN step does below
        rising = np.ones(histogram.shape, dtype=bool)
        falling = np.ones(histogram.shape, dtype=bool)
    for k in range(1, bars + 1):
        newer, older = _shifted(histogram, k - 1), _shifted(histogram, k)
        rising &= newer > older
        falling &= newer < older
    up = ((previous <= 0.0) & (last > 0.0)) | rising
    down = ((previous >= 0.0) & (last < 0.0)) | falling
    return up, down


def _window_sum(values: np.ndarray, window: int) -> np.ndarray | None:
    """Sums over the last ``window`` rows for rows >= window - 1, added oldest first."""
    count = values.size - window + 1
    if count <= 0:
        return None
    total = np.zeros(count)
    for k in range(window):
        total += values[k : k + count]
    return total


def _window_mean(values: np.ndarray, window: int) -> np.ndarray:
    out = np.full(values.shape, np.nan)
    total = _window_sum(values, window)
    if total is not None:
        out[window - 1 :] = total / window
    return out


def _window_std(values: np.ndarray, mean: np.ndarray, window: int) -> np.ndarray:
    out = np.full(values.shape, np.nan)
    count = values.size - window + 1
    if count <= 0:
        return out
    centre = mean[window - 1 :]
    total = np.zeros(count)
    for k in range(window):
        deviation = values[k : k + count] - centre
        total += deviation * deviation
    out[window - 1 :] = np.sqrt(total / (window - 1))
    return out


def _any_missing(values: np.ndarray, window: int) -> np.ndarray:
    """True where the last ``window`` rows hold a null, NaN or infinity (or fewer rows)."""
    counts = np.concatenate([[0], np.cumsum(~np.isfinite(values), dtype=np.int64)])
    out = np.ones(values.shape, dtype=bool)
    if values.size >= window:
        out[window - 1 :] = counts[window:] - counts[: values.size - window + 1] > 0
    return out


def _points(mask: np.ndarray, points: int) -> np.ndarray:
    return np.where(mask, points, 0).astype(np.int8)


def _enum(name: str, codes: np.ndarray, dtype: pl.Enum) -> pl.Series:
    """Codes 1.. as the enum's categories in order, 0 as null."""
    mapping = {k + 1: category for k, category in enumerate(dtype.categories)}
    series = pl.Series(name, codes.astype(np.int8))
    return series.replace_strict(mapping, default=None, return_dtype=dtype)
