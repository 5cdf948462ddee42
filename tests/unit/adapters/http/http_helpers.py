"""Constants and builders shared by the HTTP tests (a module of its own: conftest is not
importable by name when several test folders are collected together)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from qwentrade.app.container import Container, build
from qwentrade.app.settings import Secret, Settings

KEY = "test-key-3f9a1c"
HEADERS = {"X-API-Key": KEY}


def make_container(engine: sa.Engine, tmp_path: Path, **settings: Any) -> Container:
    url = engine.url.render_as_string(hide_password=False)
    values: dict[str, Any] = {"database_url": url, "api_key": Secret(KEY), "log_file": None}
    values.update(settings)
    container = build(Settings(**values))
    container._built["database"] = engine  # the fixture's migrated (schema-scoped) engine
    return container
