"""The container's simulated exchange reads its costs from the config table at each fill:
a `config set` is seen by the next order, with no restart."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from qwentrade.adapters.sim import SteppedClock
from qwentrade.app.container import build, prepare_database
from qwentrade.app.settings import Settings
from qwentrade.domain.errors import ExchangeRejected
from qwentrade.domain.venue import OrderRequest

BTC = "BTC-USDT-SWAP"


def test_sim_mode_fills_pay_the_configured_spread_and_slippage(tmp_path):
    environ = {
        "QWENTRADE_DATABASE_URL": f"sqlite:///{tmp_path / 'costs.db'}",
        "QWENTRADE_SYMBOLS": BTC,
    }
    container = build(Settings.from_env(environ))
    prepare_database(container)
    container._built["clock"] = SteppedClock(datetime.now(UTC))  # prices hold still
    engine, config = container.sim_engine(), container.repositories().config
    last = engine.last_price(BTC)
    assert engine.now == container.clock().now()
    # the defaults: 1 bp spread (half paid) + 2 bp slippage
    order = engine.place_order(OrderRequest(BTC, "buy", "1", "c1"))
    assert order.avg_price == last * Decimal("1.00025")
    config.set("SIM_SPREAD_BPS", 0)
    config.set("SIM_SLIPPAGE_BPS", 0)
    exact = engine.place_order(OrderRequest(BTC, "sell", "1", "c2"))
    assert exact.avg_price == engine.last_price(BTC)
    config.set("SIM_SLIPPAGE_BPS", 10)
    worse = engine.place_order(OrderRequest(BTC, "buy", "1", "c3"))
    assert worse.avg_price == engine.last_price(BTC) * Decimal("1.001")
    config.set("SIM_PRICE_BAND_PERCENT", 1)
    far = engine.last_price(BTC) * Decimal("1.02")
    price = far.quantize(Decimal("0.1"))
    with pytest.raises(ExchangeRejected) as refused:
        engine.place_order(OrderRequest(BTC, "buy", "1", "c4", order_type="limit", price=price))
    assert refused.value.code == "51006"
