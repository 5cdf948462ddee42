"""Fixtures for the fake servers' tests: a fake OKX server over a stepped market."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fake_okx_helpers import OkxClient, fake_okx_server

from qwentrade.testing.fake_okx import FakeOkx


@pytest.fixture
def okx() -> Iterator[FakeOkx]:
    """A fake OKX server (no rate limits) over a market 3 days old, time standing still."""
    with fake_okx_server(rate_limits=False, ws_idle_timeout=5.0, positions_interval=60.0) as server:
        yield server


@pytest.fixture
def client(okx: FakeOkx) -> Iterator[OkxClient]:
    http = OkxClient(okx.rest_url)
    yield http
    http.close()
