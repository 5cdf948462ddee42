"""Repository ports: what the services store and read, in domain types.

Implementations: ``adapters.sql`` (PostgreSQL and SQLite, ``Sql*Repository``) and
``adapters.memory`` (``Memory*Repository``); ``tests/contract/`` runs one suite per port
over all three. Conventions every implementation keeps:

- times are timezone-aware UTC; a naive datetime raises ``InvalidInput`` naming the field;
- time spans are half-open: ``start <= time < end``; ``None`` leaves that side open;
- writes are idempotent upserts keyed as the table's primary key: writing the same rows
  twice changes nothing, and a later write of a key replaces the earlier values;
- ``limit``/``offset`` page through results; ``limit=None`` means all;
- prices and amounts of orders and positions are ``Decimal`` and round-trip exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol, TypeVar

import polars as pl

from qwentrade.domain.market import (
    BookSnapshot,
    EtfFlow,
    FearGreed,
    FundingRate,
    Liquidation,
    OpenInterest,
    Sentiment,
    Timeframe,
)
from qwentrade.domain.records import (
    IntentRecord,
    LeaseRecord,
    OrderRecord,
    PendingOrderRecord,
    PositionRecord,
    RelationRecord,
    SignalRecord,
    StatusRecord,
)
from qwentrade.domain.stats import OrderStats, PositionStats, SeriesStats

MarketItem = (
    FundingRate | OpenInterest | Sentiment | BookSnapshot | EtfFlow | FearGreed | Liquidation
)
M = TypeVar(
    "M", FundingRate, OpenInterest, Sentiment, BookSnapshot, EtfFlow, FearGreed, Liquidation
)


class SeriesWriter(Protocol):
    """One candle series held for a read-compute-write (see ``KlineRepository.writing``)."""

    def range(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> pl.DataFrame:
        """The series' candles in ``[start, end)`` as stored, with this writer's own writes."""
        ...

    def upsert(self, frame: pl.DataFrame) -> int:
        """Insert or replace candles of this series (as ``KlineRepository.upsert``); they
        are committed together when the ``writing`` block ends without an exception."""
        ...


class KlineIndex(Protocol):
    """Which candles a klines table holds, without reading them: the questions a lookup
    asks (``KlineRepository`` has both, with the same meaning)."""

    def missing_closes(
        self, symbol: str, timeframe: Timeframe, start: datetime, end: datetime
    ) -> list[datetime]:
        """As ``KlineRepository.missing_closes``."""
        ...

    def stats(self, timeframe: Timeframe) -> list[SeriesStats]:
        """As ``KlineRepository.stats``."""
        ...

    def first_time(self, symbol: str, timeframe: Timeframe) -> datetime | None:
        """As ``KlineRepository.first_time``."""
        ...


class KlineRepository(Protocol):
    """Candles with their indicators (tables ``klines_15m``, ``klines_4h``, ``klines_1d``).

    Frames have the columns of ``domain.series.kline_columns(timeframe)``: ``symbol``,
    ``time`` (open time, ``Datetime(*, "UTC")``), ``open high low close volume`` and the
    indicator columns (Float64, nulls allowed; NaN is stored as null). Only 15m, 4H and 1D
    are stored.
    """

    def upsert(self, timeframe: Timeframe, frame: pl.DataFrame, symbol: str | None = None) -> int:
        """Insert or replace the frame's candles; returns the number of rows written.

        The frame needs ``time`` and OHLCV; ``symbol`` comes from its column or the
        argument. Missing indicator columns are null; unknown columns, naive or unaligned
        times, and null OHLCV are refused (``InvalidInput``) before anything is written.
        When a key appears twice in the frame, its last row wins.
        """
        ...

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
        """Candles of ``symbol`` with open time in ``[start, end)``, oldest first (or newest
        first), every column of the table; an empty frame keeps the schema."""
        ...

    def writing(self, symbol: str, timeframe: Timeframe) -> AbstractContextManager[SeriesWriter]:
        """Hold ``symbol``'s ``timeframe`` series for a read-compute-write.

        One writer per series at a time, across threads and processes (PostgreSQL: an
        advisory transaction lock; SQLite: the database write lock; memory: a lock): a
        second writer waits at the ``with`` until the first block has ended. Reads inside
        see every committed write; writes inside commit together at the end of the block,
        or not at all if it raises (or the process dies). ``upsert`` takes the same locks.
        """
        ...

    def latest(self, symbol: str, timeframe: Timeframe, count: int = 1) -> pl.DataFrame:
        """The last ``count`` candles of ``symbol``, oldest first (empty if none)."""
        ...

    def latest_time(self, symbol: str, timeframe: Timeframe) -> datetime | None:
        """Open time of the newest stored candle of ``symbol``, or None."""
        ...

    def first_time(self, symbol: str, timeframe: Timeframe) -> datetime | None:
        """Open time of the oldest stored candle of ``symbol``, or None."""
        ...

    def missing_closes(
        self, symbol: str, timeframe: Timeframe, start: datetime, end: datetime
    ) -> list[datetime]:
        """Open times in ``[start, end)`` of the candles that should exist but are not stored,
        ascending (see ``domain.series``)."""
        ...

    def stats(self, timeframe: Timeframe) -> list[SeriesStats]:
        """Per symbol: stored rows, first and last open time; sorted by symbol."""
        ...


class MarketSeriesRepository(Protocol):
    """Market data series: funding rates, open interest, sentiment, order-book snapshots,
    ETF flows, fear & greed, liquidations (one table each).

    ``kind`` is the value class (``FundingRate``...). Keys: symbol + time; ``EtfFlow`` by
    symbol + date (its span test uses midnight UTC of the date); ``FearGreed`` by time
    alone (its ``symbol`` arguments are ignored).
    """

    def upsert(self, items: Sequence[MarketItem]) -> int:
        """Insert or replace the items (kinds may be mixed); returns rows written."""
        ...

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
        """Items of ``kind`` (of ``symbol``, or every symbol) in ``[start, end)``, by time."""
        ...

    def latest(self, kind: type[M], symbol: str | None = None) -> M | None:
        """The newest item of ``kind`` for ``symbol``, or None."""
        ...

    def stats(self, kind: type[M]) -> list[SeriesStats]:
        """Per symbol: rows, first and last time (``EtfFlow``: midnight UTC of the dates)."""
        ...


class HistoryRepository(Protocol):
    """The account's order and position history (``order_history``, ``position_history``)."""

    def upsert_orders(self, orders: Sequence[OrderRecord]) -> int:
        """Insert or replace orders by ``order_id``; returns rows written."""
        ...

    def upsert_positions(self, positions: Sequence[PositionRecord]) -> int:
        """Insert or replace positions by (``pos_id``, ``updated_at``); returns rows written."""
        ...

    def order(self, order_id: str) -> OrderRecord | None:
        """The order with the venue's ``order_id``, or None."""
        ...

    def order_by_client_id(self, client_order_id: str) -> OrderRecord | None:
        """The newest order whose ``cl_ord_id`` (OKX ``clOrdId``) is this, or None."""
        ...

    def orders(
        self,
        symbol: str | None = None,
        status: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = 100,
        offset: int = 0,
    ) -> list[OrderRecord]:
        """Orders created in ``[start, end)``, newest first (by ``created_at``, ``order_id``);
        ``status`` filters by OKX's order state (``filled``, ``canceled``...)."""
        ...

    def positions(
        self,
        symbol: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = 100,
        offset: int = 0,
    ) -> list[PositionRecord]:
        """Position records updated in ``[start, end)``, newest first."""
        ...

    def latest_order_update(self, symbol: str | None = None) -> datetime | None:
        """The newest ``updated_at`` among stored orders (where an incremental sync resumes)."""
        ...

    def latest_position_update(self, symbol: str | None = None) -> datetime | None:
        """The newest ``updated_at`` among stored position records."""
        ...

    def order_stats(
        self, start: datetime | None = None, end: datetime | None = None
    ) -> list[OrderStats]:
        """Per symbol over orders created in ``[start, end)``: exact sums; sorted by symbol."""
        ...

    def position_stats(
        self, start: datetime | None = None, end: datetime | None = None
    ) -> list[PositionStats]:
        """Per symbol over position records updated in ``[start, end)``; sorted by symbol."""
        ...


class SignalRepository(Protocol):
    """Detected signals (``market_signal``); one per (symbol, time, signal_type)."""

    def add(self, signal: SignalRecord) -> SignalRecord:
        """Store a signal and return it with its ``id``. Detecting the same candle again
        replaces score, price, details and expiry but keeps ``id`` and ``status``."""
        ...

    def get(self, signal_id: int) -> SignalRecord | None:
        """The signal with ``signal_id``, or None."""
        ...

    def find(
        self,
        symbol: str | None = None,
        status: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = 100,
        offset: int = 0,
    ) -> list[SignalRecord]:
        """Signals with candle time in ``[start, end)``, newest first."""
        ...

    def active(self, now: datetime, symbol: str | None = None) -> list[SignalRecord]:
        """ACTIVE signals not yet expired at ``now`` (``expire_at > now``), newest first."""
        ...

    def set_status(self, signal_id: int, status: str, expected: str | None = None) -> bool:
        """Set a signal's status; with ``expected``, only if it currently has that status.
        Returns True when the row changed (False: no such signal, or the status differed)."""
        ...

    def expire(self, now: datetime) -> int:
        """Mark ACTIVE signals with ``expire_at <= now`` EXPIRED; returns how many."""
        ...


class PendingRepository(Protocol):
    """Pending trigger orders (``pending_order``)."""

    def save(self, order: PendingOrderRecord, expected_status: str | None = None) -> bool:
        """Insert or replace by ``id``. With ``expected_status``, replace only a stored order
        with that status (compare-and-set; a missing order is not inserted). True if written."""
        ...

    def get(self, order_id: str) -> PendingOrderRecord | None:
        """The pending order with ``order_id``, or None."""
        ...

    def find(
        self,
        symbol: str | None = None,
        status: str | None = None,
        limit: int | None = 100,
        offset: int = 0,
    ) -> list[PendingOrderRecord]:
        """Pending orders, newest first (by ``created_at``)."""
        ...

    def open(self, symbol: str | None = None) -> list[PendingOrderRecord]:
        """Orders with status PENDING, oldest first (the monitor's work list)."""
        ...


class IntentRepository(Protocol):
    """Order intents (``order_intent``): written before their request is sent."""

    def add(self, intent: IntentRecord) -> IntentRecord:
        """Insert the intent unless its ``intent_id`` exists; return the stored row (the
        existing one when it did: a retry finds what was decided, never a second intent).
        A different intent with the same ``client_order_id`` raises ``InvalidInput``."""
        ...

    def get(self, intent_id: str) -> IntentRecord | None:
        """The intent with ``intent_id``, or None."""
        ...

    def by_client_order_id(self, client_order_id: str) -> IntentRecord | None:
        """The intent whose order carries ``client_order_id``, or None."""
        ...

    def update(self, intent: IntentRecord, expected_state: str) -> bool:
        """Replace the stored intent if its state is still ``expected_state``; True if it was.
        The identity (intent_id, client_order_id, symbol, action, side) must not change."""
        ...

    def unresolved(self, symbol: str | None = None) -> list[IntentRecord]:
        """Intents not in a final state (NEW, SENT, OUTCOME_UNKNOWN), oldest first."""
        ...

    def count_by_state(self) -> dict[str, int]:
        """How many intents are in each state (states with none are left out)."""
        ...

    def find(
        self,
        symbol: str | None = None,
        state: str | None = None,
        limit: int | None = 100,
        offset: int = 0,
    ) -> list[IntentRecord]:
        """Intents, newest first (by ``created_at``)."""
        ...


class RelationRepository(Protocol):
    """Links between entry orders, their SL/TP algo orders, signals and pending orders."""

    def save(self, relation: RelationRecord) -> RelationRecord:
        """Insert or replace by ``client_order_id`` (of the entry order); returns the stored
        relation with its ``id`` (assigned on first insert, kept on replace). At most one
        relation per symbol is OPEN: saving a second one raises ``PositionExists`` (the
        database's partial unique index, so two writers at once cannot both succeed)."""
        ...

    def get(self, client_order_id: str) -> RelationRecord | None:
        """The relation of the entry order with ``client_order_id``, or None."""
        ...

    def by_algo_id(self, algo_id: str) -> RelationRecord | None:
        """The relation whose stop-loss or take-profit algo order is ``algo_id``, or None."""
        ...

    def find(
        self,
        symbol: str | None = None,
        side: str | None = None,
        status: str | None = None,
        limit: int | None = 100,
        offset: int = 0,
    ) -> list[RelationRecord]:
        """Relations, newest first (by ``created_at``)."""
        ...


class LeaseRepository(Protocol):
    """Trading leases (``trading_lease``): which service instance trades which symbol.

    Several instances on one database never trade one symbol at once: each takes the
    symbol's lease before trading it and renews it while it runs; a lease is taken over
    only once it expired (its holder crashed or stopped renewing)."""

    def acquire(self, symbol: str, owner: str, now: datetime, expires_at: datetime) -> LeaseRecord:
        """Take or renew the lease of ``symbol`` for ``owner`` until ``expires_at`` when it
        is free, expired at ``now`` or already ``owner``'s (atomically); return the lease as
        stored afterwards (another owner's, unchanged, when it is held by someone else)."""
        ...

    def release(self, symbol: str, owner: str) -> bool:
        """Give up ``owner``'s lease of ``symbol``; True if it held it."""
        ...

    def get(self, symbol: str) -> LeaseRecord | None:
        """The lease of ``symbol`` as stored (maybe expired), or None."""
        ...


class StatusRepository(Protocol):
    """Health of components and jobs (``system_status``)."""

    def record_run(
        self, component: str, at: datetime, ok: bool, rows: int = 0, error: str = ""
    ) -> StatusRecord:
        """Count one run of ``component`` finished at ``at`` (atomic increments, safe from
        several threads and processes); returns the row after the update."""
        ...

    def set_state(self, component: str, state: str, at: datetime, note: str = "") -> None:
        """Set a component's state (OK, FAILING, DISABLED, IDLE; stored as ``value`` under
        ``key`` = ``component``) and note, e.g. DISABLED "no CoinGlass key"; counters are
        kept."""
        ...

    def get(self, component: str) -> StatusRecord | None:
        """The status of ``component``, or None."""
        ...

    def all(self) -> list[StatusRecord]:
        """Every component's status, sorted by name."""
        ...
