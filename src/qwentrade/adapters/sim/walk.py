"""The seeded random walks behind :class:`.prices.GeneratedPath`, one per seed version.

A walk turns (seed, symbol) into 15-minute candles, one day (96 candles) after another,
each day starting from the state the day before left. Two versions exist; a seed means
a path only together with its version:

1. ``SEED_VERSION_LOOP`` (1): the original Python loop, one candle after another, each
   close rounded to the tick before the next candle moves from it. A range regime
   reverts to the close at which it began; the log-volatility is clipped as it evolves.
   Kept, unchanged to the bit, for paths recorded with it; about 0.5 ms per day.
2. ``SEED_VERSION_VECTOR`` (2, the default): the same kind of market, vectorised with
   numpy over whole days (and over many days at once), 25-30x faster. What differs,
   so that a day is a handful of array operations:

   - the state is the unrounded log price; only the candles are rounded to the tick;
   - a range regime reverts to the day's opening price (not the price the range began
     at): linear in the day's starting state, so a day is two cumulative products/sums;
   - the log-volatility is an unclipped AR(1) whose value is clipped where it is used;
   - a regime switch moves to one of the two other regimes with a cumulative count
     mod 3 (each of the others with probability 1/2, as before);
   - the random numbers come from two generators per symbol (normals, uniforms), drawn
     a fixed block per day, so many days drawn at once equal the days drawn one by one.

   Every array operation is elementwise or runs along one day in row order (cumulative
   sums and products), and the state is carried from day to day by a scalar loop, so
   generating ten days at once gives the same candles to the bit as ten one-day calls.
"""

from __future__ import annotations

import functools
import math
import zlib

import attrs
import numpy as np

SEED_VERSION_LOOP = 1
SEED_VERSION_VECTOR = 2
SEED_VERSIONS = (SEED_VERSION_LOOP, SEED_VERSION_VECTOR)
CANDLES_PER_DAY = 96
STEP_MS = 900_000

# Per-candle constants of both versions.
VOL_MEMORY = 0.97  # AR(1) coefficient of the log-volatility
VOL_SHOCK = 0.15
VOL_LOW, VOL_HIGH = -1.0, 1.2
RANGE_PULL = 0.03  # mean reversion per candle in a range regime
LEVEL_PULL = 0.0003  # the faint pull back to the starting level
SPIKE_WIDENING = 1.8
# Version 2's regime values by index: ranging, trending up, trending down.
REGIMES = np.array([0.0, 1.0, -1.0])


@attrs.frozen
class Shape:
    """The per-symbol constants of a walk: starting price, volatility of a 15m candle (log
    return), base-currency volume of an ordinary candle, price decimals, chance of a
    regime switch per candle, trend drift in sigmas per candle, chance of a volume spike."""

    level: float
    sigma: float
    base_volume: float
    digits: int
    switch: float
    trend: float
    spike: float


Candles = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


class LoopWalk:
    """Seed version 1: the original per-candle loop, one day per call."""

    def __init__(self, seed: int, symbol: str, shape: Shape) -> None:
        self._seed = seed
        self._key = zlib.crc32(symbol.encode())
        self._shape = shape
        self._days = 0
        # last close, regime (0 range, 1 up, -1 down), log-vol, range anchor
        self._state = (shape.level, 0, 0.0, shape.level)

    def days(self, count: int) -> list[Candles]:
        """The next ``count`` days of (open, high, low, close, volume), one tuple a day."""
        out = []
        for _ in range(count):
            out.append(self._day(self._days))
            self._days += 1
        return out

    def _day(self, index: int) -> Candles:
        n = CANDLES_PER_DAY
        shape = self._shape
        rng = np.random.default_rng([self._seed, self._key, index])
        shocks = rng.standard_normal(n)
        vol_shocks = rng.standard_normal(n)
        switches = rng.random(n)
        regimes_drawn = rng.integers(0, 2, n)
        wick_up = np.abs(rng.standard_normal(n))
        wick_down = np.abs(rng.standard_normal(n))
        noise = rng.lognormal(0.0, 0.3, n)
        spikes = rng.random(n) < shape.spike
        spike_size = rng.uniform(3.0, 8.0, n)
        digits = shape.digits
        close, regime, log_vol, anchor = self._state
        level = shape.level
        out = np.empty((5, n))
        for k in range(n):
            if switches[k] < shape.switch:
                others = [r for r in (0, 1, -1) if r != regime]
                regime = others[int(regimes_drawn[k])]
                anchor = close
            log_vol = VOL_MEMORY * log_vol + VOL_SHOCK * vol_shocks[k]
            log_vol = min(VOL_HIGH, max(VOL_LOW, log_vol))
            sigma = shape.sigma * math.exp(log_vol) * (SPIKE_WIDENING if spikes[k] else 1.0)
            if regime == 0:
                drift = -RANGE_PULL * math.log(close / anchor)
            else:
                drift = regime * shape.trend * sigma
            drift -= LEVEL_PULL * math.log(close / level)
            open_ = close
            close = round(open_ * math.exp(drift + sigma * shocks[k]), digits)
            high = round(max(open_, close) * math.exp(0.5 * sigma * wick_up[k]), digits)
            low = round(min(open_, close) * math.exp(-0.5 * sigma * wick_down[k]), digits)
            volume = shape.base_volume * math.exp(1.5 * log_vol) * noise[k]
            if spikes[k]:
                volume *= spike_size[k]
            out[:, k] = (
                open_,
                max(high, open_, close),
                min(low, open_, close),
                close,
                round(volume, 3),
            )
        self._state = (close, regime, log_vol, anchor)
        return out[0], out[1], out[2], out[3], out[4]


@functools.cache
def _powers(coefficient: float) -> tuple[np.ndarray, np.ndarray]:
    """(c**(t+1), c**-t) for t in 0..95: a day of the AR(1) ``h[t] = c*h[t-1] + x[t]``
    is ``c**(t+1) * h[-1] + c**t * cumsum(x * c**-t)`` (c**-95 is below 20 for c=0.97)."""
    steps = np.arange(CANDLES_PER_DAY, dtype=np.float64)
    return coefficient ** (steps + 1), coefficient**-steps


class VectorWalk:
    """Seed version 2: whole days at once (see the module docstring)."""

    _NORMALS = 5  # price shock, volatility shock, upper wick, lower wick, volume noise
    _UNIFORMS = 4  # regime switch, which other regime, volume spike, spike size

    def __init__(self, seed: int, symbol: str, shape: Shape) -> None:
        root = np.random.SeedSequence([seed, zlib.crc32(symbol.encode()), SEED_VERSION_VECTOR])
        normal_seed, uniform_seed = root.spawn(2)
        self._normals = np.random.Generator(np.random.PCG64(normal_seed))
        self._uniforms = np.random.Generator(np.random.PCG64(uniform_seed))
        self._shape = shape
        # last close (the next open), regime index, log-volatility state, log price
        # relative to the level
        self._close = shape.level
        self._regime = 0
        self._vol = 0.0
        self._price = 0.0

    def days(self, count: int) -> list[Candles]:
        """The next ``count`` days of (open, high, low, close, volume), one tuple a day."""
        if count <= 0:
            return []
        n, shape = CANDLES_PER_DAY, self._shape
        normals = self._normals.standard_normal((count, self._NORMALS, n))
        uniforms = self._uniforms.random((count, self._UNIFORMS, n))
        shock, vol_shock, wick_up, wick_down, noise = (normals[:, i] for i in range(5))
        switch, other, spike_draw, spike_size = (uniforms[:, i] for i in range(4))

        # Regimes: a switch moves the index by 1 or 2 (mod 3), i.e. to either other one.
        moves = np.where(switch < shape.switch, np.where(other < 0.5, 1, 2), 0)
        regime_index = np.cumsum(moves, axis=1)
        day_moves = regime_index[:, -1].tolist()
        starts = np.empty(count, dtype=np.int64)
        regime = self._regime
        for day, moved in enumerate(day_moves):
            starts[day] = regime
            regime = (regime + moved) % 3
        self._regime = regime
        regime_index = (regime_index + starts[:, None]) % 3
        ranging = regime_index == 0
        direction = REGIMES[regime_index]

        # Log-volatility: an AR(1) carried from day to day, clipped where it is used.
        grow, shrink = _powers(VOL_MEMORY)
        local_vol = np.cumsum(vol_shock * (VOL_SHOCK * shrink), axis=1)
        local_vol *= grow / VOL_MEMORY
        vol_starts = self._carry("_vol", [float(grow[-1])] * count, local_vol[:, -1].tolist())
        vol = local_vol + vol_starts[:, None] * grow
        log_vol = np.clip(vol, VOL_LOW, VOL_HIGH)
        spikes = spike_draw < shape.spike
        sigma = shape.sigma * np.exp(log_vol)
        sigma[spikes] *= SPIKE_WIDENING

        # Log price y (relative to the level): y[t] = a[t]*y[t-1] + pull[t]*y0 + c[t], with
        # a = 1 - LEVEL_PULL - RANGE_PULL*ranging, pull = RANGE_PULL*ranging (reversion to
        # the day's opening y0) and c the trend drift plus the shock. Linear in y0, so
        # y[t] = alpha[t]*y0 + gamma[t], both from cumulative products and sums of the day.
        factor = 1.0 - LEVEL_PULL - RANGE_PULL * ranging
        product = np.cumprod(factor, axis=1)
        drive = sigma * (direction * shape.trend + shock)
        gamma = product * np.cumsum(drive / product, axis=1)
        alpha = product * (1.0 + np.cumsum(RANGE_PULL * ranging / product, axis=1))
        price_starts = self._carry("_price", alpha[:, -1].tolist(), gamma[:, -1].tolist())
        log_price = alpha * price_starts[:, None] + gamma

        digits = shape.digits
        close = np.round(shape.level * np.exp(log_price), digits)
        open_ = np.empty_like(close)
        open_[:, 1:] = close[:, :-1]
        open_[0, 0] = self._close
        open_[1:, 0] = close[:-1, -1]
        self._close = float(close[-1, -1])
        top, bottom = np.maximum(open_, close), np.minimum(open_, close)
        high = np.round(top * np.exp(0.5 * sigma * np.abs(wick_up)), digits)
        low = np.round(bottom * np.exp(-0.5 * sigma * np.abs(wick_down)), digits)
        np.maximum(high, top, out=high)
        np.minimum(low, bottom, out=low)
        volume = shape.base_volume * np.exp(1.5 * log_vol + 0.3 * noise)
        volume[spikes] *= 3.0 + 5.0 * spike_size[spikes]
        volume = np.round(volume, 3)
        return [(open_[day], high[day], low[day], close[day], volume[day]) for day in range(count)]

    def _carry(self, name: str, factors: list[float], day_ends: list[float]) -> np.ndarray:
        """Each day's starting value of the state ``name``, linear from day to day:
        ``start[d+1] = factors[d] * start[d] + day_ends[d]`` (the day's own part), one
        scalar step a day; the state is left at the start of the day after the last."""
        starts = np.empty(len(day_ends))
        value = getattr(self, name)
        for day, (factor, end) in enumerate(zip(factors, day_ends, strict=True)):
            starts[day] = value
            value = factor * value + end
        setattr(self, name, value)
        return starts


def walk(version: int, seed: int, symbol: str, shape: Shape) -> LoopWalk | VectorWalk:
    """The walk of ``version`` (one of ``SEED_VERSIONS``) for one symbol."""
    return (LoopWalk if version == SEED_VERSION_LOOP else VectorWalk)(seed, symbol, shape)
