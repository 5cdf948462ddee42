"""DetectionService: run the detector at a 15m close from stored klines; store signals."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import attrs

from qwentrade.domain.detector import DetectionResult, DetectorParams, detect
from qwentrade.domain.market import Timeframe, require_utc
from qwentrade.domain.records import SignalRecord
from qwentrade.ports.clock import Clock
from qwentrade.ports.repositories import KlineRepository, SignalRepository


@attrs.frozen
class Detection:
    """One judgement: the explained result, and the stored signal when one fired."""

    symbol: str
    result: DetectionResult
    signal: SignalRecord | None


class DetectionService:
    """Judges the latest closed 15m candle of a symbol (or the one closing at ``at``)."""

    def __init__(
        self,
        klines: KlineRepository,
        signals: SignalRepository,
        clock: Clock,
        params: DetectorParams | None = None,
    ) -> None:
        self._klines = klines
        self._signals = signals
        self._clock = clock
        self._params = params or DetectorParams()

    @property
    def params(self) -> DetectorParams:
        return self._params

    def detect(self, symbol: str, at: datetime | None = None, store: bool = True) -> Detection:
        """Judge ``symbol`` at the 15m close ``at`` (default: the newest stored close).

        Reads the last ``required_15m`` 15m candles closed by ``at`` and the 4h candles
        before it (the detector itself ignores a 4h candle still open at that close: no
        look-ahead). With ``store``, a fired signal is upserted into ``market_signal``
        with the result's explanation as ``details``; judging the same close again
        replaces it, never duplicates it.
        """
        end = None if at is None else require_utc(at, "at")
        params = self._params
        frame_15m = self._klines.range(
            symbol, Timeframe.M15, end=end, limit=params.required_15m, newest_first=True
        ).reverse()
        close_time = frame_15m["time"][-1] + Timeframe.M15.duration if frame_15m.height else end
        frame_4h = self._klines.range(
            symbol,
            Timeframe.H4,
            end=close_time,
            limit=params.min_candles_4h + 1,
            newest_first=True,
        ).reverse()
        result = detect(frame_15m, frame_4h, params)
        signal = None
        if result.signal and store:
            signal = self._signals.add(
                SignalRecord(
                    symbol=symbol,
                    time=result.time,
                    signal_type=result.signal_type.value,
                    score=result.score,
                    price=Decimal(repr(float(frame_15m["close"][-1]))),
                    created_at=self._clock.now(),
                    expires_at=result.expires_at,
                    details=result.to_details(),
                )
            )
        return Detection(symbol=symbol, result=result, signal=signal)
