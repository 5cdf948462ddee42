"""Validation shared by orders and algo orders: sizes, prices, position sides, margin."""

from __future__ import annotations

from decimal import Decimal

from qwentrade.adapters.sim.codes import (
    BELOW_MIN_SIZE,
    LIMIT_SIZE_TOO_LARGE,
    LOT_SIZE,
    MARKET_SIZE_TOO_LARGE,
    PARAMETER_ERROR,
    PRICE_OUT_OF_BAND,
    SimInsufficientFunds,
    rejected,
)
from qwentrade.adapters.sim.ledger import ZERO
from qwentrade.adapters.sim.state import SimState
from qwentrade.domain.instruments import Instrument
from qwentrade.domain.numbers import is_multiple
from qwentrade.domain.venue import OrderType, PositionMode, PosSide, Side


def check_size(instrument: Instrument, size: Decimal, field: str = "size") -> None:
    """ExchangeRejected 51121 (lot) / 51020 (minimum) for a bad size in contracts."""
    if size <= 0 or not is_multiple(size, instrument.lot_sz):
        raise rejected(
            LOT_SIZE,
            f"{field} {size} must be a positive multiple of the lot size {instrument.lot_sz} "
            f"for {instrument.inst_id}",
        )
    if size < instrument.min_sz:
        raise rejected(
            BELOW_MIN_SIZE,
            f"{field} {size} is below the minimum {instrument.min_sz} for {instrument.inst_id}",
        )


def check_pos_side(state: SimState, pos_side: PosSide) -> None:
    """ExchangeRejected 51000 when ``pos_side`` does not fit the position mode."""
    if state.mode is PositionMode.NET_MODE and pos_side is not PosSide.NET:
        raise rejected(
            PARAMETER_ERROR,
            f"Parameter posSide error: pos_side {pos_side.value} needs long_short_mode; "
            "use net in net_mode",
        )
    if state.mode is PositionMode.LONG_SHORT_MODE and pos_side is PosSide.NET:
        raise rejected(
            PARAMETER_ERROR,
            "Parameter posSide error: in long_short_mode give pos_side long or short",
        )


def check_price(instrument: Instrument, price: Decimal | None, field: str) -> None:
    """ExchangeRejected 51000 for a price off the tick grid."""
    if price is not None and not is_multiple(price, instrument.tick_sz):
        raise rejected(
            PARAMETER_ERROR,
            f"Parameter {field} error: {price} is not a multiple of the tick size "
            f"{instrument.tick_sz}",
        )


def check_max_size(state: SimState, symbol: str, order_type: OrderType, size: Decimal) -> None:
    """ExchangeRejected 51202 / 51203 for a market / priced order above the symbol's cap."""
    caps = state.caps(symbol)
    if order_type is OrderType.MARKET and size > caps.market:
        raise rejected(
            MARKET_SIZE_TOO_LARGE,
            f"Market - order amount exceeds the max amount: size {size} is above the "
            f"{caps.market} contracts a market order of {symbol} may have; split it or use "
            "a limit order",
        )
    if order_type is not OrderType.MARKET and size > caps.limit:
        raise rejected(
            LIMIT_SIZE_TOO_LARGE,
            f"Order amount exceeds the limit: size {size} is above the {caps.limit} "
            f"contracts an order of {symbol} may have; split it",
        )


def band_error(state: SimState, symbol: str, side: Side, price: Decimal, last: Decimal):
    """ExchangeRejected 51006 when ``price`` is outside the band around ``last``, else None."""
    highest, lowest = state.costs().band(last)
    if (price > highest) if side is Side.BUY else (price < lowest):
        tick = state.instruments[symbol].tick_sz
        most = f"max buy price: {highest.quantize(tick)}, min sell price: {lowest.quantize(tick)}"
        return rejected(
            PRICE_OUT_OF_BAND,
            f"Order price is not within the price limit ({most}): {side.value} at {price} "
            f"with the last price {last}; give a price within the band",
        )
    return None


def require_margin(
    state: SimState, instrument: Instrument, opening: Decimal, price: Decimal, leverage: int
) -> None:
    """SimInsufficientFunds (51008) unless margin and taker fee for ``opening`` are free."""
    if opening <= 0:
        return
    notional = opening * instrument.ct_val * price
    required = notional / leverage + notional * state.fees.taker
    available = state.available()
    if required > available:
        raise SimInsufficientFunds(
            f"Insufficient USDT margin: the order needs {required:.4f} USDT of margin and fee "
            f"at {leverage}x but {max(ZERO, available):.4f} is available; reduce the size or "
            "raise the leverage"
        )
