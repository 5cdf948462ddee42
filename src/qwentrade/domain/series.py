"""Candle-series arithmetic: expected open times, gaps and backfill pages (pure).

A candle is named by its OPEN time (``Candle.time``); the candle opened at ``t`` closes at
``t + timeframe.duration``. Open times are aligned to the epoch in UTC, as
:meth:`Timeframe.floor` aligns them. Every span is half-open, ``[start, end)``: a candle
belongs to a span when its open time does.

The sync engine asks three questions, answered here without I/O:

- which candles should exist between two times (:func:`expected_opens`,
  :func:`closed_span` for "everything closed by now");
- which of them are missing, given the open times stored (:func:`missing_opens`,
  :func:`missing_opens_us` for numpy arrays of epoch microseconds), grouped into runs
  (:func:`missing_ranges`);
- how to fetch those runs in pages the venue accepts (:func:`plan_pages`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.market import EPOCH, Timeframe, TimeRange, require_utc

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

# numpy and polars are imported by the functions that use them, not here: the time
# arithmetic and the table names below are what a start-up path (a no-op backfill, the
# schema) needs, and importing polars would cost it more than everything else it does.

MICROSECOND = timedelta(microseconds=1)


def to_epoch_us(when: datetime, field: str = "time") -> int:
    """Epoch microseconds of an aware datetime (a naive one is rejected naming ``field``)."""
    return (require_utc(when, field) - EPOCH) // MICROSECOND


def from_epoch_us(value: int) -> datetime:
    """Aware UTC datetime from epoch microseconds."""
    return EPOCH + timedelta(microseconds=int(value))


def step_us(timeframe: Timeframe) -> int:
    """The timeframe's duration in microseconds."""
    return timeframe.duration // MICROSECOND


def is_aligned(timeframe: Timeframe, when: datetime) -> bool:
    """True when ``when`` is a candle open time of ``timeframe``."""
    return to_epoch_us(when) % step_us(timeframe) == 0


def ceil(timeframe: Timeframe, when: datetime) -> datetime:
    """The first candle open time at or after ``when``."""
    value, step = to_epoch_us(when), step_us(timeframe)
    return from_epoch_us(-(-value // step) * step)


def closed_span(timeframe: Timeframe, since: datetime, now: datetime) -> TimeRange:
    """The span of open times of every candle that has CLOSED by ``now``, from ``since`` on.

    Its end is the open time of the candle in progress at ``now`` (a candle closing exactly
    at ``now`` is closed). Empty (start == end) when nothing has closed since ``since``.
    """
    start = ceil(timeframe, since)
    end = timeframe.floor(require_utc(now, "now"))
    return TimeRange(start, max(start, end))


def expected_opens_us(timeframe: Timeframe, span: TimeRange) -> np.ndarray:
    """Open times (epoch microseconds, int64, ascending) of the candles in ``span``."""
    import numpy as np

    step = step_us(timeframe)
    first = -(-to_epoch_us(span.start, "start") // step) * step
    end = to_epoch_us(span.end, "end")
    if first >= end:
        return np.empty(0, dtype=np.int64)
    return np.arange(first, end, step, dtype=np.int64)


def expected_opens(timeframe: Timeframe, span: TimeRange) -> list[datetime]:
    """Open times (aware UTC, ascending) of the candles whose open time lies in ``span``."""
    return [from_epoch_us(v) for v in expected_opens_us(timeframe, span).tolist()]


def missing_opens_us(timeframe: Timeframe, span: TimeRange, present_us: np.ndarray) -> np.ndarray:
    """Expected open times in ``span`` (epoch microseconds) that are not in ``present_us``.

    ``present_us`` may hold anything: unaligned or out-of-span values are simply ignored.
    """
    import numpy as np

    expected = expected_opens_us(timeframe, span)
    present = np.asarray(present_us, dtype=np.int64)
    return expected[~np.isin(expected, present)]


def missing_opens(
    timeframe: Timeframe, span: TimeRange, present: Iterable[datetime]
) -> list[datetime]:
    """Open times of the candles in ``span`` that are not among ``present`` (ascending)."""
    import numpy as np

    present_us = np.fromiter((to_epoch_us(t) for t in present), dtype=np.int64)
    return [from_epoch_us(v) for v in missing_opens_us(timeframe, span, present_us).tolist()]


def open_count(timeframe: Timeframe, span: TimeRange) -> int:
    """How many candles have their open time in ``span`` (``len(expected_opens(...))``)."""
    step = step_us(timeframe)
    first = -(-to_epoch_us(span.start, "start") // step) * step
    return max(0, -(-(to_epoch_us(span.end, "end") - first) // step))


Gap = tuple[datetime | None, datetime | None]


def missing_in_gaps(timeframe: Timeframe, span: TimeRange, gaps: Iterable[Gap]) -> list[datetime]:
    """Open times of the candles in ``span`` that fall in ``gaps``, ascending.

    A gap is ``(before, after)``: the stored open times on either side of a run of missing
    candles, None for the start or the end of ``span``; ``(None, None)`` is a span with
    nothing stored. This is how a database answers :func:`missing_opens` without sending
    every stored time: the gaps it finds between neighbours (stored times are open times).
    Gaps are given in ascending order and do not overlap.
    """
    step = step_us(timeframe)
    first = -(-to_epoch_us(span.start, "start") // step) * step
    end = to_epoch_us(span.end, "end")
    missing: list[datetime] = []
    for before, after in gaps:
        low = first if before is None else max(first, to_epoch_us(before, "before") + step)
        high = end if after is None else min(end, to_epoch_us(after, "after"))
        missing.extend(from_epoch_us(value) for value in range(low, high, step))
    return missing


def missing_ranges(timeframe: Timeframe, missing: Sequence[datetime]) -> list[TimeRange]:
    """Group missing open times into runs of consecutive candles.

    Each run is the span ``[first open, last open + duration)``; runs are returned oldest
    first. Input order does not matter and duplicates are ignored.
    """
    import numpy as np

    values = np.unique(np.fromiter((to_epoch_us(t) for t in missing), dtype=np.int64))
    if values.size == 0:
        return []
    step = step_us(timeframe)
    if np.any(values % step):
        bad = from_epoch_us(int(values[np.nonzero(values % step)[0][0]]))
        raise InvalidInput("missing", f"{bad.isoformat()} is not a {timeframe.label} open time")
    breaks = np.nonzero(np.diff(values) != step)[0]
    starts = np.concatenate(([values[0]], values[breaks + 1]))
    lasts = np.concatenate((values[breaks], [values[-1]]))
    return [
        TimeRange(from_epoch_us(int(s)), from_epoch_us(int(e) + step))
        for s, e in zip(starts.tolist(), lasts.tolist(), strict=True)
    ]


def plan_pages(
    timeframe: Timeframe,
    ranges: Sequence[TimeRange],
    page_size: int,
    newest_first: bool = False,
) -> list[TimeRange]:
    """Split spans into pages of at most ``page_size`` candles each (OKX: 100 or 300).

    Every candle open time of every span lands in exactly one page; pages never straddle
    two spans. Oldest page first, or newest first when ``newest_first`` (the order OKX's
    history endpoint pages backwards in).
    """
    if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
        raise InvalidInput("page_size", f"must be a positive integer, got {page_size!r}")
    step = step_us(timeframe)
    pages: list[TimeRange] = []
    for span in ranges:
        opens = expected_opens_us(timeframe, span)
        for index in range(0, opens.size, page_size):
            chunk = opens[index : index + page_size]
            pages.append(
                TimeRange(from_epoch_us(int(chunk[0])), from_epoch_us(int(chunk[-1]) + step))
            )
    pages.sort(key=lambda page: page.start, reverse=newest_first)
    return pages


# -- kline tables ------------------------------------------------------------------------------

OHLCV_COLUMNS = ("open", "high", "low", "close", "volume")
STORED_TIMEFRAMES = (Timeframe.M15, Timeframe.H4, Timeframe.D1)


def indicator_columns(timeframe: Timeframe) -> tuple[str, ...]:
    """The indicator columns stored with candles of ``timeframe`` (RSI 7 on 15m, else 14)."""
    rsi = "rsi_7" if require_stored_timeframe(timeframe) is Timeframe.M15 else "rsi_14"
    return (
        "ema_9",
        "ema_21",
        "ema_55",
        rsi,
        "macd_line",
        "signal_line",
        "histogram",
        "bb_upper",
        "bb_middle",
        "bb_lower",
        "bb_width",
        "atr_14",
        "obv",
        "obv_ema_9",
        "adx_14",
    )


def kline_columns(timeframe: Timeframe) -> tuple[str, ...]:
    """Every column of a klines table, in table order: symbol, time, OHLCV, indicators."""
    return ("symbol", "time", *OHLCV_COLUMNS, *indicator_columns(timeframe))


def require_stored_timeframe(timeframe: object) -> Timeframe:
    """``timeframe`` as a :class:`Timeframe` that has a klines table (15m, 4h, 1d)."""
    if isinstance(timeframe, str):
        timeframe = Timeframe.parse(timeframe)
    if timeframe not in STORED_TIMEFRAMES:
        stored = ", ".join(t.label for t in STORED_TIMEFRAMES)
        shown = timeframe.label if isinstance(timeframe, Timeframe) else repr(timeframe)
        raise InvalidInput("timeframe", f"{shown} is not stored; use one of {stored}")
    return timeframe  # type: ignore[return-value]


# -- kline frames ------------------------------------------------------------------------


def __getattr__(name: str):
    # KLINE_TIME is a polars dtype: built on first use so that importing this module does
    # not import polars.
    if name == "KLINE_TIME":
        import polars as pl

        return pl.Datetime("us", "UTC")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def kline_schema(timeframe: Timeframe) -> dict[str, pl.DataType]:
    """Column name -> polars dtype of a klines frame of ``timeframe``, in table order."""
    import polars as pl

    schema: dict[str, pl.DataType] = {"symbol": pl.String(), "time": pl.Datetime("us", "UTC")}
    for name in kline_columns(timeframe)[2:]:
        schema[name] = pl.Float64()
    return schema


def empty_klines(timeframe: Timeframe) -> pl.DataFrame:
    """A klines frame with no rows and the full schema."""
    import polars as pl

    return pl.DataFrame(schema=kline_schema(timeframe))


def normalize_klines(
    timeframe: Timeframe, frame: pl.DataFrame, symbol: str | None = None
) -> pl.DataFrame:
    """``frame`` checked and shaped as a klines table expects it; InvalidInput otherwise.

    The result has every column of the table in table order (missing indicators null),
    ``time`` as ``Datetime("us", "UTC")``, floats as Float64 with NaN and infinities
    turned to null in indicators, one row per (symbol, time) - the LAST of duplicates - and
    rows sorted by (symbol, time). Refused: unknown columns, a missing symbol, naive or
    unaligned times, null or negative OHLCV, ``high < low``.
    """
    import polars as pl

    timeframe = require_stored_timeframe(timeframe)
    if not isinstance(frame, pl.DataFrame):
        raise InvalidInput("frame", f"expected a polars DataFrame, got {type(frame).__name__}")
    schema = kline_schema(timeframe)
    unknown = [name for name in frame.columns if name not in schema]
    if unknown:
        raise InvalidInput(
            unknown[0],
            f"is not a column of {timeframe.table}: drop or rename it "
            f"(columns: {', '.join(schema)})",
        )
    for name in ("time", *OHLCV_COLUMNS):
        if name not in frame.columns:
            raise InvalidInput(
                name, f"the frame has no {name!r} column; {timeframe.table} needs it"
            )
    for name in list(schema)[2:]:
        dtype = frame.schema.get(name)
        if dtype is not None and not (dtype.is_numeric() or dtype == pl.Null):
            raise InvalidInput(name, f"must be a numeric column, got {dtype}")
    frame = _with_symbol(frame, symbol)
    frame = frame.with_columns(_utc_time(frame.schema["time"]))
    frame = frame.with_columns(
        [
            pl.col(n).cast(pl.Float64) if n in frame.columns else pl.lit(None, pl.Float64).alias(n)
            for n in list(schema)[2:]
        ]
    ).select(list(schema))
    indicators = list(schema)[7:]
    frame = frame.with_columns(
        [
            pl.when(pl.col(n).is_finite()).then(pl.col(n)).otherwise(None).alias(n)
            for n in indicators
        ]
    )
    _check_rows(timeframe, frame)
    return _last_per_key(frame)


def _last_per_key(frame: pl.DataFrame) -> pl.DataFrame:
    """Sorted by (symbol, time), keeping the last row of each key (a stable sort keeps the
    input order among equal keys; the input is often sorted already)."""
    import polars as pl

    after_next = (pl.col("symbol") > pl.col("symbol").shift(-1)) | (
        (pl.col("symbol") == pl.col("symbol").shift(-1))
        & (pl.col("time") >= pl.col("time").shift(-1))
    )
    if frame.select(after_next.fill_null(False).any()).item():
        frame = frame.sort("symbol", "time", maintain_order=True)
        last = (pl.col("symbol") != pl.col("symbol").shift(-1)) | (
            pl.col("time") != pl.col("time").shift(-1)
        )
        frame = frame.filter(last.fill_null(True))
    return frame


def _with_symbol(frame: pl.DataFrame, symbol: str | None) -> pl.DataFrame:
    import polars as pl

    if symbol is not None and (not isinstance(symbol, str) or not symbol.strip()):
        raise InvalidInput("symbol", f"must be a non-empty string, got {symbol!r}")
    if "symbol" not in frame.columns:
        if symbol is None:
            raise InvalidInput("symbol", "the frame has no symbol column: pass symbol=...")
        return frame.with_columns(pl.lit(symbol, pl.String).alias("symbol"))
    if frame.schema["symbol"] not in (pl.String, pl.Categorical, pl.Enum):
        raise InvalidInput("symbol", f"must be a text column, got {frame.schema['symbol']}")
    column = frame["symbol"].cast(pl.String)
    if column.null_count():
        raise InvalidInput("symbol", "has null values: every row needs its instrument id")
    if symbol is not None and (column != symbol).any():
        other = column.filter(column != symbol)[0]
        raise InvalidInput("symbol", f"the frame holds {other!r} but symbol={symbol!r} was given")
    return frame.with_columns(column.alias("symbol"))


def _utc_time(dtype: pl.DataType) -> pl.Expr:
    import polars as pl

    if not isinstance(dtype, pl.Datetime):
        raise InvalidInput("time", f"must be a Datetime column, got {dtype}")
    if dtype.time_zone is None:
        raise InvalidInput(
            "time", "is naive: give timezone-aware UTC times (dt.replace_time_zone('UTC'))"
        )
    return pl.col("time").dt.convert_time_zone("UTC").cast(pl.Datetime("us", "UTC"))


def _check_rows(timeframe: Timeframe, frame: pl.DataFrame) -> None:
    """One pass over the frame; only when something is wrong, a second to name the row."""
    import polars as pl

    checks = {
        "time": pl.col("time").is_null()
        | (pl.col("time").dt.epoch("us") % step_us(timeframe) != 0),
        **{
            name: ~pl.col(name).is_finite().fill_null(False) | (pl.col(name) < 0)
            for name in OHLCV_COLUMNS
        },
        "high": pl.col("high") < pl.col("low"),
    }
    found = frame.select(**{name: bad.any() for name, bad in checks.items()}).row(0)
    for name, failed in zip(checks, found, strict=True):
        if failed:
            _refuse(timeframe, name, frame.filter(checks[name]).row(0, named=True))


def _refuse(timeframe: Timeframe, name: str, row: dict) -> None:
    where = f"at {row['time'].isoformat() if row['time'] else '?'} ({row['symbol']})"
    if name == "time" and row["time"] is None:
        raise InvalidInput("time", "has null values: every candle needs its open time")
    if name == "time":
        raise InvalidInput(
            "time", f"{row['time'].isoformat()} is not a {timeframe.label} open time"
        )
    if name == "high" and row["high"] is not None and row["high"] < row["low"]:
        raise InvalidInput("high", f"high {row['high']} is below low {row['low']} {where}")
    raise InvalidInput(name, f"{row[name]!r} {where}: must be a finite non-negative number")
