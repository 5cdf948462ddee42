"""MemoryNotifier: keeps the notifications it is sent (tests; a process with no targets)."""

from __future__ import annotations

import collections
import logging
import threading

from qwentrade.adapters.notify.gate import NotifyGate
from qwentrade.domain.notify import Notification
from qwentrade.ports.clock import Clock
from qwentrade.ports.config import ConfigStore

log = logging.getLogger(__name__)

KEPT = 200


class MemoryNotifier:
    """The last ``kept`` notifications, in order (``sent``). With a config store and a
    clock it applies the same switches and rate limit as the Apprise notifier."""

    def __init__(
        self,
        config: ConfigStore | None = None,
        clock: Clock | None = None,
        *,
        kept: int = KEPT,
    ) -> None:
        self._gate = NotifyGate(config, clock) if config is not None and clock else None
        self._sent: collections.deque[Notification] = collections.deque(maxlen=kept)
        self._lock = threading.Lock()

    def send(self, notification: Notification) -> None:
        """Keep ``notification`` (after the switches and the rate limit, when set)."""
        try:
            admitted = notification if self._gate is None else self._gate.admit(notification)
        except Exception:  # a notification never fails its caller
            log.exception("notification %s could not be checked", notification.kind.value)
            return
        if admitted is not None:
            with self._lock:
                self._sent.append(admitted)
            log.info("notification: %s", admitted.title)

    @property
    def sent(self) -> list[Notification]:
        with self._lock:
            return list(self._sent)

    def start(self) -> None:
        """Nothing runs in the background: notifications are kept as they are sent."""

    def stop(self, timeout: float = 5.0) -> bool:
        """Nothing to stop; True."""
        return True
