"""SystemService: the service's own health and identity."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import attrs

import qwentrade


@attrs.frozen
class Health:
    """What ``GET /health`` reports: ``status`` is ``ok`` or ``degraded``."""

    status: str
    mode: str
    version: str
    started_at: datetime
    uptime_seconds: float
    checks: dict[str, str]


class SystemService:
    """Reports health; ``checks`` maps a component name to a callable raising when it is down."""

    def __init__(self, mode: str, checks: dict[str, Callable[[], None]] | None = None) -> None:
        self._mode = mode
        self._checks = dict(checks or {})
        self._started_at = datetime.now(UTC)
        self._started = time.monotonic()

    def health(self) -> Health:
        """Run every check; one failing makes the status ``degraded`` and names the error."""
        results = {}
        for name, check in self._checks.items():
            try:
                check()
                results[name] = "ok"
            except Exception as e:  # a health check reports, it never raises
                results[name] = f"error: {type(e).__name__}"
        status = "ok" if all(v == "ok" for v in results.values()) else "degraded"
        return Health(
            status=status,
            mode=self._mode,
            version=qwentrade.__version__,
            started_at=self._started_at,
            uptime_seconds=round(time.monotonic() - self._started, 3),
            checks=results,
        )
