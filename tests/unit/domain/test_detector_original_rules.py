"""The detector's defaults against the original design, rule by rule.

Each test quotes the rule from the original system's design document (section 3.2 and
flow 4.2) and checks it on a hand-made market (``detector_inputs``: a quiet BULL market,
close 100 over EMA55 99, RSI 60, width 0.02, volume 100, histogram flat at 1.0).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from qwentrade.domain.config_keys import CONFIG_KEYS
from qwentrade.domain.detector import DetectorParams, MacdMove, MarketMode, SignalType, detect
from qwentrade.testing.builders import detector_inputs


def judged(params=None, **last):
    last_4h = {k.removesuffix("_4h"): v for k, v in last.items() if k.endswith("_4h")}
    last_15m = {k: v for k, v in last.items() if not k.endswith("_4h")}
    return detect(*detector_inputs(last_15m=last_15m, last_4h=last_4h), params)


BEAR = {"close": [98.0], "close_4h": [98.0]}


def test_input_counts():
    # "15分钟K线：100根（可配置：DETECTOR_KLINE_15M_COUNT）"
    # "4小时K线：60根（可配置：DETECTOR_KLINE_4H_COUNT）"
    assert DetectorParams().kline_15m_count == CONFIG_KEYS["DETECTOR_KLINE_15M_COUNT"].default
    assert DetectorParams().kline_15m_count == 100
    assert DetectorParams().kline_4h_count == CONFIG_KEYS["DETECTOR_KLINE_4H_COUNT"].default
    assert DetectorParams().kline_4h_count == 60
    # what is loaded, not a minimum: 30 candles fill every 20-candle window
    assert detect(*detector_inputs(rows_15m=30)).status == "ok"


def test_market_mode_is_price_against_ema55():
    # "BULL：价格 > EMA55（牛市）" "BEAR：价格 < EMA55（熊市）" "NEUTRAL：价格 ≈ EMA55（震荡）"
    assert judged().environment.mode is MarketMode.BULL
    assert judged(**BEAR).environment.mode is MarketMode.BEAR
    assert judged(close=[99.05]).environment.mode is MarketMode.NEUTRAL  # within 0.1 %


def test_an_inactive_market_returns_at_once_with_no_signal():
    # "当前宽度 >= 平均宽度 × 阈值（默认0.5）" "宽度小表示市场不活跃（震荡市），不生成信号"
    # "3. 如果市场不活跃 → 直接返回，不生成信号"
    widths = [0.02] * 19
    at_half = judged(bb_width=[*widths, 0.0098])  # mean 0.01949, x 0.5 = 0.009745
    assert at_half.environment.active
    result = judged(bb_width=[*widths, 0.0090], histogram=[-0.5, 0.2], volume=[400.0])
    assert not result.environment.active  # 0.009 < 0.5 x 0.01945
    assert result.trigger is None and result.confirmation is None
    assert result.score == 0 and result.signal_type is None


def test_the_environment_passes_when_active_and_bull_or_bear_alignment_only_reported():
    # "基础分：环境层通过 +10分"; "对齐：15m和4h趋势一致时加分" is reported as multi_tf_aligned
    misaligned = judged(close_4h=[98.0])  # 15m above EMA55, 4h under its EMA21
    assert misaligned.parts["environment"] == 10
    assert misaligned.original_outputs()["multi_tf_aligned"] is False
    assert judged().original_outputs()["multi_tf_aligned"] is True
    strict = judged(DetectorParams(environment_requires_alignment=True), close_4h=[98.0])
    assert strict.parts["environment"] == 0  # our stricter rule, an option


@pytest.mark.parametrize(
    ("histogram", "move"),
    [
        ([1.0, -0.5, 0.2], MacdMove.TURN_UP),  # "MACD柱从负转正"
        ([-0.9, -0.6, -0.3], MacdMove.RISING),  # "或持续增大", below zero too
        ([0.1, 0.2, 0.3], MacdMove.RISING),
        ([0.3, 0.2, 0.1], None),
    ],
)
def test_bull_macd_turns_positive_or_keeps_rising(histogram, move):
    # "牛市：MACD柱从负转正，或持续增大" -> +5 ("MACD转折 +5分")
    result = judged(histogram=histogram)
    assert result.trigger.macd_move is move
    assert result.parts["macd"] == (5 if move else 0)


@pytest.mark.parametrize(
    ("histogram", "move"),
    [
        ([-1.0, 0.5, -0.2], MacdMove.TURN_DOWN),  # "MACD柱从正转负"
        ([0.9, 0.6, 0.3], MacdMove.FALLING),  # "或持续减小", above zero too
        ([-0.1, -0.2, -0.3], MacdMove.FALLING),
        ([-0.3, -0.2, -0.1], None),
    ],
)
def test_bear_macd_turns_negative_or_keeps_falling(histogram, move):
    # "熊市：MACD柱从正转负，或持续减小"
    result = judged(histogram=histogram, **BEAR)
    assert result.trigger.direction is SignalType.SHORT
    assert result.trigger.macd_move is move
    assert result.parts["macd"] == (5 if move else 0)


def test_rsi_limits_and_the_veto():
    # "做多：RSI < 上限（默认80），防止极端过热" "做空：RSI > 下限（默认20），防止极端超卖"
    # -> +3 ("RSI符合条件 +3分"); outside the limit the signal is withheld (a veto)
    assert judged(rsi_7=[79.9]).parts["rsi"] == 3
    assert judged(rsi_7=[80.0]).parts["rsi"] == 0
    assert judged(rsi_7=[20.1], **BEAR).parts["rsi"] == 3
    assert judged(rsi_7=[20.0], **BEAR).parts["rsi"] == 0
    hot = judged(rsi_7=[85.0], histogram=[-0.5, 0.2], bb_width=[0.03])
    assert hot.score == 18 and hot.signal_type is None
    no_veto = DetectorParams(rsi_gate_blocks_signal=False)
    assert judged(no_veto, rsi_7=[85.0], histogram=[-0.5, 0.2], bb_width=[0.03]).signal


def test_position_multiplier():
    # "做多：RSI < 50时加倍仓位" "做空：RSI > 50时加倍仓位"
    assert judged(rsi_7=[49.9]).position_multiplier == 2
    assert judged(rsi_7=[50.0]).position_multiplier == 1
    assert judged(rsi_7=[50.1], **BEAR).position_multiplier == 2
    assert judged(rsi_7=[50.0], **BEAR).position_multiplier == 1


def test_volume_confirmation():
    # "当前成交量 >= 平均值 + 倍数 × 标准差（默认1.5倍）" -> +5 ("成交量确认 +5分")
    window = [*([50.0, 150.0] * 10)[1:], 200.0]  # mean 107.5, std 54.47: threshold 189.2
    assert judged(volume=window).parts["volume"] == 5
    assert judged(volume=[*window[:-1], 185.0]).parts["volume"] == 0


def test_bollinger_confirmation():
    # "当前布林带宽度 >= 平均宽度 × 倍数（默认1.2倍）" -> +3 ("布林带确认 +3分")
    assert judged(bb_width=[0.03]).parts["bollinger"] == 3  # mean 0.0205, x 1.2 = 0.0246
    assert judged(bb_width=[0.024]).parts["bollinger"] == 0


def test_multi_timeframe_resonance_is_optional_and_on():
    # "15m和4h同时触发信号时加分（可选，默认启用）" -> +4 ("多时间框架共振 +4分")
    assert DetectorParams().multi_timeframe
    assert judged(histogram_4h=[-0.1, 0.2]).parts["multi_timeframe"] == 4
    off = DetectorParams(multi_timeframe=False)
    assert judged(off, histogram_4h=[-0.1, 0.2]).parts["multi_timeframe"] == 0


def test_the_score_runs_0_to_30_and_a_signal_needs_15():
    # "总分范围：0-30分" "信号生成条件：总分 >= 15分"
    everything = judged(
        histogram=[-0.5, 0.2],
        volume=[*[50.0, 150.0] * 9, 50.0, 400.0],
        bb_width=[0.05],
        histogram_4h=[-0.1, 0.2],
    )
    assert everything.score == everything.max_score == 30
    assert DetectorParams().signal_threshold == 15
    thirteen = judged()  # environment 10 + RSI 3
    assert thirteen.score == 13 and not thirteen.signal
    sixteen = judged(bb_width=[0.03])  # + Bollinger 3
    assert sixteen.score == 16 and sixteen.signal_type is SignalType.LONG
    assert not judged(DetectorParams(signal_threshold=17), bb_width=[0.03]).signal


def test_a_signal_is_valid_for_four_hours():
    # "信号有效期：默认4小时（可配置：DETECTOR_SIGNAL_EXPIRE_HOURS）"
    assert CONFIG_KEYS["DETECTOR_SIGNAL_EXPIRE_HOURS"].default == 4.0
    result = judged(bb_width=[0.03])
    assert result.expire_at == result.close_time + timedelta(hours=4)


def test_the_result_carries_the_original_output_names():
    # "输出：market_mode, market_active, trend_15m, trend_4h, multi_tf_aligned"
    # "输出：signal_type (LONG/SHORT), rsi_value, macd_histogram"
    # "输出：confirmed (bool), volume_score, bb_score, multi_tf_score"
    details = judged(bb_width=[0.03], histogram=[-0.5, 0.2]).to_details()
    assert {
        name: details[name]
        for name in (
            "market_mode",
            "market_active",
            "trend_15m",
            "trend_4h",
            "multi_tf_aligned",
            "signal_type",
            "rsi_value",
            "macd_histogram",
            "confirmed",
            "volume_score",
            "bb_score",
            "multi_tf_score",
            "position_multiplier",
        )
    } == {
        "market_mode": "BULL",
        "market_active": True,
        "trend_15m": "up",
        "trend_4h": "up",
        "multi_tf_aligned": True,
        "signal_type": "LONG",
        "rsi_value": 60.0,
        "macd_histogram": 0.2,
        "confirmed": True,
        "volume_score": 0,
        "bb_score": 3,
        "multi_tf_score": 0,
        "position_multiplier": 1,
    }
