"""OKX v5 payloads <-> domain values (pure; okx-spec sections B and D): the shared part.

The parsers are split by responsibility: :mod:`.wire_market` reads market data
(instruments, candles, funding, book, open interest, sentiment, liquidations) and
:mod:`.wire_trade` reads the account and orders and builds the request bodies. This
module holds what both use: the constants, the envelope checks, OKX's error codes mapped
to the domain's errors (:func:`error_from_okx`, keeping OKX's code and message) and the
small field readers. OKX sends numbers as strings and ``""`` for "none"; both are
handled by these readers and nowhere else. A field that is not a number where one is
expected raises ``ValueError`` (the stream skips such a row; see
``stream_wire.row_event``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from qwentrade.domain.errors import (
    AuthFailed,
    DomainError,
    ExchangeRejected,
    ExchangeUnavailable,
    InsufficientFunds,
    OrderNotFound,
    RateLimited,
)
from qwentrade.domain.market import from_ms

INST_TYPE = "SWAP"
SETTLE = "USDT"
MARKET_PRICE = "-1"  # an algo leg's order price meaning "market at trigger"


# -- error codes (okx-spec A, D4) ----------------------------------------------------------

RATE_LIMIT_CODES = frozenset({"50011", "50061", "51113"})
#: the venue or the path to it failed; a request may still have been carried out
SERVER_CODES = frozenset({"50001", "50004", "50005", "50013", "50026", "50156"})
TIMESTAMP_EXPIRED = "50102"
AUTH_CODES = frozenset(
    {"50007", "50008", "50009", "50027", "50101", "50103", "50104", "50105", "50106", "50107"}
    | {"50110", "50111", "50112", "50113", "50114", TIMESTAMP_EXPIRED}
)
NOT_FOUND_CODES = frozenset({"51400", "51401", "51402", "51503", "51509", "51603"})
FUNDS_CODES = frozenset(
    {"51008", "51119", "51127", "51131", "51502", "59103", "59108", "59200", "59201"}
)


def error_from_okx(code: str, message: str, http_status: int | None = None) -> DomainError:
    """The domain error for OKX ``code``/``message``; the text keeps both, ``code`` is set."""
    code = str(code or "")
    text = f"OKX {code}: {message}".strip() if code else f"OKX HTTP {http_status}: {message}"
    if code in NOT_FOUND_CODES:
        error: DomainError = OrderNotFound(text)
    elif code in FUNDS_CODES:
        error = InsufficientFunds(text)
    elif code in RATE_LIMIT_CODES or (not code and http_status == 429):
        error = RateLimited(text)
    elif code in AUTH_CODES or (not code and http_status in (401, 403)):
        error = AuthFailed(text)
    elif code in SERVER_CODES or (not code and (http_status or 0) >= 500):
        error = ExchangeUnavailable(text)
    else:
        return ExchangeRejected(text, code or str(http_status or ""))
    error.code = code  # type: ignore[attr-defined]
    return error


def envelope_failure(payload: object, items: bool = True) -> tuple[str, str] | None:
    """OKX's ``(code, message)`` when ``payload`` is not a success, else None.

    A place/cancel answer with top-level ``"1"``/``"2"`` carries the reason per item: the
    first failed item's ``sCode``/``sMsg`` is the failure. ccxt does not raise on a
    top-level ``"2"`` (partial success), so every item is checked here. With
    ``items=False`` the items are left to the caller (a batch whose items fail alone).
    """
    if not isinstance(payload, Mapping):
        return "", f"OKX answered something that is not a JSON object: {str(payload)[:200]}"
    code = str(payload.get("code", ""))
    data = payload.get("data")
    if code in ("0", "1", "2") and isinstance(data, list):
        failed = [d for d in data if isinstance(d, Mapping) and str(d.get("sCode", "0")) != "0"]
        if not items:
            return None if code == "0" or data else (code, str(payload.get("msg", "")))
        if failed:
            return str(failed[0]["sCode"]), str(failed[0].get("sMsg", ""))
        if code == "0":
            return None
    return code, str(payload.get("msg", ""))


def item_failure(item: Mapping[str, Any]) -> DomainError | None:
    """The error of one place/cancel item (``sCode != "0"``), else None."""
    code = str(item.get("sCode", "0"))
    return None if code == "0" else error_from_okx(code, str(item.get("sMsg", "")))


# -- small readers ---------------------------------------------------------------------


def _text(item: Mapping[str, Any], key: str) -> str:
    value = item.get(key)
    return "" if value is None else str(value)


def _number(text: str, key: str) -> Decimal:
    try:
        return Decimal(text)
    except ArithmeticError:  # decimal's InvalidOperation: not a number at all
        raise ValueError(f"field {key} is not a number: {text!r}") from None


def _dec(item: Mapping[str, Any], key: str, default: str = "0") -> Decimal:
    return _number(_text(item, key) or default, key)


def _dec_or_none(item: Mapping[str, Any], key: str) -> Decimal | None:
    text = _text(item, key)
    return None if text == "" else _number(text, key)


def _leg_price(item: Mapping[str, Any], key: str) -> Decimal | None:
    """An algo leg's order price: ``-1`` (market, however written) and ``""`` are None."""
    value = _dec_or_none(item, key)
    return None if value is None or value == Decimal(MARKET_PRICE) else value


def _time(item: Mapping[str, Any], key: str, fallback: str = "") -> datetime:
    return from_ms(_text(item, key) or _text(item, fallback) or "0")


def _int(item: Mapping[str, Any], key: str) -> int:
    text = _text(item, key)
    return int(_number(text, key)) if text else 0


def _flag(item: Mapping[str, Any], key: str) -> bool:
    value = item.get(key)
    return value is True or str(value).lower() == "true"


def num(value: Decimal | int) -> str:
    """A number as OKX text: plain notation, no exponent."""
    text = format(Decimal(value).normalize(), "f")
    return "0" if text == "-0" else text
