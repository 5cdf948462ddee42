"""The runtime configuration (table ``config``): list, read, change. Always needs the key."""

from __future__ import annotations

from typing import Annotated

from litestar import get, put
from litestar.exceptions import NotFoundException
from litestar.openapi.spec import Example
from litestar.params import Body, FromPath

from qwentrade.adapters.http.auth import WRITE
from qwentrade.adapters.http.dto import ConfigEntryResponse, ConfigValueRequest, config_to_dto
from qwentrade.adapters.http.routes.common import ServicesDep, secured
from qwentrade.domain.config_keys import CONFIG_KEYS, canonical_name


def _entry(services: ServicesDep, key: FromPath[str]) -> ConfigEntryResponse:
    assert services.config is not None
    name = canonical_name(key)
    if name not in CONFIG_KEYS:
        raise NotFoundException(detail=f"{key[:100]!r} is not a config key; GET /config lists them")
    for entry in services.config.all():
        if entry.key == name:
            return config_to_dto(entry)
    raise NotFoundException(detail=f"{name} is not listed by the config store")


@secured(get, "/config", "listConfig", "config", WRITE)
def config_list(services: ServicesDep) -> list[ConfigEntryResponse]:
    """Every runtime-tunable key: value, type, default, allowed range and description."""
    assert services.config is not None
    return [config_to_dto(e) for e in services.config.all()]


@secured(get, "/config/{key:str}", "getConfig", "config", WRITE)
def config_get(services: ServicesDep, key: FromPath[str]) -> ConfigEntryResponse:
    """One key (case-insensitive; ``.`` or ``-`` read as ``_``)."""
    return _entry(services, key)


@secured(put, "/config/{key:str}", "setConfig", "config", WRITE)
def config_set(
    services: ServicesDep,
    key: FromPath[str],
    data: Annotated[
        ConfigValueRequest,
        Body(examples=[Example(summary="raise the signal threshold", value={"value": 18})]),
    ],
) -> ConfigEntryResponse:
    """Change a key; the next read sees it (no restart). A value outside the key's range
    is a 400 naming the key, and the old value stays."""
    assert services.config is not None
    _entry(services, key)
    services.config.set(canonical_name(key), data.value)
    return _entry(services, key)
