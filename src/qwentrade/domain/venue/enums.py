"""Venue enums and the order/algo lifecycle tables.

Enum values are OKX's own spellings (``"buy"``, ``"net_mode"``, ...), so an adapter maps
them with ``Side(text)`` / ``side.value`` and nothing else.
"""

from __future__ import annotations

import enum


class Side(enum.StrEnum):
    """Order side."""

    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class PosSide(enum.StrEnum):
    """Position side: ``net`` in net mode; ``long``/``short`` in long/short mode."""

    LONG = "long"
    SHORT = "short"
    NET = "net"


class OrderType(enum.StrEnum):
    """Order types as OKX names them (``ordType``)."""

    MARKET = "market"
    LIMIT = "limit"
    POST_ONLY = "post_only"
    IOC = "ioc"
    FOK = "fok"

    @property
    def needs_price(self) -> bool:
        return self is not OrderType.MARKET


class TdMode(enum.StrEnum):
    """Trade (margin) mode of an order or position."""

    CROSS = "cross"
    ISOLATED = "isolated"


class OrderState(enum.StrEnum):
    """OKX order states. ``mmp_canceled`` is never produced by the simulator."""

    LIVE = "live"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    MMP_CANCELED = "mmp_canceled"

    @property
    def is_open(self) -> bool:
        return self in (OrderState.LIVE, OrderState.PARTIALLY_FILLED)


# The order lifecycle: which state may follow which. A state may also repeat itself
# (partially_filled -> partially_filled on a further fill).
ORDER_TRANSITIONS: dict[OrderState, frozenset[OrderState]] = {
    OrderState.LIVE: frozenset(
        {
            OrderState.PARTIALLY_FILLED,
            OrderState.FILLED,
            OrderState.CANCELED,
            OrderState.MMP_CANCELED,
        }
    ),
    OrderState.PARTIALLY_FILLED: frozenset(
        {
            OrderState.PARTIALLY_FILLED,
            OrderState.FILLED,
            OrderState.CANCELED,
            OrderState.MMP_CANCELED,
        }
    ),
    OrderState.FILLED: frozenset(),
    OrderState.CANCELED: frozenset(),
    OrderState.MMP_CANCELED: frozenset(),
}


class AlgoState(enum.StrEnum):
    """OKX algo order states.

    ``live`` waits for its trigger; ``effective`` has triggered and sent its order;
    ``canceled``; ``order_failed`` triggered but its order was refused (e.g. no position
    left to reduce). ``pause`` and ``partially_effective`` exist on OKX and are accepted
    when parsing, but the simulator never produces them.
    """

    LIVE = "live"
    EFFECTIVE = "effective"
    CANCELED = "canceled"
    ORDER_FAILED = "order_failed"
    PAUSE = "pause"
    PARTIALLY_EFFECTIVE = "partially_effective"

    @property
    def is_open(self) -> bool:
        return self in (AlgoState.LIVE, AlgoState.PAUSE)


ALGO_TRANSITIONS: dict[AlgoState, frozenset[AlgoState]] = {
    AlgoState.LIVE: frozenset(
        {
            AlgoState.EFFECTIVE,
            AlgoState.CANCELED,
            AlgoState.ORDER_FAILED,
            AlgoState.PAUSE,
            AlgoState.PARTIALLY_EFFECTIVE,
        }
    ),
    AlgoState.PAUSE: frozenset({AlgoState.LIVE, AlgoState.CANCELED}),
    AlgoState.PARTIALLY_EFFECTIVE: frozenset({AlgoState.EFFECTIVE, AlgoState.CANCELED}),
    AlgoState.EFFECTIVE: frozenset(),
    AlgoState.CANCELED: frozenset(),
    AlgoState.ORDER_FAILED: frozenset(),
}


class AlgoType(enum.StrEnum):
    """Algo order types the system uses: one-leg ``conditional`` or two-leg ``oco``."""

    CONDITIONAL = "conditional"
    OCO = "oco"


class TriggerPriceType(enum.StrEnum):
    """Which price an algo leg watches (OKX ``slTriggerPxType``/``tpTriggerPxType``)."""

    LAST = "last"
    MARK = "mark"
    INDEX = "index"


class PositionMode(enum.StrEnum):
    """Account position mode (OKX ``posMode``)."""

    NET_MODE = "net_mode"
    LONG_SHORT_MODE = "long_short_mode"


class AlgoLeg(enum.StrEnum):
    """Which leg of an algo order fired (OKX ``actualSide``)."""

    STOP_LOSS = "sl"
    TAKE_PROFIT = "tp"
