"""Migration 0002 (the original column names) keeps every row: a database made by 0001
with a row in every table is upgraded, read under the new names, downgraded and read again
under the old ones, and comes back in 0001's exact shape, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from qwentrade.adapters.sql import current_revision, downgrade, make_engine, upgrade
from qwentrade.adapters.sql.types import ExactDecimal, UtcDateTime

T0 = datetime(2024, 1, 1, tzinfo=UTC)
H = timedelta(hours=1)
BTC = "BTC-USDT-SWAP"
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
KLINE = {"open": 100.0, "high": 101.0, "low": 99.0, "close": 100.5, "volume": 12.0}

# Rows as 0001 stores them, by table (several tables get two rows to check derivations).
AT_0001: dict[str, list[dict[str, Any]]] = {
    "klines_15m": [{"symbol": BTC, "time": T0, **KLINE, "ema_9": 100.2, "adx_14": None}],
    "klines_4h": [{"symbol": BTC, "time": T0, **KLINE, "rsi_14": 55.5}],
    "klines_1d": [{"symbol": BTC, "time": T0, **KLINE, "histogram": -0.25}],
    "funding_rate": [
        {"symbol": BTC, "time": T0, "funding_rate": Decimal("0.0001"), "realized_rate": None},
        {
            "symbol": BTC,
            "time": T0 + 5 * H,  # a prediction filed off the settlement grid
            "funding_rate": Decimal("-0.000123456789"),
            "realized_rate": Decimal("-0.0001"),
        },
    ],
    "open_interest": [
        {"symbol": BTC, "time": T0, "open": 1.0e10, "high": 1.2e10, "low": 0.9e10, "close": 1.1e10},
        {
            "symbol": BTC,
            "time": T0 + 24 * H,
            "open": 1.1e10,
            "high": 1.3e10,
            "low": 1.0e10,
            "close": 1.21e10,
        },
    ],
    "market_sentiment": [
        {
            "symbol": BTC,
            "time": T0,
            "long_ratio": 0.6,
            "short_ratio": 0.4,
            "long_short_ratio": 1.5,
        }
    ],
    "order_book": [
        {"symbol": BTC, "time": T0, "bids": [["100.1", "2"]], "asks": [["100.2", "0.5"]]}
    ],
    "etf_flow": [
        {"symbol": "BTC", "date": date(2024, 1, 2), "net_flow_usd": -1.25e8, "price_usd": 43000.0}
    ],
    "fear_greed": [{"time": T0, "value": 72.0, "classification": "Greed"}],
    "liquidation": [{"symbol": BTC, "time": T0, "long_usd": 1.2e6, "short_usd": 3.4e5}],
    "order_history": [
        {
            "order_id": "1001",
            "client_order_id": "qtA1",
            "symbol": BTC,
            "side": "buy",
            "pos_side": "long",
            "order_type": "limit",
            "state": "partially_filled",
            "size": Decimal("1.5"),
            "filled_size": Decimal("0.25"),
            "price": Decimal("42000.1"),
            "avg_price": Decimal("42000.05"),
            "leverage": 5,
            "fee": Decimal("-0.0123456789"),
            "pnl": Decimal("0"),
            "reduce_only": False,
            "td_mode": "cross",
            "source": "",
            "c_time": T0,
            "u_time": T0 + H,
        }
    ],
    "order_intent": [
        {
            "intent_id": "entry-1",
            "client_order_id": "qtoentry1",
            "symbol": BTC,
            "action": "OPEN",
            "side": "LONG",
            "size": Decimal("1.25"),
            "price": None,
            "trigger_price": None,
            "state": "SENT",
            "order_id": None,
            "error": "",
            "created_at": T0,
            "updated_at": T0 + H,
        }
    ],
    "position_history": [
        {
            "pos_id": "p1",
            "u_time": T0 + 2 * H,
            "symbol": BTC,
            "pos_side": "long",
            "margin_mode": "cross",
            "leverage": 10,
            "open_avg_price": Decimal("42000.1"),
            "close_avg_price": Decimal("42100.25"),
            "open_max_size": Decimal("3"),
            "close_total_size": Decimal("3"),
            "pnl": Decimal("15.00"),
            "realized_pnl": Decimal("12.34"),
            "fee": Decimal("-2.66"),
            "funding_fee": Decimal("0.000001"),
            "close_type": 2,
            "c_time": T0,
        },
        {
            "pos_id": "p2",
            "u_time": T0 + H,
            "symbol": BTC,
            "pos_side": "short",
            "margin_mode": "isolated",
            "leverage": 3,
            "open_avg_price": Decimal("41000"),
            "close_avg_price": Decimal("40900.5"),
            "open_max_size": Decimal("3"),
            "close_total_size": Decimal("1.25"),
            "pnl": Decimal("1.2"),
            "realized_pnl": Decimal("1.1"),
            "fee": Decimal("-0.1"),
            "funding_fee": Decimal("0"),
            "close_type": 1,
            "c_time": T0,
        },
    ],
    "market_signal": [
        {
            "id": 1,
            "symbol": BTC,
            "time": T0,
            "signal_type": "LONG",
            "score": 18.0,
            "price": Decimal("42000.5"),
            "details": {"trigger": ["ema_cross"]},
            "created_at": T0 + 15 * H / 60,
            "expires_at": T0 + 4 * H,
            "status": "ACTIVE",
        }
    ],
    "pending_order": [
        {
            "id": "pend-1",
            "symbol": BTC,
            "side": "SHORT",
            "trigger_price": Decimal("43000.1"),
            "crossing": "UP",
            "size": Decimal("2"),
            "leverage": 5,
            "stop_loss": Decimal("44000"),
            "take_profit": Decimal("41000.5"),
            "state": "CANCELLED",
            "created_at": T0,
            "expires_at": T0 + H,
            "updated_at": T0 + H / 2,
            "closed_at": T0 + H / 2,
            "fill_price": None,
            "reason": "superseded",
        }
    ],
    "trading_relations": [
        {
            "client_order_id": name,
            "symbol": BTC,
            "side": "LONG",
            "order_id": order_id,
            "pos_id": None,
            "stop_loss_algo_id": f"sl-{name}",
            "stop_loss_price": Decimal("41000.5"),
            "take_profit_algo_id": None,
            "take_profit_price": None,
            "signal_id": 1,
            "pending_order_id": None,
            "status": "OPEN",
            "created_at": created,
            "updated_at": created,
        }
        for name, order_id, created in (("qtB", "5002", T0 + H), ("qtA", None, T0))
    ],
    "config": [
        {
            "key": "detector.score_threshold",
            "value": "16",
            "value_type": "int",
            "description": "",
            "updated_at": T0,
        }
    ],
    "system_status": [
        {
            "component": "klines_15m",
            "state": "OK",
            "last_run_at": T0,
            "last_success_at": T0,
            "last_error_at": None,
            "last_error": "",
            "runs": 3,
            "successes": 3,
            "failures": 0,
            "consecutive_failures": 0,
            "rows": 96,
            "note": "",
            "updated_at": T0,
        }
    ],
}

RENAMED = {
    "market_sentiment": {"long_ratio": "long_account_ratio", "short_ratio": "short_account_ratio"},
    "etf_flow": {"net_flow_usd": "net_flow"},
    "liquidation": {"long_usd": "long_liquidation", "short_usd": "short_liquidation"},
    "order_history": {
        "client_order_id": "cl_ord_id",
        "state": "status",
        "size": "amount",
        "filled_size": "filled_amount",
        "c_time": "created_at",
        "u_time": "updated_at",
    },
    "position_history": {"open_avg_price": "avg_price"},
    "market_signal": {"expires_at": "expire_at"},
    "pending_order": {
        "size": "amount",
        "state": "status",
        "stop_loss": "stop_loss_trigger",
        "take_profit": "take_profit_trigger",
        "expires_at": "expire_at",
    },
    "trading_relations": {"order_id": "open_order_id"},
    "system_status": {"component": "key", "state": "value"},
}
# What 0002 adds to each row (keyed like the rows above), derived from the old columns.
ADDED: dict[str, list[dict[str, Any]]] = {
    "funding_rate": [{"next_funding_time": T0 + 8 * H}, {"next_funding_time": T0 + 8 * H}],
    "open_interest": [
        {"open_interest": 1.1e10, "change_24h": None, "change_percent_24h": None},
        {"open_interest": 1.21e10, "change_24h": 1.1e9, "change_percent_24h": 10.0},
    ],
    "etf_flow": [{"total_flow_in": None, "total_flow_out": None}],
    "liquidation": [{"total_liquidation": 1.54e6}],
    "position_history": [
        {"pos_size": Decimal("0"), "unrealized_pnl": Decimal("0"), "margin": None},
        {"pos_size": Decimal("1.75"), "unrealized_pnl": None, "margin": None},
    ],
    "pending_order": [{"signal_id": None}],
    "trading_relations": [  # numbered in the order they were created
        {"id": number, **dict.fromkeys(("close_order_id", "open_time", "close_time"))}
        | {"pnl": None, "pnl_percentage": None}
        for number in (2, 1)
    ],
}


def _type(value: Any) -> sa.types.TypeEngine | None:
    if isinstance(value, datetime):
        return UtcDateTime()
    if isinstance(value, Decimal):
        return ExactDecimal()
    if isinstance(value, dict | list):
        return sa.JSON()
    if isinstance(value, date):
        return sa.Date()
    return None


def insert(connection: sa.Connection, table: str, row: dict[str, Any]) -> None:
    """Raw ``INSERT`` of ``row`` (binds typed so SQLite stores what the app stores)."""
    names = ", ".join(f'"{name}"' for name in row)
    statement = sa.text(f"INSERT INTO {table} ({names}) VALUES ({', '.join(':' + n for n in row)})")
    binds = [sa.bindparam(n, type_=_type(v)) for n, v in row.items() if _type(v) is not None]
    connection.execute(statement.bindparams(*binds), row)


def read(
    connection: sa.Connection, table: str, like: list[dict[str, Any]], order: str
) -> list[dict]:
    """Rows of ``table`` with the columns of ``like`` (typed by their values), by ``order``."""
    types = {name: None for name in like[0]}
    for row in like:
        for name, value in row.items():
            types[name] = types[name] or _type(value)
    columns = [sa.column(name, kind or sa.types.NullType()) for name, kind in types.items()]
    names = ", ".join(f'"{name}"' for name in types)
    statement = sa.text(f'SELECT {names} FROM {table} ORDER BY "{order}"').columns(*columns)
    return [dict(row) for row in connection.execute(statement).mappings()]


ORDER_BY = {"etf_flow": "date", "order_history": "order_id", "order_intent": "intent_id"}


def order_column(table: str, renamed: bool) -> str:
    old = {
        "position_history": "pos_id",
        "market_signal": "id",
        "pending_order": "id",
        "trading_relations": "client_order_id",
        "config": "key",
        "system_status": "component",
    }
    name = ORDER_BY.get(table) or old.get(table, "time")
    return RENAMED.get(table, {}).get(name, name) if renamed else name


def sorted_like(table: str, rows: list[dict[str, Any]], renamed: bool) -> list[dict[str, Any]]:
    key = order_column(table, renamed)
    return sorted(rows, key=lambda row: row[key])


def upgraded_rows(table: str) -> list[dict[str, Any]]:
    """AT_0001[table] under 0002's names, with the derived columns added."""
    names = RENAMED.get(table, {})
    rows = [{names.get(k, k): v for k, v in row.items()} for row in AT_0001[table]]
    for row, extra in zip(rows, ADDED.get(table, [{}] * len(rows)), strict=True):
        row.update(extra)
    if table == "position_history":
        for row in rows:
            row["updated_at"] = row["u_time"]  # the same fact (see schema.py)
    return rows


@pytest.fixture(params=BACKENDS)
def at_0001(request, tmp_path):
    """A database at revision 0001 holding AT_0001."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    else:
        engine = request.getfixturevalue("postgres_schemas").engine("qtmig2")
    assert upgrade(engine, "0001") == "0001"
    with engine.begin() as connection:
        for table, rows in AT_0001.items():
            for row in rows:
                insert(connection, table, row)
    yield engine
    engine.dispose()


def check(engine: sa.Engine, expected: dict[str, list[dict[str, Any]]], renamed: bool) -> None:
    with engine.connect() as connection:
        for table, rows in expected.items():
            want = sorted_like(table, rows, renamed)
            got = read(connection, table, want, order_column(table, renamed))
            if table == "open_interest":  # the percentage is computed in doubles
                for row in want:
                    if row.get("change_percent_24h") is not None:
                        row["change_percent_24h"] = pytest.approx(row["change_percent_24h"])
            assert got == want, table


def test_upgrade_keeps_every_row_under_the_new_names_and_downgrade_restores_them(at_0001):
    assert upgrade(at_0001, "0002") == "0002"
    check(at_0001, {table: upgraded_rows(table) for table in AT_0001}, renamed=True)
    assert downgrade(at_0001, "0001") == "0001"
    check(at_0001, AT_0001, renamed=False)
    assert upgrade(at_0001, "0002") == "0002"  # and up again
    check(at_0001, {table: upgraded_rows(table) for table in AT_0001}, renamed=True)


def test_ids_continue_after_the_numbered_relations(at_0001):
    upgrade(at_0001, "0002")  # (0003 allows one OPEN relation per symbol)
    with at_0001.begin() as connection:
        insert(
            connection,
            "trading_relations",
            {
                "client_order_id": "qtC",
                "symbol": BTC,
                "side": "SHORT",
                "status": "OPEN",
                "created_at": T0 + 2 * H,
                "updated_at": T0 + 2 * H,
            },
        )
        ids = connection.execute(
            sa.text("SELECT client_order_id, id FROM trading_relations ORDER BY id")
        ).all()
    assert [tuple(row) for row in ids] == [("qtA", 1), ("qtB", 2), ("qtC", 3)]
    with pytest.raises(sa.exc.IntegrityError), at_0001.begin() as connection:
        insert(connection, "trading_relations", {**upgraded_rows("trading_relations")[0], "id": 9})


def test_a_total_without_a_candle_downgrades_to_a_flat_candle(at_0001):
    upgrade(at_0001)
    with at_0001.begin() as connection:
        insert(connection, "open_interest", {"symbol": "ETH", "time": T0, "open_interest": 5e9})
    downgrade(at_0001, "0001")
    with at_0001.connect() as connection:
        like = [{"open": 0.0, "high": 0.0, "low": 0.0, "close": 0.0}]
        rows = read(connection, "open_interest WHERE symbol = 'ETH'", like, "time")
    assert rows == [{"open": 5e9, "high": 5e9, "low": 5e9, "close": 5e9}]


def shape(engine: sa.Engine) -> dict[str, Any]:
    """Every table's columns (name, type, nullability, default), key, indexes and unique
    constraints, as the database reports them."""
    inspector = sa.inspect(engine)
    out = {}
    for table in sorted(inspector.get_table_names()):
        out[table] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], c.get("default"))
                for c in inspector.get_columns(table)
            ],
            "pk": inspector.get_pk_constraint(table),
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                for i in inspector.get_indexes(table)
            ),
            "unique": sorted(
                (u["name"], tuple(u["column_names"]))
                for u in inspector.get_unique_constraints(table)
            ),
        }
    return out


@pytest.fixture(params=BACKENDS)
def two_empty(request, tmp_path):
    if request.param == "sqlite":
        engines = [make_engine(f"sqlite:///{tmp_path / f'{n}.db'}") for n in ("a", "b")]
    else:
        schemas = request.getfixturevalue("postgres_schemas")
        engines = [schemas.engine("qtshape") for _ in range(2)]
    yield engines
    for engine in engines:
        engine.dispose()


def test_downgrade_gives_exactly_the_shape_of_0001(two_empty):
    made_by_0001, round_trip = two_empty
    upgrade(made_by_0001, "0001")
    upgrade(round_trip)
    downgrade(round_trip, "0001")
    assert current_revision(round_trip) == "0001"
    assert shape(round_trip) == shape(made_by_0001)
