"""The private stream's state and value types: what ``OkxPrivateStream`` reports
(``StreamState``), one socket (``_Link``), one connection's progress (``_Session``), the
exceptions that end a connection (``_Reconnect``, ``_AuthFailed``) and the dedupe key of
each channel's rows (``_KEYS``)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

import attrs
import websocket

from qwentrade.adapters.okx import stream_wire as wire


@attrs.frozen
class StreamState:
    """What the status endpoints show about the private stream.

    ``connected``: every socket is logged in and its subscriptions answered.
    ``subscribed``: channels OKX acknowledged; ``refused_channels`` those it refused
    (``"orders-algo: 60018 ..."``). ``last_message_at``: the last frame received (UTC).
    ``reconnects``: connections opened after the first, all sockets together.
    ``auth_failed``: a login was refused; no reconnects follow (``auth_error`` has OKX's
    code and message). ``dropped_events``: discarded because the consumer fell behind
    (each time followed by ``disconnected`` + ``connected`` statuses to reconcile).
    """

    connected: bool = False
    logged_in: bool = False
    subscribed: tuple[str, ...] = ()
    refused_channels: tuple[str, ...] = ()
    last_message_at: datetime | None = None
    reconnects: int = 0
    auth_failed: bool = False
    auth_error: str = ""
    last_error: str = ""
    pings_sent: int = 0
    pongs_received: int = 0
    duplicates_skipped: int = 0
    malformed_skipped: int = 0
    dropped_events: int = 0
    queued_events: int = 0


class _Reconnect(Exception):
    """End this connection; ``early`` skips the reconnect wait (64008 notice)."""

    def __init__(self, reason: str, early: bool = False) -> None:
        super().__init__(reason)
        self.early = early


class _AuthFailed(Exception):
    pass


@attrs.define
class _Link:
    """One socket: its URL, channels and what the state reports about it."""

    url: str
    channels: tuple[str, ...]
    name: str
    socket: websocket.WebSocket | None = None
    thread: threading.Thread | None = None
    logged_in: bool = False
    running: bool = False
    subscribed: set[str] = attrs.Factory(set)
    refused: dict[str, str] = attrs.Factory(dict)
    reconnects: int = 0
    pings_sent: int = 0
    pongs_received: int = 0


@attrs.define
class _Session:
    """One connection's progress: login -> subscribe -> running, and its heartbeat."""

    started: float
    answer_timeout: float
    phase: str = "login"
    pending: set[str] = attrs.Factory(set)
    deadline: float | None = None
    ping_sent_at: float | None = None
    last_received: float = 0.0
    last_sent: float = 0.0

    def __attrs_post_init__(self) -> None:
        self.deadline = self.started + self.answer_timeout
        self.last_received = self.last_sent = self.started


_KEYS: dict[str, Callable[[dict], tuple[str, ...]]] = {
    wire.ORDERS: wire.order_key,
    wire.POSITIONS: wire.position_key,
    wire.ALGOS: wire.algo_key,
}
