"""OkxPrivateStream: the ``PrivateStream`` port over OKX's private WebSocket (websocket-client).

One client for the ``orders`` and ``positions`` channels (and ``orders-algo``, which OKX
serves on the *business* WebSocket: give ``business_url`` to follow it; a second socket
is opened there with the same login). The rules, in order:

1. Each socket logs in (okx-spec C2: ``timestamp`` in Unix seconds, shifted by the
   injected server-time offset), subscribes to its channels, and once every
   subscription is answered the socket is up; the stream is up once all its sockets
   are. ``StreamStatus`` ``connected`` is delivered when the stream comes up (the
   consumer reconciles, since anything may have been missed before) and
   ``disconnected`` when a socket of a stream that was up drops: one of each per
   outage, whichever socket it was.
2. Heartbeat (C6): after ``WS_HEARTBEAT_INTERVAL`` seconds without a frame received (or
   sent) it sends the text ``ping``; no frame within ``WS_PING_TIMEOUT`` after that and
   the socket is treated as dead. An unanswered login or subscription also times out
   after ``WS_PING_TIMEOUT``.
3. A dropped socket delivers ``disconnected`` and is reopened ``WS_RECONNECT_INTERVAL``
   seconds later, forever, with a fresh login and subscriptions. OKX's ``notice`` 64008
   (service upgrade, C7) reopens it at once instead of waiting for the server to close.
4. A login refused for the credentials or the clock (``AUTH_FAILURE_CODES``, close codes
   4001/4007) stops every socket for good: ``state().auth_failed`` says so, one warning
   is logged (OKX's code and message, never the key, secret, passphrase or signature)
   and ``disconnected`` is delivered with the reason.
5. Rows are deduplicated (``stream_wire.order_key``/``position_key``/``algo_key``, 30
   minutes); a frame or row that cannot be parsed is skipped and counted, and logged
   once per kind of problem.
6. The socket thread never blocks on the consumer: events go to bounded queues
   (``stream_queues.EventQueues``) drained by one handler thread that calls ``on_event``.

Intervals are read from the ``ConfigStore`` each time they are used (defaults without one).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import websocket

from qwentrade.adapters.okx import stream_wire as wire
from qwentrade.adapters.okx.config_cache import CachedConfig
from qwentrade.adapters.okx.signing import OkxCredentials
from qwentrade.adapters.okx.stream_queues import (
    CLOSE_QUEUE_SIZE,
    ORDER_QUEUE_SIZE,
    POSITION_QUEUE_SIZE,
    EventQueues,
)
from qwentrade.adapters.okx.stream_state import (  # StreamState is re-exported here
    _KEYS,
    StreamState,
    _AuthFailed,
    _Link,
    _Reconnect,
    _Session,
)
from qwentrade.domain.errors import DomainError
from qwentrade.domain.venue import StreamEvent, StreamStatus, StreamStatusKind
from qwentrade.ports.config import ConfigStore

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL = "WS_HEARTBEAT_INTERVAL"
PING_TIMEOUT = "WS_PING_TIMEOUT"
RECONNECT_INTERVAL = "WS_RECONNECT_INTERVAL"
#: Longest a socket read blocks, so a stop is seen promptly even without an abort.
READ_TICK_SECONDS = 0.2
JOIN_SECONDS = 1.0
MALFORMED_LOG_KINDS = 100


def _all_running(links: list[_Link]) -> bool:
    """Every link is running (true for none: callers needing a stream at all check that)."""
    return all(link.running for link in links)


class OkxPrivateStream:
    """OKX's private ``orders``/``positions`` (and ``orders-algo``) channels as a
    ``PrivateStream``; see the module docstring for its rules.

    ``url`` is the private WebSocket (``wss://ws.okx.com:8443/ws/v5/private``; demo
    trading ``wss://wspap.okx.com:8443/ws/v5/private``). ``business_url`` (None: algo
    orders are not followed) is where ``orders-algo`` is subscribed
    (``stream_wire.business_url(url)`` derives it). ``time_offset`` returns the seconds to
    add to the local clock to get OKX's, read at each login (with the REST adapter's
    ``signing.ClockOffset``: ``lambda: offset.offset_ms / 1000``). ``config``
    gives the intervals; ``clock`` is the wall clock in seconds (tests).
    """

    def __init__(
        self,
        url: str,
        credentials: OkxCredentials,
        *,
        business_url: str | None = None,
        config: ConfigStore | None = None,
        time_offset: Callable[[], float] = lambda: 0.0,
        clock: Callable[[], float] = time.time,
        close_queue_size: int = CLOSE_QUEUE_SIZE,
        position_queue_size: int = POSITION_QUEUE_SIZE,
        order_queue_size: int = ORDER_QUEUE_SIZE,
    ) -> None:
        self._url = url
        self._business_url = business_url
        self._credentials = credentials
        self._config = CachedConfig(config)  # the heartbeat reads it every read tick
        self._time_offset = time_offset
        self._clock = clock
        self._queue_sizes = (close_queue_size, position_queue_size, order_queue_size)
        self._lock = threading.Lock()
        self._queues = EventQueues(*self._queue_sizes, now=self._now)
        self._links: list[_Link] = []
        self._handler: threading.Thread | None = None
        self._links_stop = threading.Event()
        self._handler_stop = threading.Event()
        self._on_event: Callable[[StreamEvent], None] | None = None
        self._seen = wire.SeenKeys()
        self._malformed_kinds: set[str] = set()
        self._reconnects_before = 0
        self._last_message_at: datetime | None = None
        self._auth_error = ""
        self._last_error = ""
        self._duplicates = 0
        self._malformed = 0

    def __repr__(self) -> str:  # never the secret or passphrase
        return f"OkxPrivateStream(url={self._url!r}, api_key=********)"

    # -- the port --------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while every socket is logged in with its subscriptions answered."""
        with self._lock:
            return bool(self._links) and _all_running(self._links)

    def connect(self, on_event: Callable[[StreamEvent], None]) -> None:
        """Open the socket(s) and start delivering to ``on_event`` (no-op when running)."""
        with self._lock:
            if self._handler is not None:
                return
            self._on_event = on_event
            self._links_stop = threading.Event()
            self._handler_stop = threading.Event()
            self._queues = EventQueues(*self._queue_sizes, now=self._now)
            self._auth_error = ""
            routes = [(self._url, (wire.ORDERS, wire.POSITIONS), "private")]
            if self._business_url:
                routes.append((self._business_url, (wire.ALGOS,), "business"))
            self._links = [_Link(url, channels, name) for url, channels, name in routes]
            self._handler = threading.Thread(
                target=self._deliver,
                args=(self._handler_stop, self._queues),
                name="okx-private-stream-handler",
                daemon=True,
            )
            self._handler.start()
            for link in self._links:
                link.thread = threading.Thread(
                    target=self._run,
                    args=(link, self._links_stop),
                    name=f"okx-private-stream-{link.name}",
                    daemon=True,
                )
                link.thread.start()

    def close(self) -> None:
        """Stop delivering and close the socket(s); idempotent; joins within a second."""
        with self._lock:
            handler, self._handler = self._handler, None
            links = list(self._links)
            self._links_stop.set()
            self._handler_stop.set()
            sockets = [link.socket for link in links if link.socket is not None]
        for socket in sockets:
            socket.abort()
        self._queues.wake()
        deadline = time.monotonic() + JOIN_SECONDS
        for thread in [link.thread for link in links] + [handler]:
            if thread is not None and thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            self._reconnects_before += sum(link.reconnects for link in links)
            if self._handler is None:
                self._links = []

    @property
    def url(self) -> str:
        """The private socket's URL (orders, positions)."""
        return self._url

    @property
    def business_url(self) -> str | None:
        """The business socket's URL (orders-algo), or None when not followed."""
        return self._business_url

    def state(self) -> StreamState:
        """The stream's state now (for the status endpoints)."""
        with self._lock:
            links = list(self._links)
            return StreamState(
                connected=bool(links) and _all_running(links),
                logged_in=bool(links) and all(link.logged_in for link in links),
                subscribed=tuple(
                    c for link in links for c in link.channels if c in link.subscribed
                ),
                refused_channels=tuple(
                    f"{c}: {why}" for link in links for c, why in link.refused.items()
                ),
                last_message_at=self._last_message_at,
                reconnects=self._reconnects_before + sum(link.reconnects for link in links),
                auth_failed=bool(self._auth_error),
                auth_error=self._auth_error,
                last_error=self._last_error,
                pings_sent=sum(link.pings_sent for link in links),
                pongs_received=sum(link.pongs_received for link in links),
                duplicates_skipped=self._duplicates,
                malformed_skipped=self._malformed,
                dropped_events=self._queues.dropped,
                queued_events=len(self._queues),
            )

    # -- settings and time -----------------------------------------------------------------

    def _seconds(self, key: str) -> float:
        return float(self._config.get(key))  # type: ignore[arg-type]

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), tz=UTC)

    # -- the handler thread ------------------------------------------------------------------

    def _deliver(self, stop: threading.Event, queues: EventQueues) -> None:
        on_event = self._on_event
        assert on_event is not None
        while not stop.is_set():
            for event in queues.take(timeout=READ_TICK_SECONDS):
                if stop.is_set():
                    return
                try:
                    on_event(event)
                except Exception:  # the consumer's bug must not stop the stream
                    log.exception("private stream consumer failed on %s", type(event).__name__)

    def _emit(self, event: StreamEvent, queues: EventQueues) -> None:
        if not queues.put(event):
            log.warning(
                "OKX private stream: the consumer fell behind; %d queued events dropped in "
                "all, it will be told to reconcile",
                queues.dropped,
            )

    # -- a socket thread ---------------------------------------------------------------------

    def _run(self, link: _Link, stop: threading.Event) -> None:
        queues = self._queues
        early = True  # the first connection is made at once
        while not stop.is_set():
            if not early and stop.wait(self._seconds(RECONNECT_INTERVAL)):
                return
            try:
                self._session(link, stop, queues)
                early = False
            except _AuthFailed as e:
                self._auth_failure(link, str(e), queues)
                return
            except _Reconnect as e:
                early = e.early
                self._note_error(link, str(e), stop)
            except (websocket.WebSocketException, OSError) as e:
                early = False
                self._note_error(link, f"{type(e).__name__}: {e}", stop)
            except Exception as e:  # a bug here must not end the stream for good
                log.exception("OKX private stream (%s) failed; reconnecting", link.name)
                early = False
                self._note_error(link, f"{type(e).__name__}: {e}", stop)
            finally:
                self._end_session(link, stop, queues)
            if stop.is_set():
                return
            with self._lock:
                link.reconnects += 1

    def _note_error(self, link: _Link, reason: str, stop: threading.Event) -> None:
        if stop.is_set():
            return  # closed on purpose: the socket error is ours
        with self._lock:
            self._last_error = f"{link.name}: {reason}"
        log.info("OKX private stream (%s) reconnecting: %s", link.name, reason)

    def _end_session(self, link: _Link, stop: threading.Event, queues: EventQueues) -> None:
        with self._lock:
            socket, link.socket = link.socket, None
            was_up = link.running and _all_running(self._links)
            link.running = link.logged_in = False
            link.subscribed.clear()
        if socket is not None:
            try:
                socket.close(timeout=0.2)
            except Exception:  # already gone: nothing to release
                socket.shutdown()
        if was_up and not stop.is_set():
            status = StreamStatus(StreamStatusKind.DISCONNECTED, self._now(), self._last_error)
            self._emit(status, queues)

    def _auth_failure(self, link: _Link, error: str, queues: EventQueues) -> None:
        for value in self._credentials.values():
            error = error.replace(value, "********")
        with self._lock:
            self._auth_error = error
            self._last_error = f"{link.name}: login refused: {error}"
            self._links_stop.set()
            others = [o.socket for o in self._links if o is not link and o.socket is not None]
        for socket in others:
            socket.abort()
        log.warning(
            "OKX private stream login refused (%s); not reconnecting - check the API key, "
            "secret and passphrase (and the clock for 60004/60006)",
            error,
        )
        reason = f"authentication failed ({error}); not reconnecting"
        self._emit(StreamStatus(StreamStatusKind.DISCONNECTED, self._now(), reason), queues)

    def _session(self, link: _Link, stop: threading.Event, queues: EventQueues) -> None:
        answer_timeout = self._seconds(PING_TIMEOUT)
        socket = websocket.create_connection(link.url, timeout=answer_timeout)
        with self._lock:
            link.socket = socket
        if stop.is_set():
            return
        stamp = int(self._clock() + self._time_offset())
        socket.send(wire.login_message(self._credentials, stamp))
        session = _Session(time.monotonic(), answer_timeout)
        while not stop.is_set():
            opcode, data = self._read(link, socket, session)
            if opcode is None:
                continue
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                code = int.from_bytes(data[:2], "big") if len(data) >= 2 else 1005
                text = data[2:].decode("utf-8", "replace")
                if code in wire.AUTH_CLOSE_CODES:
                    raise _AuthFailed(f"close {code} {text}".strip())
                raise _Reconnect(f"closed by the server: {code} {text}".strip())
            text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
            self._on_frame(link, session, socket, text, queues)

    def _read(
        self, link: _Link, socket: websocket.WebSocket, session: _Session
    ) -> tuple[int | None, bytes | str]:
        """One frame, or (None, "") when a tick passed; runs the heartbeat and deadlines."""
        now = time.monotonic()
        if session.deadline is not None and now >= session.deadline:
            raise _Reconnect(f"no answer to {session.phase} within {session.answer_timeout:g}s")
        if session.ping_sent_at is not None:
            ping_timeout = self._seconds(PING_TIMEOUT)
            if now - session.ping_sent_at >= ping_timeout:
                raise _Reconnect(f"no pong within {ping_timeout:g}s")
        elif now - min(session.last_received, session.last_sent) >= self._seconds(
            HEARTBEAT_INTERVAL
        ):
            socket.send("ping")
            session.ping_sent_at = session.last_sent = now
            with self._lock:
                link.pings_sent += 1
        socket.settimeout(READ_TICK_SECONDS)
        try:
            opcode, data = socket.recv_data()
        except websocket.WebSocketTimeoutException:
            return None, ""
        session.last_received = time.monotonic()
        session.ping_sent_at = None
        with self._lock:
            self._last_message_at = self._now()
        return opcode, data

    def _on_frame(
        self,
        link: _Link,
        session: _Session,
        socket: websocket.WebSocket,
        text: str,
        queues: EventQueues,
    ) -> None:
        try:
            frame = wire.parse_frame(text)
        except ValueError as e:
            self._malformed_frame("frame", e, text)
            return
        if isinstance(frame, wire.Pong):
            with self._lock:
                link.pongs_received += 1
        elif isinstance(frame, wire.Event):
            self._on_event_frame(link, session, socket, frame, queues)
        elif frame.channel in link.channels:
            self._on_push(frame, queues)

    def _on_event_frame(
        self,
        link: _Link,
        session: _Session,
        socket: websocket.WebSocket,
        frame: wire.Event,
        queues: EventQueues,
    ) -> None:
        if frame.event == "login" and frame.code in ("", "0"):
            with self._lock:
                link.logged_in = True
            session.phase = "subscribe"
            session.pending = set(link.channels)
            session.deadline = time.monotonic() + session.answer_timeout
            socket.send(wire.subscribe_message(link.channels))
            session.last_sent = time.monotonic()
        elif frame.event == "error" and session.phase == "login":
            if frame.code in wire.AUTH_FAILURE_CODES:
                raise _AuthFailed(f"{frame.code} {frame.message}")
            raise _Reconnect(f"login error {frame.code} {frame.message}")
        elif frame.event == "subscribe":
            with self._lock:
                link.subscribed.add(frame.channel)
                link.refused.pop(frame.channel, None)
            self._answered(link, session, frame.channel, queues)
        elif frame.event == "error" and session.phase == "subscribe":
            # OKX's error frame names no channel: it answers the oldest pending one
            channel = next((c for c in link.channels if c in session.pending), "")
            with self._lock:
                first = channel not in link.refused
                link.refused[channel] = f"{frame.code} {frame.message}"
            if first:
                log.warning(
                    "OKX private stream: subscribing to %s refused (%s %s)",
                    channel,
                    frame.code,
                    frame.message,
                )
            self._answered(link, session, channel, queues)
        elif frame.event == "notice" and frame.code == wire.NOTICE_RECONNECT_CODE:
            raise _Reconnect(f"notice {frame.code}: {frame.message}", early=True)
        elif frame.event in ("error", "channel-conn-count-error"):
            with self._lock:
                self._last_error = f"{link.name}: {frame.event} {frame.code} {frame.message}"
            self._malformed_frame(f"event {frame.event} {frame.code}", None, frame.message)

    def _answered(self, link: _Link, session: _Session, channel: str, queues: EventQueues) -> None:
        session.pending.discard(channel)
        if session.pending or session.phase != "subscribe":
            return
        session.phase, session.deadline = "running", None
        with self._lock:
            link.running = True
            up = _all_running(self._links)
        if up:  # the last socket to come up announces the stream (rule 1)
            self._emit(StreamStatus(StreamStatusKind.CONNECTED, self._now()), queues)

    def _on_push(self, push: wire.Push, queues: EventQueues) -> None:
        key_of = _KEYS[push.channel]
        for row in push.rows:
            now = time.monotonic()
            try:
                event = wire.row_event(push.channel, row)
            except (ValueError, TypeError, ArithmeticError, KeyError, DomainError) as e:
                self._malformed_frame(push.channel, e, str(row))
                continue
            if event is None:
                continue
            with self._lock:  # two sockets (private, business) share the memory
                first = self._seen.first_time(key_of(row), now)
                self._duplicates += not first
            if not first:
                continue
            self._emit(event, queues)

    def _malformed_frame(self, kind: str, error: Exception | None, text: str) -> None:
        label = f"{kind}: {type(error).__name__}" if error is not None else kind
        with self._lock:
            self._malformed += error is not None
            first = label not in self._malformed_kinds
            if first and len(self._malformed_kinds) < MALFORMED_LOG_KINDS:
                self._malformed_kinds.add(label)
            else:
                first = False
        if first:
            detail = f" ({error})" if error is not None else ""
            log.warning(
                "OKX private stream skipped a message it cannot use: %s%s: %.200s "
                "(further ones of this kind are only counted)",
                label,
                detail,
                text,
            )
