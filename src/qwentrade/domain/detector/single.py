"""``detect``: the detector judged at the last 15m close of a frame."""

from __future__ import annotations

import math

import attrs
import numpy as np
import polars as pl

from qwentrade.domain.detector import inputs, layers
from qwentrade.domain.detector.params import DetectorParams
from qwentrade.domain.detector.result import (
    INSUFFICIENT_DATA,
    OK,
    ConfirmationLayer,
    DetectionResult,
    EnvironmentLayer,
    TriggerLayer,
)
from qwentrade.domain.market import from_ms


def detect(
    candles_15m: pl.DataFrame, candles_4h: pl.DataFrame, params: DetectorParams | None = None
) -> DetectionResult:
    """Judge the last 15m close of ``candles_15m`` (closed candles with their indicators).

    ``candles_4h`` may run past that close: only 4h candles closed by then are used. With
    fewer candles than ``params.required_15m`` / ``required_4h``, or a missing (null, NaN
    or infinite) value where the judgement needs one, the result is ``insufficient_data`` with the
    reason, not an exception. Bad frames (missing columns, unsorted times) raise InvalidInput.
    """
    params = params or DetectorParams()
    frame = inputs.check_frame(candles_15m, "candles_15m", inputs.columns_15m(params))
    frame_4h = inputs.check_frame(candles_4h, "candles_4h", inputs.COLUMNS_4H)
    times = inputs.epoch_ms(frame, "candles_15m")
    times_4h = inputs.epoch_ms(frame_4h, "candles_4h")
    if times.size == 0:
        return _insufficient(params, None, "no 15m candles")
    open_ms = int(times[-1])
    close_ms = open_ms + inputs.MS_15M
    if times.size < params.required_15m:
        return _insufficient(
            params, open_ms, f"need {params.required_15m} 15m candles, got {times.size}"
        )
    index_4h = int(inputs.last_closed_4h(close_ms, times_4h))
    if index_4h + 1 < params.required_4h:
        return _insufficient(
            params,
            open_ms,
            f"need {params.required_4h} 4h candles closed by {from_ms(close_ms).isoformat()}, "
            f"got {index_4h + 1}",
        )
    tail = frame.tail(params.lookback_15m)
    bars = params.macd_rising_bars
    bb_widths = _values(tail, "bb_width", params.bollinger_window)
    volumes = _values(tail, "volume", params.volume_window)
    histogram = _values(tail, "histogram", bars + 1)
    close, ema_55, rsi = (
        _values(tail, name, 1)[0] for name in ("close", "ema_55", params.rsi_column)
    )
    rows_4h = frame_4h.head(index_4h + 1).tail(bars + 1)  # ends at the last closed one
    close_4h, ema_21_4h = (_values(rows_4h, name, 1)[0] for name in ("close", "ema_21"))
    histogram_4h = _values(rows_4h, "histogram", bars + 1) if params.multi_timeframe else []
    needed = {
        "close": [close],
        "ema_55": [ema_55],
        params.rsi_column: [rsi],
        "bb_width": bb_widths,
        "volume": volumes,
        "histogram": histogram,
        "4h close": [close_4h],
        "4h ema_21": [ema_21_4h],
        "4h histogram": histogram_4h,
    }
    for name, values in needed.items():
        if not all(math.isfinite(value) for value in values):
            return _insufficient(
                params, open_ms, f"{name} is null, NaN or infinite where the judgement reads it"
            )
    time_4h = from_ms(int(times_4h[index_4h]))
    env = layers.environment(close, ema_55, bb_widths, time_4h, close_4h, ema_21_4h, params)
    return _judge(env, histogram, rsi, volumes, histogram_4h, open_ms, params)


def _judge(
    env: EnvironmentLayer,
    histogram: list[float],
    rsi: float,
    volumes: list[float],
    histogram_4h: list[float],
    open_ms: int,
    params: DetectorParams,
) -> DetectionResult:
    """Assemble the verdict once the environment is known (inputs already checked)."""
    close_time = from_ms(open_ms + inputs.MS_15M)
    direction = layers.direction_of(env.mode)
    if not env.active or direction is None:
        why = (
            f"market inactive: Bollinger width {env.bb_width:.6g} < {env.active_threshold:.6g}"
            if not env.active
            else "market NEUTRAL: close within the band around EMA55, no direction"
        )
        return _result(params, OK, why, open_ms, env)
    trig = layers.trigger(direction, histogram, rsi, params)
    conf = layers.confirmation(direction, env, volumes, histogram_4h, params)
    result = _result(params, OK, "", open_ms, env, trig, conf)
    score = result.score
    gate_closed = params.rsi_gate_blocks_signal and not trig.rsi_passed
    if score >= params.signal_threshold and not gate_closed:
        why = f"score {score} >= {params.signal_threshold}: {direction.value} signal"
        expire_at = close_time + params.signal_expiry
        return attrs.evolve(result, reason=why, signal_type=direction, expire_at=expire_at)
    if score >= params.signal_threshold:
        why = f"score {score} but the RSI gate is closed (RSI {trig.rsi:.4g}): no signal"
    else:
        why = f"score {score} < {params.signal_threshold}: no signal"
    return attrs.evolve(result, reason=why)


def _values(frame: pl.DataFrame, name: str, count: int) -> list[float]:
    column = inputs.floats(frame, name)
    if column.size < count:  # only when the frame is shorter than the window
        column = np.concatenate([np.full(count - column.size, np.nan), column])
    return column[-count:].tolist()


def _insufficient(params: DetectorParams, open_ms: int | None, reason: str) -> DetectionResult:
    return _result(params, INSUFFICIENT_DATA, reason, open_ms)


def _result(
    params: DetectorParams,
    status: str,
    reason: str,
    open_ms: int | None,
    env: EnvironmentLayer | None = None,
    trig: TriggerLayer | None = None,
    conf: ConfirmationLayer | None = None,
) -> DetectionResult:
    return DetectionResult(
        status=status,
        reason=reason,
        time=None if open_ms is None else from_ms(open_ms),
        close_time=None if open_ms is None else from_ms(open_ms + inputs.MS_15M),
        environment=env,
        trigger=trig,
        confirmation=conf,
        signal_type=None,
        expire_at=None,
        threshold=params.signal_threshold,
        max_score=params.max_score,
    )
