"""What a newcomer meets when something is wrong: one line naming the setting, no traceback.

Each case runs the real `qwentrade` command in a fresh folder and checks the exit status,
the one stderr line, and that nothing was written where it should not be.
"""

import os
import socket
import sqlite3
import subprocess
import sys

import pytest
from sqlalchemy.engine import make_url

from qwentrade.adapters.sql import make_engine

TEST_DATABASE_URL = os.environ.get(
    "QWENTRADE_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
def cli(tmp_path):
    def run(*args, **env):
        return subprocess.run(
            [sys.executable, "-m", "qwentrade.app.cli", *args],
            cwd=tmp_path,
            env={"PATH": "/usr/bin:/bin", **env},
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run


def one_line_error(result, *needles, status=None):
    """The command failed with one stderr line holding every needle, and no traceback."""
    assert result.returncode != 0 if status is None else result.returncode == status, result
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("command", [("db", "upgrade"), ("backfill", "--days", "1"), ("serve",)])
def test_a_sqlite_file_in_a_missing_folder_is_one_line_and_nothing_is_created(
    cli, tmp_path, command
):
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'folder' / 'q.db'}"
    result = cli(*command, QWENTRADE_DATABASE_URL=url, QWENTRADE_LOG_FILE="")
    one_line_error(result, "QWENTRADE_DATABASE_URL", "does not exist", "create it", status=1)
    assert not (tmp_path / "no").exists()
    assert not (tmp_path / "qwentrade.db").exists()


def test_an_unreachable_postgresql_server_is_one_line(cli, tmp_path):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/x"
    for command in (("db", "current"), ("db", "upgrade"), ("sync", "--days", "1")):
        result = cli(*command, QWENTRADE_DATABASE_URL=url, QWENTRADE_LOG_FILE="")
        one_line_error(result, "QWENTRADE_DATABASE_URL", "cannot connect", "server is running")
    assert list(tmp_path.iterdir()) == []


def test_a_missing_postgresql_database_is_one_line_saying_create_it(cli):
    server = make_url(TEST_DATABASE_URL)
    try:
        make_engine(server).connect().close()
    except Exception:
        pytest.skip(f"no PostgreSQL at {server.render_as_string()} to ask for a missing database")
    url = server.set(database="qwentrade_no_such_db").render_as_string(hide_password=False)
    result = cli("db", "upgrade", QWENTRADE_DATABASE_URL=url, QWENTRADE_LOG_FILE="")
    one_line_error(result, "QWENTRADE_DATABASE_URL", "does not exist", "createdb", status=1)


# Even root cannot create a folder in /proc.
@pytest.mark.parametrize("log_file", ["folder", "/proc/no/such.log"])
def test_a_log_file_that_cannot_be_written_is_one_line(cli, tmp_path, log_file):
    (tmp_path / "folder").mkdir()
    result = cli("db", "upgrade", QWENTRADE_LOG_FILE=log_file)
    one_line_error(result, "QWENTRADE_LOG_FILE", "set it empty", status=2)
    assert not (tmp_path / "qwentrade.db").exists()


@pytest.mark.parametrize("days", ["nan", "inf", "-3", "0", "1_0", "١٠", "1e9"])
@pytest.mark.parametrize("command", ["backfill", "sync"])
def test_days_must_be_a_positive_finite_number(cli, tmp_path, command, days):
    result = cli(command, f"--days={days}", QWENTRADE_LOG_FILE="")
    one_line_error(result, "--days", "number of days", status=2)
    assert list(tmp_path.iterdir()) == []


def test_a_port_in_use_is_refused_before_anything_starts(cli, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        by_option = cli("serve", "--port", port)
        by_setting = cli("serve", QWENTRADE_HTTP_PORT=port)
    for result in (by_option, by_setting):
        one_line_error(result, "QWENTRADE_HTTP_PORT", "--port", port, status=2)
        assert "starting" not in result.stdout + result.stderr
    log = (tmp_path / "qwentrade.log").read_text() if (tmp_path / "qwentrade.log").exists() else ""
    assert "starting" not in log
    assert not (tmp_path / "qwentrade.db").exists()  # nothing migrated either


@pytest.mark.parametrize(
    ("content", "says"),
    [(b"QWENTRADE_API_KEY=caf\xe9\n", "not UTF-8"), (None, "larger than")],
    ids=["latin-1", "/dev/zero"],
)
def test_a_secrets_file_that_is_not_small_utf8_text_is_one_line(cli, tmp_path, content, says):
    path = "/dev/zero"
    if content is not None:
        path = str(tmp_path / "secrets.env")
        (tmp_path / "secrets.env").write_bytes(content)
    result = cli("settings", QWENTRADE_SECRETS_FILE=path)
    one_line_error(result, "QWENTRADE_SECRETS_FILE", says, status=2)


@pytest.mark.parametrize("command", [("settings", "-v"), ("db", "current"), ("version",)])
def test_a_closed_output_pipe_ends_the_command_quietly(tmp_path, command):
    process = subprocess.Popen(
        [sys.executable, "-m", "qwentrade.app.cli", *command],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "QWENTRADE_LOG_FILE": ""},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    process.stdout.close()  # the reader is gone before the command prints (`| head -0`)
    stderr = process.stderr.read().decode()
    assert process.wait(60) == 141, stderr
    assert stderr == ""


def test_migrations_leave_one_line_in_the_log_and_quiet_runs_none(cli, tmp_path):
    assert cli("db", "upgrade").returncode == 0
    assert cli("db", "current").returncode == 0
    assert cli("sync", "--days", "0.1", "--quiet").returncode == 0
    lines = (tmp_path / "qwentrade.log").read_text().splitlines()
    assert not [line for line in lines if "alembic" in line], lines
    assert len([line for line in lines if "database schema migrated: empty ->" in line]) == 1
    assert len(lines) == 1, lines
    debug = cli("db", "current", QWENTRADE_LOG_LEVEL="DEBUG", QWENTRADE_LOG_FILE="debug.log")
    assert debug.returncode == 0
    assert "alembic" in (tmp_path / "debug.log").read_text()  # still there when asked for


def test_timeframes_are_shown_as_they_are_typed(cli, tmp_path):
    result = cli(
        "backfill", "--days", "2", "--timeframe", "4h", "--timeframe", "1d", "-q",
        QWENTRADE_LOG_FILE="", QWENTRADE_SYMBOLS="BTC-USDT-SWAP",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    shown = {line.split()[1] for line in result.stdout.splitlines()[2:]}
    assert shown == {"4h", "1d"}
    assert "4H" not in result.stdout and "1D" not in result.stdout
    with sqlite3.connect(tmp_path / "qwentrade.db") as db:
        assert db.execute("select count(*) from klines_4h").fetchone()[0] >= 6


def test_an_unknown_target_revision_is_one_line_and_migrates_nothing(cli, tmp_path):
    result = cli("db", "upgrade", "nonsense", QWENTRADE_LOG_FILE="")
    one_line_error(result, "revision", "'nonsense'", "use head", status=1)
    current = cli("db", "current", QWENTRADE_LOG_FILE="")
    assert "revision: empty" in current.stdout


def test_a_database_url_naming_a_folder_is_one_line(cli, tmp_path):
    (tmp_path / "data").mkdir()
    result = cli("db", "upgrade", QWENTRADE_DATABASE_URL="sqlite:///data", QWENTRADE_LOG_FILE="")
    one_line_error(result, "QWENTRADE_DATABASE_URL", "is a folder", "data/qwentrade.db", status=1)
    assert list((tmp_path / "data").iterdir()) == []
