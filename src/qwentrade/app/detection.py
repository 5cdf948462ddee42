"""DetectionService: run the detector at a 15m close from stored klines; store signals.

The detector's thresholds, the candle counts it loads and the signal expiry are read from
the config store at every detection (``DETECTOR_*`` keys), so ``qwentrade config set``
is seen by the next detection without a restart.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import attrs

from qwentrade.domain.config_keys import detector_params
from qwentrade.domain.detector import DetectionResult, DetectorParams, detect
from qwentrade.domain.errors import DomainError
from qwentrade.domain.market import Timeframe, require_utc
from qwentrade.domain.records import SignalRecord
from qwentrade.ports.clock import Clock
from qwentrade.ports.config import ConfigStore
from qwentrade.ports.repositories import KlineRepository, SignalRepository


class NoCandles(DomainError):
    """No 15m candles are stored for the symbol: there is nothing to judge."""


@attrs.frozen
class Detection:
    """One judgement: the explained result, and the stored signal when one fired."""

    symbol: str
    result: DetectionResult
    signal: SignalRecord | None


class DetectionService:
    """Judges the latest closed 15m candle of a symbol (or the one closing at ``at``).

    ``config`` supplies the parameters at each call; ``params`` pins them instead (a
    backtest or a notebook); without either the original's defaults apply.
    """

    def __init__(
        self,
        klines: KlineRepository,
        signals: SignalRepository,
        clock: Clock,
        config: ConfigStore | None = None,
        params: DetectorParams | None = None,
    ) -> None:
        self._klines = klines
        self._signals = signals
        self._clock = clock
        self._config = config
        self._params = params

    @property
    def params(self) -> DetectorParams:
        """The parameters the next detection uses (read from the config store now)."""
        if self._params is not None:
            return self._params
        if self._config is None:
            return DetectorParams()
        return detector_params({entry.key: entry.value for entry in self._config.all()})

    def detect(self, symbol: str, at: datetime | None = None, store: bool = True) -> Detection:
        """Judge ``symbol`` at the 15m close ``at`` (default: the newest stored close).

        Loads the last ``kline_15m_count`` 15m candles closed by ``at`` and the last
        ``kline_4h_count`` 4h candles closed by then (no look-ahead). With ``store``, signals
        past their expiry are first marked EXPIRED, then a fired signal is upserted into
        ``market_signal``: created now, expiring ``DETECTOR_SIGNAL_EXPIRE_HOURS`` later,
        with the explanation as ``details``. A signal judged at a close older than that
        expiry (a re-judged past close) is stored EXPIRED at once: it can never be traded.
        Judging the same close again replaces the signal, never duplicates it. Raises
        :class:`NoCandles` when nothing is stored for ``symbol``.
        """
        end = None if at is None else require_utc(at, "at")
        params = self.params
        frame_15m = self._klines.range(
            symbol, Timeframe.M15, end=end, limit=params.kline_15m_count, newest_first=True
        ).reverse()
        if frame_15m.height == 0:
            where = "" if end is None else f" before {end.isoformat()}"
            raise NoCandles(
                f"no 15m candles are stored for {symbol}{where}: run `qwentrade backfill` first"
            )
        close_time = frame_15m["time"][-1] + Timeframe.M15.duration
        frame_4h = self._klines.range(
            symbol,
            Timeframe.H4,
            end=close_time - Timeframe.H4.duration + timedelta(microseconds=1),
            limit=params.kline_4h_count,
            newest_first=True,
        ).reverse()
        result = detect(frame_15m, frame_4h, params)
        signal = None
        if store:
            now = self._clock.now()
            self._signals.expire(now)
            if result.signal:
                record = self._record(symbol, result, frame_15m, now, params.signal_expiry)
                signal = self._signals.add(record)
        return Detection(symbol=symbol, result=result, signal=signal)

    @staticmethod
    def _record(
        symbol: str, result: DetectionResult, frame_15m, now: datetime, expiry: timedelta
    ) -> SignalRecord:
        # Valid for ``expiry`` from the candle's close, not from when it was judged: a close
        # judged late (after a backfill or a restart) never outlives its live twin.
        expire_at = result.close_time + expiry
        stale = expire_at <= now
        return SignalRecord(
            symbol=symbol,
            time=result.time,
            signal_type=result.signal_type.value,
            score=result.score,
            price=Decimal(repr(float(frame_15m["close"][-1]))),
            created_at=now,
            expire_at=expire_at,
            details=result.to_details(),
            status="EXPIRED" if stale else "ACTIVE",
        )
