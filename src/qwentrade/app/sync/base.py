"""What every sync job shares: its run signature and how it says it cannot run.

A job run is ``run(target, now) -> rows``: ``target`` is the symbol (``BTC-USDT-SWAP``),
the ETF asset (``BTC``/``ETH``) or ``None`` for a global kind (fear & greed, account
history); ``now`` is the clock's time. A run is idempotent and self-resuming: it looks
at what is stored, fetches only what is missing in the kind's history window up to
``now`` (so the first run after start is the backfill, a later one the incremental
sync, and a run after a crash completes what the crashed one left), upserts it, and
returns the number of rows written.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from qwentrade.domain.errors import DomainError

SyncRun = Callable[[str | None, datetime], int]


class JobDisabled(DomainError):
    """The job cannot run with the current settings (e.g. no CoinGlass key, or a kind the
    mode has no source for): reported DISABLED with this reason, never as failing."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
