"""Helpers the in-memory repositories share: argument checks, filtering and paging."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, TypeVar

from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.records import check_page, check_text

T = TypeVar("T")


def page(items: list, limit: int | None, offset: int) -> list:
    """``items[offset:offset+limit]`` after checking both (limit None = all)."""
    limit, offset = check_page(limit, offset)
    return items[offset:] if limit is None else items[offset : offset + limit]


def choice(value: str, allowed: tuple[str, ...], field: str) -> str:
    """``value`` if it is one of ``allowed``, else InvalidInput naming ``field``."""
    if value not in allowed:
        raise InvalidInput(field, f"{value!r} is not one of {', '.join(allowed)}")
    return value


def typed(records: Iterable[object], kind: type[T]) -> list[T]:
    """The records as a list, each checked to be a ``kind``."""
    out = []
    for index, record in enumerate(records):
        if not isinstance(record, kind):
            raise InvalidInput(f"records[{index}]", f"expected {kind.__name__}, got {record!r}")
        out.append(record)
    return out


def select(
    items: Iterable[T],
    keep: Callable[[T], bool],
    order: Callable[[T], Any],
    newest_first: bool,
    limit: int | None,
    offset: int,
) -> list[T]:
    """The items ``keep`` accepts, sorted by ``order`` (descending if ``newest_first``),
    then paged."""
    check_page(limit, offset)
    return page(sorted(filter(keep, items), key=order, reverse=newest_first), limit, offset)


def in_span(when: datetime, start: datetime | None, end: datetime | None) -> bool:
    """``start <= when < end`` with None for an open side."""
    return (start is None or when >= start) and (end is None or when < end)


def symbol_ok(symbol: str | None) -> str | None:
    """A symbol filter: None, or a non-empty string."""
    return None if symbol is None else check_text(symbol, "symbol")
