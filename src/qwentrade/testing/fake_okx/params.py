"""OKX request parameters -> domain requests, with OKX's codes for bad input.

OKX accepts numbers both as JSON strings and as JSON numbers (ccxt sends ``"lever": 5``
and ``"reduceOnly": true``), so both are accepted. A missing required parameter is
``50014`` "Parameter {x} can not be empty."; a malformed one ``51000`` "Parameter {x}
error" (okx-spec B22).

Hostile input gets the same answers, never a crash: a number must be finite, written in
at most :data:`MAX_NUMBER_TEXT` characters, with a decimal exponent within
``±MAX_EXPONENT`` (so ``sz=1e999999999`` is 51000, not a decimal overflow in the engine);
a whole number must fit OKX's 64-bit integers (a 5,000-digit ``after`` never reaches
``int()``); a time bound is clamped to years 1970-2200 (beyond them every bound selects
the same records). Messages quote at most :data:`QUOTE_LIMIT` characters of what was
sent (:func:`quote`, :func:`clip`).
"""

from __future__ import annotations

import re
import reprlib
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from qwentrade.domain.errors import DomainError, InvalidInput
from qwentrade.domain.venue import (
    AlgoRequest,
    AlgoType,
    AttachedAlgo,
    OrderRequest,
    OrderType,
    PosSide,
    Side,
    TdMode,
    TriggerPriceType,
)

#: Domain field names -> OKX parameter names, for error messages.
OKX_NAMES = {
    "symbol": "instId",
    "side": "side",
    "size": "sz",
    "price": "px",
    "client_order_id": "clOrdId",
    "order_type": "ordType",
    "pos_side": "posSide",
    "td_mode": "tdMode",
    "attached_algos": "attachAlgoOrds",
    "sl_trigger_price": "slTriggerPx",
    "tp_trigger_price": "tpTriggerPx",
    "sl_order_price": "slOrdPx",
    "tp_order_price": "tpOrdPx",
    "close_fraction": "closeFraction",
    "algo_type": "ordType",
    "algo_client_order_id": "algoClOrdId",
    "attach_algo_client_order_id": "attachAlgoClOrdId",
    "trigger_price_type": "slTriggerPxType",
    "leverage": "lever",
}

_ALPHANUMERIC = re.compile(r"^[A-Za-z0-9]{1,32}$")
_TAG = re.compile(r"^[A-Za-z0-9]{0,16}$")
_WHOLE = re.compile(r"-?[0-9]{1,19}")
_DIGITS = re.compile(r"-?[0-9]+")

#: How much of a client's value an error message quotes.
QUOTE_LIMIT = 64
#: Longest ``msg`` the fake sends (a message never grows with the input).
MESSAGE_LIMIT = 256
#: Numbers: largest decimal exponent (either sign) and longest text.
MAX_EXPONENT = 30
MAX_NUMBER_TEXT = 100
#: OKX parses whole numbers as 64-bit integers.
INT64 = 2**63 - 1
#: Time bounds (ms) are clamped to 1970-01-01 .. 2200-01-01: beyond them every bound
#: selects the same records, and datetime arithmetic stays in range.
MIN_TIME_MS = 0
MAX_TIME_MS = 7_258_118_400_000

_REPR = reprlib.Repr()
_REPR.maxlevel = 3
_REPR.maxstring = _REPR.maxother = _REPR.maxlong = QUOTE_LIMIT
_REPR.maxlist = _REPR.maxdict = _REPR.maxtuple = 4


def quote(value: object, limit: int = QUOTE_LIMIT) -> str:
    """``repr`` of ``value`` cut to about ``limit`` characters (``...`` marks the cut).

    Bounded work whatever the size or depth of ``value``: error messages quote input
    without echoing megabytes back.
    """
    text = repr(value[: limit + 1]) if isinstance(value, str) else _REPR.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def clip(value: object, limit: int = QUOTE_LIMIT) -> str:
    """Text as it was sent, cut to ``limit`` characters (``...`` marks the cut); any
    other value as :func:`quote` gives it."""
    if not isinstance(value, str):
        return quote(value, limit)
    return value if len(value) <= limit else value[: limit - 3] + "..."


def echo(value: object) -> str:
    """A client id sent back in a per-item result: text or a number, cut to QUOTE_LIMIT."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return ""
    text = value if isinstance(value, str) else quote(value)
    return text[:QUOTE_LIMIT]


class OkxError(Exception):
    """An error answered with OKX ``code``/``msg`` (top level or as an item's sCode)."""

    def __init__(self, code: str, message: str, status: int = 200) -> None:
        message = message[:MESSAGE_LIMIT]
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message
        self.status = status


def empty(name: str) -> OkxError:
    return OkxError("50014", f"Parameter {name} can not be empty.", 400)


def bad(name: str, detail: str = "") -> OkxError:
    suffix = f": {detail}" if detail else ""
    return OkxError("51000", f"Parameter {name} error{suffix}", 400)


def from_domain(error: DomainError) -> OkxError:
    """The OKX code and message of an engine refusal (its ``code``, else 51000)."""
    if isinstance(error, InvalidInput):
        return bad(OKX_NAMES.get(error.field, error.field), error.message)
    code = getattr(error, "code", "") or "51000"
    return OkxError(code, str(error))


def required(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name)
    if value is None or value == "":
        raise empty(name)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise bad(name)
    return str(value)


def optional(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise bad(name)
    return str(value)


def decimal(value: Any, name: str) -> Decimal:
    """A finite number of sensible size (see the module docstring), else 51000."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise bad(name, f"{quote(value)} is not a number")
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_NUMBER_TEXT:
        raise bad(name, f"{quote(value)} is not a number")
    try:
        number = Decimal(text)
    except (InvalidOperation, ValueError):
        raise bad(name, f"{quote(value)} is not a number") from None
    if not number.is_finite():
        raise bad(name, f"{quote(value)} is not a number")
    if not number:
        return Decimal(0)  # not 0E+999999999
    if abs(number.adjusted()) > MAX_EXPONENT:
        raise bad(name, f"{quote(value)} is out of range")
    return number


def optional_decimal(params: Mapping[str, Any], name: str) -> Decimal | None:
    value = params.get(name)
    return None if value is None or value == "" else decimal(value, name)


def order_price(params: Mapping[str, Any], name: str) -> Decimal | None:
    """An algo leg's order price: ``-1`` (or absent) means market, i.e. None."""
    price = optional_decimal(params, name)
    return None if price is None or price == -1 else price


def boolean(params: Mapping[str, Any], name: str, default: bool = False) -> bool:
    value = params.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise bad(name, f"{quote(value)} is not true or false")


def integer(params: Mapping[str, Any], name: str, default: int | None = None) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise bad(name, f"{quote(value)} is not a whole number")
    if isinstance(value, str):
        if not _DIGITS.fullmatch(value):
            raise bad(name, f"{quote(value)} is not a whole number")
        # at most 19 digits reach int(): a 5,000-digit text is refused by int() itself
        number = int(value) if _WHOLE.fullmatch(value) else INT64 + 1
    else:
        number = value
    if abs(number) > INT64:
        raise bad(name, f"{quote(value)} is out of range")
    return number


def time_ms(params: Mapping[str, Any], name: str) -> int | None:
    """A time bound in epoch ms (``after``/``before``/``begin``/``end``), clamped to
    :data:`MIN_TIME_MS` .. :data:`MAX_TIME_MS`; None when absent."""
    value = integer(params, name)
    return None if value is None else min(max(value, MIN_TIME_MS), MAX_TIME_MS)


def limit(params: Mapping[str, Any], default: int, maximum: int) -> int:
    value = integer(params, "limit", default)
    assert value is not None
    if value < 1:
        raise bad("limit")
    return min(value, maximum)


def enum_value(params: Mapping[str, Any], name: str, kind, default=None):
    text = params.get(name)
    if text is None or text == "":
        if default is None:
            raise empty(name)
        return default
    try:
        return kind(text)
    except (ValueError, TypeError):
        raise bad(name, f"{quote(text)} is not allowed") from None


def client_id(params: Mapping[str, Any], name: str) -> str:
    value = optional(params, name)
    if value and not _ALPHANUMERIC.match(value):
        raise bad(name, "1-32 letters or digits")
    return value


def tag(params: Mapping[str, Any]) -> str:
    value = optional(params, "tag")
    if not _TAG.match(value):
        raise bad("tag", "up to 16 letters or digits")
    return value


def trigger_type(spec: Mapping[str, Any]) -> TriggerPriceType:
    """The legs' trigger price type (the simulator watches one price for both legs)."""
    name = "slTriggerPxType" if spec.get("slTriggerPxType") else "tpTriggerPxType"
    return enum_value(spec, name, TriggerPriceType, TriggerPriceType.LAST)


def _attached(item: Mapping[str, Any]) -> tuple[AttachedAlgo, ...]:
    specs = item.get("attachAlgoOrds")
    if specs is None or specs == "":
        specs = []
    if not isinstance(specs, list) or not all(isinstance(s, Mapping) for s in specs):
        raise bad("attachAlgoOrds", "must be a list of objects")
    # older clients put one TP/SL on the order itself
    if not specs and (item.get("slTriggerPx") or item.get("tpTriggerPx")):
        specs = [item]
    out = []
    for spec in specs:
        out.append(
            AttachedAlgo(
                sl_trigger_price=optional_decimal(spec, "slTriggerPx"),
                tp_trigger_price=optional_decimal(spec, "tpTriggerPx"),
                sl_order_price=order_price(spec, "slOrdPx"),
                tp_order_price=order_price(spec, "tpOrdPx"),
                size=optional_decimal(spec, "sz") if spec is not item else None,
                trigger_price_type=trigger_type(spec),
                attach_algo_client_order_id=client_id(spec, "attachAlgoClOrdId"),
            )
        )
    return tuple(out)


def order_request(item: Mapping[str, Any], fallback_client_id: str) -> OrderRequest:
    """A ``/trade/order`` object as an OrderRequest (``fallback_client_id`` when the
    client sent none: the simulator needs one, the fake hides it again)."""
    if not isinstance(item, Mapping):
        raise bad("order", "each order must be a JSON object")
    symbol = required(item, "instId")
    td_mode = required(item, "tdMode")
    if td_mode not in ("cross", "isolated"):
        raise bad("tdMode", f"{quote(td_mode)}: SWAP orders take cross or isolated")
    side = enum_value(item, "side", Side)
    order_type_text = required(item, "ordType")
    if order_type_text == "optimal_limit_ioc":
        order_type_text = "market"
    order_type = enum_value({"ordType": order_type_text}, "ordType", OrderType)
    size = decimal(required(item, "sz"), "sz")
    price = optional_decimal(item, "px")
    if order_type is OrderType.MARKET:
        price = None
    elif price is None:
        raise empty("px")
    if item.get("tgtCcy") not in (None, "", "base_ccy"):
        raise bad("tgtCcy", "SWAP orders are sized in contracts")
    try:
        return OrderRequest(
            symbol=symbol,
            side=side,
            size=size,
            client_order_id=client_id(item, "clOrdId") or fallback_client_id,
            order_type=order_type,
            price=price,
            pos_side=enum_value(item, "posSide", PosSide, PosSide.NET),
            td_mode=TdMode(td_mode),
            reduce_only=boolean(item, "reduceOnly"),
            attached_algos=_attached(item),
            tag=tag(item),
        )
    except InvalidInput as e:
        raise from_domain(e) from None


def algo_request(item: Mapping[str, Any]) -> AlgoRequest:
    """A ``POST /trade/order-algo`` body as an AlgoRequest (conditional and oco only).

    ``algoClOrdId`` falls back to ``clOrdId`` (ccxt still sends the deprecated name).
    """
    if not isinstance(item, Mapping):
        raise bad("body", "must be a JSON object")
    symbol = required(item, "instId")
    td_mode = required(item, "tdMode")
    if td_mode not in ("cross", "isolated"):
        raise bad("tdMode", f"{quote(td_mode)}: SWAP orders take cross or isolated")
    kind = required(item, "ordType")
    if kind not in ("conditional", "oco"):
        raise bad("ordType", f"{quote(kind)}: the fake OKX server supports conditional and oco")
    size = optional_decimal(item, "sz")
    fraction = optional_decimal(item, "closeFraction")
    if size is None and fraction is None:
        raise empty("sz")
    try:
        return AlgoRequest(
            symbol=symbol,
            side=enum_value(item, "side", Side),
            algo_type=AlgoType(kind),
            size=size,
            close_fraction=fraction,
            sl_trigger_price=optional_decimal(item, "slTriggerPx"),
            sl_order_price=order_price(item, "slOrdPx"),
            tp_trigger_price=optional_decimal(item, "tpTriggerPx"),
            tp_order_price=order_price(item, "tpOrdPx"),
            pos_side=enum_value(item, "posSide", PosSide, PosSide.NET),
            td_mode=TdMode(td_mode),
            trigger_price_type=trigger_type(item),
            reduce_only=boolean(item, "reduceOnly"),
            algo_client_order_id=client_id(item, "algoClOrdId") or client_id(item, "clOrdId"),
            tag=tag(item),
        )
    except InvalidInput as e:
        raise from_domain(e) from None
