"""Notifications: an Apprise-backed notifier on a background queue, a memory notifier,
and the observers the container wires to the services (repositories that tell, a sync
run listener, a private-stream watcher)."""

from qwentrade.adapters.notify.memory import MemoryNotifier
from qwentrade.adapters.notify.observe import (
    NotifyingRepositories,
    StreamWatcher,
    SyncFailureListener,
)

__all__ = [
    "AppriseNotifier",
    "MemoryNotifier",
    "NotifyingRepositories",
    "StreamWatcher",
    "SyncFailureListener",
]


def __getattr__(name: str):
    if name == "AppriseNotifier":  # imports Apprise (~0.15 s): only when asked for
        from qwentrade.adapters.notify.notifier import AppriseNotifier

        return AppriseNotifier
    raise AttributeError(name)
