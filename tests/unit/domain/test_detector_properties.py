"""Detector invariants over arbitrary indicator frames and parameters."""

from __future__ import annotations

import json

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from qwentrade.domain.detector import DetectorParams, MarketMode, SignalType, detect
from qwentrade.testing.strategies import detector_frames, detector_params


@settings(max_examples=300, deadline=None)
@given(frames=detector_frames(), params=st.none() | detector_params())
def test_the_score_is_bounded_explained_and_decides_the_signal(frames, params):
    result = detect(*frames, params)
    p = params or DetectorParams()
    assert 0 <= result.score <= p.max_score
    assert result.score == sum(result.parts.values())
    json.dumps(result.to_details())  # always serialisable

    env, trig, conf = result.environment, result.trigger, result.confirmation
    if result.status == "insufficient_data":
        assert (env, trig, conf, result.signal_type, result.score) == (None, None, None, None, 0)
        return
    assert result.parts["environment"] == (p.points_environment if env.passed else 0)
    if not env.active or env.mode is MarketMode.NEUTRAL:
        assert trig is None and conf is None and result.score == 0
        assert result.signal_type is None  # no signal when inactive or without direction
        return
    assert result.parts["macd"] == (p.points_macd if trig.macd_move else 0)
    assert result.parts["rsi"] == (p.points_rsi if trig.rsi_passed else 0)
    assert result.parts["volume"] == (p.points_volume if conf.volume_passed else 0)
    assert result.parts["bollinger"] == (p.points_bollinger if conf.bollinger_passed else 0)
    resonance = conf.multi_timeframe_passed
    assert result.parts["multi_timeframe"] == (p.points_multi_timeframe if resonance else 0)
    assert not resonance or conf.direction_4h is trig.direction
    expected = SignalType.LONG if env.mode is MarketMode.BULL else SignalType.SHORT
    assert trig.direction is expected
    gate_open = trig.rsi_passed or not p.rsi_gate_blocks_signal
    fires = result.score >= p.signal_threshold and gate_open
    assert result.signal_type is (expected if fires else None)
    if fires:
        assert result.expire_at == result.close_time + p.signal_expiry


@settings(max_examples=100, deadline=None)
@given(frames=detector_frames(min_rows=100, max_rows=130))
def test_an_inactive_market_never_signals_whatever_else_happens(frames):
    frame_15m, frame_4h = frames
    # shrink the last Bollinger width far under half its mean: inactive by construction
    last = frame_15m.height - 1
    widths = frame_15m.get_column("bb_width").to_list()
    widths[last] = 0.0
    quiet = frame_15m.with_columns(bb_width=pl.Series(widths, dtype=pl.Float64))
    result = detect(quiet, frame_4h, DetectorParams())
    assert result.signal_type is None and result.score == 0
    if result.status == "ok":
        assert not result.environment.active and result.trigger is None
