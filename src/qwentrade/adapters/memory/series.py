"""In-memory candle and market-series repositories (for unit tests and notebooks)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import datetime

import polars as pl

from qwentrade.adapters.memory._common import page
from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.market import Timeframe, TimeRange
from qwentrade.domain.records import (
    MARKET_KINDS,
    check_market_kind,
    check_page,
    check_span,
    check_text,
    market_symbol,
    market_time,
)
from qwentrade.domain.series import (
    empty_klines,
    from_epoch_us,
    missing_opens_us,
    normalize_klines,
    require_stored_timeframe,
)
from qwentrade.domain.stats import SeriesStats
from qwentrade.ports.repositories import M, MarketItem


class MemorySeriesWriter:
    """The series writer of ``MemoryKlineRepository.writing``: reads see the stored series
    and this writer's own upserts; the upserts are applied together when the block ends
    without an exception."""

    def __init__(self, repository: MemoryKlineRepository, symbol: str, timeframe: Timeframe):
        self._repository = repository
        self._symbol = symbol
        self._timeframe = timeframe
        self._pending: list[pl.DataFrame] = []

    def range(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> pl.DataFrame:
        frame = self._repository._series(self._symbol, self._timeframe, start, end)
        if self._pending:
            pending = _within(_merged(*self._pending), self._symbol, *check_span(start, end))
            frame = _merged(frame, pending)
        return frame.sort("time", descending=newest_first).slice(0, check_page(limit, 0)[0])

    def upsert(self, frame: pl.DataFrame) -> int:
        rows = normalize_klines(self._timeframe, frame, self._symbol)
        # normalize_klines refuses a frame of another symbol than the one held
        self._pending.append(rows)
        return rows.height

    def _commit(self) -> None:
        if self._pending:
            self._repository._apply(self._timeframe, _merged(*self._pending))


def _within(
    frame: pl.DataFrame, symbol: str, start: datetime | None, end: datetime | None
) -> pl.DataFrame:
    """The rows of ``symbol`` with ``start <= time < end`` (None leaves a side open)."""
    frame = frame.filter(pl.col("symbol") == symbol)
    if start is not None:
        frame = frame.filter(pl.col("time") >= start)
    if end is not None:
        frame = frame.filter(pl.col("time") < end)
    return frame


def _merged(*frames: pl.DataFrame) -> pl.DataFrame:
    merged = pl.concat(frames)
    merged = merged.unique(subset=["symbol", "time"], keep="last", maintain_order=True)
    return merged.sort("symbol", "time")


class MemoryKlineRepository:
    """KlineRepository in memory: one polars frame per timeframe (see ``ports.repositories``)."""

    def __init__(self) -> None:
        self._frames: dict[Timeframe, pl.DataFrame] = {}
        self._lock = threading.Lock()
        self._series_locks: dict[tuple[Timeframe, str], threading.RLock] = {}

    def upsert(self, timeframe: Timeframe, frame: pl.DataFrame, symbol: str | None = None) -> int:
        timeframe = require_stored_timeframe(timeframe)
        rows = normalize_klines(timeframe, frame, symbol)
        if rows.is_empty():
            return 0
        locks = [self._series_lock(timeframe, s) for s in sorted(rows["symbol"].unique())]
        with ExitStack() as stack:
            for lock in locks:
                stack.enter_context(lock)
            self._apply(timeframe, rows)
        return rows.height

    @contextmanager
    def writing(self, symbol: str, timeframe: Timeframe) -> Iterator[MemorySeriesWriter]:
        timeframe = require_stored_timeframe(timeframe)
        check_text(symbol, "symbol")
        with self._series_lock(timeframe, symbol):
            writer = MemorySeriesWriter(self, symbol, timeframe)
            yield writer
            writer._commit()

    def _series_lock(self, timeframe: Timeframe, symbol: str) -> threading.RLock:
        with self._lock:
            return self._series_locks.setdefault((timeframe, symbol), threading.RLock())

    def _apply(self, timeframe: Timeframe, rows: pl.DataFrame) -> None:
        with self._lock:
            self._frames[timeframe] = _merged(self._frame(timeframe), rows)

    def _frame(self, timeframe: Timeframe) -> pl.DataFrame:
        return self._frames.get(timeframe, empty_klines(timeframe))

    def _series(
        self, symbol: str, timeframe: Timeframe, start: datetime | None, end: datetime | None
    ) -> pl.DataFrame:
        timeframe = require_stored_timeframe(timeframe)
        check_text(symbol, "symbol")
        start, end = check_span(start, end)
        with self._lock:
            frame = self._frame(timeframe)
        return _within(frame, symbol, start, end)

    def range(
        self,
        symbol: str,
        timeframe: Timeframe,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = None,
        offset: int = 0,
        newest_first: bool = False,
    ) -> pl.DataFrame:
        limit, offset = check_page(limit, offset)
        frame = self._series(symbol, timeframe, start, end)
        frame = frame.sort("time", descending=newest_first)
        return frame.slice(offset, limit)

    def latest(self, symbol: str, timeframe: Timeframe, count: int = 1) -> pl.DataFrame:
        return self.range(symbol, timeframe, limit=count, newest_first=True).reverse()

    def latest_time(self, symbol: str, timeframe: Timeframe) -> datetime | None:
        frame = self._series(symbol, timeframe, None, None)
        return None if frame.is_empty() else frame["time"].max()  # type: ignore[return-value]

    def first_time(self, symbol: str, timeframe: Timeframe) -> datetime | None:
        frame = self._series(symbol, timeframe, None, None)
        return None if frame.is_empty() else frame["time"].min()  # type: ignore[return-value]

    def missing_closes(
        self, symbol: str, timeframe: Timeframe, start: datetime, end: datetime
    ) -> list[datetime]:
        timeframe = require_stored_timeframe(timeframe)
        span = TimeRange(start, end)
        present = self._series(symbol, timeframe, span.start, span.end)["time"].dt.epoch("us")
        missing = missing_opens_us(timeframe, span, present.to_numpy())
        return [from_epoch_us(v) for v in missing.tolist()]

    def stats(self, timeframe: Timeframe) -> list[SeriesStats]:
        timeframe = require_stored_timeframe(timeframe)
        with self._lock:
            frame = self._frame(timeframe)
        grouped = (
            frame.group_by("symbol")
            .agg(
                pl.len().alias("rows"),
                pl.col("time").min().alias("first"),
                pl.col("time").max().alias("last"),
            )
            .sort("symbol")
        )
        return [SeriesStats(**row) for row in grouped.iter_rows(named=True)]


class MemoryMarketSeriesRepository:
    """MarketSeriesRepository in memory (see ``ports.repositories``)."""

    def __init__(self) -> None:
        self._items: dict[tuple[type, str | None, datetime], MarketItem] = {}
        self._lock = threading.Lock()

    def upsert(self, items: Sequence[MarketItem]) -> int:
        keyed = {}
        for index, item in enumerate(items):
            if type(item) not in MARKET_KINDS:
                raise InvalidInput(
                    f"items[{index}]", f"{type(item).__name__} is not a market series item"
                )
            keyed[(type(item), market_symbol(item), market_time(item))] = item
        with self._lock:
            self._items.update(keyed)
        return len(keyed)

    def range(
        self,
        kind: type[M],
        symbol: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = None,
        offset: int = 0,
        newest_first: bool = False,
    ) -> list[M]:
        check_market_kind(kind)
        start, end = check_span(start, end)
        check_page(limit, offset)
        if symbol is not None:
            check_text(symbol, "symbol")
        with self._lock:
            found = [
                item
                for (cls, item_symbol, when), item in self._items.items()
                if cls is kind
                and (symbol is None or item_symbol is None or item_symbol == symbol)
                and (start is None or when >= start)
                and (end is None or when < end)
            ]
        found.sort(key=lambda item: market_symbol(item) or "")
        found.sort(key=market_time, reverse=newest_first)
        return page(found, limit, offset)  # type: ignore[arg-type]

    def latest(self, kind: type[M], symbol: str | None = None) -> M | None:
        found = self.range(kind, symbol, limit=1, newest_first=True)
        return found[0] if found else None

    def stats(self, kind: type[M]) -> list[SeriesStats]:
        check_market_kind(kind)
        times: dict[str, list[datetime]] = {}
        with self._lock:
            for cls, symbol, when in self._items:
                if cls is kind:
                    times.setdefault(symbol or "global", []).append(when)
        return [
            SeriesStats(symbol, len(times[symbol]), min(times[symbol]), max(times[symbol]))
            for symbol in sorted(times)
        ]
