"""The real ASGI app of a sim-mode container, over SQLite and PostgreSQL.

``api`` gives an :class:`Api`: the app built by ``container.http_app()`` on a migrated
database (the ``sql`` fixture: a SQLite file per test, or a PostgreSQL schema emptied
before each test), a Litestar TestClient sending the key, and the repositories to
arrange data with.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import sqlalchemy as sa
from litestar.testing import TestClient

from qwentrade.app.container import Container

sys.path.insert(0, str(Path(__file__).parents[3] / "contract"))
sys.path.insert(0, str(Path(__file__).parent))

from http_helpers import HEADERS, make_container


@attrs.define
class Api:
    container: Container
    client: TestClient

    @property
    def repos(self) -> Any:
        return self.container.repositories()

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, headers={**HEADERS, **kw.pop("headers", {})}, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        headers = {**HEADERS, **kw.pop("headers", {})}
        return self.client.post(path, json=body, headers=headers, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.client.put(path, json=body, headers={**HEADERS, **kw.pop("headers", {})}, **kw)


@pytest.fixture
def api_factory(sql: sa.Engine, tmp_path: Path) -> Iterator[Callable[..., Api]]:
    clients: list[TestClient] = []

    def make(**settings: Any) -> Api:
        container = make_container(sql, tmp_path, **settings)
        client = TestClient(container.http_app())
        client.__enter__()
        clients.append(client)
        return Api(container, client)

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def api(api_factory: Callable[..., Api]) -> Api:
    return api_factory()
