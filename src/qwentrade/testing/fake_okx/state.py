"""What the fake OKX server remembers beside the simulated exchange.

OKX shows things the simulator does not keep: a ``clOrdId`` of ``""`` for orders sent
without one (the simulator needs an id - our own system always sends one - so the
server makes one up and hides it again) and the direction of a net position once it is
closed. They are learnt here from the requests and from the engine's change events,
which are also fanned out to the WebSocket hub. Tags and finished algo orders live in
the engine, so they survive a restart of the server over the same engine.
"""

from __future__ import annotations

import collections
import itertools
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from qwentrade.adapters.sim import SimEngine
from qwentrade.adapters.sim.prices import tick_decimals
from qwentrade.adapters.sim.tape import Tape
from qwentrade.domain.instruments import Instrument
from qwentrade.domain.venue import ExchangePosition, Order, PosSide
from qwentrade.testing.fake_okx.faults import FaultPlan

Listener = Callable[[object], None]


class ServerState:
    """The engine plus the server's own bookkeeping. Thread-safe."""

    def __init__(self, engine: SimEngine, faults: FaultPlan, uid: str = "44705892343619584"):
        self.engine = engine
        self.faults = faults
        self.uid = uid
        self._lock = threading.Lock()
        self._made_up_ids: set[str] = set()
        self._directions: dict[str, str] = {}
        self._listeners: list[Listener] = []
        self._codes = itertools.count(10_459)
        self.instruments: dict[str, Instrument] = {i.inst_id: i for i in engine.instruments()}
        self.instrument_codes = {s: next(self._codes) for s in self.instruments}
        self._unsubscribe = engine.subscribe(self._on_event)
        self._placed: collections.Counter[str] = collections.Counter()

    def count_placed(self, client_order_id: str) -> None:
        """Count one accepted order or algo order carrying ``client_order_id``."""
        if client_order_id:
            with self._lock:
                self._placed[client_order_id] += 1

    def placed(self) -> dict[str, int]:
        """Accepted placements per client order id (orders: ``clOrdId``; algo orders:
        ``algoClOrdId``) since the server started: a test's duplicate-order check."""
        with self._lock:
            return dict(self._placed)

    def close(self) -> None:
        self._unsubscribe()

    # -- time ----------------------------------------------------------------------------

    def wall_now(self) -> datetime:
        """The server's wall clock (request timestamps are checked against it), skewed."""
        return datetime.now(UTC) + timedelta(seconds=self.faults.clock_skew)

    def market_now(self) -> datetime:
        """The simulated market's time, skewed (what ``/public/time`` reports)."""
        return self.engine.server_time() + timedelta(seconds=self.faults.clock_skew)

    def tape(self, symbol: str) -> Tape:
        """The walk of ``symbol``'s price path as the engine walks it (same path, same
        tick), for bars finer than the path's candles (:mod:`.minutes`)."""
        digits = tick_decimals(symbol, {symbol: self.instruments[symbol].tick_sz})
        return Tape(self.engine.price_path, symbol, digits)

    # -- client ids ------------------------------------------------------------------

    def make_client_id(self) -> str:
        """A client id for an order sent without one; shown as ``""`` on the wire."""
        made = "fk" + uuid.uuid4().hex[:30]
        with self._lock:
            self._made_up_ids.add(made)
        return made

    def shown_client_id(self, client_order_id: str) -> str:
        with self._lock:
            return "" if client_order_id in self._made_up_ids else client_order_id

    def direction_of(self, pos_id: str, pos_side: str, pnl_sign_hint: int) -> str:
        """``long``/``short`` of a (closed) position for ``positions-history``."""
        if pos_side in (PosSide.LONG.value, PosSide.SHORT.value):
            return pos_side
        with self._lock:
            known = self._directions.get(pos_id)
        if known:
            return known
        return "short" if pnl_sign_hint < 0 else "long"

    # -- events ----------------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(listener)

        def remove() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return remove

    def _on_event(self, event: object) -> None:
        # called by the engine under its lock: bookkeeping only, then hand it on
        with self._lock:
            if isinstance(event, ExchangePosition) and event.size:
                self._directions[event.pos_id] = event.direction.value
            listeners = list(self._listeners)
        for listener in listeners:
            listener(event)

    def order_view(self, order: Order) -> tuple[str, str]:
        """(client id as shown, tag) of ``order``."""
        return self.shown_client_id(order.client_order_id), order.tag
