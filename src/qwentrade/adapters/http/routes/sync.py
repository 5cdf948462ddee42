"""The sync jobs' status."""

from __future__ import annotations

from qwentrade.adapters.http.dto import SyncStatusResponse, stored_job_to_dto, sync_job_to_dto
from qwentrade.adapters.http.routes.common import ServicesDep, read_get
from qwentrade.app.services import API_KEY_COMPONENT


@read_get("/sync/status", "getSyncStatus", "sync")
def sync_status(services: ServicesDep) -> SyncStatusResponse:
    """Every sync job (kind x symbol): state (OK, FAILING, DISABLED, IDLE), whether it runs
    now, lag behind now in seconds, runs, rows stored, next run and last error."""
    if services.sync is not None:
        return SyncStatusResponse(jobs=[sync_job_to_dto(job) for job in services.sync.status()])
    assert services.status is not None
    records = [r for r in services.status.all() if ":" in r.key and r.key != API_KEY_COMPONENT]
    return SyncStatusResponse(jobs=[stored_job_to_dto(r) for r in records])
