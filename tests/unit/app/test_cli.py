import subprocess
import sys

import pytest

import qwentrade
from qwentrade.app.cli import build_parser, main

SUBCOMMANDS = sorted(name for name in build_parser()._subparsers._group_actions[0].choices)


def run(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "qwentrade.app.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_version_command_prints_the_package_version(capsys):
    assert main(["version"]) == 0
    assert capsys.readouterr().out.strip() == f"qwentrade {qwentrade.__version__}"


def test_top_level_help_lists_every_subcommand():
    result = run("--help")
    assert result.returncode == 0
    for name in SUBCOMMANDS:
        assert name in result.stdout
    assert "sim mode" in result.stdout


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_each_subcommand_has_help(name, capsys):
    with pytest.raises(SystemExit) as exited:
        main([name, "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: qwentrade {name}")
    assert len(out.splitlines()) >= 3


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "usage: qwentrade" in capsys.readouterr().out


def test_bad_setting_is_a_clear_error_not_a_traceback(monkeypatch, capsys):
    monkeypatch.setenv("QWENTRADE_HTTP_PORT", "eighty")
    assert main(["settings"]) == 2
    err = capsys.readouterr().err
    assert "QWENTRADE_HTTP_PORT" in err and "not a whole number" in err
    assert "Traceback" not in err


def test_settings_command_hides_secrets(monkeypatch, capsys):
    monkeypatch.setenv("QWENTRADE_API_KEY", "very-secret-key")
    assert main(["settings", "--verbose"]) == 0
    out = capsys.readouterr().out
    assert "very-secret-key" not in out
    assert "QWENTRADE_API_KEY" in out and "set (hidden)" in out
