"""The fake OKX private WebSocket (okx-spec section C).

- ``login`` with the OKX signature (60004/60005/60006/60007/60024 on failure, then the
  connection is closed with 4001); ``subscribe``/``unsubscribe`` to ``orders``,
  ``positions`` and ``account`` after login (60011 before it), acknowledged with OKX's
  ``event`` frames and a ``channel-conn-count`` event.
- ``positions``: a ``snapshot`` push after subscribing, an ``event_update`` push on every
  change, and periodic snapshots (``extraParams`` ``updateInterval``; ``"0"`` = none).
  ``orders``: a push on every change, the ``fill*`` fields set on pushes caused by a fill.
- The business socket (``/ws/v5/business``) takes the same login and serves the
  ``orders-algo`` channel: a push on every change of an algo order (placed, triggered,
  canceled), the REST algo object with OKX's ``notionalUsd`` beside it. A channel asked
  for on the wrong socket is 60018, as on OKX.
- Text ``ping`` -> text ``pong``. A connection that sends nothing for ``idle_timeout``
  seconds (30 on OKX) is closed with 4004 "No data received in 30s".
- :meth:`WsHub.announce_upgrade` sends the ``notice`` event (64008) and closes every
  connection after a lead time; faults may drop connections or duplicate/reorder pushes.
- Every frame a client sends gets an answer; a bad one an ``{"event":"error"}`` frame
  quoting at most 64 characters of it (OKX's echo of a 2 MB frame is not worth copying).
  An ``id`` that is not 1-32 letters or digits is 60012 and is not echoed. Subscribe args
  are OKX's keys with text values of up to 64 characters, 256 for ``extraParams``
  (60013 otherwise; an unknown ``instId`` or ``instFamily`` 60018); the ack echoes those
  keys only. ``extraParams`` must be a JSON object in a string (60013); an
  ``updateInterval`` other than 0/2000/3000/4000 means the default period, as on OKX.
  A bug in the fake answers ``63999`` "Internal error" and keeps the connection.

Every send of a connection goes through one queue and one sender task, so frames leave
in order and never concurrently.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
from decimal import Decimal
from typing import Any

from litestar import WebSocket

from qwentrade.domain.venue import AlgoOrder, Balance, ExchangePosition, Order
from qwentrade.testing.fake_okx import account, wire
from qwentrade.testing.fake_okx.auth import Credentials, verify_ws_login
from qwentrade.testing.fake_okx.params import QUOTE_LIMIT, clip, quote
from qwentrade.testing.fake_okx.state import ServerState

log = logging.getLogger(__name__)

PRIVATE_CHANNELS = ("orders", "positions", "account")
BUSINESS_CHANNELS = ("orders-algo",)
INST_TYPES = ("ANY", "SWAP", "SPOT", "MARGIN", "FUTURES", "OPTION", "EVENTS")
NOTICE = "The connection will soon be closed for a service upgrade. Please reconnect."
REORDER_FLUSH_SECONDS = 1.0
CLOSE = object()
#: The keys of a subscribe/unsubscribe arg (OKX's, for the channels served).
ARG_KEYS = ("channel", "instType", "instFamily", "instId", "ccy", "extraParams")
#: ``updateInterval`` values OKX honours (ms); anything else is the default period.
UPDATE_INTERVALS = {"0": 0.0, "2000": 2.0, "3000": 3.0, "4000": 4.0}
#: Longest arg value (``extraParams``: longest JSON text) accepted; acks echo them.
EXTRA_PARAMS_LIMIT = 256
_REQUEST_ID = re.compile(r"[A-Za-z0-9]{0,32}")
INTERNAL_ERROR = "63999"
BAD_ID = "Invalid request: id must be 1-32 letters or digits"


class InvalidArgs(Exception):
    """A subscribe arg OKX would refuse: ``code`` 60013 or 60018 and the message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Connection:
    """One client connection: its login, subscriptions and outgoing queue."""

    def __init__(self, socket: WebSocket, channels: tuple[str, ...]) -> None:
        self.socket = socket
        self.channels = channels
        self.private = bool(channels)
        self.conn_id = secrets.token_hex(4)
        self.logged_in = False
        self.subscriptions: list[dict[str, Any]] = []
        self.queue: asyncio.Queue = asyncio.Queue()
        self.tasks: dict[int, asyncio.Task] = {}

    def send(self, message: dict | str) -> None:
        self.queue.put_nowait(message)

    def close(self, code: int, reason: str) -> None:
        self.queue.put_nowait((CLOSE, code, reason))

    async def sender(self) -> None:
        while True:
            item = await self.queue.get()
            if isinstance(item, tuple) and item and item[0] is CLOSE:
                with contextlib.suppress(Exception):
                    await self.socket.close(code=item[1], reason=item[2])
                return
            try:
                text = item if isinstance(item, str) else json.dumps(item, separators=(",", ":"))
                await self.socket.send_text(text)
            except Exception:
                return


class WsHub:
    """Every open connection, fed with the engine's changes."""

    def __init__(
        self,
        state: ServerState,
        credentials: Credentials,
        idle_timeout: float = 30.0,
        positions_interval: float = 5.0,
    ) -> None:
        self.state = state
        self.credentials = credentials
        self.idle_timeout = idle_timeout
        self.positions_interval = positions_interval
        self.loop: asyncio.AbstractEventLoop | None = None
        self.connections: set[Connection] = set()
        self._filled: dict[str, Decimal] = {}
        self._last_px: dict[str, Decimal] = {}
        self._reorder_left = 0
        self._reorder_buffer: list[tuple[Connection, dict]] = []
        self._remove_listener = state.add_listener(self.publish)
        self._remove_drop = state.faults.on_drop(self.drop_all)

    def detach(self) -> None:
        self._remove_listener()
        self._remove_drop()

    # -- thread-facing ---------------------------------------------------------------------

    def publish(self, event: object) -> None:
        """Called by the engine (any thread, under its lock): hand over to the loop."""
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._fan_out, event)

    def drop_all(
        self,
        code: int = 4006,
        reason: str = "Abnormal disconnection",
        channels: tuple[str, ...] | None = None,
    ) -> None:
        """Close every connection now, or those of the socket offering ``channels``
        (e.g. :data:`BUSINESS_CHANNELS`) (thread-safe)."""
        self._on_loop(
            lambda: [
                c.close(code, reason)
                for c in list(self.connections)
                if channels is None or c.channels == channels
            ]
        )

    def announce_upgrade(self, close_after: float = 60.0) -> None:
        """Send OKX's ``notice`` (64008) to every connection, close them ``close_after``
        seconds later (thread-safe)."""

        def notice() -> None:
            for connection in list(self.connections):
                connection.send(
                    {
                        "event": "notice",
                        "code": "64008",
                        "msg": NOTICE,
                        "connId": connection.conn_id,
                    }
                )
            assert self.loop is not None
            self.loop.call_later(close_after, self.drop_all, 1012, "Service upgrade")

        self._on_loop(notice)

    def _on_loop(self, fn) -> None:
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(fn)

    # -- serving one connection --------------------------------------------------------

    async def serve(self, socket: WebSocket, channels: tuple[str, ...] = PRIVATE_CHANNELS) -> None:
        """Serve one socket offering ``channels`` after login (none: a public socket)."""
        self.loop = asyncio.get_running_loop()
        await socket.accept()
        connection = Connection(socket, channels)
        self.connections.add(connection)
        sender = asyncio.create_task(connection.sender())
        try:
            while not sender.done():
                receive = asyncio.ensure_future(socket.receive())
                done, _ = await asyncio.wait(
                    {receive, sender}, timeout=self.idle_timeout, return_when="FIRST_COMPLETED"
                )
                if receive not in done:
                    receive.cancel()
                    if not done:  # nothing from the client for idle_timeout
                        connection.close(4004, "No data received in 30s")
                        await asyncio.wait({sender}, timeout=2)
                    break
                message = receive.result()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if text is None and message.get("bytes") is not None:
                    text = message["bytes"].decode(errors="replace")
                await self._answer(connection, text or "")
        finally:
            self.connections.discard(connection)
            for task in connection.tasks.values():
                task.cancel()
            if not sender.done():
                connection.close(1000, "")
                await asyncio.wait({sender}, timeout=2)
                sender.cancel()

    async def _answer(self, connection: Connection, text: str) -> None:
        try:
            await self._on_text(connection, text)
        except Exception:  # a bug in the fake: say so on the wire, keep the connection
            log.exception("fake OKX WebSocket failed on %s", quote(text))
            self._error(connection, INTERNAL_ERROR, "Internal error", None)

    async def _on_text(self, connection: Connection, text: str) -> None:
        if text == "ping":
            connection.send("pong")
            return
        try:
            request = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: nested too deep
            request = None
        if not isinstance(request, dict) or not isinstance(request.get("args"), list):
            self._error(connection, "60012", f"Invalid request: {clip(text)}", None)
            return
        op, request_id = request.get("op"), request.get("id")
        if request_id is not None and not (
            isinstance(request_id, str) and _REQUEST_ID.fullmatch(request_id)
        ):
            self._error(connection, "60012", BAD_ID, None)
            return
        if op == "login":
            await self._login(connection, request["args"], request_id)
        elif op in ("subscribe", "unsubscribe"):
            if not request["args"]:
                self._error(connection, "60012", f"Invalid request: {clip(text)}", request_id)
            for arg in request["args"]:
                await self._subscription(connection, op, arg, request_id)
        else:
            self._error(connection, "60019", f"Invalid op: {clip(op)}", request_id)

    def _error(self, connection: Connection, code: str, msg: str, request_id) -> None:
        frame = {"event": "error", "code": code, "msg": msg, "connId": connection.conn_id}
        if request_id is not None:
            frame = {"id": request_id, **frame}
        connection.send(frame)

    async def _login(self, connection: Connection, args: list, request_id) -> None:
        if len(args) != 1:
            self._error(connection, "60012", "Invalid request: login takes one arg", request_id)
            return
        failure = verify_ws_login(args[0], self.credentials, self.state.wall_now())
        if failure is not None:
            self._error(connection, failure.code, failure.message, request_id)
            connection.close(4001, "Login failed")
            return
        connection.logged_in = True
        frame = {"event": "login", "code": "0", "msg": "", "connId": connection.conn_id}
        connection.send({"id": request_id, **frame} if request_id is not None else frame)

    async def _subscription(self, connection: Connection, op: str, sent, request_id) -> None:
        if not isinstance(sent, dict) or not isinstance(sent.get("channel"), str):
            self._error(connection, "60012", f"Invalid request: {quote(sent)}", request_id)
            return
        channel = sent["channel"]
        if channel not in connection.channels:
            self._error(connection, "60018", _no_channel(channel, sent.get("instId")), request_id)
            return
        if not connection.logged_in:
            self._error(connection, "60011", "Please log in", request_id)
            return
        try:
            arg = self._checked_arg(sent)
        except InvalidArgs as e:
            self._error(connection, e.code, e.message, request_id)
            return
        ack = {"event": op, "arg": arg, "connId": connection.conn_id}
        connection.send({"id": request_id, **ack} if request_id is not None else ack)
        if op == "unsubscribe":
            for kept in [s for s in connection.subscriptions if s == arg]:
                connection.subscriptions.remove(kept)
                task = connection.tasks.pop(id(kept), None)
                if task:
                    task.cancel()
            return
        subscription = dict(arg)
        connection.subscriptions.append(subscription)
        count = sum(
            1 for c in self.connections if any(s["channel"] == channel for s in c.subscriptions)
        )
        connection.send(
            {
                "event": "channel-conn-count",
                "channel": channel,
                "connCount": str(count),
                "connId": connection.conn_id,
            }
        )
        if channel == "positions":
            await self._positions_snapshot(connection, subscription)
            interval = self._interval(subscription)
            if interval > 0:
                connection.tasks[id(subscription)] = asyncio.create_task(
                    self._periodic(connection, subscription, interval)
                )

    def _checked_arg(self, sent: dict) -> dict[str, str]:
        """OKX's keys of a subscribe arg, each text; raises InvalidArgs (60013/60018)."""
        arg = {key: sent[key] for key in ARG_KEYS if key in sent}
        if any(not isinstance(v, str) for v in arg.values()) or any(
            len(v) > (EXTRA_PARAMS_LIMIT if k == "extraParams" else QUOTE_LIMIT)
            for k, v in arg.items()
        ):
            raise InvalidArgs("60013", f"Invalid args: {quote(sent)}")
        channel, inst_id = arg["channel"], arg.get("instId", "")
        if channel != "account" and arg.get("instType") not in INST_TYPES:
            raise InvalidArgs("60013", f"Invalid args: {quote(sent)}")
        families = {symbol.removesuffix("-SWAP") for symbol in self.state.instruments}
        if (inst_id and inst_id not in self.state.instruments) or (
            arg.get("instFamily") and arg["instFamily"] not in families
        ):
            raise InvalidArgs("60018", _no_channel(channel, inst_id or arg["instFamily"]))
        if arg.get("extraParams"):
            _extra_params(arg["extraParams"], sent)
        return arg

    def _interval(self, subscription: dict) -> float:
        extra = subscription.get("extraParams")
        value = _extra_params(extra, subscription).get("updateInterval") if extra else None
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or value not in UPDATE_INTERVALS:
            return self.positions_interval
        return UPDATE_INTERVALS[value]

    async def _periodic(self, connection: Connection, subscription: dict, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            await self._positions_snapshot(connection, subscription)

    async def _positions_snapshot(self, connection: Connection, subscription: dict) -> None:
        engine = self.state.engine
        held, now, equity = await asyncio.to_thread(
            lambda: (engine.positions(), engine.server_time(), engine.balance().equity)
        )
        data = [self._position(p, now, equity) for p in reversed(held) if _matches(subscription, p)]
        connection.send(
            {
                "arg": self._arg(subscription),
                "eventType": "snapshot",
                "curPage": 1,
                "lastPage": True,
                "data": data,
            }
        )

    # -- pushes ----------------------------------------------------------------------------

    def _arg(self, subscription: dict) -> dict:
        return {
            **{k: v for k, v in subscription.items() if k != "extraParams"},
            "uid": self.state.uid,
        }

    def _position(self, position: ExchangePosition, now, equity=None) -> dict:
        spec = self.state.instruments[position.symbol]
        last = self._last_px.get(position.symbol, position.mark_price)
        return account.position_dict(position, spec, last, equity, push_time=now)

    def _fan_out(self, event: object) -> None:
        if isinstance(event, Order):
            channel, extra = "orders", {}
            body = self._order(event)  # always: it keeps the fill bookkeeping current
        elif isinstance(event, ExchangePosition):
            self._last_px[event.symbol] = event.mark_price
            channel, extra = "positions", {"eventType": "event_update"}
            body = None
        elif isinstance(event, Balance):
            channel = "account"
            extra = {"eventType": "event_update", "curPage": 1, "lastPage": True}
            body = None
        elif isinstance(event, AlgoOrder):
            channel, extra = "orders-algo", {}
            body = None
        else:
            return
        for connection in list(self.connections):
            for subscription in connection.subscriptions:
                if subscription["channel"] != channel or not _matches(subscription, event):
                    continue
                if body is None:
                    body = self._body(event)
                message = {"arg": self._arg(subscription), **extra, "data": [body]}
                self._deliver(connection, message)

    def _body(self, event: ExchangePosition | Balance | AlgoOrder) -> dict:
        if isinstance(event, ExchangePosition):
            return self._position(event, event.updated_at)
        if isinstance(event, AlgoOrder):
            last = self._last_px.get(event.symbol)
            if last is None:
                last = self.state.engine.last_price(event.symbol)
            return wire.ws_algo_dict(event, self.state.instruments[event.symbol], last)
        positions = self.state.engine.positions()
        return account.balance_dict(event, positions, self.state.instruments)

    def _order(self, order: Order) -> dict:
        before = self._filled.get(order.order_id, Decimal(0))
        fill = order.last_fill if order.filled_size > before else None
        self._filled[order.order_id] = order.filled_size
        if fill is not None:
            self._last_px[order.symbol] = fill.price
        last = self._last_px.get(order.symbol)
        if last is None:
            last = self.state.engine.last_price(order.symbol)
            self._last_px[order.symbol] = last
        shown, tag = self.state.order_view(order)
        spec = self.state.instruments[order.symbol]
        return wire.ws_order_dict(order, spec, last, fill, tag, shown)

    def _deliver(self, connection: Connection, message: dict) -> None:
        faults = self.state.faults
        if self._reorder_left == 0:
            self._reorder_left = faults.take_reorder()
            if self._reorder_left and self.loop is not None:
                self.loop.call_later(REORDER_FLUSH_SECONDS, self._flush_reordered)
        if self._reorder_left > 0:
            self._reorder_buffer.append((connection, message))
            self._reorder_left -= 1
            if self._reorder_left == 0:
                self._flush_reordered()
            return
        connection.send(message)
        if faults.take_duplicate():
            connection.send(message)

    def _flush_reordered(self) -> None:
        held, self._reorder_buffer = self._reorder_buffer, []
        self._reorder_left = 0
        for connection, message in reversed(held):
            connection.send(message)


def _no_channel(channel: str, inst_id: object) -> str:
    inst = clip(inst_id) if inst_id else ""
    return f"Wrong URL or channel:{clip(channel)},instId:{inst} doesn't exist."


def _extra_params(text: object, sent: dict) -> dict:
    """``extraParams``: a JSON object in a string; raises InvalidArgs (60013) otherwise."""
    try:
        extra = json.loads(text) if isinstance(text, str) else None
    except (ValueError, RecursionError):
        extra = None
    if not isinstance(extra, dict):
        raise InvalidArgs("60013", f"Invalid args: {quote(sent)}")
    return extra


def _matches(subscription: dict, event: object) -> bool:
    symbol = getattr(event, "symbol", None)
    if symbol is None:
        return True
    inst_type = subscription.get("instType", "ANY")
    if inst_type not in ("ANY", "SWAP", None):
        return False
    inst_id = subscription.get("instId")
    family = subscription.get("instFamily")
    return (not inst_id or inst_id == symbol) and (
        not family or family == symbol.removesuffix("-SWAP")
    )
