"""TA-Lib-exact indicators: whole history at once (:func:`compute`) or one closed candle
at a time (:class:`IncrementalIndicators`), with periods in :class:`IndicatorParams`.

``INDICATOR_COLUMNS`` are the 15m defaults' column names; :func:`indicator_columns` gives
them for any params (the RSI, ATR, ADX, EMA and OBV-EMA names carry their periods).
"""

from __future__ import annotations

from qwentrade.domain.indicators.batch import compute
from qwentrade.domain.indicators.incremental import IncrementalIndicators
from qwentrade.domain.indicators.params import IndicatorParams, indicator_columns

INDICATOR_COLUMNS: tuple[str, ...] = indicator_columns()

__all__ = [
    "INDICATOR_COLUMNS",
    "IncrementalIndicators",
    "IndicatorParams",
    "compute",
    "indicator_columns",
]
