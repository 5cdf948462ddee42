"""DetectionResult: the detector's verdict with every layer's inputs, outputs and points.

``score == sum(parts.values())`` always holds; :meth:`DetectionResult.to_details` is the
JSON-serialisable explanation stored in ``market_signal.details``.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import attrs


class SignalType(enum.Enum):
    """The direction of a signal (``market_signal.signal_type``)."""

    LONG = "LONG"
    SHORT = "SHORT"


class MarketMode(enum.Enum):
    BULL = "BULL"
    BEAR = "BEAR"
    NEUTRAL = "NEUTRAL"


class Trend(enum.Enum):
    """Close against an EMA: UP above, DOWN below, FLAT exactly on it."""

    UP = "up"
    DOWN = "down"
    FLAT = "flat"


class MacdMove(enum.Enum):
    """How the MACD histogram moved in the direction judged."""

    TURN_UP = "turn_up"  # from <= 0 to > 0
    RISING = "rising"  # > 0 and higher at each of the last macd_rising_bars closes
    TURN_DOWN = "turn_down"  # from >= 0 to < 0
    FALLING = "falling"  # < 0 and lower at each of the last macd_rising_bars closes


OK = "ok"
INSUFFICIENT_DATA = "insufficient_data"


@attrs.frozen
class EnvironmentLayer:
    """Mode (15m close vs EMA55 with the neutral band), activity (Bollinger width vs its
    mean), trends on 15m (vs EMA55) and 4h (vs EMA21 of the last closed 4h candle)."""

    close: float
    ema_55: float
    neutral_band: float
    mode: MarketMode
    bb_width: float
    bb_width_mean: float
    active_threshold: float
    active: bool
    trend_15m: Trend
    time_4h: datetime
    close_4h: float
    ema_21_4h: float
    trend_4h: Trend
    aligned: bool
    passed: bool
    points: int


@attrs.frozen
class TriggerLayer:
    """MACD move and RSI gate for the direction the mode gives."""

    direction: SignalType
    histogram: tuple[float, ...]  # the last macd_rising_bars + 1 values, oldest first
    macd_move: MacdMove | None
    macd_points: int
    rsi: float
    rsi_limit: float  # LONG needs rsi < limit, SHORT needs rsi > limit
    rsi_passed: bool
    rsi_points: int
    position_multiplier: int


@attrs.frozen
class ConfirmationLayer:
    """Volume surge, Bollinger expansion and 4h resonance, for the triggered direction."""

    volume: float
    volume_mean: float
    volume_std: float
    volume_threshold: float
    volume_passed: bool
    volume_points: int
    bb_width: float
    bb_width_mean: float
    bollinger_threshold: float
    bollinger_passed: bool
    bollinger_points: int
    multi_timeframe: bool
    histogram_4h: tuple[float, ...]
    direction_4h: SignalType | None
    multi_timeframe_passed: bool
    multi_timeframe_points: int


@attrs.frozen
class DetectionResult:
    """The verdict at one 15m close.

    ``time`` is the judged 15m candle's OPEN time and ``close_time`` when it closed (the
    moment of the judgement); ``status`` is ``ok`` or ``insufficient_data`` (then ``reason``
    says what is missing and the score is 0). Layers not reached are None: the trigger and
    confirmation layers are skipped when the market is inactive or NEUTRAL.
    """

    status: str
    reason: str
    time: datetime | None
    close_time: datetime | None
    environment: EnvironmentLayer | None
    trigger: TriggerLayer | None
    confirmation: ConfirmationLayer | None
    signal_type: SignalType | None
    expire_at: datetime | None
    threshold: int
    max_score: int

    @property
    def parts(self) -> dict[str, int]:
        """Points of each component; their sum is the score."""
        env, trig, conf = self.environment, self.trigger, self.confirmation
        return {
            "environment": env.points if env else 0,
            "macd": trig.macd_points if trig else 0,
            "rsi": trig.rsi_points if trig else 0,
            "volume": conf.volume_points if conf else 0,
            "bollinger": conf.bollinger_points if conf else 0,
            "multi_timeframe": conf.multi_timeframe_points if conf else 0,
        }

    @property
    def score(self) -> int:
        """Total points, 0..max_score (30 by default)."""
        return sum(self.parts.values())

    @property
    def signal(self) -> bool:
        return self.signal_type is not None

    @property
    def position_multiplier(self) -> int:
        """2 when the RSI favours the direction (see DetectorParams), else 1."""
        return self.trigger.position_multiplier if self.trigger else 1

    @property
    def confirmed(self) -> bool:
        """The original's ``confirmed``: the confirmation layer was reached and the volume
        or the Bollinger confirmation passed (resonance is a bonus, "optional")."""
        conf = self.confirmation
        return conf is not None and (conf.volume_passed or conf.bollinger_passed)

    def original_outputs(self) -> dict[str, Any]:
        """The result under the original system's output names (layer by layer: environment
        ``market_mode, market_active, trend_15m, trend_4h, multi_tf_aligned``; trigger
        ``signal_type, rsi_value, macd_histogram``; confirmation ``confirmed, volume_score,
        bb_score, multi_tf_score``; and ``position_multiplier``). None where the layer was
        not reached; ``signal_type`` is the signal that fired (LONG/SHORT), None when none
        did (the triggered direction is ``trigger.direction``)."""
        env, trig, conf = self.environment, self.trigger, self.confirmation
        return {
            "market_mode": env.mode.value if env else None,
            "market_active": env.active if env else None,
            "trend_15m": env.trend_15m.value if env else None,
            "trend_4h": env.trend_4h.value if env else None,
            "multi_tf_aligned": env.aligned if env else None,
            "signal_type": _plain(self.signal_type),
            "rsi_value": trig.rsi if trig else None,
            "macd_histogram": trig.histogram[-1] if trig else None,
            "confirmed": self.confirmed,
            "volume_score": conf.volume_points if conf else 0,
            "bb_score": conf.bollinger_points if conf else 0,
            "multi_tf_score": conf.multi_timeframe_points if conf else 0,
            "position_multiplier": self.position_multiplier,
        }

    def to_details(self) -> dict[str, Any]:
        """Plain JSON types only: enums as their values, times as ISO 8601 strings."""
        return {
            **self.original_outputs(),
            "status": self.status,
            "reason": self.reason,
            "time": _plain(self.time),
            "close_time": _plain(self.close_time),
            "score": self.score,
            "max_score": self.max_score,
            "threshold": self.threshold,
            "signal": self.signal,
            "expire_at": _plain(self.expire_at),
            "parts": self.parts,
            "environment": _layer(self.environment),
            "trigger": _layer(self.trigger),
            "confirmation": _layer(self.confirmation),
        }


def _layer(layer: object | None) -> dict[str, Any] | None:
    if layer is None:
        return None
    return {field.name: _plain(getattr(layer, field.name)) for field in attrs.fields(type(layer))}


def _plain(value: object) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value
