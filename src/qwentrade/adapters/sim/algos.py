"""Stop-loss / take-profit algo orders on the simulated exchange.

- ``conditional`` has one leg, ``oco`` two; when either leg of an oco fires, the whole
  algo becomes ``effective``, so the other leg can never fire (one cancels the other).
- Algos attached to an entry order (OKX ``attachAlgoOrds``) become live only when the
  entry has filled completely, sized to their own ``size`` or the entry's filled size.
- A triggered leg sends a reduce-only market order (or a limit order at the leg's order
  price) of the algo's size, clipped to the position; ``close_fraction=1`` closes the
  whole position held at that moment.
- A reduce-only algo never outlives its position: when the position it reduces is gone
  (closed, flipped, liquidated) it is canceled. Placing one with no position to reduce
  is refused (51169).
- Trigger prices must be on the right side of the last price when placed (OKX
  51277-51280). Mark-price triggers watch the last price too (the sim's mark is the
  last price).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import attrs

from qwentrade.adapters.sim.codes import (
    CANCEL_FAILED,
    DUPLICATE_ALGO_CLIENT_ID,
    NO_POSITION_TO_REDUCE,
    PARAMETER_ERROR,
    SL_ABOVE_LAST_FOR_LONG,
    SL_BELOW_LAST_FOR_SHORT,
    TP_ABOVE_LAST_FOR_SHORT,
    TP_BELOW_LAST_FOR_LONG,
    SimOrderNotFound,
    rejected,
)
from qwentrade.adapters.sim.rules import check_pos_side, check_size
from qwentrade.adapters.sim.state import SimState
from qwentrade.domain.venue import (
    AlgoLeg,
    AlgoOrder,
    AlgoRequest,
    AlgoState,
    AlgoType,
    Order,
    PositionMode,
    PosSide,
    Side,
)


def check_trigger_sides(
    protects_long: bool, stop: Decimal | None, target: Decimal | None, last: Decimal
) -> None:
    """Refuse a stop or target on the wrong side of the last price (OKX 51277-51280)."""
    if protects_long:
        if stop is not None and stop >= last:
            raise rejected(
                SL_ABOVE_LAST_FOR_LONG,
                f"SL trigger price cannot be higher than the last price: stop {stop} must be "
                f"below {last} to protect a long",
            )
        if target is not None and target <= last:
            raise rejected(
                TP_BELOW_LAST_FOR_LONG,
                f"TP trigger price cannot be lower than the last price: target {target} must "
                f"be above {last} for a long",
            )
    else:
        if stop is not None and stop <= last:
            raise rejected(
                SL_BELOW_LAST_FOR_SHORT,
                f"SL trigger price cannot be lower than the last price: stop {stop} must be "
                f"above {last} to protect a short",
            )
        if target is not None and target >= last:
            raise rejected(
                TP_ABOVE_LAST_FOR_SHORT,
                f"TP trigger price cannot be higher than the last price: target {target} must "
                f"be below {last} for a short",
            )


def _protects_long(side: Side) -> bool:
    """A ``sell`` algo closes (protects) a long; a ``buy`` one a short, in both modes."""
    return side is Side.SELL


def legs(algo: AlgoOrder) -> list[tuple[AlgoLeg, Decimal, int]]:
    """(leg, trigger price, direction) of each leg: -1 fires as the price falls to it."""
    falls_to_stop = 1 if not _protects_long(algo.side) else -1
    out = []
    if algo.sl_trigger_price is not None:
        out.append((AlgoLeg.STOP_LOSS, algo.sl_trigger_price, falls_to_stop))
    if algo.tp_trigger_price is not None:
        out.append((AlgoLeg.TAKE_PROFIT, algo.tp_trigger_price, -falls_to_stop))
    return out


def position_reduced(state: SimState, algo: AlgoOrder):
    key = (algo.symbol, algo.pos_side, algo.td_mode)
    position = state.positions.get(key)
    if position is None or position.contracts == 0:
        return None
    wants_long = _protects_long(algo.side)
    if (position.direction > 0) != wants_long:
        return None
    return position


def place(state: SimState, request: AlgoRequest) -> AlgoOrder:
    """Validate and place a standalone algo order."""
    instrument = state.instrument(request.symbol)
    check_pos_side(state, request.pos_side)
    if request.size is not None:
        check_size(instrument, request.size)
    if request.algo_client_order_id in state.live_algo_client_ids:
        raise rejected(
            DUPLICATE_ALGO_CLIENT_ID,
            f"algoClOrdId already exists: algo_client_order_id {request.algo_client_order_id} "
            "belongs to a live algo order",
        )
    if (
        request.close_fraction is not None
        and state.mode is PositionMode.NET_MODE
        and not request.reduce_only
    ):
        raise rejected(PARAMETER_ERROR, "close_fraction needs reduce_only=True in net_mode")
    protects_long = _protects_long(request.side)
    last = state.price_of(request.symbol)
    # in long/short mode sell+long and buy+short close, whatever reduce_only says
    closes_side = request.pos_side is not PosSide.NET and (
        (request.pos_side is PosSide.LONG) == protects_long
    )
    closes = request.reduce_only or request.close_fraction is not None or closes_side
    if closes:
        check_trigger_sides(protects_long, request.sl_trigger_price, request.tp_trigger_price, last)
    leverage = state.leverage_for(request.symbol, request.td_mode, request.pos_side)
    algo = AlgoOrder(
        algo_id=state.next_algo_id(),
        algo_client_order_id=request.algo_client_order_id,
        symbol=request.symbol,
        side=request.side,
        pos_side=request.pos_side,
        td_mode=request.td_mode,
        algo_type=request.algo_type,
        state=AlgoState.LIVE,
        size=request.size,
        close_fraction=request.close_fraction,
        sl_trigger_price=request.sl_trigger_price,
        sl_order_price=request.sl_order_price,
        tp_trigger_price=request.tp_trigger_price,
        tp_order_price=request.tp_order_price,
        trigger_price_type=request.trigger_price_type,
        reduce_only=closes,
        leverage=leverage,
        created_at=state.now,
        updated_at=state.now,
        tag=request.tag,
    )
    if closes and position_reduced(state, algo) is None:
        raise rejected(
            NO_POSITION_TO_REDUCE,
            f"no position in {request.symbol} for this {request.side.value} algo to reduce; "
            "place the stop after the entry fills, or attach it to the entry order",
        )
    _store(state, algo)
    state.emit(algo)
    return algo


def _store(state: SimState, algo: AlgoOrder) -> None:
    state.algos[algo.algo_id] = algo
    state.live_algos[algo.symbol][algo.algo_id] = None
    if algo.algo_client_order_id:
        state.live_algo_client_ids[algo.algo_client_order_id] = algo.algo_id


def end(state: SimState, algo: AlgoOrder, final: AlgoState, **changes) -> AlgoOrder:
    algo = attrs.evolve(algo, state=final, updated_at=state.now, **changes)
    state.algos[algo.algo_id] = algo
    state.live_algos[algo.symbol].pop(algo.algo_id, None)
    cid = algo.algo_client_order_id
    if cid and state.live_algo_client_ids.get(cid) == algo.algo_id:
        del state.live_algo_client_ids[cid]
    state.emit(algo)
    return algo


def activate_attached(state: SimState, parent: Order) -> list[AlgoOrder]:
    """Create the live algos of a filled entry's ``attached_algos`` (not yet emitted)."""
    created = []
    for spec in parent.attached_algos:
        both = spec.sl_trigger_price is not None and spec.tp_trigger_price is not None
        algo = AlgoOrder(
            algo_id=state.next_algo_id(),
            algo_client_order_id=spec.attach_algo_client_order_id,
            symbol=parent.symbol,
            side=parent.side.opposite,
            pos_side=parent.pos_side,
            td_mode=parent.td_mode,
            algo_type=AlgoType.OCO if both else AlgoType.CONDITIONAL,
            state=AlgoState.LIVE,
            size=spec.size if spec.size is not None else parent.filled_size,
            close_fraction=None,
            sl_trigger_price=spec.sl_trigger_price,
            sl_order_price=spec.sl_order_price,
            tp_trigger_price=spec.tp_trigger_price,
            tp_order_price=spec.tp_order_price,
            trigger_price_type=spec.trigger_price_type,
            reduce_only=True,
            leverage=parent.leverage,
            created_at=state.now,
            updated_at=state.now,
            attached_to=parent.order_id,
        )
        state.algos[algo.algo_id] = algo
        state.live_algos[algo.symbol][algo.algo_id] = None
        if algo.algo_client_order_id:
            state.live_algo_client_ids[algo.algo_client_order_id] = algo.algo_id
        created.append(algo)
    return created


def sweep_orphans(state: SimState, symbol: str) -> None:
    """Cancel live reduce-only algos of ``symbol`` whose position is gone."""
    for algo in list(state.iter_live_algos(symbol)):
        if algo.reduce_only and position_reduced(state, algo) is None:
            end(state, algo, AlgoState.CANCELED)


def cancel(state: SimState, pairs: Sequence[tuple[str, str]]) -> list[AlgoOrder]:
    """Cancel live algos given as (symbol, algo_id); all or nothing."""
    found = []
    for symbol, algo_id in pairs:
        state.instrument(symbol)
        algo = state.algos.get(algo_id)
        if algo is None or algo.symbol != symbol or not algo.is_open:
            what = "does not exist" if algo is None or algo.symbol != symbol else algo.state.value
            raise SimOrderNotFound(
                f"Cancellation failed: algo order {algo_id} on {symbol} {what}", CANCEL_FAILED
            )
        found.append(algo)
    return [end(state, algo, AlgoState.CANCELED) for algo in found]


def find(
    state: SimState, symbol: str, algo_id: str | None, algo_client_order_id: str | None
) -> AlgoOrder:
    """One algo by id or client id (SimOrderNotFound 51603 when unknown)."""
    state.instrument(symbol)
    algo = state.algos.get(algo_id) if algo_id else None
    if algo is None and not algo_id and algo_client_order_id:
        matches = [
            a for a in state.algos.values() if a.algo_client_order_id == algo_client_order_id
        ]
        algo = matches[-1] if matches else None
    if algo is None or algo.symbol != symbol:
        raise SimOrderNotFound(f"Order does not exist: no such algo order on {symbol}")
    return algo
