"""Who may trade a symbol: a lock per symbol in this process, a lease per symbol across
processes.

:class:`SymbolLocks` serialises the trading calls of one symbol inside one process (two
HTTP requests, the pending-order monitor and the signal policy at once). Behind it the
database refuses a second OPEN relation of a symbol (migration 0003's partial unique
index), so even a writer that bypassed the lock cannot open twice.

:class:`TradingLeases` keeps several service instances on one database from trading the
same symbol: an instance takes a symbol's lease (a ``trading_lease`` row naming it as the
owner until an expiry) before its first trade and renews it on every trade and from a
heartbeat thread; another instance gets the lease only once it expired, i.e. after the
holder crashed or stopped (``TRADING_LEASE_SECONDS``, 30 s by default). A second
instance started while the first runs says so at start (one warning per symbol, naming
the holder and the expiry) and refuses to trade those symbols (``SymbolLeased``, HTTP
409) while it keeps serving everything else; the symbols nobody holds it trades. On
SQLite (one file, one host) the same rows make one process the trader of each symbol.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterable
from datetime import timedelta

from qwentrade.domain.errors import SymbolLeased
from qwentrade.domain.records import LeaseRecord
from qwentrade.ports.clock import Clock
from qwentrade.ports.config import ConfigStore
from qwentrade.ports.repositories import LeaseRepository

log = logging.getLogger(__name__)

LEASE_SECONDS = "TRADING_LEASE_SECONDS"


class SymbolLocks:
    """One re-entrant lock per symbol, made on first use."""

    def __init__(self) -> None:
        self._locks: dict[str, threading.RLock] = {}
        self._guard = threading.Lock()

    def __call__(self, symbol: str) -> threading.RLock:
        with self._guard:
            lock = self._locks.get(symbol)
            if lock is None:
                lock = self._locks[symbol] = threading.RLock()
            return lock


def instance_id() -> str:
    """This process's owner name for leases: host, pid and a random part."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class TradingLeases:
    """The per-symbol trading leases of one service instance (``owner``)."""

    def __init__(
        self,
        repository: LeaseRepository,
        clock: Clock,
        config: ConfigStore,
        owner: str | None = None,
        symbols: Iterable[str] = (),
    ) -> None:
        self.repository = repository
        self.symbols = tuple(symbols)
        self.clock = clock
        self.config = config
        self.owner = owner or instance_id()
        self._held: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._beating = threading.Event()
        self._thread: threading.Thread | None = None

    def _ttl(self) -> timedelta:
        return timedelta(seconds=float(self.config.get(LEASE_SECONDS)))

    def claim(self, symbol: str) -> LeaseRecord:
        """Take or renew the lease of ``symbol``; ``SymbolLeased`` when another holds it."""
        now = self.clock.now()
        lease = self.repository.acquire(symbol, self.owner, now, now + self._ttl())
        if not lease.held_by(self.owner, now):
            with self._lock:
                self._held.discard(symbol)
            raise SymbolLeased(
                symbol,
                lease.owner,
                f"{symbol} is traded by another service instance ({lease.owner}) until "
                f"{lease.expires_at.isoformat()}; this instance does not trade it while that "
                "one runs (stop it, or wait for its lease to expire)",
            )
        with self._lock:
            self._held.add(symbol)
        return lease

    def start(self) -> dict[str, LeaseRecord]:
        """At service start: claim the configured symbols and keep renewing them (the
        heartbeat thread); returns the symbols another instance holds (each logged once
        as a warning; this instance refuses to trade them)."""
        refused = self.claim_all(self.symbols)
        self.start_heartbeat()
        return refused

    def claim_all(self, symbols: Iterable[str]) -> dict[str, LeaseRecord]:
        """Claim ``symbols``; returns those held by another instance, each logged once as
        a warning (this instance will refuse to trade them)."""
        refused: dict[str, LeaseRecord] = {}
        for symbol in symbols:
            try:
                self.claim(symbol)
            except SymbolLeased as e:
                held = self.repository.get(symbol)
                if held is not None:
                    refused[symbol] = held
                log.warning("another instance trades %s: %s", symbol, e)
        return refused

    @property
    def held(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._held)

    def renew(self) -> list[str]:
        """Renew every lease held; returns the symbols lost (taken over after expiry)."""
        lost = []
        for symbol in sorted(self.held):
            try:
                self.claim(symbol)
            except SymbolLeased as e:
                log.warning("trading lease of %s lost: %s", symbol, e)
                lost.append(symbol)
        return lost

    def run_heartbeat(self) -> None:
        """Renew the held leases every third of their lifetime until :meth:`stop`.

        Beats are due at fixed times from the start (not "a third after the last renewal
        ended"), so a slow renewal or a late wake-up never stretches the gap between two."""
        due = self.clock.now() + self._ttl() / 3
        self._beating.set()
        while True:
            wait = max(0.0, (due - self.clock.now()).total_seconds())
            if self.clock.wait(self._stop, wait):
                return
            try:
                self.renew()
            except Exception:  # a database outage must not kill the heartbeat
                log.exception("renewing the trading leases failed")
            due = max(due + self._ttl() / 3, self.clock.now())

    def start_heartbeat(self) -> None:
        """Run :meth:`run_heartbeat` on a daemon thread (idempotent)."""
        with self._lock:
            if self._thread is not None:
                return
            self._stop.clear()
            self._thread = threading.Thread(
                target=self.run_heartbeat, name="trading-lease", daemon=True
            )
            self._thread.start()
        self._beating.wait(5)  # its first wait starts now, not after a clock change

    def stop(self, timeout: float = 5.0, release: bool = True) -> None:
        """Stop the heartbeat and (by default) give the leases back for another instance."""
        self._stop.set()
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
        if release:
            for symbol in sorted(self.held):
                self.repository.release(symbol, self.owner)
            with self._lock:
                self._held.clear()
