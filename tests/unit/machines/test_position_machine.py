"""Position lifecycle as a state machine: invariants hold after any sequence of operations."""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from qwentrade.domain.errors import InvalidInput, InvalidTransition
from qwentrade.domain.position import TRANSITIONS, Plan, PlanKind, Position, Side
from qwentrade.testing.builders import instrument, minutes

INST = instrument(ct_val="0.1", lot_sz="0.1", tick_sz="0.5", max_lever=50)
LOTS = st.integers(1, 40)
TICKS = st.integers(100, 400)  # prices 50 .. 200 in 0.5 ticks
FEES = st.decimals(D("-0.05"), D("1"), places=3)


class PositionMachine(RuleBasedStateMachine):
    """A model tracks every fill; the aggregate must agree with it exactly."""

    def __init__(self) -> None:
        super().__init__()
        self.position: Position | None = None
        self.minute = 0
        self.pnl_known = True

    def _now(self):
        self.minute += 1
        return minutes(self.minute)

    def _start(self, side: Side, lots: int, ticks: int, fee: D, leverage: int) -> None:
        price, size = D(ticks) / 2, D(lots) / 10
        self.position, events = Position.open(INST, side, size, price, leverage, self._now(), fee)
        self.entries, self.exits, self.fees = price * size * INST.ct_val, D(0), fee
        self.pnl_known = True
        assert events[0].size == size

    @precondition(lambda self: self.position is None or not self.position.is_open)
    @rule(
        side=st.sampled_from(list(Side)),
        lots=LOTS,
        ticks=TICKS,
        fee=FEES,
        leverage=st.integers(1, 50),
    )
    def open(self, side, lots, ticks, fee, leverage):
        self._start(side, lots, ticks, fee, leverage)

    @precondition(lambda self: self.position is not None and self.position.is_open)
    @rule(lots=LOTS, ticks=TICKS, fee=FEES)
    def add(self, lots, ticks, fee):
        price, size = D(ticks) / 2, D(lots) / 10
        self.position, _ = self.position.add(size, price, self._now(), fee)
        self.entries += price * size * INST.ct_val
        self.fees += fee

    @precondition(lambda self: self.position is not None and self.position.is_open)
    @rule(share=st.floats(0.0, 1.0), ticks=TICKS, fee=FEES)
    def reduce(self, share, ticks, fee):
        held_lots = int(self.position.size * 10)
        lots = max(1, round(held_lots * share))
        price, size = D(ticks) / 2, D(lots) / 10
        self.position, events = self.position.reduce(size, price, self._now(), fee)
        self.exits += price * size * INST.ct_val
        self.fees += fee
        assert events[0].size == size

    @precondition(lambda self: self.position is not None and self.position.is_open)
    @rule(extra=st.integers(1, 10), ticks=TICKS)
    def reduce_too_much_is_refused(self, extra, ticks):
        before = self.position
        try:
            before.reduce(before.size + D(extra) / 10, D(ticks) / 2, self._now())
        except InvalidInput as e:
            assert e.field == "size"
        else:
            raise AssertionError("reducing more than held was accepted")
        assert self.position is before

    @precondition(lambda self: self.position is not None and self.position.is_open)
    @rule(ticks=TICKS, fee=FEES)
    def close(self, ticks, fee):
        size = self.position.size
        self.position, _ = self.position.close(D(ticks) / 2, self._now(), fee)
        self.exits += D(ticks) / 2 * size * INST.ct_val
        self.fees += fee

    @precondition(lambda self: self.position is not None and self.position.is_open)
    @rule(known=st.booleans(), ticks=TICKS)
    def close_externally(self, known, ticks):
        size = self.position.size
        if known:
            self.position, _ = self.position.close_externally(self._now(), D(ticks) / 2)
            self.exits += D(ticks) / 2 * size * INST.ct_val
        else:
            self.position, _ = self.position.close_externally(self._now(), reason="liquidation")
            self.pnl_known = False

    @precondition(lambda self: self.position is not None and self.position.is_open)
    @rule(
        plans=st.lists(
            st.tuples(
                st.sampled_from(list(PlanKind)),
                st.integers(-2, 60),  # ticks away from the entry, on the protective side
                st.floats(0.0, 0.7),  # share of the position
            ),
            min_size=0,
            max_size=4,
        )
    )
    def set_plans(self, plans):
        before = self.position
        entry, lots = before.average_price, int(before.size * 10)
        wanted = []
        for kind, ticks, share in plans:
            below = (kind is PlanKind.STOP_LOSS) == (before.side is Side.LONG)
            price = entry - D(ticks) / 2 if below else entry + D(ticks) / 2
            wanted.append(Plan(kind, max(price, D("0.5")), D(max(1, round(lots * share))) / 10))
        try:
            self.position, _ = before.set_plans(wanted, self._now())
        except InvalidInput as e:
            assert e.field == "plans" or e.field.startswith("plans[")
            assert self.position is before
        else:
            assert len(self.position.plans) == len(wanted)

    @precondition(lambda self: self.position is not None and not self.position.is_open)
    @rule(action=st.sampled_from(sorted({a for _, a in TRANSITIONS})))
    def closed_positions_refuse_everything(self, action):
        calls = {
            "add": lambda p: p.add("1", "100", self._now()),
            "reduce": lambda p: p.reduce("1", "100", self._now()),
            "close": lambda p: p.close("100", self._now()),
            "close_externally": lambda p: p.close_externally(self._now()),
            "set_plans": lambda p: p.set_plans((), self._now()),
            "set_leverage": lambda p: p.set_leverage(2, self._now()),
        }
        try:
            calls[action](self.position)
        except InvalidTransition:
            pass
        else:
            raise AssertionError(f"{action} was accepted on a closed position")

    @invariant()
    def size_is_never_negative_and_plans_never_exceed_it(self):
        if self.position is None:
            return
        assert self.position.size >= 0
        for kind in PlanKind:
            assert self.position.planned_size(kind) <= self.position.size
        if not self.position.is_open:
            assert self.position.size == 0 and self.position.plans == ()

    @invariant()
    def pnl_is_conserved(self):
        position = self.position
        if position is None or not self.pnl_known:
            return
        sign = position.side.sign
        mark = D("123.5")
        held = mark * position.size * INST.ct_val
        expected = sign * (self.exits + held - self.entries) - self.fees
        assert position.realized_pnl + position.unrealized_pnl(mark) == expected
        if not position.is_open:
            assert position.realized_pnl == sign * (self.exits - self.entries) - self.fees

    @invariant()
    def plans_are_whole_lots_on_the_tick_grid(self):
        if self.position is None:
            return
        for plan in self.position.plans:
            assert plan.size > 0 and plan.size % INST.lot_sz == 0
            assert plan.trigger_price % INST.tick_sz == 0


PositionMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestPositionMachine = PositionMachine.TestCase
