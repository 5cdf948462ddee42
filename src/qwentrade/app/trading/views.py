"""Plain-value views of TradingService: an order's intent, venue order, relation and plans
(``order_status``), and the open positions with their relations and live algo orders
(``current_positions``), as strings, numbers and ISO times (JSON-ready)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs

from qwentrade.app.trading.core import TradingBase
from qwentrade.app.trading.inputs import _text
from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.orders import IntentState
from qwentrade.domain.records import OrderRecord
from qwentrade.domain.venue import AlgoOrder, PosSide


class TradingViews(TradingBase):
    """The read-only views of orders and positions."""

    def order_status(self, cl_ord_id: str) -> dict[str, Any]:
        """The intent, the venue's order and the relation of ``cl_ord_id`` as plain values."""
        stored = self.intents.by_client_order_id(_text(cl_ord_id, "cl_ord_id"))
        relation = self.relations.get(cl_ord_id)
        if stored is None and relation is None:
            raise InvalidInput("cl_ord_id", f"no order was placed with {cl_ord_id!r}")
        symbol = stored.symbol if stored is not None else relation.symbol  # type: ignore[union-attr]
        out: dict[str, Any] = {"cl_ord_id": cl_ord_id, "symbol": symbol}
        if stored is not None:
            out["intent"] = {
                "action": stored.action,
                "side": stored.side,
                "size": str(stored.size),
                "state": stored.state,
                "order_id": stored.order_id,
                "error": stored.error,
            }
        out["order"] = None
        if stored is None or stored.state == IntentState.ACKNOWLEDGED.name:
            found = self.history.order_by_client_id(cl_ord_id)
            if found is not None:
                out["order"] = _plain_order(found)
        if relation is not None:
            out["relation"] = _plain(attrs.asdict(relation))
            if relation.status == "OPEN":
                out["plans"] = [_plain_algo(a) for a in self.exchange.open_algos(symbol)]
        return out

    def current_positions(self, symbol: str | None = None) -> list[dict[str, Any]]:
        """Open positions on the venue with their relation and live algo orders."""
        if symbol is not None:
            symbol = self._instrument(symbol).inst_id
        out = []
        for held in self.exchange.positions(symbol):
            if not held.is_open:
                continue
            relation = self._open_relation(held.symbol)
            algos = self.exchange.open_algos(held.symbol)
            out.append(
                {
                    "symbol": held.symbol,
                    "side": "LONG" if held.direction is PosSide.LONG else "SHORT",
                    "size": str(held.contracts),
                    "avg_price": _str(held.avg_price),
                    "mark_price": str(held.mark_price),
                    "unrealised_pnl": str(held.unrealised_pnl),
                    "leverage": held.leverage,
                    "margin": str(held.margin),
                    "margin_mode": held.margin_mode.value,
                    "pos_id": held.pos_id,
                    "cl_ord_id": relation.client_order_id if relation else None,
                    "signal_id": relation.signal_id if relation else None,
                    "pending_order_id": relation.pending_order_id if relation else None,
                    "plans": [_plain_algo(a) for a in algos],
                }
            )
        return out


def _str(value: object) -> str | None:
    return None if value is None else str(value)


def _plain(values: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, Decimal):
            out[name] = str(value)
        elif isinstance(value, datetime):
            out[name] = value.isoformat()
        else:
            out[name] = value
    return out


def _plain_order(order: OrderRecord) -> dict[str, Any]:
    return _plain(attrs.asdict(order))


def _plain_algo(algo: AlgoOrder) -> dict[str, Any]:
    stop, target = algo.sl_trigger_price is not None, algo.tp_trigger_price is not None
    return {
        "algo_id": algo.algo_id,
        "algo_client_order_id": algo.algo_client_order_id,
        "kind": "oco" if stop and target else "stop_loss" if stop else "take_profit",
        "stop_loss_trigger": _str(algo.sl_trigger_price),
        "take_profit_trigger": _str(algo.tp_trigger_price),
        "size": _str(algo.size),
        "state": algo.state.value,
    }
