"""Where notifications come from, wired by the container without touching the services:

* repositories that tell what a stored change means (:class:`NotifyingRepositories`): a
  trading relation whose entry filled (opened), that was adopted, or closed (by a
  stop-loss, a take-profit, outside the system, by us: with its PnL); an ADD/REDUCE
  order intent the venue acknowledged; a pending order TRIGGERED or EXPIRED. The
  notification follows the write, and only a write that changed the state tells (the
  compare-and-set's result), so a replayed update tells nothing twice;
* :class:`SyncFailureListener`, a sync engine run listener: a job failing
  ``NOTIFY_SYNC_FAILING_RUNS`` runs in a row;
* :class:`StreamWatcher`, a background component: the private stream down for more
  than ``NOTIFY_STREAM_DOWN_SECONDS``.

A notification is never the reason a write fails: building one is guarded and logged.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from qwentrade.adapters.notify.worker import DaemonWorker
from qwentrade.domain.notify import (
    FailureStreaks,
    Notification,
    StreamWatch,
    intent_notice,
    pending_notice,
    relation_notice,
)
from qwentrade.domain.records import IntentRecord, PendingOrderRecord, RelationRecord
from qwentrade.ports.clock import Clock
from qwentrade.ports.config import ConfigStore
from qwentrade.ports.notifier import Notifier
from qwentrade.ports.repositories import (
    HistoryRepository,
    IntentRepository,
    PendingRepository,
    RelationRepository,
)

log = logging.getLogger(__name__)

SYNC_FAILING_RUNS = "NOTIFY_SYNC_FAILING_RUNS"
STREAM_DOWN_SECONDS = "NOTIFY_STREAM_DOWN_SECONDS"
WATCH_INTERVAL = 1.0  # seconds between two looks at the private stream


def _tell(notifier: Notifier, build: Callable[[], Notification | None]) -> None:
    try:
        notification = build()
        if notification is not None:
            notifier.send(notification)
    except Exception:  # the write it follows has succeeded: never fail it
        log.exception("could not build a notification")


class _Delegating:
    _inner: Any

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class NotifyingRelations(_Delegating):
    """A RelationRepository that tells opens, adoptions and closes (module docstring)."""

    def __init__(
        self,
        inner: RelationRepository,
        intents: IntentRepository,
        history: HistoryRepository,
        notifier: Notifier,
    ) -> None:
        self._inner = inner
        self._intents = intents
        self._history = history
        self._notifier = notifier

    def save(self, relation: RelationRecord) -> RelationRecord:
        before = self._inner.get(relation.client_order_id)
        saved = self._inner.save(relation)
        _tell(self._notifier, lambda: self._notice(before, saved))
        return saved

    def _notice(self, before: RelationRecord | None, after: RelationRecord) -> Notification | None:
        if after.status == "OPEN" and after.open_time is not None:
            if before is not None and before.open_time is not None:
                return None  # a change to an open position (its plans, its algo ids)
            entry = self._history.order_by_client_id(after.client_order_id)
            known = before is not None or (
                self._intents.by_client_order_id(after.client_order_id) is not None
            )
            return relation_notice(
                before,
                after,
                known_intent=known,
                size=entry.filled_amount if entry and entry.filled_amount else None,
                price=entry.avg_price if entry else None,
            )
        return relation_notice(before, after)


class NotifyingIntents(_Delegating):
    """An IntentRepository that tells acknowledged ADD and REDUCE orders."""

    def __init__(
        self, inner: IntentRepository, history: HistoryRepository, notifier: Notifier
    ) -> None:
        self._inner = inner
        self._history = history
        self._notifier = notifier

    def update(self, intent: IntentRecord, expected_state: str) -> bool:
        changed = self._inner.update(intent, expected_state)
        if changed and intent.action in ("ADD", "REDUCE"):
            _tell(self._notifier, lambda: self._notice(intent, expected_state))
        return changed

    def _notice(self, intent: IntentRecord, expected_state: str) -> Notification | None:
        order = self._history.order_by_client_id(intent.client_order_id)
        return intent_notice(intent, expected_state, price=order.avg_price if order else None)


class NotifyingPending(_Delegating):
    """A PendingRepository that tells pending orders TRIGGERED or EXPIRED."""

    def __init__(self, inner: PendingRepository, notifier: Notifier) -> None:
        self._inner = inner
        self._notifier = notifier

    def save(self, order: PendingOrderRecord, expected_status: str | None = None) -> bool:
        changed = self._inner.save(order, expected_status)
        if changed:
            _tell(self._notifier, lambda: pending_notice(order, expected_status))
        return changed


class NotifyingRepositories(_Delegating):
    """``inner`` (the repositories bundle) with intents, relations and pending orders
    that tell; every other repository is ``inner``'s own."""

    def __init__(self, inner: Any, notifier: Notifier) -> None:
        self._inner = inner
        self.intents = NotifyingIntents(inner.intents, inner.history, notifier)
        self.relations = NotifyingRelations(inner.relations, inner.intents, inner.history, notifier)
        self.pending = NotifyingPending(inner.pending, notifier)


class RunResultLike(Protocol):
    """What a sync engine run listener receives (``app.sync.engine.RunResult``)."""

    @property
    def job_id(self) -> str: ...

    @property
    def state(self) -> str: ...

    @property
    def error(self) -> str: ...

    @property
    def at(self) -> datetime: ...


class SyncFailureListener:
    """A sync engine run listener: tells a job failing N runs in a row, and its recovery."""

    def __init__(self, notifier: Notifier, config: ConfigStore) -> None:
        self._notifier = notifier
        self._config = config
        self._streaks = FailureStreaks()
        self._lock = threading.Lock()

    def __call__(self, result: RunResultLike) -> None:
        if result.state not in ("OK", "FAILING"):
            return  # DISABLED: not running is not failing

        def build() -> Notification | None:
            threshold = int(self._config.get(SYNC_FAILING_RUNS))
            with self._lock:
                return self._streaks.observe(
                    result.job_id, result.state == "OK", result.error, result.at, threshold
                )

        _tell(self._notifier, build)


class StreamWatcher(DaemonWorker):
    """Looks at the private stream every second of ``clock``; tells an outage longer than
    ``NOTIFY_STREAM_DOWN_SECONDS`` (read at each look) and the stream's return."""

    def __init__(
        self,
        connected: Callable[[], bool],
        notifier: Notifier,
        config: ConfigStore,
        clock: Clock,
        *,
        interval: float = WATCH_INTERVAL,
    ) -> None:
        self._connected = connected
        self._notifier = notifier
        self._config = config
        self._clock = clock
        self._interval = interval
        self._watch = StreamWatch()
        super().__init__("stream-watch", "the stream watcher")

    def look(self) -> None:
        """One look at the stream (the thread calls it every ``interval``)."""

        def build() -> Notification | None:
            threshold = float(self._config.get(STREAM_DOWN_SECONDS))
            return self._watch.observe(bool(self._connected()), self._clock.now(), threshold)

        _tell(self._notifier, build)

    def _run(self) -> None:
        while not self._clock.wait(self._stop, self._interval):
            self.look()
