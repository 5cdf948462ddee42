"""HistorySync: the account's order and position history, over REST and the private stream.

Rows are keyed as their tables are (``order_history`` by order id, ``position_history`` by
``(pos_id, u_time)``), so every write is an idempotent upsert; an order is never replaced
by an older state of itself (a replayed or late event: the stored ``updated_at`` wins).

What a periodic run (``order_history(None, now)`` / ``position_history(None, now)``,
every 30 s for all symbols) fetches, exactly:

1. **Coverage.** Each kind keeps the time up to which its stored history is known
   complete. It starts, in a new process, at the newest stored row (orders: creation
   time; positions: update time) as found before this process writes any, or the window
   start (``ORDER_HISTORY_START_DAYS`` / ``POSITION_HISTORY_START_DAYS``, read at each
   run) when nothing is stored: the first run after start is the history backfill, a
   restart reads only what came since.
2. **Stream healthy.** The stream covers the account while it is connected and its
   events reach :meth:`record`. That is known only from the events themselves: a
   ``StreamStatus`` CONNECTED passed to :meth:`record` (with ``stream_connected()`` still
   true at the run) means every later order and position change arrives as an event. On
   that CONNECTED, :meth:`record` first fills the gap from the coverage to now over REST,
   so the stream takes over with nothing missing before it. While it stays healthy, a
   periodic run makes no request at all: there is nothing the stream missed.
3. **Stream down** (a DISCONNECTED event, ``stream_connected()`` false, or no stream): the
   coverage moves to the last moment the stream was seen healthy, and every run reads from
   the coverage minus :data:`OVERLAP` up to ``now`` and moves the coverage to ``now``.
4. **Orders** over REST: the completed orders created in that span (paged), the open
   orders (one request: an order opened before the span and completed later is tracked
   while open), and every stored open order that is no longer open, looked up by id.
5. **Positions** over REST: the position-history rows updated in that span. A position
   event of the stream that closes or reduces a position makes :meth:`record` read that
   symbol's rows from the event's update time on; when OKX has not written the row yet,
   the next periodic run reads from there even while the stream is healthy.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from qwentrade.domain.errors import DomainError, OrderNotFound
from qwentrade.domain.market import EPOCH, TimeRange, require_utc
from qwentrade.domain.records import OrderRecord, PositionRecord
from qwentrade.domain.venue import ExchangePosition, Order, StreamStatus
from qwentrade.domain.venue.stream import StreamStatusKind
from qwentrade.ports.clock import Clock
from qwentrade.ports.config import ConfigStore
from qwentrade.ports.exchange import Exchange
from qwentrade.ports.repositories import HistoryRepository

log = logging.getLogger(__name__)

ORDERS, POSITIONS = "order_history", "position_history"
WINDOW_KEYS = {ORDERS: "ORDER_HISTORY_START_DAYS", POSITIONS: "POSITION_HISTORY_START_DAYS"}
#: read this much before the coverage: OKX's update times and our clock may disagree a little
OVERLAP = timedelta(minutes=5)
#: rows asked for per history call; a full answer is followed by another, older one
PAGE = 1000
MICROSECOND = timedelta(microseconds=1)
OPEN_STATES = ("live", "partially_filled")


class HistorySync:
    """The order/position history runs and the stream's :meth:`record`; see the module
    docstring for exactly what each fetches."""

    def __init__(
        self,
        exchange: Exchange,
        history: HistoryRepository,
        config: ConfigStore,
        clock: Clock,
        stream_connected: Callable[[], bool] = lambda: False,
    ) -> None:
        self._exchange = exchange
        self._history = history
        self._config = config
        self._clock = clock
        self._stream_connected = stream_connected
        self._lock = threading.RLock()
        self._covered: dict[str, datetime] = {}
        self._stream_since: datetime | None = None  # CONNECTED event time, while healthy
        self._seen_healthy: datetime | None = None
        self._sizes: dict[str, Decimal] = {}
        self._positions_due: datetime | None = None  # a close the REST rows lacked

    # -- periodic runs -----------------------------------------------------------------

    def order_history(self, target: str | None, now: datetime) -> int:
        """Orders the stream did not deliver, for all symbols (``target`` is ignored);
        returns the rows written."""
        now = require_utc(now, "now")
        with self._lock:
            if self._healthy(now):
                return 0
            return self._fetch_orders(now)

    def position_history(self, target: str | None, now: datetime) -> int:
        """Position-history rows the stream did not lead to, for all symbols (``target`` is
        ignored); returns the rows written."""
        now = require_utc(now, "now")
        with self._lock:
            if self._healthy(now):
                if self._positions_due is None:
                    return 0
                return self._fetch_positions(now, TimeRange(min(self._positions_due, now), now))
            return self._fetch_positions(now)

    # -- the stream ----------------------------------------------------------------------

    def record(self, event: object) -> int:
        """Store what a private-stream event says; returns the rows written.

        An ``Order`` is upserted (unless a newer state is stored). An ``ExchangePosition``
        that closes or reduces a position reads that symbol's new position-history rows.
        A ``StreamStatus`` CONNECTED fills the gap before it over REST (rule 2); when
        that read fails the stream is not trusted and the periodic runs read over REST.
        DISCONNECTED ends the stream's coverage. Other events write nothing.
        """
        with self._lock:
            if isinstance(event, Order):
                self._hold_coverage(ORDERS)
                return self._upsert_orders([event.to_record()])
            if isinstance(event, ExchangePosition):
                self._hold_coverage(POSITIONS)
                return self._position_event(event)
            if isinstance(event, StreamStatus):
                return self._status_event(event)
            return 0

    def _status_event(self, event: StreamStatus) -> int:
        if event.kind is StreamStatusKind.DISCONNECTED:
            self._stream_down(event.time)
            return 0
        self._stream_down(event.time)  # a CONNECTED without a DISCONNECTED: a drop too
        now = max(self._clock.now(), event.time)
        try:
            written = self._fetch_orders(now) + self._fetch_positions(now)
        except DomainError as e:
            # the stream is not trusted until the gap is filled: the periodic runs go on
            # reading over REST (and fill it) as if it were down
            log.warning("history gap after the stream connected not read yet: %s", e)
            return 0
        self._stream_since = event.time
        self._seen_healthy = now
        return written

    def _position_event(self, event: ExchangePosition) -> int:
        size = abs(event.size)
        before = self._sizes.get(event.pos_id)
        self._sizes[event.pos_id] = size
        if size != 0 and (before is None or size >= before):
            return 0  # opened or added to: no history row
        if size == 0:
            self._sizes.pop(event.pos_id, None)
        since = event.updated_at - OVERLAP
        end = max(self._clock.now(), event.updated_at) + timedelta(seconds=1)
        try:
            rows = self._read_positions(event.symbol, TimeRange(since, end))
        except DomainError as e:
            log.warning("position history of %s not read yet: %s", event.symbol, e)
            rows = []
        if not any(r.pos_id == event.pos_id and r.updated_at >= event.updated_at for r in rows):
            due = self._positions_due
            self._positions_due = since if due is None else min(due, since)
        return self._upsert_positions(rows, TimeRange(since, end))

    # -- coverage ------------------------------------------------------------------------

    def _healthy(self, now: datetime) -> bool:
        """Rule 2: connected since a CONNECTED event this object handled, and connected
        now; otherwise the stream's coverage ends (rule 3)."""
        if self._stream_since is None:
            return False
        if not self._stream_connected():
            self._stream_down(self._seen_healthy or self._stream_since)
            return False
        self._seen_healthy = now
        return True

    def _hold_coverage(self, kind: str) -> None:
        """Before the stream's first write of ``kind`` in this process, take the coverage
        from the tables, so the stream's newer rows never pass for REST's (rule 1)."""
        if kind not in self._covered:
            self._covered[kind] = self._stored_until(kind) or EPOCH

    def _stream_down(self, at: datetime) -> None:
        if self._stream_since is not None:
            for kind in (ORDERS, POSITIONS):
                if kind in self._covered:
                    self._covered[kind] = max(self._covered[kind], at)
        self._stream_since = None

    def _span(self, kind: str, now: datetime) -> TimeRange:
        days = float(self._config.get(WINDOW_KEYS[kind]))
        window_start = now - timedelta(days=days)
        covered = self._covered.get(kind)
        if covered is None:
            covered = self._stored_until(kind)
        start = window_start if covered is None else max(window_start, covered - OVERLAP)
        return TimeRange(min(start, now), now)

    def _stored_until(self, kind: str) -> datetime | None:
        if kind == POSITIONS:
            return self._history.latest_position_update()
        newest = self._history.orders(limit=1)
        return newest[0].created_at if newest else None

    # -- REST reads ----------------------------------------------------------------------

    def _fetch_orders(self, now: datetime) -> int:
        span = self._span(ORDERS, now)
        fetched: dict[str, OrderRecord] = {}
        for record in self._read_orders(span):
            fetched.setdefault(record.order_id, record)
        open_now = {o.order_id: o.to_record() for o in self._exchange.open_orders()}
        fetched.update(open_now)
        for stale in self._stored_open():
            if stale.order_id in fetched:
                continue
            try:
                order = self._exchange.get_order(stale.symbol, order_id=stale.order_id)
            except OrderNotFound:
                log.warning(
                    "order %s (%s) is stored open but the venue does not know it",
                    stale.order_id,
                    stale.symbol,
                )
                continue
            fetched[order.order_id] = order.to_record()
        written = self._upsert_orders(list(fetched.values()))
        self._covered[ORDERS] = now
        return written

    def _read_orders(self, span: TimeRange) -> list[OrderRecord]:
        """Completed orders created in ``span``, every page (newest first, PAGE a call)."""
        found: list[OrderRecord] = []
        end = span.end
        while end > span.start:
            page = self._exchange.order_history(None, TimeRange(span.start, end), limit=PAGE)
            found.extend(page)
            if len(page) < PAGE:
                break
            # the next page ends after the oldest seen (ties repeat, deduped by id)
            oldest = min(o.created_at for o in page) + MICROSECOND
            if oldest >= end:
                break
            end = oldest
        return found

    def _stored_open(self) -> list[OrderRecord]:
        return [
            order
            for state in OPEN_STATES
            for order in self._history.orders(status=state, limit=None)
        ]

    def _upsert_orders(self, records: Sequence[OrderRecord]) -> int:
        """Upsert the records that are new or a later state of what is stored for their
        id (an unchanged record is not written again)."""
        newer = []
        for record in records:
            stored = self._history.order(record.order_id)
            if stored is None or (record != stored and _not_older(record, stored)):
                newer.append(record)
        return self._history.upsert_orders(newer) if newer else 0

    def _fetch_positions(self, now: datetime, span: TimeRange | None = None) -> int:
        if span is None:
            span = self._span(POSITIONS, now)
            if self._positions_due is not None:
                span = TimeRange(min(self._positions_due, span.start), now)
        written = self._upsert_positions(self._read_positions(None, span), span)
        self._covered[POSITIONS] = now
        if self._positions_due is not None and self._positions_due >= span.start:
            self._positions_due = None
        return written

    def _upsert_positions(self, rows: Sequence[PositionRecord], span: TimeRange) -> int:
        """Upsert the rows of ``span`` not stored as they are."""
        if not rows:
            return 0
        stored = self._history.positions(start=span.start, end=span.end, limit=None)
        known = {(p.pos_id, p.updated_at): p for p in stored}
        new = [row for row in rows if known.get((row.pos_id, row.updated_at)) != row]
        return self._history.upsert_positions(new) if new else 0

    def _read_positions(self, symbol: str | None, span: TimeRange) -> list[PositionRecord]:
        found: list[PositionRecord] = []
        end = span.end
        while end > span.start:
            page = self._exchange.position_history(symbol, TimeRange(span.start, end), PAGE)
            found.extend(page)
            if len(page) < PAGE:
                break
            oldest = min(p.updated_at for p in page) + MICROSECOND
            if oldest >= end:
                break
            end = oldest
        return list({(p.pos_id, p.updated_at): p for p in found}.values())


def _not_older(record: OrderRecord, stored: OrderRecord) -> bool:
    """True when ``record`` is the same or a later state of the stored order."""
    if record.updated_at != stored.updated_at:
        return record.updated_at > stored.updated_at
    return record.filled_amount >= stored.filled_amount
