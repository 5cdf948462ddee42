"""SqlConfigStore specifics: other processes' changes, outages and what is in the table."""

from __future__ import annotations

import threading

import sqlalchemy as sa

from qwentrade.adapters.sql import SqlConfigStore, make_engine
from qwentrade.adapters.sql.schema import config
from qwentrade.domain.config_keys import ConfigUnavailable

UNREACHABLE = "postgresql+psycopg://nobody@127.0.0.1:1/nowhere"


def test_a_change_by_another_store_is_seen_by_the_next_read(sql):
    service, cli = SqlConfigStore(sql), SqlConfigStore(sql)
    assert service.get("DETECTOR_SIGNAL_THRESHOLD") == 15
    cli.set("DETECTOR_SIGNAL_THRESHOLD", "20")
    assert service.get("DETECTOR_SIGNAL_THRESHOLD") == 20
    cli.reset("DETECTOR_SIGNAL_THRESHOLD")
    assert service.get("DETECTOR_SIGNAL_THRESHOLD") == 15


def test_values_are_stored_as_text_with_their_type_and_description(sql):
    SqlConfigStore(sql).set("detector.signal_expire_hours", 2)
    with sql.connect() as connection:
        row = connection.execute(sa.select(config)).mappings().one()
    assert (row["key"], row["value"], row["value_type"]) == (
        "DETECTOR_SIGNAL_EXPIRE_HOURS",
        "2.0",
        "float",
    )
    assert "hours" in row["description"]


def test_an_unreachable_database_gives_defaults_and_refuses_writes():
    engine = make_engine(UNREACHABLE)
    store = SqlConfigStore(engine)
    assert store.get("KLINE_15M_START_DAYS") == 30
    assert {e.key: e.value for e in store.all()}["KLINE_15M_START_DAYS"] == 30
    try:
        store.set("KLINE_15M_START_DAYS", 5)
    except ConfigUnavailable as e:
        assert "KLINE_15M_START_DAYS" in str(e)
    else:
        raise AssertionError("a write to an unreachable database must fail")
    assert store.get("KLINE_15M_START_DAYS") == 30
    engine.dispose()


def test_during_an_outage_the_last_value_read_is_kept(sql):
    store = SqlConfigStore(sql)
    store.set("DETECTOR_SIGNAL_THRESHOLD", 18)
    assert store.get("DETECTOR_SIGNAL_THRESHOLD") == 18
    with sql.begin() as connection:
        connection.execute(sa.text("ALTER TABLE config RENAME TO config_gone"))
    try:
        assert store.get("DETECTOR_SIGNAL_THRESHOLD") == 18
        assert store.get("KLINE_15M_START_DAYS") == 30
    finally:
        with sql.begin() as connection:
            connection.execute(sa.text("ALTER TABLE config_gone RENAME TO config"))


def test_bad_stored_text_and_foreign_secret_rows_never_come_out(sql):
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    with sql.begin() as connection:
        connection.execute(
            config.insert(),
            [
                {
                    "key": "KLINE_15M_START_DAYS",
                    "value": "lots",
                    "value_type": "int",
                    "updated_at": now,
                },
                {
                    "key": "okx.secret",
                    "value": "hunter2",
                    "value_type": "string",
                    "updated_at": now,
                },
            ],
        )
    store = SqlConfigStore(sql)
    assert store.get("KLINE_15M_START_DAYS") == 30
    entries = store.all()
    assert "okx.secret" not in {e.key for e in entries}
    assert "hunter2" not in {str(e.value) for e in entries}


def test_a_write_waits_for_another_writer_instead_of_failing(sql):
    """The config write reads the other keys, checks the combination and writes, in one
    transaction that holds the write lock from its start: another writer committing in
    between (the sync engine storing candles) makes it wait, never fail."""
    store = SqlConfigStore(sql)
    store.get("DETECTOR_SIGNAL_THRESHOLD")  # warm the pool
    holding, release = threading.Event(), threading.Event()

    def other_writer() -> None:
        with sql.connect() as connection:
            if sql.dialect.name == "sqlite":
                connection.execution_options(sqlite_begin="IMMEDIATE")
            with connection.begin():
                connection.execute(
                    sa.text(
                        "INSERT INTO system_status (key, value, updated_at) VALUES (:k, 'OK', :t)"
                    ),
                    {"k": "other-writer", "t": "2025-01-01 00:00:00"},
                )
                holding.set()
                release.wait(10)

    thread = threading.Thread(target=other_writer)
    thread.start()
    assert holding.wait(10)
    threading.Timer(0.3, release.set).start()
    store.set("DETECTOR_SIGNAL_THRESHOLD", "20")  # waits for the other commit
    thread.join(10)
    assert store.get("DETECTOR_SIGNAL_THRESHOLD") == 20
