"""Detector: one hand-computed case per score component, gates, insufficient data, no look-ahead.

The base case (``detector_inputs()``) is a quiet BULL market: close 100 over EMA55 99,
4h close 100 over EMA21 99, RSI 60, Bollinger width 0.02, volume 100, histogram flat at
1.0. It is active and aligned (environment +10), the RSI gate is open (+3), nothing else
fires: score 13, no signal.
"""

from __future__ import annotations

import json
import statistics
from datetime import timedelta

import polars as pl
import pytest

from qwentrade.domain.detector import (
    DetectorParams,
    MacdMove,
    MarketMode,
    SignalType,
    Trend,
    detect,
)
from qwentrade.domain.errors import InvalidInput
from qwentrade.testing.builders import H4, T0, detector_inputs

BASE = {"environment": 10, "macd": 0, "rsi": 3, "volume": 0, "bollinger": 0, "multi_timeframe": 0}


def judged(params=None, **last):
    """detect() on the base case with the last values of some columns replaced."""
    last_4h = {k.removesuffix("_4h"): v for k, v in last.items() if k.endswith("_4h")}
    last_15m = {k: v for k, v in last.items() if not k.endswith("_4h")}
    return detect(*detector_inputs(last_15m=last_15m, last_4h=last_4h), params)


def test_the_base_case_scores_environment_and_rsi_only():
    result = judged()
    assert result.status == "ok"
    assert result.parts == BASE and result.score == 13
    assert result.signal_type is None and result.reason == "score 13 < 15: no signal"
    env = result.environment
    assert env.mode is MarketMode.BULL and env.active and env.aligned
    assert env.trend_15m is Trend.UP and env.trend_4h is Trend.UP
    assert env.time_4h == T0 + H4 * 59  # the 4h candle that closed at the 15m close
    assert result.close_time == T0 + H4 * 60


@pytest.mark.parametrize(
    ("histogram", "move"),
    [
        ([1.0, -0.5, 0.2], MacdMove.TURN_UP),
        ([1.0, 0.0, 0.2], MacdMove.TURN_UP),  # from exactly 0 counts as a turn
        ([0.1, 0.2, 0.3], MacdMove.RISING),  # positive and higher at each of the last 2
        ([-0.1, 0.2, 0.3], MacdMove.RISING),
        ([0.3, 0.1, 0.2], None),  # rose once only
        ([0.1, 0.2, 0.2], None),  # flat is not rising
        ([-0.3, -0.2, -0.1], MacdMove.RISING),  # rising while negative: "keeps rising"
        ([1.0, 0.5, 0.0], None),  # to exactly 0 is not a turn up
    ],
)
def test_macd_points_in_a_bull_market(histogram, move):
    result = judged(histogram=histogram)
    assert result.trigger.macd_move is move
    assert result.parts["macd"] == (5 if move else 0)
    assert result.trigger.histogram == tuple(histogram)


def test_only_a_rise_above_zero_counts_with_the_sign_option():
    strict = DetectorParams(macd_rising_requires_sign=True)
    assert judged(strict, histogram=[-0.3, -0.2, -0.1]).trigger.macd_move is None
    assert judged(strict, histogram=[0.1, 0.2, 0.3]).trigger.macd_move is MacdMove.RISING
    bear = judged(strict, close=[98.0], close_4h=[98.0], histogram=[0.3, 0.2, 0.1])
    assert bear.trigger.macd_move is None
    assert judged(close=[98.0], close_4h=[98.0], histogram=[0.3, 0.2, 0.1]).trigger.macd_move is (
        MacdMove.FALLING
    )


def test_a_bull_macd_turn_makes_a_long_signal_expiring_after_four_hours():
    result = judged(histogram=[-0.5, 0.2])
    assert result.parts == {**BASE, "macd": 5} and result.score == 18
    assert result.signal_type is SignalType.LONG
    assert result.expire_at == result.close_time + timedelta(hours=4)
    assert result.reason == "score 18 >= 15: LONG signal"


def test_bear_market_mirror_image_with_a_doubled_position():
    # close 98 under EMA55 99, 4h close 98 under EMA21 99: BEAR, aligned; RSI 60 > 20 (+3)
    result = judged(close=[98.0], close_4h=[98.0], histogram=[0.1, -0.2])
    assert result.environment.mode is MarketMode.BEAR
    assert result.trigger.direction is SignalType.SHORT
    assert result.trigger.macd_move is MacdMove.TURN_DOWN
    assert result.parts == {**BASE, "macd": 5} and result.signal_type is SignalType.SHORT
    assert result.position_multiplier == 2  # SHORT with RSI 60 > 50
    falling = judged(close=[98.0], close_4h=[98.0], histogram=[-0.1, -0.2, -0.3])
    assert falling.trigger.macd_move is MacdMove.FALLING


@pytest.mark.parametrize(
    ("close", "rsi", "points", "multiplier"),
    [
        (100.0, 79.99, 3, 1),
        (100.0, 80.0, 0, 1),  # LONG needs RSI < 80
        (100.0, 49.9, 3, 2),  # LONG with RSI < 50: doubled
        (98.0, 20.01, 3, 1),
        (98.0, 20.0, 0, 1),  # SHORT needs RSI > 20
        (98.0, 50.1, 3, 2),
    ],
)
def test_rsi_gate_and_position_multiplier(close, rsi, points, multiplier):
    result = judged(close=[close], close_4h=[close], rsi_7=[rsi])
    assert result.parts["rsi"] == points
    assert result.trigger.rsi_passed is (points == 3)
    assert result.position_multiplier == multiplier


def test_a_closed_rsi_gate_withholds_the_signal_unless_told_otherwise():
    # env 10 + MACD 5 + Bollinger 3 = 18 >= 15, but RSI 85 closes the LONG gate
    inputs = {"rsi_7": [85.0], "histogram": [-0.5, 0.2], "bb_width": [0.03]}
    result = judged(**inputs)
    assert result.score == 18 and result.signal_type is None
    assert "RSI gate is closed" in result.reason
    open_gate = judged(DetectorParams(rsi_gate_blocks_signal=False), **inputs)
    assert open_gate.signal_type is SignalType.LONG


@pytest.mark.parametrize(
    ("current", "mean", "threshold", "points"),
    [
        # window: 150, 50, 150, ... (19 values) then the current volume; sample std
        (200.0, 107.5, 189.2067, 5),  # 107.5 + 1.5 x 54.4711
        (180.0, 106.5, 185.7643, 0),  # 106.5 + 1.5 x 52.8429
        (150.0, 105.0, 181.5627, 0),
    ],
)
def test_volume_confirmation_against_mean_plus_one_and_a_half_sample_deviations(
    current, mean, threshold, points
):
    window = [*([50.0, 150.0] * 10)[1:], current]
    result = judged(volume=window)
    conf = result.confirmation
    assert conf.volume_mean == pytest.approx(mean)
    assert conf.volume_std == pytest.approx(statistics.stdev(window))
    assert conf.volume_threshold == pytest.approx(threshold, abs=1e-4)
    assert result.parts["volume"] == points


def test_constant_volume_is_no_surge():
    flat = judged()  # std 0: a volume equal to its mean is not above it
    assert flat.confirmation.volume_std == 0.0 and flat.parts["volume"] == 0


def test_bollinger_confirmation_at_one_point_two_times_the_mean_width():
    # 19 x 0.02 and the current 0.03: mean 0.0205, threshold 0.0246 -> +3
    result = judged(bb_width=[0.03])
    assert result.confirmation.bb_width_mean == pytest.approx(0.0205)
    assert result.confirmation.bollinger_threshold == pytest.approx(0.0246)
    assert result.parts["bollinger"] == 3
    # 0.024: mean 0.0202, threshold 0.02424 -> 0
    assert judged(bb_width=[0.024]).parts["bollinger"] == 0


def test_multi_timeframe_resonance_needs_the_4h_trigger_in_the_same_direction():
    turned_up = {"histogram_4h": [-0.1, 0.2]}
    assert judged(**turned_up).parts["multi_timeframe"] == 4
    assert judged(**turned_up).confirmation.direction_4h is SignalType.LONG
    rising = {"histogram_4h": [0.1, 0.2, 0.3]}
    assert judged(**rising).parts["multi_timeframe"] == 4
    # the 4h histogram turned up but the 4h close is under its EMA21: no 4h direction
    assert judged(close_4h=[98.0], **turned_up).confirmation.direction_4h is None
    # 15m BEAR with a 4h LONG: no resonance
    bear = judged(close=[98.0], close_4h=[100.0], **turned_up)
    assert bear.trigger.direction is SignalType.SHORT and bear.parts["multi_timeframe"] == 0
    off = judged(DetectorParams(multi_timeframe=False), **turned_up)
    assert off.parts["multi_timeframe"] == 0 and off.confirmation.direction_4h is None


def test_everything_at_once_scores_thirty():
    result = judged(
        histogram=[-0.5, 0.2],
        volume=[*[50.0, 150.0] * 9, 50.0, 400.0],
        bb_width=[0.05],
        histogram_4h=[-0.1, 0.2],
    )
    assert result.score == result.max_score == 30
    assert all(points > 0 for points in result.parts.values())


def test_misaligned_trends_are_reported_and_fail_the_environment_only_with_the_option():
    result = judged(close_4h=[98.0], histogram=[-0.5, 0.2])
    assert not result.environment.aligned and result.environment.passed
    assert result.original_outputs()["multi_tf_aligned"] is False
    assert result.parts == {**BASE, "macd": 5}
    strict = DetectorParams(environment_requires_alignment=True)
    result = judged(strict, close_4h=[98.0], histogram=[-0.5, 0.2])
    assert not result.environment.passed
    assert result.parts == {**BASE, "environment": 0, "macd": 5}


def test_an_inactive_market_stops_at_the_environment():
    # current width 0.005 < 0.5 x mean 0.01925: inactive, whatever else fires
    result = judged(bb_width=[0.005], histogram=[-0.5, 0.2], histogram_4h=[-0.1, 0.2])
    assert not result.environment.active
    assert result.trigger is None and result.confirmation is None
    assert result.score == 0 and result.signal_type is None
    assert result.reason.startswith("market inactive")


def test_a_close_within_the_neutral_band_gives_no_direction():
    # |100 - 99.95| = 0.05 <= 0.001 x 99.95
    result = judged(ema_55=[99.95], histogram=[-0.5, 0.2])
    assert result.environment.mode is MarketMode.NEUTRAL
    assert result.trigger is None and result.score == 0 and result.signal_type is None
    wider = judged(DetectorParams(neutral_band=0.0), ema_55=[99.95], histogram=[-0.5, 0.2])
    assert wider.environment.mode is MarketMode.BULL and wider.signal_type is SignalType.LONG


@pytest.mark.parametrize(
    ("kwargs", "last_15m", "words"),
    [
        ({"rows_15m": 19}, {}, "need 20 15m candles, got 19"),
        ({"closed_4h": 2}, {}, "need 3 4h candles closed by"),
        ({}, {"bb_width": [float("nan")] + [0.02] * 19}, "bb_width is null, NaN or infinite"),
        ({}, {"rsi_7": [None]}, "rsi_7 is null, NaN or infinite"),
        ({}, {"volume": [float("inf")]}, "volume is null, NaN or infinite"),
    ],
)
def test_too_little_data_is_a_result_not_an_exception(kwargs, last_15m, words):
    result = detect(*detector_inputs(last_15m=last_15m, **kwargs))
    assert result.status == "insufficient_data" and words in result.reason
    assert result.score == 0 and result.signal_type is None


def test_a_gap_outside_the_windows_does_not_matter():
    frame_15m, frame_4h = detector_inputs(rows_15m=130)
    holed = frame_15m.with_columns(
        pl.when(pl.int_range(pl.len()) < 5)
        .then(None)
        .otherwise(pl.col("bb_width"))
        .alias("bb_width")
    )
    assert detect(holed, frame_4h).status == "ok"


def test_4h_candles_not_closed_at_the_judged_close_are_never_read():
    frame_15m, frame_4h = detector_inputs()
    baseline = detect(frame_15m, frame_4h)
    future = frame_4h.with_columns(
        pl.when(pl.int_range(pl.len()) >= 60).then(-1e9).otherwise(pl.col(name)).alias(name)
        for name in ("close", "ema_21", "histogram")
    )
    assert detect(frame_15m, future) == baseline
    # the candle closing exactly at the judged close IS read
    turned = frame_4h.with_columns(
        pl.when(pl.int_range(pl.len()) == 59).then(98.0).otherwise(pl.col("close")).alias("close")
    )
    assert detect(frame_15m, turned).environment.trend_4h is Trend.DOWN


def test_details_are_json_and_explain_the_score():
    result = judged(histogram=[-0.5, 0.2])
    details = json.loads(json.dumps(result.to_details()))
    assert details["score"] == sum(details["parts"].values()) == 18
    assert details["signal_type"] == "LONG"
    assert details["trigger"]["macd_move"] == "turn_up"
    assert details["environment"]["time_4h"] == (T0 + H4 * 59).isoformat()
    insufficient = detect(*detector_inputs(rows_15m=10)).to_details()
    assert insufficient["environment"] is None and insufficient["status"] == "insufficient_data"


@pytest.mark.parametrize(
    ("frame_change", "field"),
    [
        (lambda f: f.drop("ema_55"), "candles_15m"),
        (lambda f: f.reverse(), "candles_15m.time"),
        (lambda f: f.with_columns(pl.col("time").cast(pl.String)), "candles_15m.time"),
        (lambda f: f.to_dicts(), "candles_15m"),
    ],
)
def test_bad_frames_are_refused_naming_the_argument(frame_change, field):
    frame_15m, frame_4h = detector_inputs()
    with pytest.raises(InvalidInput) as caught:
        detect(frame_change(frame_15m), frame_4h)
    assert caught.value.field == field


def test_params_are_validated_with_the_field_named():
    with pytest.raises(InvalidInput) as caught:
        DetectorParams(volume_window=1)
    assert caught.value.field == "volume_window"
    with pytest.raises(InvalidInput) as caught:
        DetectorParams(signal_expiry=timedelta(0))
    assert caught.value.field == "signal_expiry"
    assert DetectorParams().max_score == 30
