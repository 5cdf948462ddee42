"""No input makes a 5xx: random JSON (and near-valid bodies) at every mutating endpoint.

``SOAK_HTTP_FUZZ`` sets the examples per endpoint (default 40 in ``make test``).
"""

from __future__ import annotations

import os
from urllib.parse import quote

import pytest
from http_helpers import HEADERS, make_container
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("SOAK_HTTP_FUZZ", "40"))
FIELDS = [
    "symbol", "side", "amount", "stop_loss_trigger", "take_profit_trigger", "leverage",
    "order_type", "price", "signal_id", "key", "trigger_price", "expire_hours", "cl_ord_id",
    "plans", "kind", "size", "fraction", "value",
]  # fmt: skip
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(["BTC-USDT-SWAP", "LONG", "SHORT", "1e400", "-0", "NaN", "0.0001", "5"])
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
BODIES = JSON | st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=8)
ENDPOINTS = [
    ("post", "/trading/open-position"),
    ("post", "/trading/add-position"),
    ("post", "/trading/reduce-position"),
    ("post", "/trading/close-position"),
    ("post", "/trading/set-stop-loss-take-profit"),
    ("post", "/pending-order/create"),
    ("post", "/pending-order/{text}/cancel"),
    ("post", "/market-detector/detect"),
    ("put", "/config/{text}"),
    ("put", "/config/DETECTOR_SIGNAL_THRESHOLD"),
]


@pytest.fixture(scope="module")
def fuzz_api(tmp_path_factory):
    from litestar.testing import TestClient

    from qwentrade.adapters.sql import make_engine, upgrade

    path = tmp_path_factory.mktemp("fuzz") / "qwentrade.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    container = make_container(engine, path.parent)
    with TestClient(container.http_app()) as client:
        yield client


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_random_bodies_never_make_a_server_error(fuzz_api, method, path):

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(body=BODIES, text=st.text(min_size=1, max_size=80))
    def run(body, text):
        url = path.replace("{text}", quote(text, safe=""))
        response = getattr(fuzz_api, method)(url, json=body, headers=HEADERS)
        assert response.status_code < 500, (
            url,
            body,
            response.text,
        )
        assert response.headers["content-type"].startswith("application/json")
        if response.status_code >= 400:
            assert response.json()["detail"]

    run()
