"""Pending orders as a state machine, compared against the TRANSITIONS table."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from qwentrade.domain.errors import InvalidInput, InvalidTransition
from qwentrade.domain.pending import (
    ACTIONS,
    TERMINAL_STATES,
    TRANSITIONS,
    Crossing,
    PendingOrder,
    PendingState,
    supersede,
)
from qwentrade.domain.position import Side
from qwentrade.testing.builders import instrument, minutes

SYMBOLS = {name: instrument(name) for name in ("A-USDT-SWAP", "B-USDT-SWAP")}


class PendingMachine(RuleBasedStateMachine):
    """Orders live in a store keyed by id, as the application keeps them."""

    ids = Bundle("ids")

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[str, PendingOrder] = {}
        self.finals: dict[str, PendingOrder] = {}
        self.minute = 0.0
        self.price = D(100)
        self.count = 0

    @rule(
        target=ids,
        symbol=st.sampled_from(sorted(SYMBOLS)),
        offset=st.integers(-20, 20).filter(bool),
        ttl=st.integers(1, 90),
    )
    def create(self, symbol, offset, ttl):
        self.count += 1
        order, _ = PendingOrder.create(
            f"p{self.count}",
            SYMBOLS[symbol],
            Side.LONG if offset > 0 else Side.SHORT,
            self.price + offset,
            "1",
            3,
            minutes(self.minute),
            current_price=self.price,
            ttl=timedelta(minutes=ttl),
        )
        assert order.crossing is (Crossing.UP if offset > 0 else Crossing.DOWN)
        cancelled, events = supersede(self.store.values(), order)
        assert len(cancelled) == len(events)
        for done in cancelled:
            self.store[done.id] = done
        self.store[order.id] = order
        return order.id

    @rule(step=st.integers(-15, 15), wait=st.floats(0, 20))
    def market_moves(self, step, wait):
        self.price = max(D(1), self.price + step)
        self.minute += wait
        for order_id, order in list(self.store.items()):
            new, events = order.evaluate(self.price, minutes(self.minute))
            assert (new is order) == (events == ())
            self.store[order_id] = new

    @rule(order_id=ids, action=st.sampled_from(ACTIONS), price_step=st.integers(-30, 30))
    def apply_anything(self, order_id, action, price_step):
        order = self.store[order_id]
        now = minutes(self.minute)
        price = self.price + price_step
        allowed = (order.status, action) in TRANSITIONS
        try:
            new, events = order.apply(action, now, price=price)
        except InvalidTransition:
            guard = (action == "expire" and not order.expired(now)) or (
                action == "trigger" and order.expired(now)
            )
            assert not allowed or guard
            return
        except InvalidInput as e:
            assert allowed and action == "trigger" and e.field == "price"
            assert not order.triggers(price)
            return
        assert allowed, f"{action} from {order.status} is not in the table but was accepted"
        assert new.status is TRANSITIONS[(order.status, action)]
        assert len(events) == 1 and new.closed_at == now
        self.store[order_id] = new

    @invariant()
    def terminal_orders_never_change(self):
        for order_id, order in self.store.items():
            if order.status in TERMINAL_STATES:
                self.finals.setdefault(order_id, order)
        for order_id, frozen in self.finals.items():
            assert self.store[order_id] == frozen

    @invariant()
    def at_most_one_pending_order_per_symbol(self):
        pending = [o.symbol for o in self.store.values() if o.status is PendingState.PENDING]
        assert len(pending) == len(set(pending))

    @invariant()
    def final_states_record_why(self):
        for order in self.store.values():
            if order.status is PendingState.EXPIRED:
                assert order.closed_at >= order.expire_at
            elif order.status is PendingState.TRIGGERED:
                assert order.closed_at < order.expire_at
                if order.crossing is Crossing.UP:
                    assert order.fill_price >= order.trigger_price
                else:
                    assert order.fill_price <= order.trigger_price
            elif order.status is PendingState.CANCELLED:
                assert order.reason


PendingMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
TestPendingMachine = PendingMachine.TestCase
