"""Every code block of README.md runs verbatim, as a newcomer would paste it.

``sh`` blocks run in one fresh folder (the default SQLite database and log file land
there) with the virtual environment's ``bin`` on PATH and ``.venv`` linked in, so
``. .venv/bin/activate`` works as written. Then the ``python`` blocks run there with the
venv's python, reading what the ``sh`` blocks stored. Three commands cannot simply run:

- ``make run`` serves until Ctrl-C: it is started in the repository (on a free port and a
  temporary database, given by environment variables, not by editing the command), asked
  for ``/health``, and stopped.
- ``make test`` would run this very suite inside itself: ``make -n test`` checks instead
  that it is the lint, the import contracts and pytest.
- ``python -m qwentrade.testing.fake_okx ...`` runs until Ctrl-C: it is started, its
  printed URLs are read and asked for candles, and it is stopped with SIGINT.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
VENV = ROOT / ".venv"
BIN = Path(sys.executable).parent
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
SPECIAL = ("make ", "python -m qwentrade.testing.fake_okx")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def blocks(language: str) -> list[str]:
    return [code for lang, code in FENCE.findall(README.read_text()) if lang == language]


def commands(block: str) -> list[str]:
    """The block's commands: continuation lines joined, comments and blank lines dropped."""
    joined = block.replace("\\\n", " ")
    out = []
    for line in joined.splitlines():
        command = re.sub(r"(^|\s)#.*$", "", line).strip()
        if command:
            out.append(" ".join(command.split()))
    return out


def environment(**extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("QWENTRADE_")}
    clean.pop("VIRTUAL_ENV", None)
    return {**clean, "PATH": f"{BIN}:/usr/bin:/bin", **extra}


def run_python(path: Path, workdir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(path)],
        cwd=workdir,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder in which every plain ``sh`` block has run, in README order."""
    if not (VENV / "bin" / "activate").exists():
        pytest.skip(f"no virtual environment at {VENV}: the README's commands assume it")
    workdir = tmp_path_factory.mktemp("readme")
    (workdir / ".venv").symlink_to(VENV)
    for block in blocks("sh"):
        if any(c.startswith(SPECIAL) for c in commands(block)):
            continue
        result = subprocess.run(
            ["sh", "-e", "-c", block],
            cwd=workdir,
            env=environment(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, f"README block failed:\n{block}\n{result.stderr}"
        assert "Traceback" not in result.stdout + result.stderr, result.stderr
    return workdir


def test_the_readme_has_the_blocks_this_test_knows():
    languages = {lang for lang, _ in FENCE.findall(README.read_text())}
    assert languages == {"sh", "python"}, "a block in another language is not run by this test"
    every = [c for block in blocks("sh") for c in commands(block)]
    for command in every:
        # Verbatim means runnable: no [--optional] or <placeholder> syntax, no "...".
        assert not re.search(r"\[-|<[a-z]+>|\.\.\.", command), command
    assert "make run" in every and "make test" in every
    assert ". .venv/bin/activate" in every
    assert any(c.startswith("python -m qwentrade.testing.fake_okx") for c in every)


def test_the_sh_blocks_fill_the_database(session: Path):
    assert (session / "qwentrade.db").exists()
    assert (session / "qwentrade.log").exists()


@pytest.mark.parametrize("index", range(len(blocks("python"))))
def test_each_python_block_runs(session: Path, index: int):
    code = blocks("python")[index]
    path = session / f"readme_block_{index}.py"
    path.write_text(code)
    result = run_python(path, session)
    assert result.returncode == 0, f"README python block {index} failed:\n{result.stderr}"
    assert "Traceback" not in result.stderr
    if "qwentrade.open" in code and "print(" in code:
        assert result.stdout.strip(), "the block prints what it read"
    if 'select("time", "close", "rsi_7", "macd_line")' in code:
        # Three rows of the simulated market, not an empty frame.
        assert "shape: (3, 4)" in result.stdout, result.stdout


def test_make_run_serves_health_until_stopped(tmp_path: Path):
    [command] = [c for b in blocks("sh") for c in commands(b) if c.startswith("make run")]
    argv = command.split()
    if subprocess.run(["make", "-q", ".venv/.installed"], cwd=ROOT).returncode != 0:
        # pyproject.toml is newer than the install: do not reinstall the venv under the
        # running suite; run the same target with the install step taken as done.
        argv[1:1] = ["-o", ".venv/.installed"]
    port = free_port()
    process = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=environment(
            QWENTRADE_HTTP_PORT=str(port),
            QWENTRADE_DATABASE_URL=f"sqlite:///{tmp_path / 'make-run.db'}",
            QWENTRADE_LOG_FILE=str(tmp_path / "make-run.log"),
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:

        def healthy() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"make run exited:\n{process.stdout.read()}")
            try:
                return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).is_success
            except httpx.HTTPError:
                return False

        deadline = time.monotonic() + 60
        while not healthy():
            assert time.monotonic() < deadline, "make run did not answer /health in 60 s"
            time.sleep(0.1)
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json()["mode"] == "sim"
    finally:
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C, to make and the service
        process.wait(30)
    assert "Traceback" not in process.stdout.read()


def test_make_test_is_the_lint_the_import_contracts_and_pytest():
    # `make test` cannot run inside the test suite (it would run this test again), so the
    # commands it would run are checked instead.
    every = [c for b in blocks("sh") for c in commands(b)]
    assert "make test" in every
    # Under `make test` this runs inside make: its MAKEFLAGS/MAKELEVEL would make the inner
    # make announce "Entering directory"; the command list is what is checked.
    outer = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    dry = subprocess.run(
        ["make", "-n", "--no-print-directory", "-o", ".venv/.installed", "test"],
        cwd=ROOT,
        env=outer,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.splitlines()
    assert lines == [
        ".venv/bin/ruff check src tests benchmarks",
        ".venv/bin/ruff format --check src tests benchmarks",
        ".venv/bin/lint-imports",
        ".venv/bin/python -m pytest",
    ]


def test_the_fake_okx_command_prints_its_urls_and_serves(tmp_path: Path):
    [command] = [
        c
        for b in blocks("sh")
        for c in commands(b)
        if c.startswith("python -m qwentrade.testing.fake_okx")
    ]
    process = subprocess.Popen(
        ["sh", "-c", f"exec {command}"],
        cwd=tmp_path,
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(
        target=lambda: [lines.put(line) for line in process.stdout], daemon=True
    ).start()
    printed: dict[str, str] = {}
    try:
        deadline = time.monotonic() + 60
        while not {"rest_url", "ws_url"} <= printed.keys():
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"no URLs printed: {process.stderr.read()}") from None
                continue
            name, _, value = line.strip().partition("=")
            printed[name] = value
        assert printed["ws_url"].startswith("ws://127.0.0.1:")
        answer = httpx.get(
            printed["rest_url"] + "/api/v5/market/candles",
            params={"instId": "BTC-USDT-SWAP", "bar": "15m", "limit": "5"},
            timeout=10,
        ).json()
        assert answer["code"] == "0" and len(answer["data"]) == 5
    finally:
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C
        code = process.wait(30)
    assert code == 0
    assert "Traceback" not in process.stderr.read()
