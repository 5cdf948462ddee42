"""TradingService: open, add to, reduce and close positions with exchange-held stop-loss
and take-profit orders; replace the plans; record positions closed outside the system.

Units. ``amount`` is USDT of MARGIN everywhere, as in the original ("considering
leverage"):

* open/add: contracts = amount x leverage / (price x ct_val), rounded DOWN to the lot;
  ``price`` is the limit price, or the last price for a market order.
* reduce/close: the margin to release, valued at the position's average entry price:
  contracts = size x amount / margin held (rounded down to the lot); more than the
  margin held is refused (``InvalidInput("amount")``); ``close_position`` without an
  amount closes everything.

Safety (DESIGN.md "Safety rules"):

* Everything is validated before anything is written or sent (``InvalidInput`` naming
  the field, ``PositionExists`` when the symbol has a position, ``NoPosition`` when it
  has none to act on, ``SymbolLeased`` when another instance trades it).
* Each order's intent (its ``clOrdId`` derived from an idempotency key) is written
  BEFORE the request leaves, and marked SENT first; a lost answer is looked up by
  ``clOrdId`` once and otherwise left OUTCOME_UNKNOWN for reconciliation, never re-sent.
  The same ``key`` never opens twice: a repeated call returns the first call's
  ``clOrdId`` (and finishes its bookkeeping when the first call was interrupted).
* The entry carries its stop-loss/take-profit (OKX ``attachAlgoOrds``), so a filled
  entry is never unprotected. Replacing plans places the new algo orders first and
  cancels the old ones after, so the position is never without a stop-loss in between
  (for a moment it has both). A close cancels the algo orders first (the original's
  order); should the closing order then be refused, the stop-loss is placed again.
* One position per symbol: a per-symbol lock here, the OPEN relation checked before
  sending, and the database's partial unique index behind both (an OPEN relation is
  written before the entry is sent, so two writers cannot both send).

PnL comes from the venue's fills and fees: the realised PnL of the closed position
(OKX ``realizedPnl``: closing PnL + every fee + funding) from the position history, or
else the sum of ``pnl + fee`` of the position's orders. ``pnl_percentage`` is that PnL
in percent of the position's largest initial margin.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from qwentrade.app.locks import TradingLeases
from qwentrade.app.trading.checks import InputChecks
from qwentrade.app.trading.closing import PositionClosing
from qwentrade.app.trading.core import REFUSALS, ZERO, TradingRepositories, _error, _WorkingLocks
from qwentrade.app.trading.inputs import _check_key, _reason, _side, _text
from qwentrade.app.trading.views import TradingViews
from qwentrade.domain.errors import (
    DomainError,
    InvalidInput,
    NoPosition,
    OrderNotFound,
    PositionExists,
)
from qwentrade.domain.instruments import Instrument
from qwentrade.domain.orders import IntentAction, IntentState, OrderIntent
from qwentrade.domain.plans import Plan, Side
from qwentrade.domain.records import IntentRecord, RelationRecord
from qwentrade.domain.venue import Order, PositionMode
from qwentrade.ports.clock import Clock
from qwentrade.ports.config import ConfigStore
from qwentrade.ports.exchange import Exchange

log = logging.getLogger(__name__)


class TradingService(PositionClosing, InputChecks, TradingViews):
    """Opens, adds to, reduces and closes positions; see the module docstring."""

    def __init__(
        self,
        exchange: Exchange,
        repositories: TradingRepositories,
        config: ConfigStore,
        clock: Clock,
        *,
        leases: TradingLeases | None = None,
    ) -> None:
        self.exchange = exchange
        self.intents = repositories.intents
        self.relations = repositories.relations
        self.history = repositories.history
        self.config = config
        self.clock = clock
        self.leases = leases
        self._locks = _WorkingLocks()
        self._instruments: dict[str, Instrument] | None = None
        self._position_mode: PositionMode | None = None

    # ---- public API ----------------------------------------------------------------------

    def open_position(
        self,
        symbol: str,
        side: str | Side,
        amount: object,
        stop_loss_trigger: object | None = None,
        take_profit_trigger: object | None = None,
        leverage: int | None = None,
        order_type: str = "market",
        price: object | None = None,
        signal_id: int | None = None,
        *,
        key: str | None = None,
        pending_order_id: str | None = None,
    ) -> str:
        """Open a position of ``amount`` USDT margin; returns the entry's ``clOrdId``.

        The stop-loss/take-profit (optional each) are attached to the entry. With ``key``
        a repeated call returns the first call's ``clOrdId`` and sends nothing new.
        """
        key = _check_key(key)
        instrument = self._instrument(symbol)
        with self._locks(instrument.inst_id):
            if key is not None:
                done = self._repeat(key, IntentAction.OPEN)
                if done is not None:
                    return done
            side_ = _side(side)
            if signal_id is not None and (
                isinstance(signal_id, bool) or not isinstance(signal_id, int)
            ):
                raise InvalidInput("signal_id", f"must be a whole number, got {signal_id!r}")
            if pending_order_id is not None:
                _text(pending_order_id, "pending_order_id")
            entry = self._entry(
                instrument, side_, amount, leverage, order_type, price,
                stop_loss_trigger, take_profit_trigger,
            )  # fmt: skip
            self._claim(instrument.inst_id)
            now = self.clock.now()
            intent = OrderIntent(
                key or f"open:{instrument.inst_id}:{uuid.uuid4().hex}",
                instrument.inst_id,
                IntentAction.OPEN,
                side_,
                entry.contracts,
                now,
                price=entry.price,
            )
            self._require_flat(instrument.inst_id, own=intent.client_order_id)
            stored = self.intents.add(IntentRecord.from_intent(intent, now))
            relation = RelationRecord(
                client_order_id=stored.client_order_id,
                symbol=instrument.inst_id,
                side=side_.name,
                created_at=now,
                updated_at=now,
                stop_loss_price=entry.stop_loss,
                take_profit_price=entry.take_profit,
                signal_id=signal_id,
                pending_order_id=pending_order_id,
            )
            try:
                self.relations.save(relation)
            except PositionExists:
                self._move(stored, "abandon", error="the symbol already has a position")
                raise
            # only now that the symbol is ours (its OPEN relation): never re-lever another's
            try:
                self.exchange.set_leverage(instrument.inst_id, entry.leverage, self._td_mode())
            except DomainError as e:
                self._move(stored, "abandon", error=f"set leverage: {_error(e)}")
                self._fail(relation, f"set leverage refused: {_error(e)}")
                raise
            request = self._entry_request(stored, entry)
            self._send(stored, request, relation)
            return stored.client_order_id

    def add_position(
        self,
        symbol: str,
        amount: object,
        stop_loss_trigger: object | None = None,
        take_profit_trigger: object | None = None,
        *,
        key: str | None = None,
    ) -> str:
        """Add ``amount`` USDT margin to the open position at market; returns the order's
        ``clOrdId``. New stop-loss/take-profit triggers (optional) replace the plans; the
        plans are resized to the new size either way (new algo orders before old ones go).
        A repeated call with the same ``key`` finishes an interrupted first call: when its
        order filled and the plans are not yet one stop-loss (and take-profits) sized to
        the position and named by its relation, they are replaced as the first call would
        have (with this call's triggers, else the relation's)."""
        key = _check_key(key)
        instrument = self._instrument(symbol)
        with self._locks(instrument.inst_id):
            if key is not None:
                done = self._repeat(key, IntentAction.ADD)
                if done is not None:
                    self._finish_add(instrument, done, stop_loss_trigger, take_profit_trigger)
                    return done
            relation, held = self._open_position(instrument.inst_id)
            side = Side[relation.side]
            entry = self._entry(
                instrument, side, amount, held.leverage, "market", None,
                stop_loss_trigger, take_profit_trigger,
            )  # fmt: skip
            self._claim(instrument.inst_id)
            stored = self._store_intent(
                key or f"add:{instrument.inst_id}:{uuid.uuid4().hex}",
                instrument.inst_id,
                IntentAction.ADD,
                side,
                entry.contracts,
            )
            request = self._order_request(stored, entry.contracts, reduce_only=False, held=held)
            order = self._send(stored, request, None)
            relation = attrs.evolve(
                relation,
                stop_loss_price=entry.stop_loss or relation.stop_loss_price,
                take_profit_price=entry.take_profit or relation.take_profit_price,
                updated_at=self.clock.now(),
            )
            relation = self.relations.save(relation)
            if order is not None and order.filled_size > 0:
                self._reprotect(relation)
            return stored.client_order_id

    def reduce_position(self, symbol: str, amount: object, *, key: str | None = None) -> str:
        """Release ``amount`` USDT of margin (valued at the average entry) by a reduce-only
        market order; returns its ``clOrdId``. All the margin held closes the position."""
        return self._reduce(symbol, amount, "reduce", key)

    def close_position(
        self,
        symbol: str,
        amount: object | None = None,
        reason: str = "manual",
        *,
        key: str | None = None,
    ) -> str:
        """Close the position (all of it, or ``amount`` USDT of margin as a reduce);
        cancels its algo orders first; records ``close_order_id``, ``close_time``,
        ``pnl``, ``pnl_percentage`` and ``reason``. Returns the closing order's ``clOrdId``.
        """
        reason = _reason(reason)
        if amount is not None:
            return self._reduce(symbol, amount, reason, key)
        key = _check_key(key)
        instrument = self._instrument(symbol)
        with self._locks(instrument.inst_id):
            if key is not None:
                done = self._repeat(key, IntentAction.CLOSE)
                if done is not None:
                    return done
            relation = self._open_relation(instrument.inst_id)
            held = self._held(instrument.inst_id)
            if relation is None and held is None:
                raise NoPosition(instrument.inst_id, f"{instrument.inst_id} has no open position")
            self._claim(instrument.inst_id)
            if held is None:
                assert relation is not None
                self._cancel_entry(relation)
                self._finish(relation, reason, None)
                return relation.client_order_id
            if relation is None:
                relation = self._adopt(held)
            stored = self._store_intent(
                key or f"close:{relation.client_order_id}:{uuid.uuid4().hex[:12]}",
                instrument.inst_id,
                IntentAction.CLOSE,
                Side[relation.side],
                held.contracts,
            )
            if stored.state != IntentState.NEW.name:  # this relation's close was sent before
                return self._repeat(stored.intent_id, IntentAction.CLOSE) or ""
            removed = self._cancel_algos(instrument.inst_id)
            request = self._order_request(stored, held.contracts, reduce_only=True, held=held)
            try:
                order = self._send(stored, request, None)
            except REFUSALS:
                if removed:
                    self._reprotect(relation)
                raise
            if order is not None and not order.is_open:
                self._after_close(relation, order, reason)
            return stored.client_order_id

    def set_stop_loss_take_profit(
        self, cl_ord_id: str, plans: Sequence[Plan | Mapping[str, Any]]
    ) -> dict[str, Any]:
        """Replace the stop-loss/take-profit orders of the position opened by ``cl_ord_id``.

        Each plan is a :class:`Plan` or a mapping with ``kind`` (stop_loss/take_profit),
        ``trigger_price`` and ``size`` (contracts) or ``fraction`` (0-1 of the position).
        At least one stop-loss; each kind's sizes together at most the position's size.
        The new algo orders are placed first, then the old ones are canceled. Returns the
        position's plans and algo ids (:meth:`order_status` shape).
        """
        relation = self.relations.get(_text(cl_ord_id, "cl_ord_id"))
        if relation is None:
            raise InvalidInput("cl_ord_id", f"no position was opened by {cl_ord_id!r}")
        instrument = self._instrument(relation.symbol)
        with self._locks(instrument.inst_id):
            relation = self.relations.get(relation.client_order_id) or relation
            if relation.status != "OPEN":
                raise NoPosition(
                    relation.symbol, f"the position of {cl_ord_id} is {relation.status}"
                )
            held = self._held(instrument.inst_id)
            if held is None:
                raise NoPosition(relation.symbol, f"{relation.symbol} has no filled position")
            checked = self._check_plans(instrument, relation, held, plans)
            self._claim(instrument.inst_id)
            relation = self._replace_plans(relation, held, checked)
        return self.order_status(relation.client_order_id)

    def handle_external_close(
        self, symbol: str, reason: str = "external", *, at: datetime | None = None
    ) -> RelationRecord | None:
        """Record that the position of ``symbol`` went to zero outside the system: cancel
        leftover algo orders, close the relation with its PnL and ``reason``. Returns the
        closed relation, or None when there was nothing to close (no OPEN relation, or the
        venue still holds the position: then it is not closed). A ``reason`` of
        ``external`` is replaced by what the venue says closed it, when it says so: the
        position's own ``stop_loss``/``take_profit`` order, ``liquidation`` or ``adl``
        (whichever path noticed the close first, the reason is the same)."""
        reason = _reason(reason)
        instrument = self._instrument(symbol)
        with self._locks(instrument.inst_id):
            relation = self._open_relation(instrument.inst_id)
            if relation is None or self._held(instrument.inst_id) is not None:
                return None
            if relation.open_order_id is not None:
                try:
                    entry = self.exchange.get_order(
                        instrument.inst_id, client_order_id=relation.client_order_id
                    )
                except OrderNotFound:
                    entry = None
                if entry is not None and entry.is_open:
                    return None  # a resting entry, not a closed position
            self._cancel_algos(instrument.inst_id)
            return self._finish(relation, reason, None, at=at)

    def refresh_plans(self, symbol: str) -> bool:
        """Resize the protection after the venue changed the position on its own (a
        partial take-profit or stop filled, a partial liquidation): when the live algo
        orders of one kind cover more than the position, or no stop-loss is live while the
        relation has a stop price, plans at the relation's prices are placed sized to the
        position (new first, then the old ones canceled). True when it replaced them."""
        instrument = self._instrument(symbol)
        with self._locks(instrument.inst_id):
            relation = self._open_relation(instrument.inst_id)
            held = self._held(instrument.inst_id)
            if relation is None or held is None:
                return False
            algos = self.exchange.open_algos(instrument.inst_id)
            size = held.contracts
            stops = sum((a.size or size for a in algos if a.sl_trigger_price is not None), ZERO)
            targets = sum((a.size or size for a in algos if a.tp_trigger_price is not None), ZERO)
            unprotected = stops == 0 and relation.stop_loss_price is not None
            if stops <= size and targets <= size and not unprotected:
                return False
            self._claim(instrument.inst_id)
            self._reprotect(relation)
            return True

    def record_order(self, order: Order) -> None:
        """Record an order update the venue pushed (the private stream) or reported: the
        order_history row; for an order of ours, its intent acknowledged; for an entry
        that filled later (a resting limit), its relation's ``open_time``, ``pos_id`` and
        algo ids. Idempotent: the same update twice changes nothing more."""
        if not isinstance(order, Order):
            raise InvalidInput("order", f"expected an Order, got {type(order).__name__}")
        stored = self.intents.by_client_order_id(order.client_order_id)
        if stored is None:
            self.history.upsert_orders([order.to_record()])
            return
        with self._locks(stored.symbol):
            stored = self.intents.get(stored.intent_id) or stored
            if stored.state not in (
                IntentState.SENT.name,
                IntentState.OUTCOME_UNKNOWN.name,
                IntentState.ACKNOWLEDGED.name,
            ):  # NEW (cannot have an order), REJECTED, NOT_FOUND, ABANDONED: history only
                self.history.upsert_orders([order.to_record()])
                log.warning("order %s exists though its intent is %s", order.order_id, stored.state)
                return
            self._record(stored, order, self.relations.get(stored.client_order_id))

    def resolve_intent(self, cl_ord_id: str) -> IntentRecord | None:
        """Settle an unresolved intent by looking its order up by ``clOrdId`` (never
        re-sending): found -> ACKNOWLEDGED and recorded; a SENT one not found -> left
        OUTCOME_UNKNOWN for reconciliation; NEW ones are left alone. A stop-loss or
        take-profit intent is looked up among the symbol's live algo orders by its algo
        client order id: found -> ACKNOWLEDGED with the algo id; not live -> left as it
        is (it may have triggered or been canceled since: reconciliation settles it and
        its stop-loss guard covers the position). Returns the intent."""
        stored = self.intents.by_client_order_id(_text(cl_ord_id, "cl_ord_id"))
        if stored is None:
            return None
        with self._locks(stored.symbol):
            stored = self.intents.get(stored.intent_id) or stored
            if stored.state not in (IntentState.SENT.name, IntentState.OUTCOME_UNKNOWN.name):
                return stored
            if IntentAction[stored.action].is_algo:
                live = self._live_algo(stored)
                if live is not None:
                    self._move(stored, "acknowledge", order_id=live.algo_id)
                return self.intents.get(stored.intent_id)
            order = self._lookup(stored)
            if order is not None:
                self._record(stored, order, self.relations.get(stored.client_order_id))
            return self.intents.get(stored.intent_id)

    def working_symbols(self) -> frozenset[str]:
        """The symbols an operation of this service is working on right now (it holds
        the symbol's lock): their unresolved intents are in flight here, whatever their
        age, and reconciliation leaves them alone this round."""
        return self._locks.working()
