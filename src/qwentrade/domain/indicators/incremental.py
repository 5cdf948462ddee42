"""One closed candle at a time: the indicator state of one (symbol, timeframe) in O(1).

:class:`IncrementalIndicators` follows TA-Lib's own loops step by step (same seeds, same
order of operations, same exact zero tests), so its values are TA-Lib's to the last bit
or two (Bollinger sigma, from deviations off the newest close, to ~1e-14 relative), and
agree with :func:`.batch.compute` to ~1e-13 relative.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping
from typing import Any

import polars as pl

from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.indicators.batch import CANDLE_COLUMNS, checked_candle
from qwentrade.domain.indicators.params import IndicatorParams


class IncrementalIndicators:
    """The indicator state of one (symbol, timeframe), advanced one closed candle at a time.

    ``update(candle)`` takes the next candle, a mapping with keys ``time, open, high, low,
    close, volume`` (a dict, or a polars row from ``iter_rows(named=True)``) or an object
    with those attributes (:class:`qwentrade.domain.market.Candle`), and returns that
    candle's indicator values keyed by column name (:attr:`IndicatorParams.columns`),
    ``None`` before a column's lookback. Time and memory per candle are O(1): a few floats
    per indicator and the last ``bb_period`` closes. A rejected candle raises
    :class:`InvalidInput` and leaves the state as it was.

    Start a series with ``IncrementalIndicators(params)``, or resume one from computed
    history with :meth:`from_batch`.
    """

    __slots__ = (
        "_adx",
        "_adx_minus",
        "_adx_plus",
        "_adx_range",
        "_atr",
        "_columns",
        "_count",
        "_ema",
        "_ema_k",
        "_high",
        "_last_close",
        "_last_time",
        "_low",
        "_macd_fast",
        "_macd_fast_k",
        "_macd_signal",
        "_macd_signal_k",
        "_macd_slow",
        "_macd_slow_k",
        "_obv",
        "_obv_ema",
        "_obv_ema_k",
        "_rsi_gain",
        "_rsi_loss",
        "_steady_from",
        "_window",
        "params",
    )

    def __init__(self, params: IndicatorParams | None = None) -> None:
        self.params = params = params or IndicatorParams()
        self._columns = params.columns
        self._count = 0
        self._last_time: Any = None
        self._last_close = self._high = self._low = 0.0
        self._ema = [0.0] * len(params.ema_periods)  # running sums until seeded
        self._ema_k = [2.0 / (period + 1) for period in params.ema_periods]
        self._rsi_gain = self._rsi_loss = 0.0
        self._macd_fast = self._macd_slow = self._macd_signal = 0.0
        self._macd_fast_k = 2.0 / (params.macd_fast + 1)
        self._macd_slow_k = 2.0 / (params.macd_slow + 1)
        self._macd_signal_k = 2.0 / (params.macd_signal + 1)
        self._window = [0.0] * params.bb_period  # the last closes, as a ring
        self._atr = 0.0
        self._obv = self._obv_ema = 0.0
        self._obv_ema_k = 2.0 / (params.obv_ema_period + 1)
        self._adx_plus = self._adx_minus = self._adx_range = self._adx = 0.0
        # From this row on every indicator is past its seed: :meth:`_steady` takes over.
        self._steady_from = max(params.lookbacks.values()) + 1

    @property
    def count(self) -> int:
        """Candles absorbed so far (after :meth:`from_batch`: the rows replayed)."""
        return self._count

    @property
    def last_time(self) -> Any:
        """The time of the last candle absorbed (None before the first)."""
        return self._last_time

    @classmethod
    def from_batch(
        cls, frame: pl.DataFrame, params: IndicatorParams | None = None
    ) -> IncrementalIndicators:
        """The state after the last row of ``frame``, a result of :func:`.batch.compute`
        (candle columns and the indicator columns of ``params``), so that the next
        :meth:`update` continues the series without recomputing its history.

        ``frame`` is the whole history, or at least its last ``params.warmup`` rows (615
        for the defaults; earlier rows are not read) with every indicator of the last row
        present. The columns give the EMAs, MACD signal, ATR, OBV, OBV EMA and ADX
        exactly; the states no column stores (RSI's average gain and loss, MACD's two
        EMAs, ADX's +DM/-DM/TR sums) are rebuilt by replaying those rows, which leaves at
        most 1e-18 of their starting error: nothing a float64 shows. (A market flat for
        all of the last ``warmup`` rows would not wash it out.)
        """
        params = params or IndicatorParams()
        if not isinstance(frame, pl.DataFrame):
            raise InvalidInput("frame", f"expected a polars DataFrame, got {type(frame).__name__}")
        for name in (*CANDLE_COLUMNS, *params.columns):
            if name not in frame.columns:
                raise InvalidInput(name, "missing column: pass a frame returned by compute()")
        state = cls(params)
        tail = frame.tail(params.warmup)
        last = tail.row(tail.height - 1, named=True) if tail.height else {}
        if frame.height > params.warmup:  # a tail: the stored states must be there
            for name in params.columns:
                if last[name] is None:
                    raise InvalidInput(
                        name, "is null in the last row: pass the whole history or a computed one"
                    )
        for row in tail.select(CANDLE_COLUMNS).iter_rows():
            time, *prices = checked_candle(*row, state._last_time)
            state._step(*prices)
            state._last_time = time
        if last:
            state._adopt(last)
        return state

    def _adopt(self, row: dict[str, Any]) -> None:
        """Take the states the columns store exactly from the last computed row."""
        params = self.params
        for index, period in enumerate(params.ema_periods):
            if row[f"ema_{period}"] is not None:
                self._ema[index] = float(row[f"ema_{period}"])
        if row["signal_line"] is not None:
            self._macd_signal = float(row["signal_line"])
        stored = (
            (f"atr_{params.atr_period}", "_atr"),
            ("obv", "_obv"),
            (f"obv_ema_{params.obv_ema_period}", "_obv_ema"),
            (f"adx_{params.adx_period}", "_adx"),
        )
        for column, slot in stored:
            if row[column] is not None:
                setattr(self, slot, float(row[column]))

    def update(self, candle: Any) -> dict[str, float | None]:
        """Absorb the next closed candle; return its indicator values by column name."""
        try:
            if isinstance(candle, Mapping):
                fields = [candle[name] for name in CANDLE_COLUMNS]
            else:
                fields = [getattr(candle, name) for name in CANDLE_COLUMNS]
        except (KeyError, AttributeError) as e:
            missing = e.args[0] if isinstance(e, KeyError) else e.name
            raise InvalidInput(str(missing), "missing from the candle") from None
        time, high, low, close, volume = checked_candle(*fields, self._last_time)
        values = self._step(high, low, close, volume)
        self._last_time = time
        return dict(zip(self._columns, values, strict=True))

    def _step(
        self, high: float, low: float, close: float, volume: float
    ) -> tuple[float | None, ...]:
        if self._count >= self._steady_from:
            return self._steady(high, low, close, volume)
        return self._advance(high, low, close, volume)

    def _advance(
        self, high: float, low: float, close: float, volume: float
    ) -> tuple[float | None, ...]:
        """One step of every indicator, seeds included (TA-Lib's loops); the candle is
        valid. :meth:`_steady` is the same step once every seed is in place."""
        params = self.params
        row = self._count
        previous_close, previous_high, previous_low = self._last_close, self._high, self._low
        values: list[float | None] = []

        for index, period in enumerate(params.ema_periods):
            if row < period:
                self._ema[index] += close
                if row == period - 1:
                    self._ema[index] /= period
                    values.append(self._ema[index])
                else:
                    values.append(None)
            else:
                ema = self._ema[index]
                ema = ((close - ema) * self._ema_k[index]) + ema
                self._ema[index] = ema
                values.append(ema)

        values.append(self._rsi(row, close - previous_close))
        values.extend(self._macd(row, close))
        values.extend(self._bollinger(row, close))

        if row:
            true_range = max(high, previous_close) - min(low, previous_close)
            values.append(self._wilder_atr(row, true_range))
            if close > previous_close:
                self._obv += volume
            elif close < previous_close:
                self._obv -= volume
            values.append(self._obv)
            values.append(self._obv_average(row))
            values.append(
                self._directional(row, high - previous_high, previous_low - low, true_range)
            )
        else:
            self._obv = volume
            values.extend((None, self._obv, self._obv_average(row), None))

        self._count = row + 1
        self._last_close, self._high, self._low = close, high, low
        return tuple(values)

    def _steady(
        self, high: float, low: float, close: float, volume: float
    ) -> tuple[float | None, ...]:
        """:meth:`_advance` once every indicator is seeded, without the seeding branches."""
        params = self.params
        previous_close = self._last_close
        emas = self._ema
        for index, k in enumerate(self._ema_k):
            ema = emas[index]
            emas[index] = ((close - ema) * k) + ema

        period = params.rsi_period
        change = close - previous_close
        loss = self._rsi_loss * (period - 1)
        gain = self._rsi_gain * (period - 1)
        if change < 0.0:
            loss -= change
        else:
            gain += change
        loss /= period
        gain /= period
        self._rsi_gain, self._rsi_loss = gain, loss
        total = gain + loss
        rsi = 100.0 * (gain / total) if total != 0.0 else 0.0

        slow = self._macd_slow = ((close - self._macd_slow) * self._macd_slow_k) + self._macd_slow
        fast = self._macd_fast = ((close - self._macd_fast) * self._macd_fast_k) + self._macd_fast
        line = fast - slow
        signal = self._macd_signal
        signal = self._macd_signal = ((line - signal) * self._macd_signal_k) + signal

        bands = self._bands(close)

        true_range = max(high, previous_close) - min(low, previous_close)
        period = params.atr_period
        atr = self._atr = (self._atr * (period - 1) + true_range) / period

        if close > previous_close:
            self._obv += volume
        elif close < previous_close:
            self._obv -= volume
        obv = self._obv
        obv_ema = self._obv_ema = ((obv - self._obv_ema) * self._obv_ema_k) + self._obv_ema

        period = params.adx_period
        rise, fall = high - self._high, self._low - low
        minus = self._adx_minus - self._adx_minus / period
        plus = self._adx_plus - self._adx_plus / period
        if fall > 0 and rise < fall:
            minus += fall
        elif rise > 0 and rise > fall:
            plus += rise
        ranges = self._adx_range - self._adx_range / period + true_range
        self._adx_plus, self._adx_minus, self._adx_range = plus, minus, ranges
        if ranges != 0.0:
            minus_di = 100.0 * (minus / ranges)
            plus_di = 100.0 * (plus / ranges)
            total = minus_di + plus_di
            if total != 0.0:
                dx = 100.0 * (abs(minus_di - plus_di) / total)
                self._adx = (self._adx * (period - 1) + dx) / period

        self._count += 1
        self._last_close, self._high, self._low = close, high, low
        return (*emas, rsi, line, signal, line - signal, *bands, atr, obv, obv_ema, self._adx)

    def _rsi(self, row: int, change: float) -> float | None:
        period = self.params.rsi_period
        if row == 0:
            return None
        gain, loss = self._rsi_gain, self._rsi_loss
        if row > period:
            loss *= period - 1
            gain *= period - 1
        if change < 0.0:
            loss -= change
        else:
            gain += change
        if row < period:
            self._rsi_gain, self._rsi_loss = gain, loss
            return None
        loss /= period
        gain /= period
        self._rsi_gain, self._rsi_loss = gain, loss
        total = gain + loss
        return 100.0 * (gain / total) if total != 0.0 else 0.0

    def _macd(self, row: int, close: float) -> tuple[float | None, float | None, float | None]:
        params = self.params
        fast, slow, smooth = params.macd_fast, params.macd_slow, params.macd_signal
        if row < slow:
            self._macd_slow += close
            if row >= slow - fast:
                self._macd_fast += close
            if row < slow - 1:
                return None, None, None
            self._macd_slow /= slow
            self._macd_fast /= fast
        else:
            self._macd_slow = ((close - self._macd_slow) * self._macd_slow_k) + self._macd_slow
            self._macd_fast = ((close - self._macd_fast) * self._macd_fast_k) + self._macd_fast
        line = self._macd_fast - self._macd_slow
        first = slow + smooth - 2
        if row <= first:
            self._macd_signal += line
            if row < first:
                return None, None, None
            self._macd_signal /= smooth
        else:
            signal = self._macd_signal
            self._macd_signal = ((line - signal) * self._macd_signal_k) + signal
        return line, self._macd_signal, line - self._macd_signal

    def _bollinger(self, row: int, close: float) -> tuple[float | None, ...]:
        period = self.params.bb_period
        if row < period - 1:
            self._window[row] = close
            return None, None, None, None
        return self._bands(close)

    def _bands(self, close: float) -> tuple[float, float, float, float]:
        """Bollinger values once ``bb_period - 1`` closes are in the ring, from deviations
        from the newest close (so a flat window gives exactly 0)."""
        params = self.params
        period = params.bb_period
        window = self._window
        window[(self._count + 1) % period - 1] = close
        middle = sum(window) / period
        # Deviations from a close in the window are at most its range, and range**2 <=
        # 2 * period * variance: mean(d**2) - mean(d)**2 loses no more than ~1e-14.
        deviations = [value - close for value in window]
        offset = sum(deviations) / period
        variance = sum(map(operator.mul, deviations, deviations)) / period - offset * offset
        spread = math.sqrt(variance) * params.bb_stddev if variance > 0.0 else 0.0
        upper, lower = middle + spread, middle - spread
        return upper, middle, lower, (upper - lower) / middle if middle > 0 else 0.0

    def _wilder_atr(self, row: int, true_range: float) -> float | None:
        period = self.params.atr_period
        if row <= period:
            self._atr += true_range
            if row < period:
                return None
            self._atr /= period
        else:
            self._atr = (self._atr * (period - 1) + true_range) / period
        return self._atr

    def _obv_average(self, row: int) -> float | None:
        period = self.params.obv_ema_period
        if row < period:
            self._obv_ema += self._obv
            if row < period - 1:
                return None
            self._obv_ema /= period
        else:
            self._obv_ema = ((self._obv - self._obv_ema) * self._obv_ema_k) + self._obv_ema
        return self._obv_ema

    def _directional(self, row: int, rise: float, fall: float, true_range: float) -> float | None:
        period = self.params.adx_period
        plus, minus, ranges = self._adx_plus, self._adx_minus, self._adx_range
        if row >= period:
            minus -= minus / period
            plus -= plus / period
            ranges -= ranges / period
        if fall > 0 and rise < fall:
            minus += fall
        elif rise > 0 and rise > fall:
            plus += rise
        ranges += true_range
        self._adx_plus, self._adx_minus, self._adx_range = plus, minus, ranges
        if row < period:
            return None
        dx = None
        if ranges != 0.0:
            minus_di = 100.0 * (minus / ranges)
            plus_di = 100.0 * (plus / ranges)
            total = minus_di + plus_di
            if total != 0.0:
                dx = 100.0 * (abs(minus_di - plus_di) / total)
        first = 2 * period - 1
        if row <= first:
            self._adx += dx or 0.0
            if row < first:
                return None
            self._adx /= period
        elif dx is not None:
            self._adx = (self._adx * (period - 1) + dx) / period
        return self._adx
