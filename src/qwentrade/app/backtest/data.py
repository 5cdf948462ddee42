"""What a backtest runs on: one symbol's 15m candles (4h derived), indicators, funding.

Candles come from a CSV or Parquet file of OKX candles (``ts_ms,open,high,low,close,volume``,
``ts_ms`` the candle's OPEN time in UTC milliseconds), a polars frame with the same columns
(or ``time`` instead of ``ts_ms``), or the candles stored in a qwentrade database (any URL
``qwentrade.open`` reads). The 4h candles are always derived from the 15m ones (so both
paths see exactly the same history), and the indicators are computed over the whole file
(TA-Lib conventions, as the sync stores them); ``start``/``end`` then choose the candles
that are traded, so the windows before ``start`` warm the indicators up.

Funding: a settlement at every 00/08/16 UTC inside the traded span, at the stored (or
given) rate of that settlement, else at the flat ``funding_rate`` of the parameters;
``Market.funding_source`` says which ("stored", "flat", or "stored+flat" when some
settlements had no stored rate).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import attrs
import numpy as np
import polars as pl

from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.indicators import compute
from qwentrade.domain.indicators.params import IndicatorParams
from qwentrade.domain.instruments import DEFAULT_INSTRUMENTS, Instrument
from qwentrade.domain.market import Timeframe

COLUMNS = ("ts_ms", "open", "high", "low", "close", "volume")
MS_15M = 900_000
MS_4H = 4 * 3_600_000
FUNDING_MS = 8 * 3_600_000


@attrs.frozen
class Market:
    """One symbol's history, ready for either engine.

    ``candles``: every 15m candle with its indicators (``time`` = open time, UTC);
    ``candles_4h``: the 4h candles derived from them, with theirs; ``first``/``last``: the
    rows traded (inclusive); ``funding``: settlement time (ms) -> rate for every settlement
    in the traded span.
    """

    symbol: str
    instrument: Instrument
    candles: pl.DataFrame
    candles_4h: pl.DataFrame
    first: int
    last: int
    funding: Mapping[int, Decimal]
    funding_source: str

    @property
    def ts(self) -> np.ndarray:
        return self.candles["ts_ms"].to_numpy()

    def traded(self) -> pl.DataFrame:
        """The traded candles (rows ``first`` to ``last``)."""
        return self.candles.slice(self.first, self.last - self.first + 1)


def read_file(path: str | Path) -> pl.DataFrame:
    """A CSV or Parquet file of ``ts_ms,open,high,low,close,volume`` rows."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInput("data", f"{path} is not a file: give a CSV or Parquet candle file")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame = pl.read_parquet(path)
        else:
            frame = pl.read_csv(path)
    except Exception as e:  # polars raises many kinds; the user needs the file named
        raise InvalidInput("data", f"cannot read {path}: {e}") from None
    return frame


def symbol_from_name(path: str | Path) -> str | None:
    """The OKX swap named in a file name (``okx_ETH-USDT-SWAP_15m.csv``), or None."""
    import re

    found = re.search(r"([A-Z0-9]+-[A-Z0-9]+-SWAP)", Path(path).name)
    return found.group(1) if found else None


def candles_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """``ts_ms``, ``time`` and OHLCV as floats, sorted, checked (15m spacing, no duplicates)."""
    if "ts_ms" not in frame.columns and "time" in frame.columns:
        time = frame["time"]
        if time.dtype == pl.Datetime or isinstance(time.dtype, pl.Datetime):
            frame = frame.with_columns(pl.col("time").dt.epoch("ms").alias("ts_ms"))
        else:
            frame = frame.with_columns(pl.col("time").alias("ts_ms"))
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise InvalidInput("data", f"lacks columns {missing}; need {', '.join(COLUMNS)}")
    frame = frame.select(
        pl.col("ts_ms").cast(pl.Int64),
        *(pl.col(c).cast(pl.Float64) for c in COLUMNS[1:]),
    ).sort("ts_ms")
    if frame.height < 2:
        raise InvalidInput("data", f"has {frame.height} candles; a backtest needs many more")
    ts = frame["ts_ms"].to_numpy()
    steps = np.diff(ts)
    if np.any(steps <= 0):
        raise InvalidInput("ts_ms", "candle times must be unique (a duplicate row?)")
    if np.any(ts % MS_15M) or int(steps.min()) != MS_15M:
        raise InvalidInput(
            "ts_ms", "candles must be 15m candles on the 15-minute grid (open times)"
        )
    return frame.with_columns(
        pl.from_epoch("ts_ms", time_unit="ms").dt.replace_time_zone("UTC").alias("time")
    )


def derive_4h(frame: pl.DataFrame) -> pl.DataFrame:
    """4h candles (open, max high, min low, last close, summed volume) of the 15m ones."""
    return (
        frame.with_columns((pl.col("ts_ms") // MS_4H * MS_4H).alias("bucket"))
        .group_by("bucket", maintain_order=True)
        .agg(
            pl.col("open").first(),
            pl.col("high").max(),
            pl.col("low").min(),
            pl.col("close").last(),
            pl.col("volume").sum(),
        )
        .rename({"bucket": "ts_ms"})
        .with_columns(
            pl.from_epoch("ts_ms", time_unit="ms").dt.replace_time_zone("UTC").alias("time")
        )
    )


def instrument_of(symbol: str) -> Instrument:
    try:
        return DEFAULT_INSTRUMENTS[symbol]
    except KeyError:
        raise InvalidInput(
            "symbol", f"{symbol!r} is not one of {', '.join(DEFAULT_INSTRUMENTS)}"
        ) from None


def market(
    candles: pl.DataFrame,
    symbol: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    funding: Mapping[int, Decimal] | None = None,
    flat_rate: Decimal = Decimal("0.0001"),
) -> Market:
    """The :class:`Market` of ``candles`` (15m) of ``symbol``, traded from ``start`` up to
    (not including) ``end``."""
    instrument = instrument_of(symbol)
    frame = candles_frame(candles)
    ts = frame["ts_ms"].to_numpy()
    first = 0 if start is None else int(np.searchsorted(ts, _ms(start, "start"), "left"))
    last = ts.size - 1 if end is None else int(np.searchsorted(ts, _ms(end, "end"), "left")) - 1
    if last - first < 1:
        raise InvalidInput("start", "no candles between start and end: widen the span")
    frame_15m = compute(frame, IndicatorParams.for_timeframe(Timeframe.M15))
    frame_4h = compute(derive_4h(frame), IndicatorParams.for_timeframe(Timeframe.H4))
    rates, source = settlements(int(ts[first]), int(ts[last]) + MS_15M, funding or {}, flat_rate)
    return Market(symbol, instrument, frame_15m, frame_4h, first, last, rates, source)


def settlements(
    start_ms: int, end_ms: int, stored: Mapping[int, Decimal], flat_rate: Decimal
) -> tuple[dict[int, Decimal], str]:
    """The rate of every 00/08/16 UTC settlement in ``(start_ms, end_ms]``."""
    rates: dict[int, Decimal] = {}
    used_flat = used_stored = False
    at = (start_ms // FUNDING_MS + 1) * FUNDING_MS
    while at <= end_ms:
        rate = stored.get(at)
        if rate is None:
            rate, used_flat = flat_rate, True
        else:
            used_stored = True
        rates[at] = rate
        at += FUNDING_MS
    source = "stored+flat" if used_flat and used_stored else "stored" if used_stored else "flat"
    return rates, source


def read_funding(path: str | Path) -> dict[int, Decimal]:
    """A ``ts_ms,funding_rate`` CSV as settlement time -> exact rate."""
    frame = pl.read_csv(path, schema_overrides={"funding_rate": pl.String})
    if "ts_ms" not in frame.columns or "funding_rate" not in frame.columns:
        raise InvalidInput("funding", f"{path} needs columns ts_ms,funding_rate")
    return {
        int(t): Decimal(r)
        for t, r in zip(frame["ts_ms"].to_list(), frame["funding_rate"].to_list(), strict=True)
    }


def from_store(
    url: str, symbol: str, start: datetime | None = None, end: datetime | None = None
) -> tuple[pl.DataFrame, dict[int, Decimal]]:
    """The stored 15m candles of ``symbol`` (all of them: the span is applied later so the
    indicators warm up) and its stored funding rates."""
    import qwentrade

    try:
        reader = qwentrade.open(url)
    except InvalidInput as e:  # named as the setting the user can change
        raise InvalidInput("database_url", e.message) from None
    with reader:
        candles = reader.klines(symbol, "15m", end=end)
        try:
            rates = reader.market("funding_rate", symbol)
        except InvalidInput:
            rates = pl.DataFrame()
    if candles.height == 0:
        raise InvalidInput(
            "symbol", f"no 15m candles of {symbol} are stored: run `qwentrade backfill` first"
        )
    funding: dict[int, Decimal] = {}
    if rates.height and "funding_rate" in rates.columns:
        time_column = "funding_time" if "funding_time" in rates.columns else "time"
        for when, rate in zip(
            rates[time_column].to_list(), rates["funding_rate"].to_list(), strict=True
        ):
            if when is not None and rate is not None:
                funding[int(when.timestamp() * 1000)] = Decimal(repr(float(rate)))
    return candles.select("time", "open", "high", "low", "close", "volume"), funding


def _ms(value: datetime, field: str) -> int:
    if not isinstance(value, datetime):
        raise InvalidInput(field, f"must be a datetime, got {value!r}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


def parse_date(text: str, field: str) -> datetime:
    """``2024-01-31`` or an ISO time (UTC when no zone is given)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(field, f"{text!r} is not a date like 2024-01-31") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


ONE_DAY = timedelta(days=1)
