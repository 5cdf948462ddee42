"""config_direct reads a URL as SQLAlchemy does and hands psycopg what SQLAlchemy would,
or declines (NotDirect) so that the full path answers."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from qwentrade.adapters.sql import config_direct, engine, make_engine
from qwentrade.adapters.sql.config_direct import NotDirect


class Captured(Exception):
    pass


def sqlalchemy_arguments(url: str) -> dict[str, object]:
    """The keyword arguments the full path's engine passes to ``psycopg.connect``."""
    sa_engine = make_engine(url)
    seen: dict[str, object] = {}

    @event.listens_for(sa_engine, "do_connect")
    def capture(dialect, record, cargs, cparams):
        assert cargs == []
        seen.update(cparams)
        raise Captured

    with pytest.raises(Captured):
        sa_engine.connect()
    sa_engine.dispose()
    seen.pop("context")  # SQLAlchemy's type adapters: reading one text needs none
    return seen


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://postgres@127.0.0.1:5432/qwentrade",
        "postgresql+psycopg://postgres@localhost/qwentrade",
        "postgresql+psycopg://trader:p%40ss%3Aw%2Ford@db.example.com:6543/q%20t",
        "postgresql+psycopg://trader:@[::1]:5433/qwentrade",
        "postgresql+psycopg://u@h/db?sslmode=require&application_name=qwentrade",
        # make_engine's connect arguments win over the URL's, on both paths
        "postgresql+psycopg://u@h/db?options=-csearch_path%3Dother&connect_timeout=60",
        "postgresql+psycopg://u@h/db?application_name=",
    ],
)
def test_psycopg_gets_the_arguments_sqlalchemy_would_give_it(url):
    assert config_direct._target(url) == sqlalchemy_arguments(url)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg:///qwentrade",  # a Unix socket: no host
        "postgresql+psycopg://u@h/",  # no database
        "postgresql+psycopg://u@h:54x/db",
        "postgresql+psycopg://u@h/db?host=other",  # several hosts
        "postgresql+psycopg://u@h/db?sslmode=require&sslmode=disable",
        "postgresql+psycopg://u@h/db?autocommit=true",
        "postgresql+asyncpg://u@h/db",
        "mysql://u@h/db",
        "not a url",
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite:///file:q.db?mode=ro&uri=true",
        "sqlite://host/q.db",
    ],
)
def test_an_unusual_url_is_left_to_the_full_path(url):
    with pytest.raises(NotDirect):
        config_direct._target(url)


def test_a_sqlite_url_names_an_existing_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a b.db").touch()
    assert config_direct._target(f"sqlite:///{tmp_path}/a%20b.db") == tmp_path / "a b.db"
    assert config_direct._target("sqlite:///a b.db").resolve() == tmp_path / "a b.db"
    for missing in ("sqlite:///none.db", f"sqlite:///{tmp_path}", "sqlite:///no/such.db"):
        with pytest.raises(NotDirect):  # the full path creates it or says what is wrong
            config_direct._target(missing)


def test_the_connection_settings_are_make_engines():
    assert config_direct.POSTGRES_CONNECT_TIMEOUT_SECONDS == (
        engine.POSTGRES_CONNECT_TIMEOUT_SECONDS
    )
    assert config_direct.SQLITE_BUSY_TIMEOUT_SECONDS == engine.SQLITE_BUSY_TIMEOUT_SECONDS
