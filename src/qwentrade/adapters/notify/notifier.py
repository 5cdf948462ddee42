"""AppriseNotifier: notifications to Telegram, Discord, Slack, e-mail, ntfy or any webhook
through Apprise, delivered by one background thread so no caller ever waits.

Rules:

1. ``send`` never blocks and never raises: the kind's switch and the rate limit are
   checked (:class:`~qwentrade.adapters.notify.gate.NotifyGate`), every configured secret
   is removed from the texts, and the notification is put on a bounded queue
   (``QUEUE_SIZE``); a full queue drops it, counted and logged.
2. The worker delivers to each target URL on its own: a target that fails (Apprise
   returns False: an HTTP error, a refused connection, a timeout) is retried
   ``NOTIFY_RETRIES`` times after ``NOTIFY_RETRY_DELAY`` seconds doubling, then the
   failure is logged (the target by its number and scheme, never its URL) and the
   notification dropped. Targets that succeeded are not sent it again.
3. The target URLs are secrets: they are never logged, never in a repr or an error,
   and neither they nor any part of them that could be a token (:func:`url_parts`) is
   ever in a payload. Apprise's own logger is kept at WARNING or above (its debug lines
   print URLs).
4. ``stop(timeout)`` delivers what is queued (without waiting out retries) and joins.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from qwentrade.adapters.notify.gate import NotifyGate
from qwentrade.adapters.notify.worker import DaemonWorker
from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.notify import Notification
from qwentrade.ports.clock import Clock
from qwentrade.ports.config import ConfigStore

log = logging.getLogger(__name__)

QUEUE_SIZE = 100
RETRIES = "NOTIFY_RETRIES"
RETRY_DELAY = "NOTIFY_RETRY_DELAY"


def _scheme(url: str) -> str:
    return url.split("://", 1)[0].lower()


URL_SEPARATORS = re.compile(r"[/:@?&=,;#]+")
SECRET_PART = 8  # URL parts this long may be tokens, passwords, webhook ids: redacted too


def url_parts(url: str) -> list[str]:
    """The parts of ``url`` after its scheme that could be a credential on their own (a
    bot token, a webhook id, a password): every piece of 8 characters or more."""
    rest = url.split("://", 1)[-1]
    return [part for part in URL_SEPARATORS.split(rest) if len(part) >= SECRET_PART]


class AppriseNotifier(DaemonWorker):
    """Delivers notifications to ``urls`` (Apprise URLs) on a background thread; ``stop``
    delivers what is queued (no more retry waits) and stops."""

    def __init__(
        self,
        urls: Sequence[str],
        config: ConfigStore,
        clock: Clock,
        *,
        secrets: Iterable[str] = (),
        queue_size: int = QUEUE_SIZE,
    ) -> None:
        import apprise

        # Apprise's debug lines carry whole URLs (tokens, passwords): never below WARNING.
        apprise_log = logging.getLogger("apprise")
        apprise_log.setLevel(max(logging.WARNING, apprise_log.getEffectiveLevel()))
        self._targets: list[tuple[str, Any]] = []
        for index, url in enumerate(urls, 1):
            target = apprise.Apprise()
            if not target.add(url):
                raise InvalidInput(
                    "notify_urls",
                    f"URL #{index} ({_scheme(url)}://...) is not one Apprise can send to: "
                    "check it against Apprise's URL formats",
                )
            self._targets.append((f"#{index} {_scheme(url)}", target))
        if not self._targets:
            raise InvalidInput("notify_urls", "no notification URL given")
        self._config = config
        self._clock = clock
        self._gate = NotifyGate(config, clock)
        parts = {part for url in urls for part in url_parts(url)}
        self._secrets = tuple(set(secrets) | set(urls) | parts)
        self._queue: queue.Queue[Notification] = queue.Queue(maxsize=queue_size)
        super().__init__("notifier", "the notifier")
        self._lock = threading.Lock()
        self.delivered = 0
        self.failed = 0
        self.retried = 0
        self.dropped = 0

    def __repr__(self) -> str:
        return f"AppriseNotifier({len(self._targets)} target(s))"

    # -- the caller's side -----------------------------------------------------------------

    def send(self, notification: Notification) -> None:
        """Queue ``notification`` (module docstring, rule 1); returns at once."""
        try:
            admitted = self._gate.admit(notification)
            if admitted is None:
                return
            self._queue.put_nowait(admitted.redacted(self._secrets))
        except queue.Full:
            with self._lock:
                self.dropped += 1
            log.warning(
                "notification queue full (%d): dropped a %s notification",
                self._queue.maxsize,
                notification.kind.value,
            )
        except Exception:  # never into trading
            log.exception("notification %s could not be queued", notification.kind.value)

    # -- the worker ------------------------------------------------------------------------

    def pending(self) -> int:
        """Notifications queued and not yet delivered."""
        return self._queue.qsize()

    def _run(self) -> None:
        while True:
            try:
                notification = self._queue.get(timeout=0.1)
            except queue.Empty:
                if self._stop.is_set():
                    return
                continue
            try:
                self._deliver(notification)
            except Exception:  # the worker must outlive any one failure
                log.exception("notification %s: delivery failed", notification.kind.value)

    def _deliver(self, notification: Notification) -> None:
        import apprise

        kind = apprise.NotifyType(notification.level)
        waiting = list(self._targets)
        retries = int(self._config.get(RETRIES))
        delay = float(self._config.get(RETRY_DELAY))
        attempts = 0
        for attempt in range(retries + 1):
            if attempt:
                if self._clock.wait(self._stop, delay):
                    break  # stopping: no more waits
                delay *= 2
                with self._lock:
                    self.retried += len(waiting)
            attempts += 1
            waiting = [
                (name, target)
                for name, target in waiting
                if not target.notify(
                    body=notification.body, title=notification.title, notify_type=kind
                )
            ]
            if not waiting:
                break
        with self._lock:
            self.delivered += len(self._targets) - len(waiting)
            self.failed += len(waiting)
        for name, _ in waiting:
            log.error(
                "notification %s (%s) not delivered to target %s after %d attempt(s)",
                notification.kind.value,
                notification.subject,
                name,
                attempts,
            )
