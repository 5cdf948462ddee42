"""detect_history agrees exactly with detect called at each close."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qwentrade.domain.detector import DetectorParams, detect, detect_history
from qwentrade.testing.builders import detector_inputs, synthetic_market
from qwentrade.testing.strategies import detector_frames, detector_params

NAN = float("nan")

DECISIONS = (
    "time",
    "sufficient",
    "market_mode",
    "active",
    "score",
    "signal_type",
    "points_environment",
    "points_macd",
    "points_rsi",
    "points_volume",
    "points_bollinger",
    "points_multi_timeframe",
    "position_multiplier",
    "multi_tf_aligned",
    "confirmed",
)


def expected_row(result, history_row: dict) -> dict:
    env, conf = result.environment, result.confirmation
    explained = {}
    if env is not None:  # the window statistics, to the bit
        explained["bb_width_mean"] = env.bb_width_mean
    if conf is not None:
        explained |= {
            "volume_mean": conf.volume_mean,
            "volume_std": conf.volume_std,
            "volume_threshold": conf.volume_threshold,
        }
    elif env is None:
        explained = dict.fromkeys(
            ("bb_width_mean", "volume_mean", "volume_std", "volume_threshold")
        )
    extra = {name: history_row[name] for name in explained}
    assert extra == explained
    return {
        "time": result.time,
        "sufficient": result.status == "ok",
        "market_mode": env.mode.value if env else None,
        "active": env.active if env else None,
        "score": result.score,
        "signal_type": result.signal_type.value if result.signal_type else None,
        **{f"points_{name}": points for name, points in result.parts.items()},
        "position_multiplier": result.position_multiplier,
        "multi_tf_aligned": env.aligned if env else None,
        "confirmed": result.confirmed,
    }


def assert_agrees(frame_15m, frame_4h, params, rows) -> pl.DataFrame:
    history = detect_history(frame_15m, frame_4h, params, explain=True)
    assert history.height == frame_15m.height
    for i in rows:
        result = detect(frame_15m.head(i + 1), frame_4h, params)
        row = history.row(i, named=True)
        decisions = {name: row[name] for name in DECISIONS}
        assert decisions == expected_row(result, row), f"row {i}: {result.reason}"
    return history


def test_on_a_realistic_market_where_signals_of_both_directions_fire():
    frame_15m, frame_4h = synthetic_market(1400, seed=10)
    # the 4h MACD histogram (read for resonance) is null for the first 24 4h candles, and
    # resonance reads 3 of them: the first judged close is the one at 27 x 4h, row 431
    rows = range(400, 1400)
    history = assert_agrees(frame_15m, frame_4h, None, rows)
    judged = history.slice(400)
    signals = judged.get_column("signal_type").value_counts()
    counts = dict(signals.iter_rows())
    assert counts.get("LONG", 0) >= 10 and counts.get("SHORT", 0) >= 10, counts
    sufficient = judged.get_column("sufficient")
    assert not sufficient.head(31).any() and sufficient.tail(969).all()
    # some closes are judged and miss the threshold, some are inactive
    assert judged.filter(pl.col("sufficient") & pl.col("signal_type").is_null()).height > 20
    assert judged.filter(~pl.col("active")).height > 0


@pytest.mark.parametrize(
    ("last_15m", "last_4h"),
    [
        ({}, {}),
        ({"histogram": [-0.5, 0.2], "bb_width": [0.03]}, {"histogram": [-0.1, 0.2]}),
        ({"volume": [400.0]}, {}),
        ({}, {"histogram": [NAN, 1.0, 1.0]}),  # the oldest 4h value resonance reads
        ({}, {"histogram": [NAN, 1.0, 1.0, 1.0]}),  # one before it: not read
        ({"histogram": [NAN, 1.0, 1.0]}, {}),
    ],
)
def test_on_the_hand_made_cases(last_15m, last_4h):
    frame_15m, frame_4h = detector_inputs(rows_15m=110, last_15m=last_15m, last_4h=last_4h)
    history = assert_agrees(frame_15m, frame_4h, None, range(95, 110))
    nan_read = any(len(v) == 3 and v[0] != v[0] for v in (*last_15m.values(), *last_4h.values()))
    assert history.get_column("sufficient")[-1] is not nan_read


def test_on_exact_ties_where_only_the_comparison_decides():
    # volume window 4: 4, 4, 4, 5 has mean 4.25 and sample std 0.5, so 5 == 4.25 + 1.5 x 0.5
    volume_tie = DetectorParams(volume_window=4)
    frame_15m, frame_4h = detector_inputs(last_15m={"volume": [4.0, 4.0, 4.0, 5.0]})
    history = assert_agrees(frame_15m, frame_4h, volume_tie, range(90, 100))
    assert history.get_column("points_volume")[-1] == 5
    # a one-candle Bollinger window: the width IS its mean, on both thresholds at ratio 1
    width_tie = DetectorParams(bollinger_window=1, active_width_ratio=1.0, confirm_width_ratio=1.0)
    history = assert_agrees(*detector_inputs(), width_tie, range(90, 100))
    assert history.get_column("points_bollinger")[-1] == 3
    assert history.get_column("active")[-1]


@settings(max_examples=60, deadline=None)
@given(frames=detector_frames(), params=st.none() | detector_params())
def test_on_arbitrary_frames_with_nulls_and_ties(frames, params):
    frame_15m, frame_4h = frames
    assert_agrees(frame_15m, frame_4h, params, range(frame_15m.height))


def test_empty_and_short_histories():
    frame_15m, frame_4h = detector_inputs()
    empty = detect_history(frame_15m.head(0), frame_4h)
    assert empty.height == 0 and "signal_type" in empty.columns
    no_4h = detect_history(frame_15m, frame_4h.head(0), DetectorParams())
    assert not no_4h.get_column("sufficient").any()
    assert detect(frame_15m.head(0), frame_4h).status == "insufficient_data"
