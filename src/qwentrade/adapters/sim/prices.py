"""Price paths for the simulated exchange: generated (seeded) or replayed from a file.

A price path is a sequence of *base* candles per symbol (15 minutes for a generated
path; the file's own bar for a replay) from which every timeframe is aggregated (see
:mod:`qwentrade.adapters.sim.candles`), and the funding rate settled at each 00/08/16 UTC.
Prices are floats rounded to the symbol's tick; volumes are in the base currency (BTC,
ETH), like OKX's ``volCcy`` and the candle files of the shared data set.

A generated path is (seed, seed version): version 2, the default since qwentrade issue 10,
is the vectorised walk of :mod:`.walk` (25-30x faster than version 1, the original
per-candle loop, which ``seed_version=1`` still gives to the bit). The same seed gives
different candles under the two versions.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Protocol

import numpy as np
import polars as pl

from qwentrade.adapters.sim.walk import (
    CANDLES_PER_DAY,
    SEED_VERSION_VECTOR,
    SEED_VERSIONS,
    STEP_MS,
    Shape,
    walk,
)
from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.instruments import DEFAULT_INSTRUMENTS
from qwentrade.domain.market import Timeframe, from_ms, require_utc, to_ms

FUNDING_INTERVAL = timedelta(hours=8)
DEFAULT_FUNDING_RATE = Decimal("0.0001")
MAX_FUNDING_RATE = 0.00375
DEFAULT_PRICES = {"BTC-USDT-SWAP": 60000.0, "ETH-USDT-SWAP": 3000.0, "SOL-USDT-SWAP": 150.0}
# Base-currency volume of an ordinary 15m candle, by symbol.
DEFAULT_VOLUMES = {"BTC-USDT-SWAP": 800.0, "ETH-USDT-SWAP": 9000.0, "SOL-USDT-SWAP": 60000.0}
# Volatility of one 15m candle (log return standard deviation), by symbol.
DEFAULT_SIGMAS = {"BTC-USDT-SWAP": 0.0028, "ETH-USDT-SWAP": 0.0035, "SOL-USDT-SWAP": 0.0050}


class Series:
    """Base candles of one symbol as numpy arrays (``ts`` = open time in epoch ms)."""

    __slots__ = ("close", "high", "low", "open", "ts", "volume")

    def __init__(self, ts, open_, high, low, close, volume) -> None:
        self.ts = np.asarray(ts, dtype=np.int64)
        self.open = np.asarray(open_, dtype=np.float64)
        self.high = np.asarray(high, dtype=np.float64)
        self.low = np.asarray(low, dtype=np.float64)
        self.close = np.asarray(close, dtype=np.float64)
        self.volume = np.asarray(volume, dtype=np.float64)

    def __len__(self) -> int:
        return len(self.ts)


class PricePath(Protocol):
    """What the engine needs from a price path."""

    @property
    def symbols(self) -> tuple[str, ...]:
        """The symbols the path has prices for."""
        ...

    @property
    def base(self) -> Timeframe:
        """The timeframe of the base candles."""
        ...

    def first_time(self, symbol: str) -> datetime:
        """Open time of the first base candle."""
        ...

    def last_time(self, symbol: str) -> datetime | None:
        """Open time of the last base candle; None for an endless (generated) path."""
        ...

    def series(self, symbol: str, until: datetime) -> Series:
        """Base candles from the start up to (at least) the one containing ``until``."""
        ...

    def funding_rate(self, symbol: str, settle_time: datetime) -> Decimal:
        """The funding rate settled at ``settle_time`` (a 00/08/16 UTC instant)."""
        ...


def tick_decimals(symbol: str, ticks: Mapping[str, Decimal] | None = None) -> int:
    """Decimal places of the symbol's tick size (its default instrument, else 2)."""
    tick = (ticks or {}).get(symbol)
    if tick is None and symbol in DEFAULT_INSTRUMENTS:
        tick = DEFAULT_INSTRUMENTS[symbol].tick_sz
    if tick is None:
        return 2
    return max(0, -tick.normalize().as_tuple().exponent)


class GeneratedPath:
    """A seeded geometric random walk with regimes, generated lazily by day.

    Each symbol walks in 15-minute candles from ``start`` (floored to 15 minutes) at its
    own price level (BTC ~60000, ETH ~3000, SOL ~150 by default). The walk switches
    between three regimes - trending up, trending down, ranging (mean-reverting to the
    price where the range began) - with a mean duration of ``regime_days``; volatility
    clusters (a mean-reverting log-volatility), and about 2% of candles are volume spikes
    with a wider range. The same ``seed`` gives the same path, generated one day at a time
    on demand, so "30 days of history and then real time" costs 30 days of generation.
    Funding rates follow the trend of the 8 hours before each settlement.

    ``seed_version`` picks the walk (:mod:`.walk`): 2 (the default) is vectorised over
    days; 1 is the original per-candle loop, for paths recorded with it. Under version 2 a
    range regime reverts to the day's opening price.
    """

    def __init__(
        self,
        symbols: tuple[str, ...] | list[str] = tuple(DEFAULT_PRICES),
        seed: int = 0,
        start: datetime | None = None,
        prices: Mapping[str, float] | None = None,
        sigmas: Mapping[str, float] | None = None,
        volumes: Mapping[str, float] | None = None,
        regime_days: float = 2.0,
        trend_strength: float = 0.06,
        spike_probability: float = 0.02,
        seed_version: int = SEED_VERSION_VECTOR,
    ) -> None:
        if start is None:
            raise InvalidInput("start", "give the aware UTC time the path begins at")
        if not symbols:
            raise InvalidInput("symbols", "give at least one symbol")
        self._symbols = tuple(symbols)
        self._seed = int(seed)
        self._start_ms = to_ms(Timeframe.M15.floor(require_utc(start, "start")))
        self._prices = {
            s: float((prices or {}).get(s, DEFAULT_PRICES.get(s, 100.0))) for s in self._symbols
        }
        self._sigmas = {
            s: float((sigmas or {}).get(s, DEFAULT_SIGMAS.get(s, 0.004))) for s in self._symbols
        }
        self._volumes = {
            s: float((volumes or {}).get(s, DEFAULT_VOLUMES.get(s, 1000.0))) for s in self._symbols
        }
        for name, table in (
            ("prices", self._prices),
            ("sigmas", self._sigmas),
            ("volumes", self._volumes),
        ):
            for symbol, value in table.items():
                if not value > 0:
                    raise InvalidInput(name, f"{symbol}: must be positive, got {value}")
        if seed_version not in SEED_VERSIONS:
            raise InvalidInput(
                "seed_version", f"must be one of {SEED_VERSIONS}, got {seed_version!r}"
            )
        self._seed_version = seed_version
        self._walks = {
            s: walk(
                seed_version,
                self._seed,
                s,
                Shape(
                    level=self._prices[s],
                    sigma=self._sigmas[s],
                    base_volume=self._volumes[s],
                    digits=tick_decimals(s),
                    switch=1.0 / max(1.0, regime_days * CANDLES_PER_DAY),
                    trend=float(trend_strength),
                    spike=float(spike_probability),
                ),
            )
            for s in self._symbols
        }
        self._lock = threading.Lock()
        self._chunks: dict[str, list[Series]] = {s: [] for s in self._symbols}
        self._joined: dict[str, Series] = {}

    @property
    def symbols(self) -> tuple[str, ...]:
        return self._symbols

    @property
    def base(self) -> Timeframe:
        return Timeframe.M15

    @property
    def seed_version(self) -> int:
        """The walk the seed is read with (see :mod:`.walk`)."""
        return self._seed_version

    def first_time(self, symbol: str) -> datetime:
        self._check(symbol)
        return from_ms(self._start_ms)

    def last_time(self, symbol: str) -> datetime | None:
        self._check(symbol)
        return None

    def series(self, symbol: str, until: datetime) -> Series:
        """All generated candles of ``symbol``, extended to include ``until``."""
        self._check(symbol)
        need = (to_ms(until) - self._start_ms) // STEP_MS + 1
        with self._lock:
            chunks = self._chunks[symbol]
            missing = -(-need // CANDLES_PER_DAY) - len(chunks)
            grew = missing > 0
            if grew:
                # All missing days in one call: the walk gives the same candles as day by day.
                chunks.extend(self._generate(symbol, missing))
            if grew or symbol not in self._joined:
                self._joined[symbol] = _concat(chunks) if chunks else _empty()
            return self._joined[symbol]

    def funding_rate(self, symbol: str, settle_time: datetime) -> Decimal:
        """0.01% plus 2% of the log return of the 8 hours before, clipped to OKX's cap."""
        series = self.series(symbol, settle_time)
        end = to_ms(settle_time)
        begin = end - int(FUNDING_INTERVAL.total_seconds() * 1000)
        i, j = np.searchsorted(series.ts, [begin, end])
        if j <= i:
            return DEFAULT_FUNDING_RATE
        change = math.log(series.close[j - 1] / series.open[i])
        rate = max(-MAX_FUNDING_RATE, min(MAX_FUNDING_RATE, 0.0001 + 0.02 * change))
        return Decimal(f"{rate:.8f}")

    def _check(self, symbol: str) -> None:
        if symbol not in self._prices:
            raise InvalidInput("symbol", f"{symbol} is not one of {', '.join(self._symbols)}")

    def _generate(self, symbol: str, days: int) -> list[Series]:
        """The next ``days`` days of ``symbol``, one Series a day."""
        first = len(self._chunks[symbol])
        n = CANDLES_PER_DAY
        out = []
        for offset, arrays in enumerate(self._walks[symbol].days(days)):
            start = self._start_ms + (first + offset) * n * STEP_MS
            out.append(Series(start + np.arange(n, dtype=np.int64) * STEP_MS, *arrays))
        return out


_SYMBOL_IN_NAME = re.compile(r"([A-Z0-9]+-[A-Z0-9]+-SWAP)")
_COLUMNS = ("ts_ms", "open", "high", "low", "close", "volume")


class ReplayPath:
    """Candles replayed from files of ``ts_ms,open,high,low,close,volume`` rows.

    ``ts_ms`` is the candle's OPEN time in UTC milliseconds. The base timeframe is the
    smallest spacing in the data (it must be one of 15m, 1H, 4H, 1D); larger timeframes
    are aggregated from it. After the last candle the price stays at its close. Funding
    comes from optional ``ts_ms,funding_rate`` files, else 0.01% per 8 hours.
    """

    def __init__(
        self,
        series: Mapping[str, Series],
        funding: Mapping[str, Mapping[int, Decimal]] | None = None,
    ) -> None:
        if not series:
            raise InvalidInput("series", "give candles for at least one symbol")
        self._series = dict(series)
        steps = set()
        for symbol, data in self._series.items():
            if len(data) == 0:
                raise InvalidInput("series", f"{symbol} has no candles")
            if np.any(np.diff(data.ts) <= 0):
                raise InvalidInput("ts_ms", f"{symbol}: times must be strictly increasing")
            if len(data) > 1:
                steps.add(int(np.min(np.diff(data.ts))))
        step = min(steps) if steps else 900_000
        by_ms = {int(tf.duration.total_seconds() * 1000): tf for tf in Timeframe}
        if step not in by_ms:
            raise InvalidInput("ts_ms", f"candle spacing {step} ms is not 15m, 1H, 4H or 1D")
        self._base = by_ms[step]
        self._funding = {s: dict(f) for s, f in (funding or {}).items()}

    @classmethod
    def from_csv(
        cls,
        paths: Mapping[str, str | Path] | str | Path,
        symbol: str | None = None,
        funding: Mapping[str, str | Path] | None = None,
    ) -> ReplayPath:
        """Read candle CSV file(s): ``{symbol: path}``, or one path (symbol from its name)."""
        return cls._read(paths, symbol, funding, pl.read_csv)

    @classmethod
    def from_parquet(
        cls,
        paths: Mapping[str, str | Path] | str | Path,
        symbol: str | None = None,
        funding: Mapping[str, str | Path] | None = None,
    ) -> ReplayPath:
        """Read candle Parquet file(s) with the CSV's columns."""
        return cls._read(paths, symbol, funding, pl.read_parquet)

    @classmethod
    def _read(cls, paths, symbol, funding, reader) -> ReplayPath:
        if isinstance(paths, str | Path):
            name = symbol or _symbol_from_name(Path(paths))
            paths = {name: paths}
        series = {}
        for name, path in paths.items():
            frame = reader(path)
            missing = [c for c in _COLUMNS if c not in frame.columns]
            if missing:
                raise InvalidInput("path", f"{path} lacks columns {missing}; need {_COLUMNS}")
            frame = frame.sort("ts_ms")
            series[name] = Series(
                *(
                    frame[c].cast(pl.Float64).to_numpy()
                    if c != "ts_ms"
                    else frame[c].cast(pl.Int64).to_numpy()
                    for c in _COLUMNS
                )
            )
        rates: dict[str, dict[int, Decimal]] = {}
        for name, path in (funding or {}).items():
            frame = pl.read_csv(path, schema_overrides={"funding_rate": pl.String})
            rates[name] = {
                int(t): Decimal(r)
                for t, r in zip(
                    frame["ts_ms"].to_list(), frame["funding_rate"].to_list(), strict=True
                )
            }
        return cls(series, rates)

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self._series)

    @property
    def base(self) -> Timeframe:
        return self._base

    def first_time(self, symbol: str) -> datetime:
        return from_ms(int(self._get(symbol).ts[0]))

    def last_time(self, symbol: str) -> datetime | None:
        return from_ms(int(self._get(symbol).ts[-1]))

    def series(self, symbol: str, until: datetime) -> Series:
        return self._get(symbol)

    def funding_rate(self, symbol: str, settle_time: datetime) -> Decimal:
        """The file's rate at ``settle_time``, else 0.01%."""
        return self._funding.get(symbol, {}).get(to_ms(settle_time), DEFAULT_FUNDING_RATE)

    def _get(self, symbol: str) -> Series:
        try:
            return self._series[symbol]
        except KeyError:
            raise InvalidInput(
                "symbol", f"{symbol} is not replayed; known: {', '.join(self._series)}"
            ) from None


def _symbol_from_name(path: Path) -> str:
    match = _SYMBOL_IN_NAME.search(path.name)
    if not match:
        raise InvalidInput("symbol", f"cannot tell the symbol from {path.name}; pass symbol=")
    return match.group(1)


def _concat(chunks: list[Series]) -> Series:
    return Series(
        *(
            np.concatenate([getattr(c, f) for c in chunks])
            for f in ("ts", "open", "high", "low", "close", "volume")
        )
    )


def _empty() -> Series:
    return Series([], [], [], [], [], [])
