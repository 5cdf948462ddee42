"""Migrations: from nothing to head, one step down and up again, and the result equals the
SQLAlchemy metadata on SQLite and PostgreSQL."""

from __future__ import annotations

from importlib import resources

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from migration_helpers import BACKENDS, empty_database

from qwentrade.adapters.sql import (
    SchemaVersionError,
    check_revision,
    current_revision,
    downgrade,
    ensure_schema,
    head_revision,
    upgrade,
)
from qwentrade.adapters.sql.schema import metadata


@pytest.fixture(params=BACKENDS)
def empty(request, tmp_path):
    """An engine on an empty database (a new SQLite file, or a new PostgreSQL schema)."""
    with empty_database(request, tmp_path, "qtmig") as engine:
        yield engine


def differences(engine: sa.Engine) -> list:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, metadata)


def tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}


def test_upgrade_from_nothing_builds_exactly_the_metadata(empty):
    assert current_revision(empty) is None
    assert upgrade(empty) == head_revision()
    assert tables(empty) == set(metadata.tables)
    assert differences(empty) == []


def test_downgrade_one_step_and_upgrade_again(empty):
    upgrade(empty)
    assert downgrade(empty) == "0002"
    assert tables(empty) == set(metadata.tables) - {"trading_lease"}  # 0003 adds that table
    upgrade(empty)
    assert current_revision(empty) == head_revision()
    assert differences(empty) == []


def test_downgrade_to_nothing_and_upgrade_again(empty):
    upgrade(empty)
    assert downgrade(empty, "base") is None
    assert tables(empty) == set()
    upgrade(empty)
    assert current_revision(empty) == head_revision()
    assert differences(empty) == []


def test_the_comparison_notices_a_drifted_schema(empty):
    upgrade(empty)
    with empty.begin() as connection:
        connection.execute(sa.text("DROP INDEX ix_order_history_updated_at"))
        connection.execute(sa.text("ALTER TABLE config ADD COLUMN extra INTEGER"))
    found = {diff[0] for diff in differences(empty)}
    assert {"add_index", "remove_column"} <= found


def test_upgrade_is_idempotent_and_runs_at_service_start(empty):
    assert ensure_schema(empty) == head_revision()
    assert ensure_schema(empty) == head_revision()
    assert check_revision(empty) == head_revision()


def test_a_database_newer_than_the_code_is_refused_with_a_clear_message(empty):
    upgrade(empty)
    with empty.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '9999_future'"))
    message = (
        f"database schema revision 9999_future is newer than this qwentrade "
        f"(head {head_revision()}): upgrade qwentrade"
    )
    with pytest.raises(SchemaVersionError) as info:
        ensure_schema(empty)
    assert str(info.value) == message
    with pytest.raises(SchemaVersionError):
        check_revision(empty)


def test_upgrade_accepts_a_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'by_url.db'}"
    assert upgrade(url) == head_revision()
    assert current_revision(url) == head_revision()


def test_the_migration_scripts_ship_inside_the_package():
    package = resources.files("qwentrade.adapters.sql") / "migrations"
    assert (package / "env.py").is_file()
    assert (package / "script.py.mako").is_file()
    versions = [p.name for p in (package / "versions").iterdir() if p.name.endswith(".py")]
    assert any(name.startswith("0001_") for name in versions)
    assert any(name.startswith("0002_") for name in versions)


@pytest.mark.postgres
def test_the_comparison_notices_a_changed_column_type(postgres_schemas):
    engine = postgres_schemas.engine("qtmig")
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(sa.text("ALTER TABLE order_history ALTER COLUMN fee TYPE float8"))
        connection.execute(
            sa.text("ALTER TABLE klines_4h ALTER COLUMN time TYPE timestamp without time zone")
        )
    changed = {(diff[0][2], diff[0][3]) for diff in differences(engine) if isinstance(diff, list)}
    assert changed == {("order_history", "fee"), ("klines_4h", "time")}
    engine.dispose()
