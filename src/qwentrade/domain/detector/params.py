"""DetectorParams: every threshold of the three-layer detector, with its default."""

from __future__ import annotations

import math
from datetime import timedelta

import attrs

from qwentrade.domain.errors import InvalidInput

POINT_FIELDS = (
    "points_environment",
    "points_macd",
    "points_rsi",
    "points_volume",
    "points_bollinger",
    "points_multi_timeframe",
)


def _whole(minimum: int, maximum: int = 10**6):
    def check(instance: object, attribute: attrs.Attribute, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
            raise InvalidInput(
                attribute.name, f"must be a whole number in {minimum}..{maximum}, got {value!r}"
            )

    return check


def _number(minimum: float, maximum: float = math.inf):
    def check(instance: object, attribute: attrs.Attribute, value: float) -> None:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not math.isfinite(value) or not minimum <= value <= maximum:
            raise InvalidInput(
                attribute.name, f"must be a number in {minimum}..{maximum}, got {value!r}"
            )

    return check


@attrs.frozen
class DetectorParams:
    """Thresholds of the detector (defaults are the original system's).

    Environment: the market mode is NEUTRAL when ``|close - EMA55| <= neutral_band * EMA55``
    (a fraction: 0.001 is 0.1 %), else BULL above and BEAR below. The market is active
    when the current Bollinger width >= ``active_width_ratio`` x its mean over the last
    ``bollinger_window`` 15m candles (the current one included). The environment passes
    when the market is active, the mode is not NEUTRAL and, with
    ``environment_requires_alignment``, the 15m trend (close vs EMA55) and the 4h trend
    (close vs EMA21) agree.

    Trigger: the MACD histogram turns (crosses zero in the direction) or, already on the
    direction's side, has moved in the direction at each of the last ``macd_rising_bars``
    closes. RSI gate: LONG needs RSI < ``rsi_long_max``, SHORT needs RSI > ``rsi_short_min``;
    with ``rsi_gate_blocks_signal`` a closed gate also withholds the signal whatever the
    score. Position multiplier 2 for LONG with RSI < ``rsi_double_long_below`` and SHORT with
    RSI > ``rsi_double_short_above``.

    Confirmation: volume > its mean and >= mean + ``volume_std_multiplier`` x its sample
    standard deviation over the last ``volume_window`` candles (current included);
    Bollinger width >= ``confirm_width_ratio`` x its mean; multi-timeframe resonance when
    the 4h trigger points the same way (``multi_timeframe``).

    A signal fires at score >= ``signal_threshold`` and expires ``signal_expiry`` after the
    close it was judged at. ``rsi_column`` names the 15m RSI column.
    """

    min_candles_15m: int = attrs.field(default=100, validator=_whole(1))
    min_candles_4h: int = attrs.field(default=60, validator=_whole(1))
    neutral_band: float = attrs.field(default=0.001, validator=_number(0.0, 1.0))
    bollinger_window: int = attrs.field(default=20, validator=_whole(1, 10_000))
    active_width_ratio: float = attrs.field(default=0.5, validator=_number(0.0))
    confirm_width_ratio: float = attrs.field(default=1.2, validator=_number(0.0))
    volume_window: int = attrs.field(default=20, validator=_whole(2, 10_000))
    volume_std_multiplier: float = attrs.field(default=1.5, validator=_number(0.0))
    macd_rising_bars: int = attrs.field(default=2, validator=_whole(1, 100))
    rsi_long_max: float = attrs.field(default=80.0, validator=_number(0.0, 100.0))
    rsi_short_min: float = attrs.field(default=20.0, validator=_number(0.0, 100.0))
    rsi_double_long_below: float = attrs.field(default=50.0, validator=_number(0.0, 100.0))
    rsi_double_short_above: float = attrs.field(default=50.0, validator=_number(0.0, 100.0))
    rsi_gate_blocks_signal: bool = True
    environment_requires_alignment: bool = True
    multi_timeframe: bool = True
    points_environment: int = attrs.field(default=10, validator=_whole(0, 100))
    points_macd: int = attrs.field(default=5, validator=_whole(0, 100))
    points_rsi: int = attrs.field(default=3, validator=_whole(0, 100))
    points_volume: int = attrs.field(default=5, validator=_whole(0, 100))
    points_bollinger: int = attrs.field(default=3, validator=_whole(0, 100))
    points_multi_timeframe: int = attrs.field(default=4, validator=_whole(0, 100))
    signal_threshold: int = attrs.field(default=15, validator=_whole(0, 600))
    signal_expiry: timedelta = timedelta(hours=4)
    rsi_column: str = "rsi_7"

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.signal_expiry, timedelta) or self.signal_expiry <= timedelta(0):
            raise InvalidInput(
                "signal_expiry", f"must be a positive timedelta, got {self.signal_expiry!r}"
            )
        if not isinstance(self.rsi_column, str) or not self.rsi_column:
            raise InvalidInput("rsi_column", f"must name a column, got {self.rsi_column!r}")

    @property
    def max_score(self) -> int:
        """The highest score possible: every component's points (30 by default)."""
        return sum(getattr(self, name) for name in POINT_FIELDS)

    @property
    def required_15m(self) -> int:
        """15m candles needed at a close: the minimum, or more if a window needs more."""
        return max(
            self.min_candles_15m,
            self.bollinger_window,
            self.volume_window,
            self.macd_rising_bars + 1,
        )

    @property
    def required_4h(self) -> int:
        """Closed 4h candles needed at a close (the histogram history for resonance)."""
        needed = self.macd_rising_bars + 1 if self.multi_timeframe else 1
        return max(self.min_candles_4h, needed)

    @property
    def lookback_15m(self) -> int:
        """How many of the last 15m rows a judgement reads (the rest only counts)."""
        return max(self.bollinger_window, self.volume_window, self.macd_rising_bars + 1)
