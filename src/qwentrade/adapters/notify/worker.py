"""A background daemon thread that can be started once and stopped (joined)."""

from __future__ import annotations

import abc
import threading


class DaemonWorker(abc.ABC):
    """Runs ``_run`` on one daemon thread named ``thread_name``; ``_run`` returns once
    ``_stop`` is set. ``what`` names the worker in the error of a second ``start``."""

    def __init__(self, thread_name: str, what: str) -> None:
        self._thread_name = thread_name
        self._what = what
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is not None:
            raise RuntimeError(f"{self._what} is already started")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self._thread_name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> bool:
        """Ask ``_run`` to finish and wait for it; True when the thread stopped."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    @abc.abstractmethod
    def _run(self) -> None:
        """The thread's body; returns once ``_stop`` is set."""
