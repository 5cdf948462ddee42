"""Small helpers the SQL repositories share: spans, pages, row conversion."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from qwentrade.domain.records import check_page, check_span


def within(
    statement: sa.Select, column: sa.ColumnElement, start: datetime | None, end: datetime | None
) -> sa.Select:
    """``statement`` restricted to ``start <= column < end`` (checked; None = open)."""
    start, end = check_span(start, end)
    if start is not None:
        statement = statement.where(column >= start)
    if end is not None:
        statement = statement.where(column < end)
    return statement


def paged(statement: sa.Select, limit: int | None, offset: int) -> sa.Select:
    """``statement`` with LIMIT/OFFSET (checked; limit None = all)."""
    limit, offset = check_page(limit, offset)
    if limit is not None:
        statement = statement.limit(limit)
    if offset:
        statement = statement.offset(offset)
    return statement


def row_dict(row: sa.Row) -> dict[str, Any]:
    """A result row as a plain dict."""
    return dict(row._mapping)


def renamed(values: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    """``values`` with keys renamed by ``names`` (others kept)."""
    return {names.get(key, key): value for key, value in values.items()}
