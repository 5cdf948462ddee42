"""Orders on the simulated exchange: validation, placement, fills, cancels.

Liquidity is unlimited around the path's price: a market order fills entirely at the
last price plus the spread and slippage (taker fee); a limit order that can trade at
placement fills the same way but never beyond its price, otherwise it rests and fills
entirely at its own price when the path trades through it (maker fee), gaps included.
Priced orders outside the price band and orders above the maximum sizes are refused.
:mod:`.model` lists every rule.
``post_only`` orders that would trade at once are canceled (as OKX does); ``ioc``/``fok``
orders that cannot trade at once are canceled.

Reduce-only (and long/short closing) orders never open or increase a position: they fill
at most the size held at fill time and the rest is canceled (state ``canceled`` with a
non-zero ``filled_size``), or are canceled when there is nothing to reduce. As on OKX, an
open one is canceled as soon as the position it reduces is gone (closed, liquidated or
flipped), so it never closes a later position (:func:`sweep_reducers`).
"""

from __future__ import annotations

from decimal import Decimal

import attrs

from qwentrade.adapters.sim import algos
from qwentrade.adapters.sim.codes import (
    CANCEL_FAILED,
    DUPLICATE_CLIENT_ORDER_ID,
    NO_POSITION_TO_REDUCE,
    PARAMETER_ERROR,
    SimOrderNotFound,
    rejected,
)
from qwentrade.adapters.sim.ledger import CLOSE_FULL, CLOSE_PARTIAL, ZERO, SimPosition, money
from qwentrade.adapters.sim.rules import (
    band_error,
    check_max_size,
    check_pos_side,
    check_price,
    check_size,
    require_margin,
)
from qwentrade.adapters.sim.state import SimState
from qwentrade.domain.instruments import Instrument
from qwentrade.domain.venue import (
    AttachedAlgo,
    Fill,
    Order,
    OrderRequest,
    OrderState,
    OrderType,
    PosSide,
    Side,
    TdMode,
)

ALGO_SOURCE = "7"  # OKX ``source`` of an order sent by a triggered TP/SL (from memory)


def place(state: SimState, request: OrderRequest) -> Order:
    """Validate and place ``request``; returns the order after any immediate fill."""
    instrument = state.instrument(request.symbol)
    check_size(instrument, request.size)
    check_pos_side(state, request.pos_side)
    check_price(instrument, request.price, "px")
    if request.client_order_id in state.live_client_ids:
        raise rejected(
            DUPLICATE_CLIENT_ORDER_ID,
            f"Duplicated clOrdId: client_order_id {request.client_order_id} belongs to an open "
            "order; look it up with get_order instead of sending it again",
        )
    last = state.price_of(request.symbol)
    if request.price is not None:
        error = band_error(state, request.symbol, request.side, request.price, last)
        if error is not None:
            raise error
    _check_attached(state, instrument, request, last)
    _, closing, opening, _ = state.order_effect(
        request.symbol,
        request.side,
        request.pos_side,
        request.td_mode,
        request.reduce_only,
        request.size,
    )
    closes_only = request.reduce_only or (opening == 0 and request.pos_side is not PosSide.NET)
    if closes_only and closing == 0:
        raise rejected(
            NO_POSITION_TO_REDUCE,
            f"no {request.pos_side.value} position in {request.symbol} ({request.td_mode.value}) "
            f"for this {request.side.value} to reduce; drop reduce_only to open one",
        )
    leverage = state.leverage_for(request.symbol, request.td_mode, request.pos_side)
    reference = request.price if request.price is not None else last
    require_margin(state, instrument, opening, reference, leverage)
    check_max_size(state, request.symbol, request.order_type, request.size)
    return submit(
        state,
        symbol=request.symbol,
        side=request.side,
        pos_side=request.pos_side,
        td_mode=request.td_mode,
        size=request.size,
        order_type=request.order_type,
        price=request.price,
        reduce_only=request.reduce_only,
        client_order_id=request.client_order_id,
        attached=request.attached_algos,
        leverage=leverage,
        last=last,
        tag=request.tag,
    )


def _check_attached(
    state: SimState, instrument: Instrument, request: OrderRequest, last: Decimal
) -> None:
    if not request.attached_algos:
        return
    sized = sum((a.size for a in request.attached_algos if a.size is not None), ZERO)
    if sized > request.size:
        raise rejected(
            PARAMETER_ERROR,
            f"attached_algos sizes add up to {sized}, more than the order size {request.size}",
        )
    entry = request.price if request.price is not None else last
    protects_long = request.side is Side.BUY
    if request.pos_side is not PosSide.NET and (request.pos_side is PosSide.LONG) != protects_long:
        raise rejected(
            PARAMETER_ERROR,
            "attached_algos belong on an opening order (buy+long or sell+short); place a "
            "standalone algo to protect an existing position",
        )
    for algo in request.attached_algos:
        if algo.size is not None:
            check_size(instrument, algo.size, "attached_algos.size")
        for field in ("sl_trigger_price", "tp_trigger_price", "sl_order_price", "tp_order_price"):
            check_price(instrument, getattr(algo, field), field)
        algos.check_trigger_sides(protects_long, algo.sl_trigger_price, algo.tp_trigger_price, last)
        # against the order's own price: a stop beyond the entry would fire at once
        for name, price, below in (
            ("sl_trigger_price", algo.sl_trigger_price, protects_long),
            ("tp_trigger_price", algo.tp_trigger_price, not protects_long),
        ):
            if price is not None and (price >= entry if below else price <= entry):
                where = "below" if below else "above"
                raise rejected(
                    PARAMETER_ERROR,
                    f"Parameter {name} error: {price} must be {where} the entry price {entry} "
                    f"for a {'long' if protects_long else 'short'}",
                )


def submit(
    state: SimState,
    *,
    symbol: str,
    side: Side,
    pos_side: PosSide,
    td_mode: TdMode,
    size: Decimal,
    order_type: OrderType,
    price: Decimal | None,
    reduce_only: bool,
    client_order_id: str,
    leverage: int,
    last: Decimal,
    attached: tuple[AttachedAlgo, ...] = (),
    source: str = "",
    algo_id: str = "",
    tag: str = "",
) -> Order:
    """Create an order (already validated) and execute what trades at ``last`` now."""
    now = state.now
    order = Order(
        order_id=state.next_order_id(),
        client_order_id=client_order_id,
        symbol=symbol,
        side=side,
        pos_side=pos_side,
        order_type=order_type,
        state=OrderState.LIVE,
        size=size,
        filled_size=ZERO,
        price=price,
        avg_price=None,
        fee=ZERO,
        pnl=ZERO,
        leverage=leverage,
        reduce_only=reduce_only,
        td_mode=td_mode,
        created_at=now,
        updated_at=now,
        attached_algos=attached,
        source=source,
        algo_id=algo_id,
        tag=tag,
    )
    state.orders[order.order_id] = order
    state.index_order(order)
    state.open_orders[symbol][order.order_id] = None
    if client_order_id:
        state.live_client_ids[client_order_id] = order.order_id
        state.latest_client_ids[client_order_id] = order.order_id
    state.emit(order)
    marketable = order_type is OrderType.MARKET or (
        price is not None and (price >= last if side is Side.BUY else price <= last)
    )
    if marketable and order_type is OrderType.POST_ONLY:
        return finish(state, order.order_id, OrderState.CANCELED)
    if marketable:
        limit = None if order_type is OrderType.MARKET else price
        fill(state, order.order_id, state.costs().fill_price(side, last, limit), taker=True)
    elif order_type in (OrderType.IOC, OrderType.FOK):
        return finish(state, order.order_id, OrderState.CANCELED)
    else:
        state.emit_balance()  # the resting order freezes margin
    return state.orders[order.order_id]


def finish(state: SimState, order_id: str, final: OrderState) -> Order:
    """Close an open order with ``final`` (filled or canceled) and free its client id."""
    order = attrs.evolve(state.orders[order_id], state=final, updated_at=state.now)
    state.orders[order_id] = order
    state.open_orders[order.symbol].pop(order_id, None)
    if order.client_order_id and state.live_client_ids.get(order.client_order_id) == order_id:
        del state.live_client_ids[order.client_order_id]
    state.emit(order)
    return order


def cancel(
    state: SimState, symbol: str, order_id: str | None, client_order_id: str | None
) -> Order:
    """Cancel an open order; SimOrderNotFound 51400 when it is not open."""
    order = find(state, symbol, order_id, client_order_id, code=CANCEL_FAILED)
    if not order.is_open:
        raise SimOrderNotFound(
            f"Order cancellation failed as the order {order.order_id} is {order.state.value}",
            CANCEL_FAILED,
        )
    order = finish(state, order.order_id, OrderState.CANCELED)
    state.emit_balance()
    return order


def find(
    state: SimState,
    symbol: str,
    order_id: str | None,
    client_order_id: str | None,
    code: str,
) -> Order:
    """The order by id (preferred) or latest by client id, on ``symbol``."""
    if not order_id and not client_order_id:
        raise rejected(PARAMETER_ERROR, "give order_id or client_order_id")
    state.instrument(symbol)
    found = state.orders.get(order_id) if order_id else None
    if not order_id and client_order_id:
        latest = state.latest_client_ids.get(client_order_id)
        found = state.orders.get(latest) if latest else None
    if found is None or found.symbol != symbol:
        which = f"order_id {order_id}" if order_id else f"client_order_id {client_order_id}"
        raise SimOrderNotFound(f"Order does not exist: no {which} on {symbol}", code)
    return found


def fill(state: SimState, order_id: str, price: Decimal, taker: bool) -> Order:
    """Fill the rest of an open order at ``price`` (clipped for reduce-only orders)."""
    order = state.orders[order_id]
    instrument = state.instruments[order.symbol]
    key, closing, opening, direction = state.order_effect(
        order.symbol,
        order.side,
        order.pos_side,
        order.td_mode,
        order.reduce_only,
        order.remaining_size,
    )
    contracts = closing + opening
    if contracts <= 0:
        return finish(state, order_id, OrderState.CANCELED)
    now = state.now
    rate = state.fees.taker if taker else state.fees.maker
    fee = money(-(contracts * instrument.ct_val * price * rate))
    fee_close = money(fee * closing / contracts)
    pnl = ZERO
    changed: list[SimPosition] = []
    if closing:
        position = state.positions[key]
        pnl = position.reduce(closing, price, fee_close, now)
        state.cash += pnl + fee_close
        if position.contracts == 0:
            close_position(state, position, CLOSE_FULL, emit=False)
        else:
            state.history.append(position.record(CLOSE_PARTIAL, now))
        changed.append(position)
    if opening:
        position = state.positions.get(key)
        if position is None:
            position = new_position(state, instrument, key, order.leverage)
            state.positions[key] = position
        position.open(direction, opening, price, fee - fee_close, now)
        state.cash += fee - fee_close
        changed.append(position)
    filled = order.filled_size + contracts
    avg = (
        price
        if order.avg_price is None
        else money((order.avg_price * order.filled_size + price * contracts) / filled)
    )
    complete = filled == order.size
    the_fill = Fill(
        trade_id=state.next_trade_id(),
        order_id=order.order_id,
        symbol=order.symbol,
        side=order.side,
        pos_side=order.pos_side,
        price=price,
        size=contracts,
        fee=fee,
        pnl=pnl,
        time=now,
        liquidity="taker" if taker else "maker",
    )
    order = attrs.evolve(
        order,
        filled_size=filled,
        avg_price=avg,
        fee=order.fee + fee,
        pnl=order.pnl + pnl,
        last_fill=the_fill,
    )
    created = []
    if complete and order.attached_algos:
        created = algos.activate_attached(state, order)
        order = attrs.evolve(order, attached_algo_ids=tuple(a.algo_id for a in created))
    state.orders[order_id] = order
    # a reduce-only remainder with nothing left to reduce is canceled
    order = finish(state, order_id, OrderState.FILLED if complete else OrderState.CANCELED)
    for algo in created:
        state.emit(algo)
    for position in changed:
        state.emit_position(position)
    sweep_reducers(state, order.symbol)
    algos.sweep_orphans(state, order.symbol)
    state.emit_balance()
    return order


def closes_only(order: Order) -> bool:
    """A reduce-only order, or a closing one in long/short mode (sell+long, buy+short)."""
    if order.reduce_only:
        return True
    return order.pos_side is not PosSide.NET and (order.pos_side is PosSide.LONG) != (
        order.side is Side.BUY
    )


def sweep_reducers(state: SimState, symbol: str) -> None:
    """Cancel open closing orders of ``symbol`` whose position is gone or flipped."""
    for order in list(state.iter_open_orders(symbol)):
        if not closes_only(order):
            continue
        position = state.positions.get((order.symbol, order.pos_side, order.td_mode))
        reduces = 1 if order.side is Side.SELL else -1  # the direction it closes
        if position is None or position.contracts == 0 or position.direction != reduces:
            finish(state, order.order_id, OrderState.CANCELED)


def new_position(state: SimState, instrument: Instrument, key, leverage: int) -> SimPosition:
    return SimPosition(
        pos_id=state.next_pos_id(),
        instrument=instrument,
        pos_side=key[1],
        margin_mode=key[2],
        leverage=leverage,
        created_at=state.now,
        updated_at=state.now,
    )


def close_position(
    state: SimState, position: SimPosition, close_type: int, emit: bool = True
) -> None:
    """Record a fully closed position, drop it, and (if ``emit``) push its size-0 update."""
    state.history.append(position.record(close_type, state.now))
    key = (position.symbol, position.pos_side, position.margin_mode)
    if state.positions.get(key) is position:
        del state.positions[key]
    if emit:
        state.emit_position(position)
