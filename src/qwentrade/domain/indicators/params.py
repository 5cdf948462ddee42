"""IndicatorParams: the periods of every indicator, and the column names they give."""

from __future__ import annotations

import math

import attrs

from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.market import Timeframe

# Residual weight below which an unknown starting state no longer shows in a float64
# result: a state warmed up over ``k`` rows with decay ``c`` is off by ``c**k`` of its
# starting error, and 1e-18 is below the last bit of any double.
WARMUP_RESIDUAL = 1e-18


def _period(instance: object, attribute: attrs.Attribute, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100_000:
        raise InvalidInput(attribute.name, f"must be a whole number in 1..100000, got {value!r}")


def _as_tuple(value: object) -> tuple[object, ...]:
    if isinstance(value, str) or not hasattr(value, "__iter__"):
        raise InvalidInput("ema_periods", f"must be a sequence of periods, got {value!r}")
    return tuple(value)  # type: ignore[arg-type]


def _periods(instance: object, attribute: attrs.Attribute, value: tuple[int, ...]) -> None:
    for period in value:
        _period(instance, attribute, period)
    if len(set(value)) != len(value):
        raise InvalidInput(attribute.name, f"has a period twice: {value!r}")


def _stddev(instance: object, attribute: attrs.Attribute, value: object) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value <= 0:
        raise InvalidInput(attribute.name, f"must be a positive finite number, got {value!r}")


@attrs.frozen(cache_hash=True)  # a key of the caches of every compute() call
class IndicatorParams:
    """Periods of the indicator set; the defaults are the 15m set of the original system.

    Column names carry the period where the schema's names do: ``ema_{p}`` for each of
    ``ema_periods``, ``rsi_{rsi_period}``, ``atr_{atr_period}``, ``obv_ema_{obv_ema_period}``
    and ``adx_{adx_period}``; MACD (``macd_line``, ``signal_line``, ``histogram``) and
    Bollinger (``bb_upper``, ``bb_middle``, ``bb_lower``, ``bb_width``) do not. Use
    :meth:`for_timeframe` for the stored timeframes: RSI 7 on 15m, RSI 14 on 4H and 1D.
    """

    ema_periods: tuple[int, ...] = attrs.field(
        default=(9, 21, 55), converter=_as_tuple, validator=_periods
    )
    rsi_period: int = attrs.field(default=7, validator=_period)
    macd_fast: int = attrs.field(default=8, validator=_period)
    macd_slow: int = attrs.field(default=17, validator=_period)
    macd_signal: int = attrs.field(default=9, validator=_period)
    bb_period: int = attrs.field(default=20, validator=_period)
    bb_stddev: float = attrs.field(default=2.0, validator=_stddev)
    atr_period: int = attrs.field(default=14, validator=_period)
    obv_ema_period: int = attrs.field(default=9, validator=_period)
    adx_period: int = attrs.field(default=14, validator=_period)

    def __attrs_post_init__(self) -> None:
        if self.macd_fast >= self.macd_slow:
            raise InvalidInput(
                "macd_fast",
                f"{self.macd_fast} must be below macd_slow {self.macd_slow}",
            )

    @classmethod
    def for_timeframe(cls, timeframe: Timeframe | str) -> IndicatorParams:
        """The defaults with the RSI period of ``timeframe``: 7 on 15m, 14 on 1H, 4H and 1D."""
        if not isinstance(timeframe, Timeframe):
            timeframe = Timeframe.parse(timeframe)
        return cls(rsi_period=7 if timeframe is Timeframe.M15 else 14)

    @property
    def columns(self) -> tuple[str, ...]:
        """The indicator column names, in the schema's order."""
        return (
            *(f"ema_{period}" for period in self.ema_periods),
            f"rsi_{self.rsi_period}",
            "macd_line",
            "signal_line",
            "histogram",
            "bb_upper",
            "bb_middle",
            "bb_lower",
            "bb_width",
            f"atr_{self.atr_period}",
            "obv",
            f"obv_ema_{self.obv_ema_period}",
            f"adx_{self.adx_period}",
        )

    @property
    def lookbacks(self) -> dict[str, int]:
        """Index of the first non-null row of each column (TA-Lib's lookback)."""
        macd = self.macd_slow + self.macd_signal - 2
        return dict(
            zip(
                self.columns,
                (
                    *(period - 1 for period in self.ema_periods),
                    self.rsi_period,
                    macd,
                    macd,
                    macd,
                    *(self.bb_period - 1,) * 4,
                    self.atr_period,
                    0,
                    self.obv_ema_period - 1,
                    2 * self.adx_period - 1,
                ),
                strict=True,
            )
        )

    @property
    def warmup(self) -> int:
        """Rows of computed history :meth:`IncrementalIndicators.from_batch` needs to rebuild
        the states the columns do not store (RSI's averages, MACD's two EMAs, ADX's +DM,
        -DM and TR averages) exactly to float64 precision."""
        decays = (
            1 - 1 / self.rsi_period,
            1 - 2 / (self.macd_fast + 1),
            1 - 2 / (self.macd_slow + 1),
            1 - 1 / self.adx_period,
        )
        rows = max(
            math.ceil(math.log(WARMUP_RESIDUAL) / math.log(decay)) if decay > 0 else 1
            for decay in decays
        )
        return rows + max(self.lookbacks.values()) + 1


def indicator_columns(params: IndicatorParams | None = None) -> tuple[str, ...]:
    """The indicator column names for ``params`` (the 15m defaults when None)."""
    return (params or IndicatorParams()).columns
