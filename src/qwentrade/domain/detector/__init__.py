"""The three-layer signal detector: environment -> trigger -> confirmation, scored 0-30.

``detect(candles_15m, candles_4h, params)`` judges the last 15m close and explains itself
(:class:`DetectionResult`); ``detect_history`` does the same at every 15m close of a
history, vectorised, and agrees exactly with ``detect``. Frames hold closed candles with
their indicator columns; ``time`` is each candle's OPEN time (UTC). See
:class:`DetectorParams` for every rule and threshold.
"""

from typing import TYPE_CHECKING

from qwentrade._lazy import lazy_exports

if TYPE_CHECKING:
    from qwentrade.domain.detector.params import DetectorParams
    from qwentrade.domain.detector.result import (
        ConfirmationLayer,
        DetectionResult,
        EnvironmentLayer,
        MacdMove,
        MarketMode,
        SignalType,
        Trend,
        TriggerLayer,
    )
    from qwentrade.domain.detector.single import detect
    from qwentrade.domain.detector.vectorised import detect_history

# Imported on first use: the config keys need DetectorParams (plain attrs), not the
# polars code that detects.
_MODULES = {
    "DetectorParams": "params",
    **dict.fromkeys(
        [
            "ConfirmationLayer",
            "DetectionResult",
            "EnvironmentLayer",
            "MacdMove",
            "MarketMode",
            "SignalType",
            "Trend",
            "TriggerLayer",
        ],
        "result",
    ),
    "detect": "single",
    "detect_history": "vectorised",
}
__getattr__, __dir__ = lazy_exports(
    globals(), {name: f"{__name__}.{module}" for name, module in _MODULES.items()}
)

__all__ = [
    "ConfirmationLayer",
    "DetectionResult",
    "DetectorParams",
    "EnvironmentLayer",
    "MacdMove",
    "MarketMode",
    "SignalType",
    "Trend",
    "TriggerLayer",
    "detect",
    "detect_history",
]
