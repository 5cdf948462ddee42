"""Exchange-facing value objects: orders, algo (TP/SL) orders, positions, balances.

These are the domain's words for what an OKX-like venue accepts and reports. Amounts,
prices and sizes are ``Decimal``; sizes are in contracts; times are aware UTC
``datetime``s. Enum values are OKX's own spellings (``"buy"``, ``"net_mode"``, ...), so an
adapter maps them with ``Side(text)`` / ``side.value`` and nothing else.

Conventions worth knowing:

- An order price of ``None`` on an algo leg (``sl_order_price``/``tp_order_price``) means
  *market execution at trigger*; it is OKX's ``-1`` on the wire (the adapter translates).
- Fees are negative when paid, as OKX reports them; ``pnl`` is the realised PnL of the
  closing fills of an order, before fees.
- In net position mode a position's ``size`` is signed (positive long, negative short),
  as OKX's ``pos``; in long/short mode it is positive and ``pos_side`` gives the direction.

Named constructors from OKX payloads live in the adapters, not here.
"""

from __future__ import annotations

from qwentrade.domain.venue.account import (
    Balance,
    ExchangePosition,
)
from qwentrade.domain.venue.algos import (
    AlgoOrder,
    AlgoRequest,
)
from qwentrade.domain.venue.enums import (
    ALGO_TRANSITIONS,
    ORDER_TRANSITIONS,
    AlgoLeg,
    AlgoState,
    AlgoType,
    OrderState,
    OrderType,
    PositionMode,
    PosSide,
    Side,
    TdMode,
    TriggerPriceType,
)
from qwentrade.domain.venue.fields import (
    CLIENT_ORDER_ID,
    TAG,
    check_client_order_id,
)
from qwentrade.domain.venue.orders import (
    AttachedAlgo,
    Fill,
    Order,
    OrderRequest,
)
from qwentrade.domain.venue.stream import (
    StreamEvent,
    StreamStatus,
    StreamStatusKind,
)

__all__ = [
    "ALGO_TRANSITIONS",
    "CLIENT_ORDER_ID",
    "ORDER_TRANSITIONS",
    "TAG",
    "AlgoLeg",
    "AlgoOrder",
    "AlgoRequest",
    "AlgoState",
    "AlgoType",
    "AttachedAlgo",
    "Balance",
    "ExchangePosition",
    "Fill",
    "Order",
    "OrderRequest",
    "OrderState",
    "OrderType",
    "PosSide",
    "PositionMode",
    "Side",
    "StreamEvent",
    "StreamStatus",
    "StreamStatusKind",
    "TdMode",
    "TriggerPriceType",
    "check_client_order_id",
]
