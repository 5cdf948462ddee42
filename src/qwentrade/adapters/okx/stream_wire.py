"""Pure pieces of the OKX private WebSocket (okx-spec section C): no socket, no threads.

1. Login signs ``timestamp + "GET" + "/users/self/verify"`` with HMAC-SHA256 and base64;
   the timestamp is Unix SECONDS (C2). The signature is computed here and never logged.
2. A text frame is one of: ``pong`` (the answer to our text ``ping``, C6), an event
   (``login``, ``subscribe``, ``error``, ``notice``, ``channel-conn-count``, C2/C3/C7/C8)
   or a data push ``{"arg": {"channel": ...}, "data": [...]}`` (C4/C5). Anything else
   is malformed: :func:`parse_frame` raises ``ValueError`` and the stream skips it.
3. Each row of a push becomes a domain value with a named constructor
   (:func:`order_from_ws`, :func:`position_from_ws`, :func:`algo_from_ws`); a bad row
   raises ``ValueError``/``InvalidInput`` and only that row is skipped.
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
from collections.abc import Hashable, Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import attrs

from qwentrade.adapters.okx.signing import OkxCredentials, signature
from qwentrade.domain.venue import (
    AlgoLeg,
    AlgoOrder,
    AttachedAlgo,
    ExchangePosition,
    Fill,
    Order,
    TdMode,
)

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


def _text(row: dict[str, Any], name: str) -> str:
    value = row.get(name)
    if not isinstance(value, str):
        raise ValueError(f"field {name} missing or not text: {value!r}")
    return value


def _required(row: dict[str, Any], name: str) -> str:
    value = _text(row, name)
    if not value:
        raise ValueError(f"field {name} is empty")
    return value


def _decimal(text: str, name: str) -> Decimal:
    try:
        return Decimal(text)
    except ArithmeticError:
        raise ValueError(f"field {name} is not a number: {text!r}") from None


def _number(row: dict[str, Any], name: str, default: str = "0") -> Decimal:
    value = row.get(name)
    return _decimal(value if isinstance(value, str) and value else default, name)


def _number_or_none(row: dict[str, Any], name: str) -> Decimal | None:
    value = row.get(name)
    return _decimal(value, name) if isinstance(value, str) and value else None


def _order_price(row: dict[str, Any], name: str) -> Decimal | None:
    """An algo leg's order price: ``-1`` (or empty) is market, i.e. None."""
    value = _number_or_none(row, name)
    return None if value is None or value == -1 else value


def _time(row: dict[str, Any], name: str) -> datetime:
    return datetime.fromtimestamp(int(_required(row, name)) / 1000, tz=UTC)


def _time_or_none(row: dict[str, Any], name: str) -> datetime | None:
    value = row.get(name)
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC) if value else None


def _leverage(row: dict[str, Any]) -> int:
    value = row.get("lever")
    return int(_decimal(value, "lever")) if isinstance(value, str) and value else 0


def _flag(row: dict[str, Any], name: str) -> bool:
    return row.get(name) in ("true", True)


def _attached(item: dict[str, Any]) -> AttachedAlgo:
    kind = item.get("slTriggerPxType") or item.get("tpTriggerPxType") or "last"
    return AttachedAlgo(
        sl_trigger_price=_number_or_none(item, "slTriggerPx"),
        tp_trigger_price=_number_or_none(item, "tpTriggerPx"),
        sl_order_price=_order_price(item, "slOrdPx"),
        tp_order_price=_order_price(item, "tpOrdPx"),
        size=_number_or_none(item, "sz"),
        trigger_price_type=kind,
        attach_algo_client_order_id=item.get("attachAlgoClOrdId") or "",
    )


def order_from_ws(row: dict[str, Any]) -> Order:
    """An ``orders`` channel row (okx-spec C5) as an :class:`Order`.

    ``avgPx`` is ``"0"`` on the WebSocket while nothing has filled: that is None here.
    ``last_fill`` is set when the push was caused by a fill (``fillSz`` > 0).
    """
    filled = _number(row, "accFillSz")
    attached_rows = [a for a in row.get("attachAlgoOrds") or [] if isinstance(a, dict)]
    fill_size = _number(row, "fillSz")
    fill = None
    if fill_size > 0:
        fill = Fill(
            trade_id=_text(row, "tradeId"),
            order_id=_required(row, "ordId"),
            symbol=_required(row, "instId"),
            side=_required(row, "side"),
            pos_side=_required(row, "posSide"),
            price=_number(row, "fillPx", ""),
            size=fill_size,
            fee=_number(row, "fillFee"),
            pnl=_number(row, "fillPnl"),
            time=_time(row, "fillTime"),
            liquidity="maker" if row.get("execType") == "M" else "taker",
        )
    return Order(
        order_id=_required(row, "ordId"),
        client_order_id=_text(row, "clOrdId"),
        symbol=_required(row, "instId"),
        side=_required(row, "side"),
        pos_side=_required(row, "posSide"),
        order_type=_required(row, "ordType"),
        state=_required(row, "state"),
        size=_number(row, "sz", ""),
        filled_size=filled,
        price=_number_or_none(row, "px"),
        avg_price=_number_or_none(row, "avgPx") if filled > 0 else None,
        fee=_number(row, "fee"),
        pnl=_number(row, "pnl"),
        leverage=_leverage(row),
        reduce_only=_flag(row, "reduceOnly"),
        td_mode=_required(row, "tdMode"),
        created_at=_time(row, "cTime"),
        updated_at=_time(row, "uTime"),
        attached_algos=tuple(_attached(a) for a in attached_rows),
        attached_algo_ids=tuple(a["attachAlgoId"] for a in attached_rows if a.get("attachAlgoId")),
        last_fill=fill,
        source=row.get("source") or "",
        algo_id=row.get("algoId") or "",
        tag=row.get("tag") or "",
    )


def position_from_ws(row: dict[str, Any]) -> ExchangePosition:
    """A ``positions`` channel row (okx-spec C4) as an :class:`ExchangePosition`.

    ``pos`` ``"0"`` is a closed position (size 0). The margin is ``imr`` in cross mode and
    ``margin`` in isolated mode.
    """
    mode = TdMode(_required(row, "mgnMode"))
    margin_field = "margin" if mode is TdMode.ISOLATED else "imr"
    mark = _number_or_none(row, "markPx") or _number(row, "last")
    return ExchangePosition(
        pos_id=_required(row, "posId"),
        symbol=_required(row, "instId"),
        pos_side=_required(row, "posSide"),
        size=_number(row, "pos", ""),
        avg_price=_number_or_none(row, "avgPx"),
        mark_price=mark,
        unrealised_pnl=_number(row, "upl"),
        realised_pnl=_number(row, "realizedPnl"),
        margin=_number(row, margin_field),
        leverage=_leverage(row),
        margin_mode=mode,
        liquidation_price=_number_or_none(row, "liqPx"),
        created_at=_time(row, "cTime"),
        updated_at=_time(row, "uTime"),
        fee=_number(row, "fee"),
        funding_fee=_number(row, "fundingFee"),
        maintenance_margin=_number(row, "mmr"),
    )


#: Algo types the system places; an ``orders-algo`` row of another type is not ours.
ALGO_TYPES = frozenset({"conditional", "oco"})


def algo_from_ws(row: dict[str, Any]) -> AlgoOrder:
    """An ``orders-algo`` channel row as an :class:`AlgoOrder` (``conditional``/``oco``).

    An order price of ``-1`` is market execution (None). ``linkedOrd.ordId`` is the
    parent order of an algo created from ``attachAlgoOrds``.
    """
    kind = row.get("slTriggerPxType") or row.get("tpTriggerPxType") or "last"
    close_fraction = _number_or_none(row, "closeFraction")
    linked = row.get("linkedOrd") if isinstance(row.get("linkedOrd"), dict) else {}
    leg = row.get("actualSide")
    fail_code = row.get("failCode") or ""
    return AlgoOrder(
        algo_id=_required(row, "algoId"),
        algo_client_order_id=row.get("algoClOrdId") or row.get("clOrdId") or "",
        symbol=_required(row, "instId"),
        side=_required(row, "side"),
        pos_side=_required(row, "posSide"),
        td_mode=_required(row, "tdMode"),
        algo_type=_required(row, "ordType"),
        state=_required(row, "state"),
        size=None if close_fraction else _number_or_none(row, "sz"),
        close_fraction=close_fraction,
        sl_trigger_price=_number_or_none(row, "slTriggerPx"),
        sl_order_price=_order_price(row, "slOrdPx"),
        tp_trigger_price=_number_or_none(row, "tpTriggerPx"),
        tp_order_price=_order_price(row, "tpOrdPx"),
        trigger_price_type=kind,
        reduce_only=_flag(row, "reduceOnly"),
        leverage=_leverage(row),
        created_at=_time(row, "cTime"),
        updated_at=_time_or_none(row, "uTime") or _time(row, "cTime"),
        attached_to=linked.get("ordId") or None,
        order_id=row.get("ordId") or "",
        triggered_leg=AlgoLeg(leg) if leg in ("sl", "tp") else None,
        triggered_at=_time_or_none(row, "triggerTime"),
        fail_code="" if fail_code == "0" else fail_code,
        tag=row.get("tag") or "",
    )


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
