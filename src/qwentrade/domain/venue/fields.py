"""Field converters and validators shared by the venue value objects.

Amounts, prices and sizes become ``Decimal`` through ``domain.numbers``; times must be
aware UTC ``datetime``s; client order ids and tags follow OKX's character rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

import attrs

from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.market import require_utc
from qwentrade.domain.numbers import to_decimal

CLIENT_ORDER_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")
TAG = re.compile(r"^[A-Za-z0-9]{0,16}$")


def _dec(field: str) -> Callable[[object], Decimal]:
    return lambda value: to_decimal(value, field)


def _dec_or_none(field: str) -> Callable[[object], Decimal | None]:
    return lambda value: None if value is None else to_decimal(value, field)


def _utc(field: str) -> Callable[[datetime], datetime]:
    return lambda value: require_utc(value, field)


def _utc_or_none(field: str) -> Callable[[datetime | None], datetime | None]:
    return lambda value: None if value is None else require_utc(value, field)


def _positive_or_none(instance: object, attribute: attrs.Attribute, value: object) -> None:
    if value is not None and value <= 0:  # type: ignore[operator]
        raise InvalidInput(attribute.name, f"must be positive when given, got {value}")


def _non_negative(instance: object, attribute: attrs.Attribute, value: Decimal) -> None:
    if value < 0:
        raise InvalidInput(attribute.name, f"must not be negative, got {value}")


def check_client_order_id(value: str, field: str = "client_order_id") -> str:
    """Return ``value`` if it is 1-32 ASCII letters or digits (OKX ``clOrdId``), else raise."""
    if not isinstance(value, str) or not CLIENT_ORDER_ID.match(value):
        raise InvalidInput(
            field, f"{value!r} must be 1-32 letters or digits (A-Z, a-z, 0-9), case-sensitive"
        )
    return value


def _client_id(instance: object, attribute: attrs.Attribute, value: str) -> None:
    check_client_order_id(value, attribute.name)


def _optional_client_id(instance: object, attribute: attrs.Attribute, value: str) -> None:
    if value != "":
        check_client_order_id(value, attribute.name)


def _tag(instance: object, attribute: attrs.Attribute, value: str) -> None:
    if not isinstance(value, str) or not TAG.match(value):
        raise InvalidInput(
            attribute.name, f"{value!r} must be up to 16 letters or digits (OKX tag), or empty"
        )
