"""What a private stream delivers: order, algo, position and balance updates and status."""

from __future__ import annotations

import enum
from datetime import datetime

import attrs

from qwentrade.domain.venue.account import Balance, ExchangePosition
from qwentrade.domain.venue.algos import AlgoOrder
from qwentrade.domain.venue.fields import _utc
from qwentrade.domain.venue.orders import Order


class StreamStatusKind(enum.StrEnum):
    """Connection events of a private stream."""

    CONNECTED = "connected"
    DISCONNECTED = "disconnected"


@attrs.frozen
class StreamStatus:
    """A private stream (re)connected or dropped; reconcile after every ``connected``."""

    kind: StreamStatusKind = attrs.field(converter=StreamStatusKind)
    time: datetime = attrs.field(converter=_utc("time"))
    reason: str = ""


#: What a private stream delivers, in order.
StreamEvent = Order | AlgoOrder | ExchangePosition | Balance | StreamStatus
