"""The start's schema check: the head revision known without Alembic, and Alembic used
only when there is something to migrate."""

from __future__ import annotations

import subprocess
import sys

import pytest
from migration_helpers import BACKENDS, empty_database

from qwentrade.adapters.sql import (
    current_revision,
    downgrade,
    ensure_schema,
    head_revision,
    upgrade,
)
from qwentrade.adapters.sql.revision import HEAD_REVISION, stored_revisions


@pytest.fixture(params=BACKENDS)
def empty(request, tmp_path):
    with empty_database(request, tmp_path, "qtrev") as engine:
        yield engine


def test_the_head_constant_is_the_head_of_the_migration_scripts():
    assert head_revision() == HEAD_REVISION


def test_an_empty_database_has_no_stored_revision_and_is_migrated(empty):
    with empty.connect() as connection:
        assert stored_revisions(connection) == []
    assert ensure_schema(empty) == HEAD_REVISION
    with empty.connect() as connection:
        assert stored_revisions(connection) == [HEAD_REVISION]


def test_an_older_database_is_migrated_to_head(empty):
    upgrade(empty)
    downgrade(empty)
    assert current_revision(empty) != HEAD_REVISION
    assert ensure_schema(empty) == HEAD_REVISION
    assert current_revision(empty) == HEAD_REVISION


CHECK_AT_HEAD = """
import sys
from qwentrade.adapters.sql import ensure_schema
print(ensure_schema(sys.argv[1]))
print("alembic" in sys.modules)
"""


def test_a_database_at_head_is_checked_without_importing_alembic(tmp_path):
    url = f"sqlite:///{tmp_path / 'head.db'}"
    upgrade(url)
    result = subprocess.run(
        [sys.executable, "-c", CHECK_AT_HEAD, url], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [HEAD_REVISION, "False"]
