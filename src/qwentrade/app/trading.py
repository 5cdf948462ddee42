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

import contextlib
import logging
import threading
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

import attrs

from qwentrade.app.locks import SymbolLocks, TradingLeases
from qwentrade.domain.errors import (
    AuthFailed,
    DomainError,
    ExchangeRejected,
    InsufficientFunds,
    InvalidInput,
    NoPosition,
    OrderNotFound,
    OutcomeUnknown,
    PositionExists,
)
from qwentrade.domain.instruments import Instrument
from qwentrade.domain.market import Timeframe, TimeRange
from qwentrade.domain.numbers import to_decimal
from qwentrade.domain.orders import IntentAction, IntentState, OrderIntent
from qwentrade.domain.plans import Plan, PlanKind, Side, normalize_price
from qwentrade.domain.position import Position
from qwentrade.domain.records import (
    FULL_CLOSE_TYPES,
    IntentRecord,
    OrderRecord,
    PositionRecord,
    RelationRecord,
)
from qwentrade.domain.venue import (
    AlgoOrder,
    AlgoRequest,
    AlgoType,
    AttachedAlgo,
    ExchangePosition,
    Order,
    OrderRequest,
    OrderType,
    PositionMode,
    PosSide,
    TdMode,
)
from qwentrade.domain.venue import Side as OrderSide
from qwentrade.ports.clock import Clock
from qwentrade.ports.config import ConfigStore
from qwentrade.ports.exchange import Exchange
from qwentrade.ports.repositories import HistoryRepository, IntentRepository, RelationRepository

log = logging.getLogger(__name__)

DEFAULT_LEVERAGE = "TRADING_DEFAULT_LEVERAGE"
MARGIN_MODE = "TRADING_MARGIN_MODE"
ORDER_TYPES = ("market", "limit")
# Venue answers that prove an order was refused (nothing placed): the intent is REJECTED.
REFUSALS = (ExchangeRejected, InsufficientFunds, AuthFailed, InvalidInput)
ZERO = Decimal(0)
HUNDRED = Decimal(100)
MAX_REASON = 200
EXTERNAL = "external"
# OKX order ``source`` of the order a triggered TP/SL algo order sent (the simulator's too)
ALGO_SOURCE = "7"
# OKX position-history close types that say who closed it (3 liquidation, 5 ADL)
CLOSE_TYPE_REASONS = {3: "liquidation", 5: "adl"}


class TradingRepositories(Protocol):
    """What the service stores: intents, relations and the order history."""

    @property
    def intents(self) -> IntentRepository: ...

    @property
    def relations(self) -> RelationRepository: ...

    @property
    def history(self) -> HistoryRepository: ...


@attrs.frozen
class _Entry:
    """A validated open/add request."""

    instrument: Instrument
    side: Side
    contracts: Decimal
    leverage: int
    reference: Decimal
    order_type: OrderType
    price: Decimal | None
    stop_loss: Decimal | None
    take_profit: Decimal | None


class _WorkingLocks:
    """The per-symbol locks, telling which symbols an operation holds right now."""

    def __init__(self) -> None:
        self._locks = SymbolLocks()
        self._held: Counter[str] = Counter()
        self._guard = threading.Lock()

    @contextlib.contextmanager
    def __call__(self, symbol: str) -> Iterator[None]:
        with self._locks(symbol):
            with self._guard:
                self._held[symbol] += 1
            try:
                yield
            finally:
                with self._guard:
                    self._held[symbol] -= 1
                    if self._held[symbol] <= 0:
                        del self._held[symbol]

    def working(self) -> frozenset[str]:
        with self._guard:
            return frozenset(self._held)


class TradingService:
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

    def order_status(self, cl_ord_id: str) -> dict[str, Any]:
        """The intent, the venue's order and the relation of ``cl_ord_id`` as plain values."""
        stored = self.intents.by_client_order_id(_text(cl_ord_id, "cl_ord_id"))
        relation = self.relations.get(cl_ord_id)
        if stored is None and relation is None:
            raise InvalidInput("cl_ord_id", f"no order was placed with {cl_ord_id!r}")
        symbol = stored.symbol if stored is not None else relation.symbol  # type: ignore[union-attr]
        out: dict[str, Any] = {"cl_ord_id": cl_ord_id, "symbol": symbol}
        if stored is not None:
            out["intent"] = {
                "action": stored.action,
                "side": stored.side,
                "size": str(stored.size),
                "state": stored.state,
                "order_id": stored.order_id,
                "error": stored.error,
            }
        out["order"] = None
        if stored is None or stored.state == IntentState.ACKNOWLEDGED.name:
            found = self.history.order_by_client_id(cl_ord_id)
            if found is not None:
                out["order"] = _plain_order(found)
        if relation is not None:
            out["relation"] = _plain(attrs.asdict(relation))
            if relation.status == "OPEN":
                out["plans"] = [_plain_algo(a) for a in self.exchange.open_algos(symbol)]
        return out

    def current_positions(self, symbol: str | None = None) -> list[dict[str, Any]]:
        """Open positions on the venue with their relation and live algo orders."""
        if symbol is not None:
            symbol = self._instrument(symbol).inst_id
        out = []
        for held in self.exchange.positions(symbol):
            if not held.is_open:
                continue
            relation = self._open_relation(held.symbol)
            algos = self.exchange.open_algos(held.symbol)
            out.append(
                {
                    "symbol": held.symbol,
                    "side": "LONG" if held.direction is PosSide.LONG else "SHORT",
                    "size": str(held.contracts),
                    "avg_price": _str(held.avg_price),
                    "mark_price": str(held.mark_price),
                    "unrealised_pnl": str(held.unrealised_pnl),
                    "leverage": held.leverage,
                    "margin": str(held.margin),
                    "margin_mode": held.margin_mode.value,
                    "pos_id": held.pos_id,
                    "cl_ord_id": relation.client_order_id if relation else None,
                    "signal_id": relation.signal_id if relation else None,
                    "pending_order_id": relation.pending_order_id if relation else None,
                    "plans": [_plain_algo(a) for a in algos],
                }
            )
        return out

    # ---- validation ----------------------------------------------------------------------

    def _instrument(self, symbol: object) -> Instrument:
        text = _text(symbol, "symbol").strip().upper()
        if self._instruments is None or text not in self._instruments:
            self._instruments = {i.inst_id: i for i in self.exchange.instruments()}
        found = self._instruments.get(text)
        if found is None:
            known = ", ".join(sorted(self._instruments)[:10])
            raise InvalidInput("symbol", f"{symbol!r} is not a tradable swap; e.g. {known}")
        return found

    def _entry(
        self,
        instrument: Instrument,
        side: Side,
        amount: object,
        leverage: object,
        order_type: object,
        price: object,
        stop_loss: object,
        take_profit: object,
    ) -> _Entry:
        margin = _positive(amount, "amount")
        if leverage is None:
            leverage = min(int(self.config.get(DEFAULT_LEVERAGE)), instrument.max_lever)
        lever = instrument.check_leverage(leverage)  # type: ignore[arg-type]
        if order_type not in ORDER_TYPES:
            raise InvalidInput("order_type", f"{order_type!r} is not market or limit")
        kind = OrderType(order_type)
        limit = None
        if kind is OrderType.LIMIT:
            if price is None:
                raise InvalidInput("price", "a limit order needs its price")
            limit = normalize_price(instrument, _positive(price, "price"), "price")
            reference = limit
        elif price is not None:
            reference = normalize_price(instrument, _positive(price, "price"), "price")
        else:
            reference = self._last_price(instrument.inst_id)
        contracts = instrument.round_size(margin * lever / (reference * instrument.ct_val))
        if contracts < instrument.min_sz:
            need = instrument.min_sz * reference * instrument.ct_val / lever
            raise InvalidInput(
                "amount",
                f"{margin} USDT at {lever}x buys {contracts} contracts of "
                f"{instrument.inst_id} at {reference}, below the minimum {instrument.min_sz}: "
                f"give at least {need.quantize(Decimal('0.01'))} USDT",
            )
        sl = _trigger(instrument, stop_loss, "stop_loss_trigger")
        tp = _trigger(instrument, take_profit, "take_profit_trigger")
        below, above = ("stop_loss_trigger", sl), ("take_profit_trigger", tp)
        if side is Side.SHORT:
            below, above = above, below
        if below[1] is not None and below[1] >= reference:
            raise InvalidInput(
                below[0], f"{below[1]} must be below the entry {reference} for a {side.name}"
            )
        if above[1] is not None and above[1] <= reference:
            raise InvalidInput(
                above[0], f"{above[1]} must be above the entry {reference} for a {side.name}"
            )
        return _Entry(instrument, side, contracts, lever, reference, kind, limit, sl, tp)

    def _check_plans(
        self,
        instrument: Instrument,
        relation: RelationRecord,
        held: ExchangePosition,
        plans: object,
    ) -> tuple[Plan, ...]:
        if isinstance(plans, (str, bytes, Mapping)) or not isinstance(plans, Iterable):
            raise InvalidInput("plans", "give a list of plans (kind, trigger_price, size)")
        given = [self._plan(instrument, held, i, p) for i, p in enumerate(plans)]
        if not any(p.kind is PlanKind.STOP_LOSS for p in given):
            raise InvalidInput(
                "plans", "include at least one stop_loss plan: a position is never unprotected"
            )
        position = self._position(instrument, relation, held)
        checked, _ = position.set_plans(given, self.clock.now())
        last = self._last_price(instrument.inst_id)
        for i, plan in enumerate(checked.plans):
            stop = plan.kind is PlanKind.STOP_LOSS
            below = stop if position.side is Side.LONG else not stop
            if (plan.trigger_price >= last) if below else (plan.trigger_price <= last):
                where = "below" if below else "above"
                raise InvalidInput(
                    f"plans[{i}].trigger_price",
                    f"{plan.kind.value} {plan.trigger_price} must be {where} the last price "
                    f"{last}, or it would fire at once",
                )
        return checked.plans

    @staticmethod
    def _plan(instrument: Instrument, held: ExchangePosition, index: int, plan: object) -> Plan:
        field = f"plans[{index}]"
        if isinstance(plan, Plan):
            return plan
        if not isinstance(plan, Mapping):
            raise InvalidInput(field, f"expected a Plan or a mapping, got {plan!r}")
        kinds = {k.value: k for k in PlanKind}
        kind = kinds.get(str(plan.get("kind", "")).strip().lower())
        if kind is None:
            raise InvalidInput(f"{field}.kind", f"{plan.get('kind')!r} is not one of {list(kinds)}")
        if "trigger_price" not in plan:
            raise InvalidInput(f"{field}.trigger_price", "is required")
        price = _positive(plan["trigger_price"], f"{field}.trigger_price")
        size, fraction = plan.get("size"), plan.get("fraction")
        if (size is None) == (fraction is None):
            raise InvalidInput(f"{field}.size", "give exactly one of size (contracts) or fraction")
        if fraction is not None:
            share = _positive(fraction, f"{field}.fraction")
            if share > 1:
                raise InvalidInput(f"{field}.fraction", f"must be at most 1, got {share}")
            size = instrument.round_size(held.contracts * share)
            if size <= 0:
                raise InvalidInput(f"{field}.fraction", f"{share} of {held.contracts} rounds to 0")
        return Plan(kind, price, _positive(size, f"{field}.size"))

    def _require_flat(self, symbol: str, own: str) -> None:
        relation = self._open_relation(symbol)
        if relation is not None and relation.client_order_id == own:
            return  # this very entry, decided before an interruption and never sent
        if relation is not None:
            raise PositionExists(
                symbol,
                f"{symbol} already has a position (opened by {relation.client_order_id}): "
                "one position per symbol; add to it or close it first",
            )
        if self._held(symbol) is not None:
            raise PositionExists(
                symbol,
                f"the venue holds a {symbol} position this database does not know: "
                "reconcile (it is adopted) or close it first",
            )

    def _open_position(self, symbol: str) -> tuple[RelationRecord, ExchangePosition]:
        relation = self._open_relation(symbol)
        held = self._held(symbol)
        if held is None:
            raise NoPosition(symbol, f"{symbol} has no open position")
        if relation is None:
            relation = self._adopt(held)
        return relation, held

    # ---- venue views ---------------------------------------------------------------------

    def _claim(self, symbol: str) -> None:
        if self.leases is not None:
            self.leases.claim(symbol)

    def _td_mode(self) -> TdMode:
        return TdMode(str(self.config.get(MARGIN_MODE)))

    def _pos_side(self, side: Side) -> PosSide:
        if self._position_mode is None:
            self._position_mode = self.exchange.position_mode()
        if self._position_mode is PositionMode.NET_MODE:
            return PosSide.NET
        return PosSide(side.value)

    def _last_price(self, symbol: str) -> Decimal:
        candles = self.exchange.candles(symbol, Timeframe.M15, limit=1)
        if not candles:
            raise InvalidInput("price", f"no last price of {symbol} is known: give a price")
        return to_decimal(candles[-1].close, "price")

    def _held(self, symbol: str) -> ExchangePosition | None:
        return next((p for p in self.exchange.positions(symbol) if p.is_open), None)

    def _open_relation(self, symbol: str) -> RelationRecord | None:
        found = self.relations.find(symbol, status="OPEN", limit=1)
        return found[0] if found else None

    def _position(
        self, instrument: Instrument, relation: RelationRecord, held: ExchangePosition
    ) -> Position:
        """The domain position of what the venue holds (for plan checks)."""
        avg = held.avg_price if held.avg_price is not None else held.mark_price
        position, _ = Position.open(
            instrument,
            Side[relation.side],
            held.contracts,
            avg,
            max(1, min(held.leverage, instrument.max_lever)),
            self.clock.now(),
        )
        exact = avg * held.contracts * instrument.ct_val
        return attrs.evolve(position, entry_value=exact)

    def _adopt(self, held: ExchangePosition) -> RelationRecord:
        """A relation for a venue position the database does not know (reported)."""
        now = self.clock.now()
        side = "LONG" if held.direction is PosSide.LONG else "SHORT"
        intent = OrderIntent(
            f"adopt:{held.symbol}:{held.pos_id}:{held.created_at.isoformat()}",
            held.symbol,
            IntentAction.OPEN,
            Side[side],
            held.contracts,
            now,
            state=IntentState.ACKNOWLEDGED,
        )
        log.warning("adopting a %s %s position the database did not know", side, held.symbol)
        return self.relations.save(
            RelationRecord(
                client_order_id=intent.client_order_id,
                symbol=held.symbol,
                side=side,
                created_at=held.created_at,
                updated_at=now,
                open_time=held.created_at,
                pos_id=held.pos_id,
                close_reason="",
            )
        )

    # ---- sending -------------------------------------------------------------------------

    def _entry_request(self, stored: IntentRecord, entry: _Entry) -> OrderRequest:
        attached: tuple[AttachedAlgo, ...] = ()
        if entry.stop_loss is not None or entry.take_profit is not None:
            attached = (
                AttachedAlgo(
                    sl_trigger_price=entry.stop_loss,
                    tp_trigger_price=entry.take_profit,
                    attach_algo_client_order_id=_algo_client_id(stored, "p"),
                ),
            )
        return OrderRequest(
            symbol=stored.symbol,
            side=stored.to_intent().order_side,
            size=stored.size,
            client_order_id=stored.client_order_id,
            order_type=entry.order_type,
            price=entry.price,
            pos_side=self._pos_side(Side[stored.side]),
            td_mode=self._td_mode(),
            attached_algos=attached,
        )

    def _order_request(
        self, stored: IntentRecord, size: Decimal, reduce_only: bool, held: ExchangePosition
    ) -> OrderRequest:
        """An order on the position ``held``, in its margin mode (whatever the config says
        for new positions now)."""
        pos_side = self._pos_side(Side[stored.side])
        return OrderRequest(
            symbol=stored.symbol,
            side=stored.to_intent().order_side,
            size=size,
            client_order_id=stored.client_order_id,
            pos_side=pos_side,
            td_mode=held.margin_mode,
            reduce_only=reduce_only and pos_side is PosSide.NET,
        )

    def _send(
        self, stored: IntentRecord, request: OrderRequest, relation: RelationRecord | None
    ) -> Order | None:
        """Mark SENT, place, and record the outcome (see the module docstring)."""
        sent = self._move(stored, "send")
        try:
            order = self.exchange.place_order(request)
        except REFUSALS as e:
            self._move(sent, "reject", error=_error(e))
            if relation is not None:
                self._fail(relation, f"rejected: {_error(e)}")
            raise
        except DomainError as e:
            lost = self._move(sent, "answer_lost", error=_error(e))
            order = self._lookup(lost)
            if order is None:
                raise OutcomeUnknown(
                    f"the answer to {stored.client_order_id} ({stored.action.lower()} "
                    f"{stored.symbol}) was lost ({_error(e)}); it is not sent again: "
                    "reconciliation looks it up by clOrdId"
                ) from e
            sent = lost
        self._record(sent, order, relation)
        return order

    def _lookup(self, stored: IntentRecord) -> Order | None:
        """The order of ``stored`` by its clOrdId (None when not found or not answered)."""
        try:
            return self.exchange.get_order(stored.symbol, client_order_id=stored.client_order_id)
        except OrderNotFound:
            if stored.state == IntentState.SENT.name:
                self._move(stored, "answer_lost", error="not found right after sending")
            return None
        except DomainError as e:
            log.warning("looking up %s failed: %s", stored.client_order_id, _error(e))
            return None

    def _record(self, stored: IntentRecord, order: Order, relation: RelationRecord | None) -> None:
        # the order row first: what follows (the acknowledged intent, the opened relation)
        # is told with its fill (the notifying repositories read it); a crash in between
        # leaves the intent SENT, settled by its lookup, and the upsert is idempotent
        self.history.upsert_orders([order.to_record()])
        if stored.state != IntentState.ACKNOWLEDGED.name:
            self._move(stored, "acknowledge", order_id=order.order_id)
        if relation is None or stored.action != IntentAction.OPEN.name:
            return
        relation = self.relations.get(relation.client_order_id) or relation
        if relation.status != "OPEN":
            return
        changes: dict[str, Any] = {"open_order_id": order.order_id, "updated_at": self.clock.now()}
        if order.filled_size > 0:
            changes["open_time"] = relation.open_time or order.updated_at
            held = self._held(order.symbol)
            if held is not None:
                changes["pos_id"] = held.pos_id
            algo = self._attached_algo(stored, order)
            if algo is not None:
                if algo.sl_trigger_price is not None:
                    changes["stop_loss_algo_id"] = algo.algo_id
                if algo.tp_trigger_price is not None:
                    changes["take_profit_algo_id"] = algo.algo_id
        self.relations.save(attrs.evolve(relation, **changes))

    def _live_algo(self, stored: IntentRecord) -> AlgoOrder | None:
        """The live algo order placed for the algo intent ``stored`` (None when none is
        live, or the venue did not answer)."""
        try:
            live = self.exchange.open_algos(stored.symbol)
        except DomainError as e:
            log.warning("looking up %s failed: %s", stored.client_order_id, _error(e))
            return None
        return next((a for a in live if a.algo_client_order_id == stored.client_order_id), None)

    def _attached_algo(self, stored: IntentRecord, order: Order) -> AlgoOrder | None:
        wanted = _algo_client_id(stored, "p")
        for algo in self.exchange.open_algos(order.symbol):
            if algo.algo_client_order_id == wanted or algo.algo_id in order.attached_algo_ids:
                return algo
        return None

    def _move(self, stored: IntentRecord, action: str, **kw: str) -> IntentRecord:
        moved = IntentRecord.from_intent(stored.to_intent().apply(action, **kw), self.clock.now())
        if not self.intents.update(moved, stored.state):
            current = self.intents.get(stored.intent_id)
            raise OutcomeUnknown(
                f"intent {stored.intent_id!r} changed under us (now "
                f"{current.state if current else 'gone'}): another worker handles it"
            )
        return moved

    def _store_intent(
        self, intent_id: str, symbol: str, action: IntentAction, side: Side, contracts: Decimal
    ) -> IntentRecord:
        """Store a new market order's intent (NEW), stamped now; an earlier one with the
        same id is returned as it is (IntentRepository.add is idempotent)."""
        now = self.clock.now()
        intent = OrderIntent(intent_id, symbol, action, side, contracts, now)
        return self.intents.add(IntentRecord.from_intent(intent, now))

    def _repeat(self, key: str, action: IntentAction) -> str | None:
        """The clOrdId of an earlier call with ``key``; finishes what it left undone.

        NEW (never sent: a crash before sending): None, and the caller goes on with the
        same intent (same clOrdId; sending it is safe, nothing was sent). SENT or
        OUTCOME_UNKNOWN: looked up once, recorded when found, never re-sent. Anything
        else: its clOrdId as it is."""
        stored = self.intents.get(key)
        if stored is None:
            return None
        if stored.action != action.name:
            raise InvalidInput(
                "key", f"{key!r} was used for a {stored.action.lower()} order, not {action.value}"
            )
        if stored.state == IntentState.NEW.name:
            return None  # never sent: the caller goes on with the same intent and clOrdId
        if stored.state in (IntentState.SENT.name, IntentState.OUTCOME_UNKNOWN.name):
            order = self._lookup(stored)
            if order is not None:
                self._record(
                    self.intents.get(stored.intent_id) or stored,
                    order,
                    self.relations.get(stored.client_order_id),
                )
        return stored.client_order_id

    # ---- protection ----------------------------------------------------------------------

    def _finish_add(
        self, instrument: Instrument, cl_ord_id: str, stop_loss: object, take_profit: object
    ) -> None:
        """The plan replacement of an add whose first call was cut short (see add_position)."""
        order = self.history.order_by_client_id(cl_ord_id)
        if order is None or order.filled_amount <= 0:
            return
        relation = self._open_relation(instrument.inst_id)
        held = self._held(instrument.inst_id)
        if relation is None or held is None or self._plans_current(relation, held):
            return
        stop = _trigger(instrument, stop_loss, "stop_loss_trigger")
        target = _trigger(instrument, take_profit, "take_profit_trigger")
        relation = self.relations.save(
            attrs.evolve(
                relation,
                stop_loss_price=stop or relation.stop_loss_price,
                take_profit_price=target or relation.take_profit_price,
                updated_at=self.clock.now(),
            )
        )
        self._claim(instrument.inst_id)
        self._reprotect(relation)

    def _plans_current(self, relation: RelationRecord, held: ExchangePosition) -> bool:
        """True when the live algo orders are what a finished plan replacement leaves:
        one stop-loss, named by the relation, at its price, covering the whole position,
        and every take-profit named by it and at most the position's size."""
        size = held.contracts
        algos = self.exchange.open_algos(relation.symbol)
        stops = [a for a in algos if a.sl_trigger_price is not None]
        takes = [a for a in algos if a.tp_trigger_price is not None]
        if relation.stop_loss_price is not None:
            if len(stops) != 1:
                return False
            [stop] = stops
            if (
                stop.algo_id != relation.stop_loss_algo_id
                or stop.sl_trigger_price != relation.stop_loss_price
                or (stop.size is not None and stop.size != size)
            ):
                return False
        named = {relation.stop_loss_algo_id, relation.take_profit_algo_id}
        return all(a.algo_id in named and (a.size is None or a.size <= size) for a in takes)

    def _cancel_algos(self, symbol: str, keep: Iterable[str] = ()) -> list[AlgoOrder]:
        """Cancel the live algo orders of ``symbol`` but ``keep``; the canceled ones."""
        kept = set(keep)
        live = [a for a in self.exchange.open_algos(symbol) if a.algo_id not in kept]
        canceled = []
        for algo in live:
            try:
                canceled.extend(self.exchange.cancel_algos([(symbol, algo.algo_id)]))
            except OrderNotFound:  # triggered or canceled meanwhile
                continue
        return canceled

    def _reprotect(self, relation: RelationRecord) -> None:
        """Plans at the relation's prices, sized to what the venue holds now.

        A take-profit the price has already passed is dropped (it would be refused, and
        it was reached); when the stop-loss price has been passed the live orders are left
        as they are (the venue's stop is firing) and a warning is logged."""
        held = self._held(relation.symbol)
        if held is None:
            return
        last = self._last_price(relation.symbol)
        sign = Side[relation.side].sign
        plans = []
        stop, target = relation.stop_loss_price, relation.take_profit_price
        if stop is not None:
            if sign * (last - stop) <= 0:
                log.warning(
                    "%s: the stop-loss %s has been passed (last %s); orders left as they are",
                    relation.symbol, stop, last,
                )  # fmt: skip
                return
            plans.append(Plan.stop_loss(stop, held.contracts))
        if target is not None and sign * (target - last) > 0:
            plans.append(Plan.take_profit(target, held.contracts))
        if plans:
            self._replace_plans(relation, held, tuple(plans))

    def _replace_plans(
        self, relation: RelationRecord, held: ExchangePosition, plans: tuple[Plan, ...]
    ) -> RelationRecord:
        """Place ``plans`` (new first), then cancel every other live algo of the symbol."""
        side = Side[relation.side]
        now = self.clock.now()
        batch = uuid.uuid4().hex[:12]
        placed: list[tuple[Plan, AlgoOrder]] = []
        for i, plan in enumerate(plans):
            action = (
                IntentAction.STOP_LOSS
                if plan.kind is PlanKind.STOP_LOSS
                else (IntentAction.TAKE_PROFIT)
            )
            intent = OrderIntent(
                f"plan:{relation.client_order_id}:{batch}:{i}",
                relation.symbol,
                action,
                side,
                plan.size,
                now,
                trigger_price=plan.trigger_price,
            )
            stored = self._move(self.intents.add(IntentRecord.from_intent(intent, now)), "send")
            stop = plan.kind is PlanKind.STOP_LOSS
            pos_side = self._pos_side(side)
            request = AlgoRequest(
                symbol=relation.symbol,
                side=OrderSide.SELL if side is Side.LONG else OrderSide.BUY,
                algo_type=AlgoType.CONDITIONAL,
                size=plan.size,
                sl_trigger_price=plan.trigger_price if stop else None,
                tp_trigger_price=None if stop else plan.trigger_price,
                pos_side=pos_side,
                td_mode=held.margin_mode,
                reduce_only=pos_side is PosSide.NET,
                algo_client_order_id=stored.client_order_id,
            )
            try:
                algo = self.exchange.place_algo(request)
            except REFUSALS as e:
                self._move(stored, "reject", error=_error(e))
                raise
            except DomainError as e:
                self._move(stored, "answer_lost", error=_error(e))
                raise OutcomeUnknown(
                    f"the answer to the {plan.kind.value} order {stored.client_order_id} was "
                    "lost; the old orders are kept; reconciliation looks it up"
                ) from e
            self._move(stored, "acknowledge", order_id=algo.algo_id)
            placed.append((plan, algo))
        self._cancel_algos(relation.symbol, keep=[a.algo_id for _, a in placed])
        stops = [(p, a) for p, a in placed if p.kind is PlanKind.STOP_LOSS]
        targets = [(p, a) for p, a in placed if p.kind is PlanKind.TAKE_PROFIT]
        relation = self.relations.get(relation.client_order_id) or relation
        return self.relations.save(
            attrs.evolve(
                relation,
                stop_loss_algo_id=stops[0][1].algo_id if stops else None,
                stop_loss_price=stops[0][0].trigger_price if stops else None,
                take_profit_algo_id=targets[0][1].algo_id if targets else None,
                take_profit_price=targets[0][0].trigger_price if targets else None,
                updated_at=self.clock.now(),
            )
        )

    # ---- reduce and close ----------------------------------------------------------------

    def _reduce(self, symbol: str, amount: object, reason: str, key: str | None) -> str:
        key = _check_key(key)
        instrument = self._instrument(symbol)
        with self._locks(instrument.inst_id):
            if key is not None:
                done = self._repeat(key, IntentAction.REDUCE)
                if done is not None:
                    return done
            margin = _positive(amount, "amount")
            relation, held = self._open_position(instrument.inst_id)
            avg = held.avg_price if held.avg_price is not None else held.mark_price
            lever = max(1, held.leverage)
            held_margin = avg * held.contracts * instrument.ct_val / lever
            if margin > held_margin:
                raise InvalidInput(
                    "amount",
                    f"{margin} USDT is more than the {held_margin.quantize(Decimal('0.01'))} "
                    f"USDT margin of the {instrument.inst_id} position: give at most that, "
                    "or close it",
                )
            contracts = instrument.round_size(held.contracts * margin / held_margin)
            if contracts <= 0:
                raise InvalidInput(
                    "amount", f"{margin} USDT is less than one lot ({instrument.lot_sz})"
                )
            if contracts < held.contracts and held.contracts - contracts < instrument.min_sz:
                contracts = held.contracts  # never leave dust below the minimum size
            self._claim(instrument.inst_id)
            full = contracts >= held.contracts
            stored = self._store_intent(
                key or f"reduce:{instrument.inst_id}:{uuid.uuid4().hex}",
                instrument.inst_id,
                IntentAction.REDUCE,
                Side[relation.side],
                contracts,
            )
            removed = self._cancel_algos(instrument.inst_id) if full else []
            request = self._order_request(stored, contracts, reduce_only=True, held=held)
            try:
                order = self._send(stored, request, None)
            except REFUSALS:
                if removed:
                    self._reprotect(relation)
                raise
            if order is not None and not order.is_open:
                if full or self._held(instrument.inst_id) is None:
                    self._after_close(relation, order, reason)
                else:
                    self._reprotect(relation)
            return stored.client_order_id

    def _cancel_entry(self, relation: RelationRecord) -> None:
        try:
            self.exchange.cancel_order(relation.symbol, client_order_id=relation.client_order_id)
        except OrderNotFound:
            return

    def _after_close(self, relation: RelationRecord, order: Order, reason: str) -> None:
        self._cancel_algos(relation.symbol)  # leftovers (the venue sweeps most)
        self._finish(relation, reason, order)

    def _fail(self, relation: RelationRecord, reason: str) -> None:
        now = self.clock.now()
        self.relations.save(
            attrs.evolve(
                relation,
                status="FAILED",
                close_time=now,
                updated_at=now,
                close_reason=reason[:MAX_REASON],
            )
        )

    def _finish(
        self,
        relation: RelationRecord,
        reason: str,
        order: Order | None,
        at: datetime | None = None,
    ) -> RelationRecord:
        """Close ``relation`` with its realised PnL from the venue."""
        relation = self.relations.get(relation.client_order_id) or relation
        if relation.status != "OPEN":
            return relation
        instrument = self._instrument(relation.symbol)
        pnl, percent, closed_at, close_id, cause = self._realized(instrument, relation)
        if reason == EXTERNAL and cause is not None:
            reason = cause  # the venue's own stop-loss/take-profit or a liquidation
        if order is not None:
            close_id = order.order_id
        when = at or closed_at or (order.updated_at if order is not None else None)
        when = when or self.clock.now()
        status = "CLOSED" if relation.open_time is not None or pnl != 0 else "FAILED"
        return self.relations.save(
            attrs.evolve(
                relation,
                status=status,
                close_order_id=close_id,
                close_time=when,
                pnl=pnl,
                pnl_percentage=percent,
                updated_at=self.clock.now(),
                close_reason=reason,
            )
        )

    def _realized(
        self, instrument: Instrument, relation: RelationRecord
    ) -> tuple[Decimal, Decimal, datetime | None, str | None, str | None]:
        """(pnl, pnl %, close time, closing order id, cause) of the relation's closed
        position. ``cause`` is what closed it when the venue says so: ``liquidation`` or
        ``adl`` (the position history's close type), ``stop_loss``/``take_profit`` (the
        last closing order was sent by a triggered TP/SL algo order, OKX ``source`` 7;
        the leg by its price, see :func:`_triggered_leg`); else None."""
        since = relation.open_time or relation.created_at
        span = TimeRange(since - timedelta(seconds=1), self.clock.now() + timedelta(days=1))
        rows: list[PositionRecord] = [
            r
            for r in self.exchange.position_history(relation.symbol, span, limit=100)
            if r.pos_size == 0
            and r.close_type in FULL_CLOSE_TYPES
            and (relation.pos_id is None or r.pos_id == relation.pos_id)
            and r.updated_at >= since
        ]
        orders: list[OrderRecord] = [
            o
            for o in self.exchange.order_history(relation.symbol, span, limit=100)
            if o.filled_amount > 0 and o.created_at >= relation.created_at
        ]
        closing = [o for o in orders if o.reduce_only or o.pnl != 0]
        last = max(closing, key=lambda o: (o.updated_at, o.order_id)) if closing else None
        close_id = last.order_id if last is not None else None
        cause = None
        if last is not None and last.source == ALGO_SOURCE:
            cause = _triggered_leg(relation, last)
        if rows:
            row = max(rows, key=lambda r: r.updated_at)
            margin = row.avg_price * row.open_max_size * instrument.ct_val / max(1, row.leverage)
            pnl = row.realized_pnl
            percent = pnl * HUNDRED / margin if margin else ZERO
            cause = CLOSE_TYPE_REASONS.get(row.close_type, cause)
            return pnl, _round(percent), row.updated_at, close_id, cause
        pnl = sum((o.pnl + o.fee for o in orders), ZERO)
        entry = [o for o in orders if not o.reduce_only and o.pnl == 0 and o.avg_price]
        margin = sum(
            (o.avg_price * o.filled_amount * instrument.ct_val / max(1, o.leverage) for o in entry),
            ZERO,
        )  # type: ignore[operator]
        percent = pnl * HUNDRED / margin if margin else ZERO
        return pnl, _round(percent), None, close_id, cause


def _triggered_leg(relation: RelationRecord, order: OrderRecord) -> str:
    """Which leg of the relation's plans sent ``order`` (a TP/SL-triggered close): with
    both prices known, the side of their midpoint its fill price is on (a stop fills at
    or beyond the stop, a target at or beyond the target, whatever the slippage); with
    one known, that one; with neither, take_profit for a gain and stop_loss otherwise."""
    stop, target = relation.stop_loss_price, relation.take_profit_price
    price = order.avg_price
    if stop is not None and target is not None and price is not None:
        ahead = Side[relation.side].sign * (price - (stop + target) / 2)
        return "take_profit" if ahead > 0 else "stop_loss"
    if stop is None and target is not None:
        return "take_profit"
    if stop is not None and target is None:
        return "stop_loss"
    return "take_profit" if order.pnl > 0 else "stop_loss"


# ---- helpers -----------------------------------------------------------------------------


def _text(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(field, f"must be a non-empty string, got {value!r}")
    return value


def _check_key(key: object) -> str | None:
    if key is None:
        return None
    text = _text(key, "key")
    if len(text) > 150:
        raise InvalidInput("key", f"must be at most 150 characters, got {len(text)}")
    return text


def _reason(reason: object) -> str:
    text = _text(reason, "reason").strip()
    if len(text) > MAX_REASON:
        raise InvalidInput("reason", f"must be at most {MAX_REASON} characters")
    return text


def _side(side: object) -> Side:
    if isinstance(side, Side):
        return side
    if not isinstance(side, str):
        raise InvalidInput("side", f"{side!r} is not LONG or SHORT")
    return Side.parse(side)


def _positive(value: object, field: str) -> Decimal:
    number = to_decimal(value, field)
    if number <= 0:
        raise InvalidInput(field, f"must be positive, got {number}")
    return number


def _trigger(instrument: Instrument, value: object, field: str) -> Decimal | None:
    if value is None:
        return None
    return normalize_price(instrument, _positive(value, field), field)


def _algo_client_id(stored: IntentRecord, leg: str) -> str:
    from qwentrade.domain.orders import derive_client_order_id

    return derive_client_order_id(stored.to_intent(), leg)


def _error(error: Exception) -> str:
    code = getattr(error, "code", "")
    text = str(error)[:300]
    return f"{code} {text}".strip() if code else text


def _round(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.0001"))


def _str(value: object) -> str | None:
    return None if value is None else str(value)


def _plain(values: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, Decimal):
            out[name] = str(value)
        elif isinstance(value, datetime):
            out[name] = value.isoformat()
        else:
            out[name] = value
    return out


def _plain_order(order: OrderRecord) -> dict[str, Any]:
    return _plain(attrs.asdict(order))


def _plain_algo(algo: AlgoOrder) -> dict[str, Any]:
    stop, target = algo.sl_trigger_price is not None, algo.tp_trigger_price is not None
    return {
        "algo_id": algo.algo_id,
        "algo_client_order_id": algo.algo_client_order_id,
        "kind": "oco" if stop and target else "stop_loss" if stop else "take_profit",
        "stop_loss_trigger": _str(algo.sl_trigger_price),
        "take_profit_trigger": _str(algo.tp_trigger_price),
        "size": _str(algo.size),
        "state": algo.state.value,
    }
