"""Row value objects: what the system stores about orders, positions, signals and intents.

These mirror the database tables (order_history, position_history, ...) in domain types:
prices and amounts are ``Decimal``, times are aware UTC ``datetime``s.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import attrs

from qwentrade.domain.market import require_utc


def _utc(field: str):
    return lambda value: require_utc(value, field)


def _utc_or_none(field: str):
    return lambda value: None if value is None else require_utc(value, field)


@attrs.frozen
class OrderRecord:
    """One order as the exchange last reported it (table ``order_history``, key ``order_id``).

    ``side`` is ``buy``/``sell``; ``pos_side`` is ``long``/``short``/``net``; ``state`` is
    OKX's (``live``, ``partially_filled``, ``filled``, ``canceled``, ``mmp_canceled``).
    ``size`` and ``filled_size`` are in contracts; ``fee`` is negative when paid, as OKX
    reports it; ``pnl`` is the realised PnL of a closing fill.
    """

    order_id: str
    client_order_id: str
    symbol: str
    side: str
    pos_side: str
    order_type: str
    state: str
    size: Decimal
    filled_size: Decimal
    price: Decimal | None
    avg_price: Decimal | None
    leverage: int
    fee: Decimal
    pnl: Decimal
    reduce_only: bool
    created_at: datetime = attrs.field(converter=_utc("created_at"))
    updated_at: datetime = attrs.field(converter=_utc("updated_at"))
    td_mode: str = "cross"
    source: str = ""


@attrs.frozen
class PositionRecord:
    """A closed (or partly closed) position (table ``position_history``, key pos_id + u_time).

    ``close_type`` follows OKX's ``type``: 1 partly closed, 2 fully closed, 3 liquidation,
    4 partial liquidation, 5 ADL. ``realized_pnl`` includes fees and funding, ``pnl`` does not.
    """

    pos_id: str
    symbol: str
    pos_side: str
    margin_mode: str
    leverage: int
    open_avg_price: Decimal
    close_avg_price: Decimal
    open_max_size: Decimal
    close_total_size: Decimal
    pnl: Decimal
    realized_pnl: Decimal
    fee: Decimal
    funding_fee: Decimal
    close_type: int
    created_at: datetime = attrs.field(converter=_utc("created_at"))
    updated_at: datetime = attrs.field(converter=_utc("updated_at"))
