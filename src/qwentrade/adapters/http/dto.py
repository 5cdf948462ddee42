"""Request and response schemas of the HTTP API, with their to/from-domain functions."""

from __future__ import annotations

from datetime import datetime

import msgspec

from qwentrade.app.system import Health


class HealthResponse(msgspec.Struct):
    """Service health: ``status`` is ``ok`` or ``degraded``; ``checks`` per component."""

    status: str
    mode: str
    version: str
    started_at: datetime
    uptime_seconds: float
    checks: dict[str, str]


def health_to_dto(health: Health) -> HealthResponse:
    return HealthResponse(
        status=health.status,
        mode=health.mode,
        version=health.version,
        started_at=health.started_at,
        uptime_seconds=health.uptime_seconds,
        checks=health.checks,
    )
