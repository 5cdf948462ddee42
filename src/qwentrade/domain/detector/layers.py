"""The three layers as pure functions of plain floats (the per-call form).

:mod:`~qwentrade.domain.detector.vectorised` computes the same thing for a whole history
with numpy and must agree bit for bit, so every expression here is written in the order
the vectorised form evaluates it: sums run oldest to newest from 0.0, ``mean = sum / n``,
``std = sqrt(sum((v - mean) * (v - mean)) / (n - 1))``, ``threshold = mean + k * std``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from qwentrade.domain.detector.params import DetectorParams
from qwentrade.domain.detector.result import (
    ConfirmationLayer,
    EnvironmentLayer,
    MacdMove,
    MarketMode,
    SignalType,
    Trend,
    TriggerLayer,
)


def window_mean(values: Sequence[float]) -> float:
    """Mean of ``values`` summed oldest to newest."""
    total = 0.0
    for value in values:
        total += value
    return total / len(values)


def window_std(values: Sequence[float], mean: float) -> float:
    """Sample standard deviation (n - 1) of ``values`` around ``mean``."""
    total = 0.0
    for value in values:
        deviation = value - mean
        total += deviation * deviation
    return math.sqrt(total / (len(values) - 1))


def market_mode(close: float, ema_55: float, neutral_band: float) -> MarketMode:
    """NEUTRAL within ``neutral_band`` x EMA55 of it; else BULL above, BEAR below."""
    if abs(close - ema_55) <= neutral_band * ema_55:
        return MarketMode.NEUTRAL
    return MarketMode.BULL if close > ema_55 else MarketMode.BEAR


def trend(close: float, ema: float) -> Trend:
    """UP when the close is above the EMA, DOWN below, FLAT on it."""
    if close > ema:
        return Trend.UP
    return Trend.DOWN if close < ema else Trend.FLAT


def macd_move(
    histogram: Sequence[float], direction: SignalType, bars: int, requires_sign: bool = False
) -> MacdMove | None:
    """How the histogram (oldest first, ``bars + 1`` values) moved in ``direction``, if it did.

    LONG: a turn from <= 0 to > 0, or a rise at each of the last ``bars`` closes whatever
    the sign (the original's "keeps rising"); SHORT: the mirror image. With
    ``requires_sign`` a rise counts only while the histogram stays above zero (a fall only
    below).
    """
    last, previous = histogram[-1], histogram[-2]
    steps = range(1, bars + 1)
    if direction is SignalType.LONG:
        if previous <= 0.0 < last:
            return MacdMove.TURN_UP
        if (previous > 0.0 or not requires_sign) and all(
            histogram[-k] > histogram[-k - 1] for k in steps
        ):
            return MacdMove.RISING
        return None
    if previous >= 0.0 > last:
        return MacdMove.TURN_DOWN
    if (previous < 0.0 or not requires_sign) and all(
        histogram[-k] < histogram[-k - 1] for k in steps
    ):
        return MacdMove.FALLING
    return None


def direction_4h(
    close: float, ema_21: float, histogram: Sequence[float], bars: int, requires_sign: bool
) -> SignalType | None:
    """The 4h trigger: LONG when close > EMA21 and the 4h histogram turned up or rises,
    SHORT when close < EMA21 and it turned down or falls, else None."""
    trend_4h = trend(close, ema_21)
    if trend_4h is Trend.UP and macd_move(histogram, SignalType.LONG, bars, requires_sign):
        return SignalType.LONG
    if trend_4h is Trend.DOWN and macd_move(histogram, SignalType.SHORT, bars, requires_sign):
        return SignalType.SHORT
    return None


def environment(
    close: float,
    ema_55: float,
    bb_widths: Sequence[float],
    time_4h: datetime,
    close_4h: float,
    ema_21_4h: float,
    params: DetectorParams,
) -> EnvironmentLayer:
    """Mode, activity and trend alignment; ``bb_widths`` ends with the current width.

    Passes (``points_environment``) when the market is active and BULL or BEAR; alignment
    is reported, and required only with ``environment_requires_alignment``.
    """
    mode = market_mode(close, ema_55, params.neutral_band)
    width = bb_widths[-1]
    mean = window_mean(bb_widths)
    threshold = params.active_width_ratio * mean
    active = mean > 0.0 and width >= threshold
    trend_15m, trend_4h = trend(close, ema_55), trend(close_4h, ema_21_4h)
    aligned = trend_15m is trend_4h and trend_15m is not Trend.FLAT
    passed = (
        active
        and mode is not MarketMode.NEUTRAL
        and (aligned or not params.environment_requires_alignment)
    )
    return EnvironmentLayer(
        close=close,
        ema_55=ema_55,
        neutral_band=params.neutral_band,
        mode=mode,
        bb_width=width,
        bb_width_mean=mean,
        active_threshold=threshold,
        active=active,
        trend_15m=trend_15m,
        time_4h=time_4h,
        close_4h=close_4h,
        ema_21_4h=ema_21_4h,
        trend_4h=trend_4h,
        aligned=aligned,
        passed=passed,
        points=params.points_environment if passed else 0,
    )


def direction_of(mode: MarketMode) -> SignalType | None:
    """LONG in BULL, SHORT in BEAR, none in NEUTRAL."""
    return {MarketMode.BULL: SignalType.LONG, MarketMode.BEAR: SignalType.SHORT}.get(mode)


def trigger(
    direction: SignalType, histogram: Sequence[float], rsi: float, params: DetectorParams
) -> TriggerLayer:
    """MACD move and RSI gate for ``direction``; ``histogram`` holds the last bars + 1 values."""
    move = macd_move(
        histogram, direction, params.macd_rising_bars, params.macd_rising_requires_sign
    )
    if direction is SignalType.LONG:
        limit, rsi_passed = params.rsi_long_max, rsi < params.rsi_long_max
        doubled = rsi < params.rsi_double_long_below
    else:
        limit, rsi_passed = params.rsi_short_min, rsi > params.rsi_short_min
        doubled = rsi > params.rsi_double_short_above
    return TriggerLayer(
        direction=direction,
        histogram=tuple(histogram),
        macd_move=move,
        macd_points=params.points_macd if move else 0,
        rsi=rsi,
        rsi_limit=limit,
        rsi_passed=rsi_passed,
        rsi_points=params.points_rsi if rsi_passed else 0,
        position_multiplier=2 if doubled else 1,
    )


def confirmation(
    direction: SignalType,
    env: EnvironmentLayer,
    volumes: Sequence[float],
    histogram_4h: Sequence[float],
    params: DetectorParams,
) -> ConfirmationLayer:
    """Volume surge, Bollinger expansion (against the environment's mean) and resonance."""
    volume = volumes[-1]
    mean = window_mean(volumes)
    std = window_std(volumes, mean)
    threshold = mean + params.volume_std_multiplier * std
    volume_passed = volume > mean and volume >= threshold
    bb_threshold = params.confirm_width_ratio * env.bb_width_mean
    bb_passed = env.bb_width_mean > 0.0 and env.bb_width >= bb_threshold
    if params.multi_timeframe:
        found = direction_4h(
            env.close_4h,
            env.ema_21_4h,
            histogram_4h,
            params.macd_rising_bars,
            params.macd_rising_requires_sign,
        )
    else:
        found = None
    resonance = found is direction
    return ConfirmationLayer(
        volume=volume,
        volume_mean=mean,
        volume_std=std,
        volume_threshold=threshold,
        volume_passed=volume_passed,
        volume_points=params.points_volume if volume_passed else 0,
        bb_width=env.bb_width,
        bb_width_mean=env.bb_width_mean,
        bollinger_threshold=bb_threshold,
        bollinger_passed=bb_passed,
        bollinger_points=params.points_bollinger if bb_passed else 0,
        multi_timeframe=params.multi_timeframe,
        histogram_4h=tuple(histogram_4h),
        direction_4h=found,
        multi_timeframe_passed=resonance,
        multi_timeframe_points=params.points_multi_timeframe if resonance else 0,
    )
