"""What happens as the price walks a segment: limit fills, algo triggers, liquidations.

Along a segment the next event is always the one the price reaches first; it executes,
the state changes (a stop may close the position a liquidation was waiting for, a fill
may activate a stop), and the search starts again from that price. Ties at the same
price go to resting orders first, then algo orders, then liquidation, each oldest first.
A trigger the price is already beyond fires at once at the current price; triggers
crossed by a gap (the jump to a candle's open) fire at the gap's end price. Resting
limits fill only when traded through, at their own price, gaps included; take-profit
legs wait while a stop-loss of the same position is still ahead in the candle (see
:mod:`.model` for every rule).
"""

from __future__ import annotations

from decimal import Decimal

import attrs

from qwentrade.adapters.sim import algos, trading
from qwentrade.adapters.sim.codes import NO_POSITION_TO_REDUCE
from qwentrade.adapters.sim.ledger import (
    CLOSE_LIQUIDATION,
    ZERO,
    SimPosition,
    cross_level,
    money,
)
from qwentrade.adapters.sim.model import Intrabar
from qwentrade.adapters.sim.rules import band_error, require_margin
from qwentrade.adapters.sim.state import SimState
from qwentrade.adapters.sim.tape import Segment
from qwentrade.domain.errors import DomainError
from qwentrade.domain.market import from_ms
from qwentrade.domain.venue import AlgoLeg, AlgoState, OrderType, Side, TdMode

ORDER, ALGO, LIQUIDATION = 0, 1, 2
_MAX_EVENTS = 100_000


@attrs.frozen
class Event:
    distance: Decimal
    priority: int
    sequence: int
    level: Decimal
    kind: int
    target: str | tuple = ""
    leg: AlgoLeg | None = None


def _reach(current: Decimal, end: Decimal, level: Decimal, direction: int) -> Decimal | None:
    """How far the price travels from ``current`` toward ``end`` to reach ``level``.

    ``direction`` -1: fires when the price is at or below ``level``; +1: at or above.
    """
    if direction < 0:
        if current <= level:
            return ZERO
        return current - level if end <= level else None
    if current >= level:
        return ZERO
    return level - current if end >= level else None


def _through(current: Decimal, end: Decimal, level: Decimal, direction: int) -> Decimal | None:
    """Like :func:`_reach`, but the price must go strictly beyond ``level`` (a trade-through)."""
    if direction < 0:
        if current < level:
            return ZERO
        return current - level if end < level else None
    if current > level:
        return ZERO
    return level - current if end > level else None


def _stops_ahead(state: SimState, symbol: str, low: Decimal, high: Decimal) -> set[tuple]:
    """The positions (side, pos_side, td_mode of their algos) whose live stop-loss leg the
    price reaches between ``low`` and ``high``, what is left of the candle."""
    found = set()
    for algo in state.iter_live_algos(symbol):
        for leg, level, direction in algos.legs(algo):
            if leg is AlgoLeg.STOP_LOSS and (low <= level if direction < 0 else high >= level):
                found.add((algo.side, algo.pos_side, algo.td_mode))
    return found


def next_event(
    state: SimState,
    symbol: str,
    current: Decimal,
    end: Decimal,
    ahead: tuple[Decimal, Decimal] | None = None,
) -> Event | None:
    """The first event the price meets going from ``current`` to ``end``.

    ``ahead`` is the (lowest, highest) price left in the candle from ``current``: with the
    stop-first rule, take-profit legs of a position whose stop-loss lies within it wait.
    """
    best: Event | None = None
    waiting: set[tuple] = set()
    if ahead is not None and state.intrabar is Intrabar.STOP_FIRST:
        waiting = _stops_ahead(state, symbol, *ahead)

    def consider(event: Event) -> None:
        nonlocal best
        if best is None or (event.distance, event.priority, event.sequence) < (
            best.distance,
            best.priority,
            best.sequence,
        ):
            best = event

    for n, order in enumerate(state.iter_open_orders(symbol)):
        if order.order_type is OrderType.MARKET or order.price is None:
            continue
        direction = -1 if order.side is Side.BUY else 1
        far = _through(current, end, order.price, direction)
        if far is not None:
            consider(Event(far, ORDER, n, order.price, ORDER, order.order_id))
    for n, algo in enumerate(state.iter_live_algos(symbol)):
        held = (algo.side, algo.pos_side, algo.td_mode) in waiting
        for leg, level, direction in algos.legs(algo):
            if held and leg is AlgoLeg.TAKE_PROFIT:
                continue
            far = _reach(current, end, level, direction)
            if far is not None:
                consider(Event(far, ALGO, n, level, ALGO, algo.algo_id, leg))
    for n, (level, direction, key) in enumerate(liquidation_levels(state, symbol)):
        far = _reach(current, end, level, direction)
        if far is not None:
            consider(Event(far, LIQUIDATION, n, level, LIQUIDATION, key))
    return best


def quiet(state: SimState, symbol: str, segments: list[Segment]) -> bool:
    """True when walking ``segments`` of ``symbol`` can execute nothing: the symbol has
    no resting order, every position is in it, and the prices the segments span reach
    no live algo trigger (either leg, whatever the stop-first rule would hold back) and
    no liquidation level. Then no event changes the state along the way, so the levels
    stay where they are, and :func:`next_event` finds nothing on any segment: the walk
    only moves the price (``run_segment`` would set it to the last segment's end)."""
    if state.open_orders[symbol] or any(key[0] != symbol for key in state.positions):
        return False
    low = min(min(s.start, s.end) for s in segments)
    high = max(max(s.start, s.end) for s in segments)
    levels = [
        (level, direction)
        for algo in state.iter_live_algos(symbol)
        for _, level, direction in algos.legs(algo)
    ]
    levels += [(level, direction) for level, direction, _ in liquidation_levels(state, symbol)]
    return all(low > level if direction < 0 else high < level for level, direction in levels)


def liquidation_levels(state: SimState, symbol: str) -> list[tuple[Decimal, int, tuple]]:
    out = []
    positions = state.positions_of(symbol)
    rate = state.rate(symbol)
    cross = []
    for position in positions:
        if position.margin_mode is TdMode.ISOLATED:
            level = position.liquidation_level(position.margin, rate)
            if level is not None:
                key = (position.symbol, position.pos_side, position.margin_mode)
                out.append((level, -position.direction, key))
        elif position.contracts:
            cross.append(position)
    if cross:
        found = cross_level(
            cross,
            state.cross_equity_excluding(symbol),
            rate,
            state.instruments[symbol].tick_sz,
        )
        if found is not None:
            out.append((found[0], found[1], ("cross",)))
    return out


def run_segment(state: SimState, symbol: str, segment: Segment, set_price) -> None:
    """Walk ``segment`` of ``symbol``, executing every event on the way in order."""
    current = segment.start
    span = abs(segment.end - segment.start)
    for _ in range(_MAX_EVENTS):
        event = next_event(state, symbol, current, segment.end, segment.ahead(current))
        if event is None:
            break
        if event.kind == ORDER:
            price = event.level  # a resting limit fills at its own price, gap or not
            if event.distance and not segment.gap:
                current = event.level
        elif event.distance == 0:
            price = current
        elif segment.gap:
            price = segment.end
        else:
            price = event.level
            current = event.level
        if span and not segment.gap:
            moved = abs(price - segment.start) / span
            t = segment.start_ms + round(float(moved) * (segment.end_ms - segment.start_ms))
        else:
            t = segment.end_ms
        state.now = max(state.now, from_ms(t))
        set_price(symbol, price)
        _execute(state, event, price)
    else:  # pragma: no cover - a loop here would be a bug
        raise RuntimeError(f"too many events on one {symbol} segment")
    set_price(symbol, segment.end)


def _execute(state: SimState, event: Event, price: Decimal) -> None:
    if event.kind == ORDER:
        trading.fill(state, event.target, price, taker=False)
    elif event.kind == ALGO:
        trigger(state, event.target, event.leg, price)
    elif event.target == ("cross",):
        liquidate_cross(state)
    else:
        liquidate_isolated(state, state.positions[event.target], price)


def trigger(state: SimState, algo_id: str, leg: AlgoLeg, price: Decimal) -> None:
    """Fire ``leg`` of a live algo: send its order to execute at ``price``."""
    algo = state.algos[algo_id]
    position = algos.position_reduced(state, algo)
    fired = {"triggered_leg": leg, "triggered_at": state.now}
    if algo.reduce_only and position is None:
        algos.end(state, algo, AlgoState.ORDER_FAILED, fail_code=NO_POSITION_TO_REDUCE, **fired)
        return
    if algo.close_fraction is not None:
        size = position.contracts
    else:
        size = min(algo.size, position.contracts) if algo.reduce_only else algo.size
    order_price = algo.sl_order_price if leg is AlgoLeg.STOP_LOSS else algo.tp_order_price
    if order_price is not None:
        error = band_error(state, algo.symbol, algo.side, order_price, price)
        if error is not None:
            algos.end(state, algo, AlgoState.ORDER_FAILED, fail_code=error.code, **fired)
            return
    if not algo.reduce_only:
        _, _, opening, _ = state.order_effect(
            algo.symbol, algo.side, algo.pos_side, algo.td_mode, False, size
        )
        try:
            require_margin(
                state,
                state.instruments[algo.symbol],
                opening,
                order_price or price,
                algo.leverage,
            )
        except DomainError as e:
            code = getattr(e, "code", "")
            algos.end(state, algo, AlgoState.ORDER_FAILED, fail_code=code, **fired)
            return
    algos.end(state, algo, AlgoState.EFFECTIVE, order_id=state.peek_order_id(), **fired)
    trading.submit(
        state,
        symbol=algo.symbol,
        side=algo.side,
        pos_side=algo.pos_side,
        td_mode=algo.td_mode,
        size=size,
        order_type=OrderType.MARKET if order_price is None else OrderType.LIMIT,
        price=order_price,
        reduce_only=algo.reduce_only,
        client_order_id="",
        leverage=algo.leverage,
        last=price,
        source=trading.ALGO_SOURCE,
        algo_id=algo.algo_id,
    )


def _close_at(state: SimState, position: SimPosition, price: Decimal) -> Decimal:
    """Close the whole position at ``price`` with the taker fee; returns pnl + fee."""
    contracts = position.contracts
    fee = money(-(contracts * position.instrument.ct_val * price * state.fees.taker))
    pnl = position.reduce(contracts, price, fee, state.now)
    state.cash += pnl + fee
    return pnl + fee


def liquidate_isolated(state: SimState, position: SimPosition, price: Decimal) -> None:
    """Liquidate an isolated position at ``price``: its whole margin is lost."""
    margin = position.margin
    result = _close_at(state, position, price)
    penalty = -(margin + result)
    position.liq_penalty += penalty
    state.cash += penalty
    _finish_liquidation(state, [position])


def liquidate_cross(state: SimState) -> None:
    """Liquidate every cross position at its current price (see ``ledger``)."""
    positions = [p for p in state.positions.values() if p.margin_mode is TdMode.CROSS]
    maintenance = {}
    for position in positions:
        mark = state.price_of(position.symbol)
        maintenance[position.pos_id] = position.maintenance_margin(
            mark, state.rate(position.symbol)
        )
        _close_at(state, position, mark)
    isolated = sum(
        (p.margin for p in state.positions.values() if p.margin_mode is TdMode.ISOLATED), ZERO
    )
    free = state.cash - isolated
    total = sum(maintenance.values(), ZERO)
    # the penalty is the maintenance margin, at most what is left; a deficit is covered
    charge = -free if free < 0 else -min(total, free)
    left = charge
    for n, position in enumerate(positions):
        last = n == len(positions) - 1
        share = left if last else money(charge * maintenance[position.pos_id] / total)
        left -= share
        position.liq_penalty += share
        state.cash += share
    _finish_liquidation(state, positions)


def _finish_liquidation(state: SimState, positions: list[SimPosition]) -> None:
    for position in positions:
        trading.close_position(state, position, CLOSE_LIQUIDATION)
    for symbol in dict.fromkeys(p.symbol for p in positions):  # a stable order
        trading.sweep_reducers(state, symbol)
        algos.sweep_orphans(state, symbol)
    state.emit_balance()


def apply_funding(state: SimState, symbol: str, rate: Decimal, mark: Decimal) -> None:
    """Settle funding on ``symbol``'s positions: longs pay ``rate`` times the notional
    (shorts receive it; a negative rate the other way), from the account's cash (an
    isolated position's margin is left as it is)."""
    changed = False
    for position in state.positions_of(symbol):
        if not position.contracts:
            continue
        payment = money(-position.signed_qty * mark * rate)
        position.funding_fee += payment
        position.updated_at = state.now
        state.cash += payment
        state.emit_position(position)
        changed = True
    if changed:
        state.emit_balance()
