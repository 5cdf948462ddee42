"""Pure pieces of the OKX private WebSocket (okx-spec section C): no socket, no threads.

1. Login signs ``timestamp + "GET" + "/users/self/verify"`` with HMAC-SHA256 and base64;
   the timestamp is Unix SECONDS (C2). The signature is computed here and never logged.
2. A text frame is one of: ``pong`` (the answer to our text ``ping``, C6), an event
   (``login``, ``subscribe``, ``error``, ``notice``, ``channel-conn-count``, C2/C3/C7/C8)
   or a data push ``{"arg": {"channel": ...}, "data": [...]}`` (C4/C5). Anything else
   is malformed: :func:`parse_frame` raises ``ValueError`` and the stream skips it.
3. Each row of a push becomes a domain value through :func:`row_event`: the rows carry
   the REST field set, so ``wire_trade.py``'s parsers read them (one parser per fact); the
   stream only checks first that a row names what it is (:data:`REQUIRED_FIELDS`). A
   bad row raises ``ValueError``/``InvalidInput`` and only that row is skipped.
4. Duplicates are recognised by a key per row: ``(ordId, uTime)`` for orders and
   ``(posId, uTime)`` for positions, extended with the state/fill size (orders) and the
   size (positions) so two different versions stamped in the same millisecond are never
   mistaken for one. :class:`SeenKeys` remembers keys for a window (30 minutes).
5. Login error codes that mean the credentials (or the clock) are wrong are
   :data:`AUTH_FAILURE_CODES`: the stream stops reconnecting on them.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Any

import attrs

from qwentrade.adapters.okx import wire_trade
from qwentrade.adapters.okx.signing import OkxCredentials, signature
from qwentrade.domain.venue import AlgoOrder, ExchangePosition, Order

WS_VERIFY_PATH = "/users/self/verify"
ORDERS = "orders"
POSITIONS = "positions"
ALGOS = "orders-algo"
#: Subscription arguments per channel (instType SWAP: the system trades perpetual swaps).
CHANNEL_ARGS: dict[str, dict[str, str]] = {
    ORDERS: {"channel": ORDERS, "instType": "SWAP"},
    # updateInterval 0: event pushes only, no ~5 s periodic snapshots (okx-spec C3)
    POSITIONS: {
        "channel": POSITIONS,
        "instType": "SWAP",
        "extraParams": json.dumps({"updateInterval": "0"}),
    },
    ALGOS: {"channel": ALGOS, "instType": "SWAP"},
}
#: Login refusals that retrying cannot fix (okx-spec C2, C8): bad key, sign, passphrase,
#: timestamp (the clock), key deleted. 63999 (internal error) is not among them.
AUTH_FAILURE_CODES = frozenset(
    {
        "60001", "60002", "60003", "60004", "60005", "60006", "60007", "60008",
        "60009", "60010", "60011", "60024", "60032",
    }
)  # fmt: skip
#: Close codes that mean the same (4001 login failed, 4007 API key updated or deleted).
AUTH_CLOSE_CODES = frozenset({4001, 4007})
NOTICE_RECONNECT_CODE = "64008"
DEDUPE_WINDOW_SECONDS = 30 * 60.0
DEDUPE_MAX_KEYS = 200_000


# -- requests ----------------------------------------------------------------------------


def login_sign(secret: str, timestamp: int) -> str:
    """OKX's WebSocket login ``sign`` for ``timestamp`` (Unix seconds)."""
    return signature(secret, f"{timestamp}GET{WS_VERIFY_PATH}")


def login_message(credentials: OkxCredentials, timestamp: int) -> str:
    """The ``login`` request text (the timestamp as a string, as the docs show)."""
    arg = {
        "apiKey": credentials.api_key,
        "passphrase": credentials.passphrase,
        "timestamp": str(timestamp),
        "sign": login_sign(credentials.secret, timestamp),
    }
    return json.dumps({"op": "login", "args": [arg]})


def subscribe_message(channels: Iterable[str]) -> str:
    """One ``subscribe`` request for ``channels`` (names in :data:`CHANNEL_ARGS`)."""
    return json.dumps({"op": "subscribe", "args": [CHANNEL_ARGS[c] for c in channels]})


def business_url(private_url: str) -> str:
    """The business WebSocket URL next to a private one (``orders-algo`` lives there, C1)."""
    base, _, query = private_url.partition("?")
    if not base.endswith("/private"):
        raise ValueError(f"{private_url!r} is not an OKX private WebSocket URL (…/ws/v5/private)")
    return base.removesuffix("/private") + "/business" + ("?" + query if query else "")


# -- frames ------------------------------------------------------------------------------


@attrs.frozen
class Pong:
    """The text ``pong``."""


@attrs.frozen
class Event:
    """An ``event`` frame: ``login``, ``subscribe``, ``error``, ``notice``, ..."""

    event: str
    code: str = ""
    message: str = ""
    channel: str = ""


@attrs.frozen
class Push:
    """A data push of ``channel`` with its rows (dicts, unparsed)."""

    channel: str
    rows: tuple[dict[str, Any], ...]


Frame = Pong | Event | Push


def parse_frame(text: str) -> Frame:
    """Classify one text frame; ``ValueError`` when it is none of OKX's shapes."""
    if text == "pong":
        return Pong()
    message = json.loads(text)  # JSONDecodeError is a ValueError
    if not isinstance(message, dict):
        raise ValueError("not a JSON object")
    if "event" in message:
        arg = message.get("arg") if isinstance(message.get("arg"), dict) else {}
        return Event(
            event=str(message["event"]),
            code=str(message.get("code", "")),
            message=str(message.get("msg", "")),
            channel=str(arg.get("channel", message.get("channel", ""))),
        )
    arg, data = message.get("arg"), message.get("data")
    if not isinstance(arg, dict) or not isinstance(arg.get("channel"), str):
        raise ValueError("a push without arg.channel")
    if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
        raise ValueError(f"a {arg['channel']} push whose data is not a list of objects")
    return Push(arg["channel"], tuple(data))


# -- rows --------------------------------------------------------------------------------

#: Fields a row must carry as non-empty text for the stream to use it: what names the
#: order/position/algo and its version (the duplicate keys below are built from them).
#: A REST answer is about what we asked for; a push is only known by these fields.
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    ORDERS: (
        "ordId",
        "instId",
        "side",
        "posSide",
        "ordType",
        "state",
        "tdMode",
        "sz",
        "cTime",
        "uTime",
    ),
    POSITIONS: ("posId", "instId", "posSide", "mgnMode", "pos", "cTime", "uTime"),
    ALGOS: ("algoId", "instId", "side", "posSide", "tdMode", "ordType", "state", "cTime"),
}
#: Fields that must be text but may be empty (an order placed without a client id).
TEXT_FIELDS: dict[str, tuple[str, ...]] = {ORDERS: ("clOrdId",), POSITIONS: (), ALGOS: ()}
#: Algo types the system places; an ``orders-algo`` row of another type is not ours.
ALGO_TYPES = frozenset({"conditional", "oco"})
_ROW_PARSERS: dict[str, Callable[[dict[str, Any]], Order | ExchangePosition | AlgoOrder]] = {
    ORDERS: wire_trade.order_from_okx,
    POSITIONS: wire_trade.position_from_okx,
    ALGOS: wire_trade.algo_from_okx,
}


def check_row(channel: str, row: dict[str, Any]) -> None:
    """``ValueError`` unless ``row`` carries the fields the stream needs (see above)."""
    for name in REQUIRED_FIELDS[channel] + TEXT_FIELDS[channel]:
        value = row.get(name)
        if not isinstance(value, str):
            raise ValueError(f"field {name} missing or not text: {value!r}")
        if not value and name in REQUIRED_FIELDS[channel]:
            raise ValueError(f"field {name} is empty")


def row_event(channel: str, row: dict[str, Any]) -> Order | ExchangePosition | AlgoOrder | None:
    """One row of a ``channel`` push as its domain value, read by the REST parsers of
    ``wire_trade.py`` (OKX pushes the REST field set); None for an algo type not ours.

    A bad row raises ``ValueError`` (a missing field, a non-number; ``InvalidInput`` is
    one too) and only that row is skipped.
    """
    if channel == ALGOS and row.get("ordType") not in ALGO_TYPES:
        return None  # trigger, trailing, ... orders the system does not place
    check_row(channel, row)
    return _ROW_PARSERS[channel](row)


# -- duplicates --------------------------------------------------------------------------


def order_key(row: dict[str, Any]) -> tuple[str, ...]:
    """``(ordId, uTime)`` plus state and filled size (same-millisecond versions differ)."""
    return (ORDERS, *(str(row.get(n, "")) for n in ("ordId", "uTime", "state", "accFillSz")))


def position_key(row: dict[str, Any]) -> tuple[str, ...]:
    """``(posId, uTime)`` plus the size."""
    return (POSITIONS, *(str(row.get(n, "")) for n in ("posId", "uTime", "pos")))


def algo_key(row: dict[str, Any]) -> tuple[str, ...]:
    """``(algoId, uTime)`` plus the state."""
    return (ALGOS, *(str(row.get(n, "")) for n in ("algoId", "uTime", "cTime", "state")))


class SeenKeys:
    """Keys seen in the last ``window`` seconds (at most ``max_keys``, oldest forgotten).

    Time is passed in (monotonic seconds); not thread-safe (one socket thread uses it).
    """

    def __init__(
        self, window: float = DEDUPE_WINDOW_SECONDS, max_keys: int = DEDUPE_MAX_KEYS
    ) -> None:
        self.window = window
        self.max_keys = max_keys
        self._seen: OrderedDict[Hashable, float] = OrderedDict()

    def first_time(self, key: Hashable, now: float) -> bool:
        """True when ``key`` was not seen within the window (and remember it now)."""
        while self._seen:
            oldest, seen_at = next(iter(self._seen.items()))
            if now - seen_at < self.window and len(self._seen) < self.max_keys:
                break
            del self._seen[oldest]
        if key in self._seen:
            return False
        self._seen[key] = now
        return True

    def __len__(self) -> int:
        return len(self._seen)
