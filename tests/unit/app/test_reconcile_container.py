"""The container's reconciler(): wired with the mode's exchange and private stream, and
started by ``qwentrade serve`` as one of the background components."""

from __future__ import annotations

import time

from qwentrade.app.container import build, prepare_database
from qwentrade.app.reconcile import ReconciliationService
from qwentrade.app.settings import Settings
from qwentrade.domain.venue import OrderRequest

BTC = "BTC-USDT-SWAP"


def wait_for(condition, timeout: float = 10.0, what: str = "it") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def test_sim_reconciler_adopts_and_protects_a_position_opened_behind_its_back(tmp_path):
    environ = {
        "QWENTRADE_DATABASE_URL": f"sqlite:///{tmp_path / 'reconcile.db'}",
        "QWENTRADE_SYMBOLS": BTC,
    }
    built = build(Settings.from_env(environ))
    prepare_database(built)
    reconciler = built.reconciler()
    assert isinstance(reconciler, ReconciliationService)
    assert reconciler is built.reconciler()
    names = [name for name, _ in built.background_components()]
    assert "reconciliation" in names and names.index("reconciliation") < names.index("sync")
    built.exchange().place_order(OrderRequest(BTC, "buy", "1", "outside1"))
    reconciler.start()
    try:
        # the start round (or the stream's first connect) adopts it and places its stop-loss
        wait_for(lambda: built.repositories().relations.find(symbol=BTC, status="OPEN"))
        wait_for(lambda: built.exchange().open_algos(BTC), what="the guard's stop-loss")
    finally:
        assert reconciler.stop(5)
    [stop] = built.exchange().open_algos(BTC)
    [position] = built.exchange().positions(BTC)
    assert stop.sl_trigger_price < position.mark_price
    assert built.repositories().status.get("reconciliation").value == "OK"
    assert not built.private_stream().connected
