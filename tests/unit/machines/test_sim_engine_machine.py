"""A stateful hypothesis test of the simulated exchange.

Random orders, stops, cancels, leverage changes and passing time; after every step:

- money is conserved: cash == starting cash + every position's realised PnL (closing PnL,
  fees, funding, liquidation penalties), and equity == cash + unrealised PnL;
- sizes are sane: 0 <= filled <= size, open positions are non-empty, net mode holds at
  most one position per symbol and margin mode;
- no reduce-only algo is live, and no reduce-only order open, without the position it
  reduces (both are canceled with it);
- a reduce-only order never increases or flips a position;
- every order and algo moved only along the transition tables in ``domain.venue``;
- open client order ids are unique; time never goes back.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from machine_market import SYMBOLS, sim_engine

from qwentrade.domain.errors import DomainError
from qwentrade.domain.instruments import DEFAULT_INSTRUMENTS
from qwentrade.domain.venue import (
    ALGO_TRANSITIONS,
    ORDER_TRANSITIONS,
    AlgoOrder,
    AlgoRequest,
    AlgoState,
    AttachedAlgo,
    Order,
    OrderRequest,
    OrderState,
    PosSide,
    TdMode,
)

CASH = Decimal(5000)


class SimEngineMachine(RuleBasedStateMachine):
    @initialize(seed=st.integers(0, 10_000))
    def start(self, seed):
        self.clock, self.engine = sim_engine(seed, CASH)
        self.counter = 0
        self.order_states: dict[str, OrderState] = {}
        self.algo_states: dict[str, AlgoState] = {}
        self.bad_transitions: list[str] = []
        self.last_time = self.engine.now
        self.engine.subscribe(self._watch)

    def _watch(self, event) -> None:
        if isinstance(event, Order):
            before = self.order_states.get(event.order_id)
            if before is None:
                ok = event.state is OrderState.LIVE
            else:
                ok = event.state in ORDER_TRANSITIONS[before]
            if not ok:
                self.bad_transitions.append(f"order {before} -> {event.state}")
            self.order_states[event.order_id] = event.state
        elif isinstance(event, AlgoOrder):
            before = self.algo_states.get(event.algo_id)
            ok = (
                event.state is AlgoState.LIVE
                if before is None
                else (event.state in ALGO_TRANSITIONS[before])
            )
            if not ok:
                self.bad_transitions.append(f"algo {before} -> {event.state}")
            self.algo_states[event.algo_id] = event.state

    def _cid(self) -> str:
        self.counter += 1
        return f"m{self.counter}"

    def _price(self, symbol: str, fraction: str) -> Decimal:
        instrument = DEFAULT_INSTRUMENTS[symbol]
        return instrument.round_price(self.engine.last_price(symbol) * (1 + Decimal(fraction)))

    def _try(self, action):
        try:
            return action()
        except DomainError:
            return None  # refusals are fine; the invariants check nothing changed wrongly

    @rule(
        symbol=st.sampled_from(SYMBOLS),
        side=st.sampled_from(["buy", "sell"]),
        lots=st.integers(1, 30000),
        td_mode=st.sampled_from(["cross", "isolated"]),
        stop=st.sampled_from([None, "0.003", "0.01", "0.05"]),
        profit=st.sampled_from([None, "0.004", "0.02"]),
    )
    def market_order(self, symbol, side, lots, td_mode, stop, profit):
        size = DEFAULT_INSTRUMENTS[symbol].lot_sz * lots
        attached = []
        if stop or profit:
            sign = -1 if side == "buy" else 1
            attached = [
                AttachedAlgo(
                    sl_trigger_price=self._price(symbol, str(sign * Decimal(stop)))
                    if stop
                    else None,
                    tp_trigger_price=self._price(symbol, str(-sign * Decimal(profit)))
                    if profit
                    else None,
                )
            ]
        request = OrderRequest(
            symbol, side, size, self._cid(), td_mode=td_mode, attached_algos=attached
        )
        self._try(lambda: self.engine.place_order(request))

    @rule(
        symbol=st.sampled_from(SYMBOLS),
        side=st.sampled_from(["buy", "sell"]),
        lots=st.integers(1, 200),
        away=st.sampled_from(["0.001", "0.005", "0.02"]),
    )
    def limit_order(self, symbol, side, lots, away):
        size = DEFAULT_INSTRUMENTS[symbol].lot_sz * lots
        sign = -1 if side == "buy" else 1
        price = self._price(symbol, str(sign * Decimal(away)))
        request = OrderRequest(symbol, side, size, self._cid(), order_type="limit", price=price)
        self._try(lambda: self.engine.place_order(request))

    @rule(symbol=st.sampled_from(SYMBOLS), side=st.sampled_from(["buy", "sell"]))
    def all_in_at_high_leverage(self, symbol, side):
        """Most of the free margin at 50x cross: liquidations become likely."""
        instrument = DEFAULT_INSTRUMENTS[symbol]
        self._try(lambda: self.engine.set_leverage(symbol, 50, TdMode.CROSS))
        price = self.engine.last_price(symbol)
        free = self.engine.balance().available * Decimal("0.8")
        size = instrument.round_size(free * 50 / (instrument.ct_val * price))
        if size >= instrument.min_sz:
            self._try(
                lambda: self.engine.place_order(OrderRequest(symbol, side, size, self._cid()))
            )

    @precondition(lambda self: self.engine.positions())
    @rule(data=st.data(), fraction=st.sampled_from(["0.3", "1", "2"]))
    def reduce_only(self, data, fraction):
        position = data.draw(st.sampled_from(self.engine.positions()))
        instrument = DEFAULT_INSTRUMENTS[position.symbol]
        size = instrument.round_size(position.contracts * Decimal(fraction))
        if size < instrument.min_sz:
            return
        side = "sell" if position.direction is PosSide.LONG else "buy"
        key = (position.symbol, position.pos_side, position.margin_mode)
        request = OrderRequest(
            position.symbol, side, size, self._cid(), reduce_only=True, td_mode=position.margin_mode
        )
        order = self._try(lambda: self.engine.place_order(request))
        after = {(p.symbol, p.pos_side, p.margin_mode): p for p in self.engine.positions()}
        remaining = after.get(key)
        if order is not None and remaining is not None:
            assert remaining.direction is position.direction
            assert remaining.contracts == position.contracts - order.filled_size

    @precondition(lambda self: self.engine.positions())
    @rule(data=st.data(), away=st.sampled_from(["0.001", "0.01"]))
    def reduce_only_limit(self, data, away):
        position = data.draw(st.sampled_from(self.engine.positions()))
        long = position.direction is PosSide.LONG
        request = OrderRequest(
            position.symbol,
            "sell" if long else "buy",
            position.contracts,
            self._cid(),
            order_type="limit",
            price=self._price(position.symbol, away if long else f"-{away}"),
            reduce_only=True,
            td_mode=position.margin_mode,
        )
        self._try(lambda: self.engine.place_order(request))

    @precondition(lambda self: self.engine.positions())
    @rule(data=st.data(), stop=st.sampled_from(["0.002", "0.02"]), whole=st.booleans())
    def standalone_stop(self, data, stop, whole):
        position = data.draw(st.sampled_from(self.engine.positions()))
        long = position.direction is PosSide.LONG
        trigger = self._price(position.symbol, f"-{stop}" if long else stop)
        request = AlgoRequest(
            position.symbol,
            "sell" if long else "buy",
            "conditional",
            size=None if whole else position.contracts,
            close_fraction="1" if whole else None,
            sl_trigger_price=trigger,
            td_mode=position.margin_mode,
        )
        self._try(lambda: self.engine.place_algo(request))

    @precondition(lambda self: self.engine.open_orders())
    @rule(data=st.data())
    def cancel_order(self, data):
        order = data.draw(st.sampled_from(self.engine.open_orders()))
        canceled = self.engine.cancel_order(order.symbol, order_id=order.order_id)
        assert canceled.state is OrderState.CANCELED

    @precondition(lambda self: self.engine.open_algos())
    @rule(data=st.data())
    def cancel_algo(self, data):
        algo = data.draw(st.sampled_from(self.engine.open_algos()))
        self.engine.cancel_algos([(algo.symbol, algo.algo_id)])

    @rule(
        symbol=st.sampled_from(SYMBOLS),
        leverage=st.integers(1, 100),
        td_mode=st.sampled_from([TdMode.CROSS, TdMode.ISOLATED]),
    )
    def set_leverage(self, symbol, leverage, td_mode):
        self._try(lambda: self.engine.set_leverage(symbol, leverage, td_mode))

    @rule(minutes=st.integers(1, 60 * 12))
    def time_passes(self, minutes):
        self.clock.advance(timedelta(minutes=minutes))
        self.engine.sync()
        for record in self.engine.position_history(limit=100):
            event(f"close type {record.close_type}")
        for state in self.algo_states.values():
            event(f"algo {state.value}")

    @invariant()
    def money_is_conserved(self):
        open_positions = self.engine.positions()
        realised = {p.pos_id: p.realised_pnl for p in open_positions}
        rows = self.engine.position_history(limit=100)  # newest first, cumulative per pos_id
        assert len(rows) < 100, "more history than one page: shorten the run"
        for record in rows:
            realised.setdefault(record.pos_id, record.realized_pnl)
        balance = self.engine.balance()
        assert balance.cash_balance == CASH + sum(realised.values(), Decimal(0))
        upnl = sum((p.unrealised_pnl for p in open_positions), Decimal(0))
        assert balance.equity == balance.cash_balance + upnl
        assert balance.available >= 0 and balance.frozen >= 0

    @invariant()
    def sizes_are_sane(self):
        seen = set()
        for position in self.engine.positions():
            assert position.contracts > 0
            key = (position.symbol, position.pos_side, position.margin_mode)
            assert key not in seen
            seen.add(key)
            if position.margin_mode is TdMode.ISOLATED:
                assert position.margin > 0
        cids = [o.client_order_id for o in self.engine.open_orders()]
        assert len(cids) == len(set(cids))
        for order in self.engine.open_orders():
            assert 0 <= order.filled_size < order.size

    @invariant()
    def no_stop_outlives_its_position(self):
        held = {(p.symbol, p.pos_side, p.margin_mode): p.direction for p in self.engine.positions()}
        for algo in self.engine.open_algos():
            assert algo.reduce_only
            direction = held.get((algo.symbol, algo.pos_side, algo.td_mode))
            protects = PosSide.LONG if algo.side.value == "sell" else PosSide.SHORT
            assert direction is protects, f"live algo {algo.algo_id} without its position"

    @invariant()
    def no_reduce_only_order_outlives_its_position(self):
        held = {(p.symbol, p.pos_side, p.margin_mode): p.direction for p in self.engine.positions()}
        for order in self.engine.open_orders():
            if order.reduce_only:
                direction = held.get((order.symbol, order.pos_side, order.td_mode))
                reduces = PosSide.LONG if order.side.value == "sell" else PosSide.SHORT
                assert direction is reduces, f"open order {order.order_id} without its position"

    @invariant()
    def transitions_follow_the_tables(self):
        assert self.bad_transitions == []

    @invariant()
    def time_moves_forward(self):
        now = self.engine.now
        assert now >= self.last_time
        self.last_time = now


SimEngineMachine.TestCase.settings = settings(
    max_examples=30,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestSimEngine = SimEngineMachine.TestCase
