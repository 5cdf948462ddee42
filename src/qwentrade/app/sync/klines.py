"""The kline jobs (``klines_15m``, ``klines_4h``, ``klines_1d``) and detection on 15m closes.

Rules:

1. A run looks at the series' history window (``KLINE_*_START_DAYS``, read at each run),
   asks the repository which closed candles of it are missing up to ``now``, fetches
   exactly those in pages of at most 300 (OKX's page size; ``domain.series`` plans them),
   keeps only confirmed candles (OKX ``confirm = 1``) inside the page, and stores each
   page at once through :meth:`KlineBackfill.store` (one transaction per page, the
   series' writer lock held from the read to the commit, indicators equal to a
   recompute); pages lying behind stored candles (a gap, a window grown backwards) are
   written together in one transaction, since each rewrites every later row's
   indicators. The first run after a start is the backfill, a later one the live sync,
   and a run after a kill resumes with what is still missing: no stored range is ever
   fetched again.
2. One run per series at a time in this process (a lock per series), so the 15m job
   that brings the 4h series up to date before detecting never fetches a range the 4h
   job is fetching.
3. Detection (15m only): after the candles are stored, each newly stored close is judged
   once, oldest first, by :class:`DetectionService` with the config's parameters. "Once"
   holds across restarts and kills: the open time of the last judged close is kept in
   ``system_status`` under ``detect:<symbol>`` (note), and a close that already has a
   stored signal is never judged again (a kill between storing a signal and moving the
   mark). Which closes after a long backfill: only those whose signal would still be
   active at ``now`` (close time + ``DETECTOR_SIGNAL_EXPIRE_HOURS`` later than ``now``);
   older ones could never be traded. A close filled in behind one already judged is not
   judged (its moment has passed). Every run marks signals past their expiry EXPIRED.
4. The candle that has just closed but is not confirmed by the venue yet is asked for
   again every 2 s for up to 2 minutes after its close (:class:`RetrySoon`), not only
   at the next close. Empty pages at the old end of a window, before candles the venue
   does serve (a symbol listed later than the window's start), are remembered for the
   life of the process and not asked for again.
5. ``stop_event`` is checked between pages: a stopping engine ends a long backfill after
   the page in flight, with everything fetched so far stored.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta

from qwentrade.app.backfill import PAGE_SIZE, BackfillReport, KlineBackfill
from qwentrade.app.detection import DetectionService
from qwentrade.app.gaps import missing_to_repair
from qwentrade.app.scheduler import RetrySoon
from qwentrade.domain.config_keys import CONFIG_KEYS, START_DAYS
from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.market import Candle, Timeframe, require_utc
from qwentrade.domain.records import SignalRecord
from qwentrade.domain.series import missing_ranges, plan_pages
from qwentrade.ports.config import ConfigStore
from qwentrade.ports.exchange import Exchange
from qwentrade.ports.repositories import KlineRepository, SignalRepository, StatusRepository

log = logging.getLogger(__name__)

Progress = Callable[[int, int, datetime | None, datetime | None], None]
"""``progress(done, total, first, last)`` after each page: candles fetched so far of those
missing, and the open times of the oldest and newest of them."""

DETECT_PREFIX = "detect:"
CONFIRM_WAIT = timedelta(minutes=2)  # how long after a close its confirmation is awaited
CONFIRM_RETRY = timedelta(seconds=2)  # and how often it is asked for meanwhile


def detect_component(symbol: str) -> str:
    """The ``system_status`` key holding the last judged 15m close of ``symbol``."""
    return f"{DETECT_PREFIX}{symbol}"


class KlineSync:
    """Brings candle series up to ``now`` and judges each new 15m close once."""

    def __init__(
        self,
        exchange: Exchange,
        klines: KlineRepository,
        backfill: KlineBackfill,
        config: ConfigStore | None = None,
        *,
        detection: DetectionService | None = None,
        signals: SignalRepository | None = None,
        status: StatusRepository | None = None,
        on_signal: Callable[[SignalRecord], None] | None = None,
        stop_event: threading.Event | None = None,
        page_size: int = PAGE_SIZE,
    ) -> None:
        if detection is not None and (signals is None or status is None):
            raise InvalidInput("detection", "needs the signal and status repositories too")
        self._exchange = exchange
        self._klines = klines
        self._backfill = backfill
        self._config = config
        self._detection = detection
        self._signals = signals
        self._status = status
        self.on_signal = on_signal
        self.stop_event = stop_event if stop_event is not None else threading.Event()
        self._page_size = page_size
        self._locks: defaultdict[tuple[str, Timeframe], threading.Lock] = defaultdict(
            threading.Lock
        )
        self._locks_lock = threading.Lock()
        self._venue_start: dict[tuple[str, Timeframe], datetime] = {}

    # -- the three SyncRuns ---------------------------------------------------------------

    def klines_15m(self, symbol: str | None, now: datetime) -> int:
        """Sync 15m candles of ``symbol`` to ``now``, then judge each new close once."""
        symbol = _symbol(symbol)
        written = self.run(symbol, Timeframe.M15, now).written
        if self._detection is not None and not self.stop_event.is_set():
            # the detector reads the 4h candles closed by each 15m close: bring them in
            # first; if that fails, the 4h job reports it and detection uses what is stored
            try:
                self.run(symbol, Timeframe.H4, now)
            except Exception as e:
                log.debug("4h catch-up of %s before detection failed: %s", symbol, e)
            self.detect_new_closes(symbol, now)
        return self._confirmed(symbol, Timeframe.M15, now, written)

    def klines_4h(self, symbol: str | None, now: datetime) -> int:
        """Sync 4h candles of ``symbol`` to ``now``."""
        symbol = _symbol(symbol)
        return self._confirmed(
            symbol, Timeframe.H4, now, self.run(symbol, Timeframe.H4, now).written
        )

    def klines_1d(self, symbol: str | None, now: datetime) -> int:
        """Sync 1d candles of ``symbol`` to ``now``."""
        symbol = _symbol(symbol)
        return self._confirmed(
            symbol, Timeframe.D1, now, self.run(symbol, Timeframe.D1, now).written
        )

    def _confirmed(self, symbol: str, timeframe: Timeframe, now: datetime, written: int) -> int:
        """``written``, or :class:`RetrySoon` while the candle that closed last is not
        stored yet and closed less than :data:`CONFIRM_WAIT` ago: OKX confirms a candle
        a moment after its close, and waiting for the next close would delay its
        detection by a whole candle."""
        last_open = timeframe.last_closed_open(now)
        latest = self._klines.latest_time(symbol, timeframe)
        # only the candle that has just closed is missing (a series the venue does not
        # serve at all is not asked for every 2 s)
        pending = latest == last_open - timeframe.duration
        recent = now - (last_open + timeframe.duration) < CONFIRM_WAIT
        if pending and recent and not self.stop_event.is_set():
            raise RetrySoon(
                CONFIRM_RETRY,
                f"{symbol} {timeframe.label} candle of {last_open.isoformat()} not "
                "confirmed by the venue yet",
                rows=written,
            )
        return written

    # -- the work -------------------------------------------------------------------------

    def start_days(self, timeframe: Timeframe) -> int:
        """The history window of ``timeframe`` in days, read from the config store now."""
        key = START_DAYS[timeframe.value.lower()]
        return int(CONFIG_KEYS[key].default if self._config is None else self._config.get(key))

    def missing(
        self, symbol: str, timeframe: Timeframe, now: datetime, days: float | None = None
    ) -> list[datetime]:
        """Open times of the candles closed in the last ``days`` days (default: the
        configured window) before ``now`` that are not stored, and the holes of the stored
        series before them, ascending (:func:`~qwentrade.app.gaps.missing_to_repair`)."""
        if days is None:
            days = self.start_days(timeframe)
        return missing_to_repair(self._klines, symbol, timeframe, now, days)

    def run(
        self,
        symbol: str,
        timeframe: Timeframe,
        now: datetime,
        days: float | None = None,
        progress: Progress | None = None,
    ) -> BackfillReport:
        """Fetch and store every missing closed candle of the window before ``now``,
        page by page (see the module rules); what was fetched and written."""
        now = require_utc(now, "now")
        key = (symbol, timeframe)
        with self._series_lock(symbol, timeframe):
            missing = self.missing(symbol, timeframe, now, days)
            if key in self._venue_start:  # the venue has nothing older: not asked again
                missing = [t for t in missing if t >= self._venue_start[key]]
            pages = plan_pages(timeframe, missing_ranges(timeframe, missing), self._page_size)
            newest = self._klines.latest_time(symbol, timeframe) if pages else None
            oldest = self._oldest(symbol, timeframe) if pages else None
            leading_empty: datetime | None = None  # before it the venue had nothing
            fetched = written = 0
            first: datetime | None = None
            last: datetime | None = None
            waiting: list[Candle] = []  # pages behind stored candles, written together
            for page in pages:
                if self.stop_event.is_set():
                    break
                candles = self._exchange.candles(
                    symbol, timeframe, span=page, limit=self._page_size
                )
                # only closed candles are final; the one still forming is never stored
                closed: list[Candle] = [c for c in candles if c.confirmed and c.time in page]
                if not fetched and (oldest is None or oldest >= page.end):
                    # nothing before this page, stored or fetched: what it lacks at its
                    # start the venue lacks (the whole page when it came back empty)
                    leading_empty = min((c.time for c in closed), default=page.end)
                fetched += len(closed)
                if closed:
                    first = min(first or closed[0].time, min(c.time for c in closed))
                    last = max(last or closed[-1].time, max(c.time for c in closed))
                if newest is not None and newest >= page.end:
                    # a page behind stored candles rewrites the indicators of every later
                    # row: gather such pages and write them once, not once per page
                    waiting.extend(closed)
                else:
                    if waiting:
                        written += self._backfill.store(symbol, timeframe, waiting)
                        waiting = []
                    if closed:  # appended at the end: stored at once (a kill keeps it)
                        written += self._backfill.store(symbol, timeframe, closed)
                if progress is not None:
                    progress(fetched, len(missing), first, last)
            if waiting:
                written += self._backfill.store(symbol, timeframe, waiting)
            lacked = leading_empty is not None and leading_empty > missing[0]
            if lacked and (fetched or oldest is not None):
                # the venue serves later candles but none before these pages (the symbol
                # was listed later, or the venue keeps no older history): remember it for
                # this process rather than asking for them on every run
                self._venue_start[key] = leading_empty  # type: ignore[assignment]
            return BackfillReport(
                symbol=symbol,
                timeframe=timeframe,
                fetched=fetched,
                written=written,
                still_missing=len(missing) - fetched,
                first=first,
                last=last,
            )

    def _oldest(self, symbol: str, timeframe: Timeframe) -> datetime | None:
        stored = self._klines.range(symbol, timeframe, limit=1)
        return None if stored.height == 0 else stored["time"][0]

    def detect_new_closes(self, symbol: str, now: datetime) -> list[SignalRecord]:
        """Judge each stored 15m close of ``symbol`` not judged yet whose signal would
        still be active at ``now``, oldest first; the signals stored (each also handed to
        ``on_signal``). Signals past their expiry are marked EXPIRED."""
        detection, signals, status = self._detection, self._signals, self._status
        assert detection is not None and signals is not None and status is not None
        signals.expire(now)
        step = Timeframe.M15.duration
        expiry = detection.params.signal_expiry
        start = now - expiry - step + timedelta(microseconds=1)  # close + expiry > now
        marked = self.last_judged(symbol)
        if marked is not None:
            start = max(start, marked + step)
        stored = self._klines.range(symbol, Timeframe.M15, start=start)
        fired: list[SignalRecord] = []
        for opened in stored["time"].to_list():
            if self.stop_event.is_set():
                break
            if not signals.find(symbol=symbol, start=opened, end=opened + step, limit=1):
                judged = detection.detect(symbol, at=opened + step)
                if judged.signal is not None:
                    fired.append(judged.signal)
                    self._publish(judged.signal)
            status.set_state(detect_component(symbol), "OK", now, note=opened.isoformat())
        return fired

    def last_judged(self, symbol: str) -> datetime | None:
        """Open time of the last 15m close of ``symbol`` the detector judged, or None."""
        assert self._status is not None
        record = self._status.get(detect_component(symbol))
        if record is None or not record.note:
            return None
        return datetime.fromisoformat(record.note)

    def _publish(self, signal: SignalRecord) -> None:
        callback = self.on_signal
        if callback is None:
            return
        try:
            callback(signal)
        except Exception:
            # a subscriber's failure never breaks sync (the signal is stored already)
            log.exception("on_signal subscriber failed for %s %s", signal.symbol, signal.time)

    def _series_lock(self, symbol: str, timeframe: Timeframe) -> threading.Lock:
        with self._locks_lock:
            return self._locks[(symbol, timeframe)]


def _symbol(target: str | None) -> str:
    if not target:
        raise InvalidInput("target", "a kline job needs a symbol, e.g. BTC-USDT-SWAP")
    return target
