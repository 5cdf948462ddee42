"""System routes: health."""

from __future__ import annotations

from litestar import get

from qwentrade.adapters.http.dto import HealthResponse, health_to_dto
from qwentrade.app.services import Services


@get("/health", operation_id="getHealth", tags=["system"], sync_to_thread=False)
def health(services: Services) -> HealthResponse:
    """Liveness and readiness of the service: mode, version, uptime and component checks."""
    return health_to_dto(services.system.health())
