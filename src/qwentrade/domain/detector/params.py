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
    """Thresholds of the detector. Defaults are the original system's rules, quoted here;
    where the original is vague the choice is ours and says so; our refinements are
    options, off by default (except the RSI veto, which is how the original reads).

    Input: ``kline_15m_count`` 15m and ``kline_4h_count`` 4h candles are loaded (original:
    "15m x 100, 4h x 60", DETECTOR_KLINE_15M_COUNT / DETECTOR_KLINE_4H_COUNT). They are what
    the detection service reads, not minimums: a judgement needs only what its windows read
    (``required_15m``, ``required_4h``) and non-null indicators there.

    Environment (original: BULL price > EMA55, BEAR price < EMA55, NEUTRAL price ~ EMA55;
    active when the current Bollinger width >= the mean width x 0.5; "environment passed
    +10"; an inactive market returns at once with no signal): the mode is NEUTRAL when
    ``|close - EMA55| <= neutral_band * EMA55`` (ours: 0.1 %), else BULL above and BEAR
    below. Active when the width >= ``active_width_ratio`` x its mean over the last
    ``bollinger_window`` 15m candles (ours: 20, the current one included). The environment
    passes when the market is active and the mode is BULL or BEAR. The 15m trend (close vs
    EMA55) and the 4h trend (close vs EMA21 of the last closed 4h candle) are reported as
    ``multi_tf_aligned``; ``environment_requires_alignment`` (our refinement, off) also
    makes alignment a condition of the +10.

    Trigger (original: BULL "MACD histogram turns from negative to positive, or keeps
    rising"; BEAR the mirror; LONG needs RSI < 80, SHORT RSI > 20, "to prevent extreme
    overheating"): the histogram turned (from <= 0 to > 0 for LONG) or rose at each of the
    last ``macd_rising_bars`` closes (ours: 2), whatever its sign;
    ``macd_rising_requires_sign`` (our refinement, off) counts a rise only above zero (a
    fall only below). RSI gate: LONG needs RSI < ``rsi_long_max``, SHORT RSI >
    ``rsi_short_min``; with ``rsi_gate_blocks_signal`` (on: the original's "prevent" reads
    as a veto) a closed gate withholds the signal whatever the score. Position multiplier
    2 for LONG with RSI < ``rsi_double_long_below`` (50) and SHORT with RSI >
    ``rsi_double_short_above`` (50).

    Confirmation (original: volume >= mean + 1.5 x std; width >= mean width x 1.2; 15m
    and 4h both triggering, optional, on): volume > its mean and >= mean +
    ``volume_std_multiplier`` x its sample standard deviation over the last
    ``volume_window`` candles (ours: 20, current included); Bollinger width >=
    ``confirm_width_ratio`` x its mean; resonance when the 4h trigger (close vs EMA21 and
    the 4h histogram's move) points the same way (``multi_timeframe``).

    Score (original: environment +10, MACD +5, RSI +3, volume +5, Bollinger +3,
    multi-timeframe +4; a signal at >= 15): a signal fires at score >=
    ``signal_threshold``. ``signal_expiry`` (original: 4 hours) dates the result's
    ``expire_at`` from the judged close; the detection service dates a stored signal from
    its creation. ``rsi_column`` names the 15m RSI column.
    """

    kline_15m_count: int = attrs.field(default=100, validator=_whole(1, 100_000))
    kline_4h_count: int = attrs.field(default=60, validator=_whole(1, 100_000))
    neutral_band: float = attrs.field(default=0.001, validator=_number(0.0, 1.0))
    bollinger_window: int = attrs.field(default=20, validator=_whole(1, 10_000))
    active_width_ratio: float = attrs.field(default=0.5, validator=_number(0.0))
    confirm_width_ratio: float = attrs.field(default=1.2, validator=_number(0.0))
    volume_window: int = attrs.field(default=20, validator=_whole(2, 10_000))
    volume_std_multiplier: float = attrs.field(default=1.5, validator=_number(0.0))
    macd_rising_bars: int = attrs.field(default=2, validator=_whole(1, 100))
    macd_rising_requires_sign: bool = False
    rsi_long_max: float = attrs.field(default=80.0, validator=_number(0.0, 100.0))
    rsi_short_min: float = attrs.field(default=20.0, validator=_number(0.0, 100.0))
    rsi_double_long_below: float = attrs.field(default=50.0, validator=_number(0.0, 100.0))
    rsi_double_short_above: float = attrs.field(default=50.0, validator=_number(0.0, 100.0))
    rsi_gate_blocks_signal: bool = True
    environment_requires_alignment: bool = False
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
        """15m candles a judgement reads: its longest window (the count loaded is
        ``kline_15m_count``; fewer stored candles are judged if the windows are full)."""
        return self.lookback_15m

    @property
    def required_4h(self) -> int:
        """Closed 4h candles a judgement reads: the histogram history for resonance, else
        the last one (its trend)."""
        return self.macd_rising_bars + 1 if self.multi_timeframe else 1

    @property
    def lookback_15m(self) -> int:
        """How many of the last 15m rows a judgement reads."""
        return max(self.bollinger_window, self.volume_window, self.macd_rising_bars + 1)
