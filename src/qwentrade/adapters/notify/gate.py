"""What every notifier checks before it queues: the kind's switch and the rate limit.

Both are read from the config store at each send (``NOTIFY_<KIND>``,
``NOTIFY_RATE_LIMIT_COUNT``, ``NOTIFY_RATE_LIMIT_WINDOW``), so a change is seen at once.
"""

from __future__ import annotations

import logging
import threading

from qwentrade.domain.notify import Notification, RateLimiter
from qwentrade.ports.clock import Clock
from qwentrade.ports.config import ConfigStore

log = logging.getLogger(__name__)

RATE_COUNT = "NOTIFY_RATE_LIMIT_COUNT"
RATE_WINDOW = "NOTIFY_RATE_LIMIT_WINDOW"


class NotifyGate:
    """Admits a notification when its kind is on and its (kind, subject) has room."""

    def __init__(self, config: ConfigStore, clock: Clock) -> None:
        self._config = config
        self._clock = clock
        self._limiter = RateLimiter()
        self._lock = threading.Lock()
        self.switched_off = 0
        self.rate_limited = 0

    def admit(self, notification: Notification) -> Notification | None:
        """The notification to deliver (noting earlier ones held back), or None."""
        if not self._config.get(notification.kind.config_key):
            with self._lock:
                self.switched_off += 1
            return None
        count = int(self._config.get(RATE_COUNT))
        window = float(self._config.get(RATE_WINDOW))
        with self._lock:
            admitted = self._limiter.admit(notification, self._clock.now(), count, window)
            if admitted is None:
                self.rate_limited += 1
        if admitted is None:
            log.info(
                "notification %s about %s held back by the rate limit",
                notification.kind.value,
                notification.subject,
            )
        return admitted
