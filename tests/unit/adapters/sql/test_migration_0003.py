"""Migration 0003 (one OPEN relation per symbol, close reasons, the trading lease) on
SQLite and PostgreSQL: up keeps every relation (closing older duplicate OPEN ones with a
reason), the index then refuses a second OPEN relation of a symbol, down restores 0002's
shape and up again works."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from migration_helpers import BACKENDS, empty_database

from qwentrade.adapters.sql import downgrade, upgrade

T0 = datetime(2024, 1, 1, tzinfo=UTC)
BTC, ETH = "BTC-USDT-SWAP", "ETH-USDT-SWAP"


@pytest.fixture(params=BACKENDS)
def at_0002(request, tmp_path):
    with empty_database(request, tmp_path, "qtmig3") as engine:
        assert upgrade(engine, "0002") == "0002"
        yield engine


def add(connection, client_order_id: str, symbol: str, status: str, minutes: int) -> None:
    at = (T0 + timedelta(minutes=minutes)).replace(tzinfo=None).isoformat(" ")
    connection.execute(
        sa.text(
            "INSERT INTO trading_relations (client_order_id, symbol, side, status, created_at, "
            "updated_at) VALUES (:c, :s, 'LONG', :st, :t, :t)"
        ),
        {"c": client_order_id, "s": symbol, "st": status, "t": at},
    )


def rows(engine):
    with engine.connect() as connection:
        found = connection.execute(
            sa.text(
                "SELECT client_order_id, status, close_reason FROM trading_relations "
                "ORDER BY client_order_id"
            )
        ).all()
    return [tuple(r) for r in found]


def shape(engine):
    inspector = sa.inspect(engine)
    return (
        sorted(inspector.get_table_names()),
        [c["name"] for c in inspector.get_columns("trading_relations")],
        sorted(i["name"] for i in inspector.get_indexes("trading_relations")),
    )


def test_up_closes_duplicate_open_relations_then_the_index_holds(at_0002, caplog):
    with at_0002.begin() as connection:
        add(connection, "qtold", BTC, "OPEN", 0)
        add(connection, "qtnew", BTC, "OPEN", 5)
        add(connection, "qteth", ETH, "OPEN", 1)
        add(connection, "qtdone", BTC, "CLOSED", 2)
    before = shape(at_0002)
    assert upgrade(at_0002) == "0003"
    assert rows(at_0002) == [
        ("qtdone", "CLOSED", ""),
        ("qteth", "OPEN", ""),
        ("qtnew", "OPEN", ""),
        ("qtold", "CLOSED", "duplicate open relation closed by migration 0003"),
    ]
    assert "of BTC-USDT-SWAP: duplicate open relation closed" in caplog.text  # logged
    with pytest.raises(sa.exc.IntegrityError), at_0002.begin() as connection:
        add(connection, "qtthird", BTC, "OPEN", 9)
    with at_0002.begin() as connection:  # closed and failed ones are not limited
        add(connection, "qtfail", BTC, "FAILED", 9)
        add(connection, "qtfail2", BTC, "FAILED", 10)
    assert "trading_lease" in shape(at_0002)[0]
    assert downgrade(at_0002) == "0002"
    assert shape(at_0002) == before
    with at_0002.begin() as connection:  # 0002 has no such limit
        add(connection, "qtthird", BTC, "OPEN", 11)
    with at_0002.begin() as connection:
        connection.execute(
            sa.text("DELETE FROM trading_relations WHERE client_order_id = 'qtthird'")
        )
    assert upgrade(at_0002) == "0003"
    assert ("qtold", "CLOSED", "") in rows(at_0002)  # the reason went with the column
