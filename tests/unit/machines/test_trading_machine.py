"""A stateful hypothesis test of TradingService on the simulated exchange.

Random opens, adds, reduces, closes (whole and partial), plan replacements, price moves
(stops and targets fire, positions may be liquidated) and positions closed outside the
system; after each price move the service is told what the venue did on its own
(``handle_external_close`` for a position gone, ``refresh_plans`` for one that shrank),
as the stream consumer and reconciliation do. After every step:

- one position per symbol: at most one OPEN relation per symbol, and a symbol has an
  OPEN relation exactly when the venue holds a position in it;
- every open position has a live stop-loss, and the live stop-losses (and take-profits)
  together never cover more than the position;
- PnL conservation: cash = starting cash + the PnL recorded on every closed relation +
  the realised PnL (fees, partial closes, funding) of the positions still open;
- no intent is left SENT (each call settled its orders), and every refused request left
  nothing half done.

``SOAK_TRADING_EXAMPLES`` raises the example count (``make soak``).
"""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from machine_market import SYMBOLS, sim_engine

from qwentrade.adapters.memory import MemoryRepositories
from qwentrade.adapters.sim import SimExchange
from qwentrade.app.trading import TradingService
from qwentrade.domain.errors import (
    ExchangeRejected,
    InsufficientFunds,
    InvalidInput,
    NoPosition,
    PositionExists,
)
from qwentrade.domain.instruments import DEFAULT_INSTRUMENTS
from qwentrade.domain.venue import OrderRequest

CASH = Decimal(10000)
D = Decimal
# What a refused call may raise; anything else is a bug.
EXPECTED = (PositionExists, NoPosition, InsufficientFunds, InvalidInput, ExchangeRejected)

symbols = st.sampled_from(SYMBOLS)
percents = st.integers(1, 12).map(lambda p: D(p) / 100)


class TradingMachine(RuleBasedStateMachine):
    @initialize(seed=st.integers(0, 10_000))
    def start(self, seed):
        self.clock, self.engine = sim_engine(seed, CASH)
        self.exchange = SimExchange(self.engine)
        self.repos = MemoryRepositories()
        self.service = TradingService(self.exchange, self.repos, self.repos.config, self.clock)
        self.counter = 0
        self.done = 0

    def _try(self, call):
        try:
            out = call()
        except EXPECTED as e:
            event(f"refused: {type(e).__name__}")
            return None
        self.done += 1
        return out

    def _last(self, symbol: str) -> Decimal:
        return self.engine.last_price(symbol)

    def _settle(self) -> None:
        """What the stream consumer / reconciliation does after the venue acted alone."""
        for symbol in SYMBOLS:
            if self.service.handle_external_close(symbol) is not None:
                event("external close recorded")
            if self.service.refresh_plans(symbol):
                event("plans resized")

    # ---- service calls -------------------------------------------------------------------

    @rule(
        symbol=symbols,
        long=st.booleans(),
        margin=st.integers(20, 800),
        leverage=st.integers(1, 30),
        stop=percents,
        take=st.none() | percents,
    )
    def open(self, symbol, long, margin, leverage, stop, take):
        last = self._last(symbol)
        sign = 1 if long else -1
        self._try(
            lambda: self.service.open_position(
                symbol,
                "LONG" if long else "SHORT",
                margin,
                last * (1 - sign * stop),
                None if take is None else last * (1 + sign * take),
                leverage=leverage,
            )
        )

    @rule(symbol=symbols, margin=st.integers(10, 400), stop=st.none() | percents)
    def add(self, symbol, margin, stop):
        held = self.exchange.positions(symbol)
        sl = None
        if stop is not None and held:
            sign = 1 if held[0].size > 0 else -1
            sl = self._last(symbol) * (1 - sign * stop)
        self._try(lambda: self.service.add_position(symbol, margin, stop_loss_trigger=sl))

    @rule(symbol=symbols, margin=st.integers(1, 300))
    def reduce(self, symbol, margin):
        self._try(lambda: self.service.reduce_position(symbol, margin))

    @rule(symbol=symbols, partial=st.none() | st.integers(1, 200))
    def close(self, symbol, partial):
        self._try(lambda: self.service.close_position(symbol, partial, reason="machine"))

    @rule(symbol=symbols, stop=percents, takes=st.lists(percents, max_size=3))
    def set_plans(self, symbol, stop, takes):
        found = self.repos.relations.find(symbol, status="OPEN")
        if not found:
            return
        held = self.exchange.positions(symbol)
        sign = 1 if (held and held[0].size > 0) or found[0].side == "LONG" else -1
        last = self._last(symbol)
        share = D(1) / len(takes) if takes else D(1)
        plans = [{"kind": "stop_loss", "trigger_price": last * (1 - sign * stop), "fraction": 1}]
        plans += [
            {"kind": "take_profit", "trigger_price": last * (1 + sign * t), "fraction": share}
            for t in takes
        ]
        self._try(lambda: self.service.set_stop_loss_take_profit(found[0].client_order_id, plans))

    # ---- the world -----------------------------------------------------------------------

    @rule(minutes=st.integers(1, 24 * 60))
    def time_passes(self, minutes):
        self.clock.advance(timedelta(minutes=minutes))
        self.engine.sync()
        self._settle()

    @rule(symbol=symbols, whole=st.booleans())
    def closed_outside(self, symbol, whole):
        held = self.exchange.positions(symbol)
        if not held:
            return
        position = held[0]
        size = position.contracts
        if not whole:
            size = DEFAULT_INSTRUMENTS[symbol].round_size(size / 2)
            if size < DEFAULT_INSTRUMENTS[symbol].min_sz:
                return
        self.counter += 1
        side = "sell" if position.size > 0 else "buy"
        self.exchange.place_order(
            OrderRequest(symbol, side, size, f"byhand{self.counter}", reduce_only=True)
        )
        event("closed outside, whole" if whole else "closed outside, in part")
        self._settle()

    def teardown(self):
        if hasattr(self, "done"):
            event(f"calls done: {min(self.done, 10)}{'+' if self.done >= 10 else ''}")

    # ---- invariants ----------------------------------------------------------------------

    @invariant()
    def one_position_per_symbol_and_relations_match_the_venue(self):
        for symbol in SYMBOLS:
            relations = self.repos.relations.find(symbol, status="OPEN", limit=None)
            held = [p for p in self.exchange.positions(symbol) if p.is_open]
            assert len(relations) <= 1 and len(held) <= 1
            assert bool(relations) == bool(held), (symbol, relations, held)
            if held:
                side = "LONG" if held[0].size > 0 else "SHORT"
                assert relations[0].side == side

    @invariant()
    def every_position_is_protected_and_plans_never_exceed_it(self):
        for position in self.exchange.positions():
            size = position.contracts
            algos = self.exchange.open_algos(position.symbol)
            stops = [a.size or size for a in algos if a.sl_trigger_price is not None]
            targets = [a.size or size for a in algos if a.tp_trigger_price is not None]
            assert stops, f"{position.symbol} has no stop-loss"
            assert sum(stops) <= size and sum(targets) <= size, (size, algos)

    @invariant()
    def pnl_is_conserved(self):
        closed = [
            r.pnl
            for r in self.repos.relations.find(limit=None)
            if r.status == "CLOSED" and r.pnl is not None
        ]
        open_part = sum((p.realised_pnl for p in self.exchange.positions()), D(0))
        cash = self.exchange.balance().cash_balance
        assert cash == CASH + sum(closed, D(0)) + open_part

    @invariant()
    def no_intent_is_left_in_flight(self):
        assert self.repos.intents.find(state="SENT", limit=None) == []
        assert self.repos.intents.find(state="NEW", limit=None) == []


TradingMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("SOAK_TRADING_EXAMPLES", "100")),
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestTradingMachine = TradingMachine.TestCase
