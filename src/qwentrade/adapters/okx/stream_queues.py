"""The bounded queues between the private stream's socket threads and its handler thread.

The socket thread must never wait for the consumer (a blocked read loop misses its
heartbeat and OKX drops the connection), so ``put`` never blocks; what happens when the
consumer falls behind is the overflow policy of :class:`EventQueues`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from datetime import UTC, datetime

from qwentrade.domain.venue import ExchangePosition, StreamEvent, StreamStatus, StreamStatusKind

CLOSE_QUEUE_SIZE = 100
POSITION_QUEUE_SIZE = 200
ORDER_QUEUE_SIZE = 1000
STATUS_QUEUE_SIZE = 100
FELL_BEHIND = "consumer fell behind: queued events dropped, reconcile"


class EventQueues:
    """The bounded queues between the socket threads and the handler thread.

    - statuses (``STATUS_QUEUE_SIZE``), closed positions (size 0, ``close_size``),
      orders and algo orders (``order_size``): first in, first out;
    - open position updates (``position_size``): one per position id, the newest
      replacing a queued older one (each push is the whole position); a close of a
      position removes its queued update so a stale open update never follows the close.

    They are taken in that order of priority. Overflow policy: ``put`` never blocks. When
    a queue is full the whole backlog is discarded (counted in ``dropped``) and the next
    ``take`` returns ``disconnected`` and ``connected`` statuses, so the consumer
    reconciles from the venue instead of acting on a gap, as after a dropped connection
    (the simulated stream does the same). A full status queue drops its oldest status.
    """

    def __init__(
        self,
        close_size: int = CLOSE_QUEUE_SIZE,
        position_size: int = POSITION_QUEUE_SIZE,
        order_size: int = ORDER_QUEUE_SIZE,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._statuses: deque[StreamStatus] = deque(maxlen=STATUS_QUEUE_SIZE)
        self._closes: deque[StreamEvent] = deque()
        self._orders: deque[StreamEvent] = deque()
        self._positions: OrderedDict[str, ExchangePosition] = OrderedDict()
        self._sizes = (close_size, position_size, order_size)
        self._now = now
        self._condition = threading.Condition()
        self._resync = False
        self.dropped = 0

    def put(self, event: StreamEvent) -> bool:
        """Queue ``event``; False when a queue overflowed (the backlog was discarded)."""
        close_size, position_size, order_size = self._sizes
        with self._condition:
            if isinstance(event, StreamStatus):
                self._statuses.append(event)
            elif isinstance(event, ExchangePosition) and event.is_open:
                self._positions.pop(event.pos_id, None)
                if len(self._positions) >= position_size:
                    return self._overflow()
                self._positions[event.pos_id] = event
            elif isinstance(event, ExchangePosition):
                self._positions.pop(event.pos_id, None)
                if len(self._closes) >= close_size:
                    return self._overflow()
                self._closes.append(event)
            else:
                if len(self._orders) >= order_size:
                    return self._overflow()
                self._orders.append(event)
            self._condition.notify()
            return True

    def _overflow(self) -> bool:
        self.dropped += len(self._closes) + len(self._orders) + len(self._positions) + 1
        self._closes.clear()
        self._orders.clear()
        self._positions.clear()
        self._resync = True
        self._condition.notify()
        return False

    def take(self, timeout: float) -> list[StreamEvent]:
        """The next event(s) to deliver (two statuses after an overflow); [] on timeout."""
        with self._condition:
            if not self._ready():
                self._condition.wait(timeout)
            if self._resync:
                self._resync = False
                now = self._now()
                return [
                    StreamStatus(StreamStatusKind.DISCONNECTED, now, FELL_BEHIND),
                    StreamStatus(StreamStatusKind.CONNECTED, now, FELL_BEHIND),
                ]
            for lane in (self._statuses, self._closes, self._orders):
                if lane:
                    return [lane.popleft()]
            if self._positions:
                return [self._positions.popitem(last=False)[1]]
            return []

    def wake(self) -> None:
        with self._condition:
            self._condition.notify_all()

    def _ready(self) -> bool:
        return bool(
            self._resync or self._statuses or self._closes or self._orders or self._positions
        )

    def __len__(self) -> int:
        with self._condition:
            return (
                len(self._statuses) + len(self._closes) + len(self._orders) + len(self._positions)
            )
