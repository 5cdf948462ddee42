from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qwentrade.app.settings import (
    DEFAULT_SYMBOLS,
    Mode,
    Secret,
    Settings,
    SettingsError,
)


def test_defaults_need_nothing():
    settings = Settings.from_env({"PATH": "/bin", "HOME": "/root"})
    assert settings.mode is Mode.SIM
    assert settings.database_url == "sqlite:///qwentrade.db"
    assert (
        settings.symbols
        == DEFAULT_SYMBOLS
        == (
            "BTC-USDT-SWAP",
            "ETH-USDT-SWAP",
            "SOL-USDT-SWAP",
        )
    )
    assert (settings.http_host, settings.http_port) == ("127.0.0.1", 8000)
    assert settings.log_level == "INFO"
    assert settings.log_max_bytes == 10 * 1024 * 1024 and settings.log_backups == 5
    assert settings.api_key is None and settings.okx_secret is None


def test_good_values_are_parsed():
    settings = Settings.from_env(
        {
            "QWENTRADE_MODE": "PAPER",
            "QWENTRADE_DATABASE_URL": "postgresql://u:pw@db:5432/q",
            "QWENTRADE_SYMBOLS": " btc-usdt-swap , DOGE-USDT-SWAP ",
            "QWENTRADE_HTTP_HOST": "0.0.0.0",
            "QWENTRADE_HTTP_PORT": "9000",
            "QWENTRADE_LOG_LEVEL": "debug",
            "QWENTRADE_LOG_FILE": "",
            "QWENTRADE_COINGLASS_API_KEY": "cg-key",
        }
    )
    assert settings.mode is Mode.PAPER
    assert settings.database_url == "postgresql+psycopg://u:pw@db:5432/q"
    assert settings.symbols == ("BTC-USDT-SWAP", "DOGE-USDT-SWAP")
    assert settings.http_port == 9000 and settings.http_host == "0.0.0.0"
    assert settings.log_level == "DEBUG"
    assert settings.log_file is None
    assert settings.coinglass_api_key.reveal() == "cg-key"


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("QWENTRADE_MODE", "demo", "sim, paper, live"),
        ("QWENTRADE_HTTP_PORT", "80a", "not a whole number"),
        ("QWENTRADE_HTTP_PORT", "70000", "outside 0..65535"),
        ("QWENTRADE_SYMBOLS", "BTC-USDT", "like BTC-USDT-SWAP"),
        ("QWENTRADE_SYMBOLS", ",", "at least one symbol"),
        ("QWENTRADE_SYMBOLS", "BTC-USDT-SWAP,BTC-USDT-SWAP", "twice"),
        ("QWENTRADE_LOG_LEVEL", "verbose", "DEBUG, INFO"),
        ("QWENTRADE_DATABASE_URL", "mysql://x", "not supported"),
        ("QWENTRADE_SHUTDOWN_GRACE", "0", "outside"),
        ("QWENTRADE_OKX_REST_URL", "www.okx.com", "not an http"),
        ("QWENTRADE_MODEE", "sim", "not a qwentrade setting"),
    ],
)
def test_bad_values_name_the_variable_and_what_is_allowed(variable, value, says):
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({variable: value})
    assert caught.value.variable == variable
    assert str(caught.value).startswith(variable)
    assert says in str(caught.value)


def test_live_mode_names_the_okx_credentials_it_lacks():
    # Reading live settings without keys works (`qwentrade settings` shows them); building
    # a live container refuses them (tests/unit/app/test_container_modes.py).
    partial = Settings.from_env({"QWENTRADE_MODE": "live", "QWENTRADE_OKX_API_KEY": "k"})
    assert partial.missing_okx_credentials() == [
        "QWENTRADE_OKX_SECRET",
        "QWENTRADE_OKX_PASSPHRASE",
    ]
    live = Settings.from_env(
        {
            "QWENTRADE_MODE": "live",
            "QWENTRADE_OKX_API_KEY": "k",
            "QWENTRADE_OKX_SECRET": "s",
            "QWENTRADE_OKX_PASSPHRASE": "p",
        }
    )
    assert live.mode is Mode.LIVE and live.missing_okx_credentials() == []


def test_database_password_is_not_echoed_in_errors_or_descriptions():
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"QWENTRADE_DATABASE_URL": "mysql://user:hunter2@db/x"})
    assert "hunter2" not in str(caught.value)
    settings = Settings.from_env({"QWENTRADE_DATABASE_URL": "postgresql://u:hunter2@db/q"})
    assert "hunter2" not in str(settings.describe())


SECRET_VARIABLES = [
    "QWENTRADE_API_KEY",
    "QWENTRADE_OKX_API_KEY",
    "QWENTRADE_OKX_SECRET",
    "QWENTRADE_OKX_PASSPHRASE",
    "QWENTRADE_COINGLASS_API_KEY",
]


@given(value=st.text(alphabet="abcdefXYZ0123456789-_+/=", min_size=6, max_size=40))
def test_secrets_never_show_in_repr_str_or_description(value):
    environ = {name: value for name in SECRET_VARIABLES}
    environ["QWENTRADE_MODE"] = "live"
    settings = Settings.from_env(environ)
    for text in (repr(settings), str(settings), str(settings.describe())):
        assert value not in text
    assert repr(settings.okx_secret) == "Secret('********')"
    assert str(settings.okx_secret) == "********"
    assert settings.okx_secret.reveal() == value
    assert settings.secrets().count(value) == len(SECRET_VARIABLES)


def test_secret_is_falsy_when_empty_and_compares_by_value():
    assert not Secret("")
    assert Secret("a") == Secret("a")
    assert Settings.from_env({"QWENTRADE_API_KEY": ""}).api_key is None


def test_secrets_file_supplies_secrets_and_environment_wins(tmp_path: Path):
    path = tmp_path / "secrets.env"
    path.write_text(
        "# OKX credentials\nQWENTRADE_OKX_API_KEY=from-file\nQWENTRADE_OKX_SECRET=s3\n"
        "QWENTRADE_OKX_PASSPHRASE = p4\n"
    )
    settings = Settings.from_env(
        {
            "QWENTRADE_SECRETS_FILE": str(path),
            "QWENTRADE_MODE": "live",
            "QWENTRADE_OKX_API_KEY": "from-env",
        }
    )
    assert settings.okx_api_key.reveal() == "from-env"
    assert settings.okx_secret.reveal() == "s3"
    assert settings.okx_passphrase.reveal() == "p4"


def test_secrets_file_errors_are_clear(tmp_path: Path):
    with pytest.raises(SettingsError, match="cannot read"):
        Settings.from_env({"QWENTRADE_SECRETS_FILE": str(tmp_path / "missing")})
    bad = tmp_path / "bad.env"
    bad.write_text("OKX_SECRET=x\n")
    with pytest.raises(SettingsError, match="line 1"):
        Settings.from_env({"QWENTRADE_SECRETS_FILE": str(bad)})


def test_settings_are_frozen():
    settings = Settings.from_env({})
    with pytest.raises(AttributeError):
        settings.mode = Mode.LIVE  # type: ignore[misc]


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("QWENTRADE_HTTP_PORT", "1_0"),
        ("QWENTRADE_HTTP_PORT", "١٠"),  # Arabic-Indic digits: int() would read 10
        ("QWENTRADE_LOG_BACKUPS", "𝟗"),  # a mathematical digit: int() would read 9
        ("QWENTRADE_LOG_BACKUPS", "0x10"),
        ("QWENTRADE_SHUTDOWN_GRACE", "1_0"),
        ("QWENTRADE_SHUTDOWN_GRACE", "٣"),
        ("QWENTRADE_SHUTDOWN_GRACE", "nan"),
        ("QWENTRADE_SHUTDOWN_GRACE", "inf"),
    ],
)
def test_numbers_are_ascii_decimal_only(variable, value):
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({variable: value})
    assert caught.value.variable == variable
    assert "digits 0-9" in str(caught.value)


def test_plain_numbers_are_still_accepted():
    settings = Settings.from_env(
        {"QWENTRADE_HTTP_PORT": " 9000 ", "QWENTRADE_SHUTDOWN_GRACE": "2.5"}
    )
    assert settings.http_port == 9000 and settings.shutdown_grace == 2.5
    assert Settings.from_env({"QWENTRADE_SHUTDOWN_GRACE": "1e1"}).shutdown_grace == 10.0


def test_a_secrets_file_that_is_not_utf8_or_too_large_is_one_clear_error(tmp_path: Path):
    latin1 = tmp_path / "secrets.env"
    latin1.write_bytes("QWENTRADE_API_KEY=caf\xe9\n".encode("latin-1"))
    with pytest.raises(SettingsError, match="not UTF-8") as caught:
        Settings.from_env({"QWENTRADE_SECRETS_FILE": str(latin1)})
    assert caught.value.variable == "QWENTRADE_SECRETS_FILE"
    # An endless file is refused after 1 MiB, not read into memory.
    with pytest.raises(SettingsError, match="larger than 1048576 bytes") as caught:
        Settings.from_env({"QWENTRADE_SECRETS_FILE": "/dev/zero"})
    assert caught.value.variable == "QWENTRADE_SECRETS_FILE"
    with pytest.raises(SettingsError, match="cannot read"):
        Settings.from_env({"QWENTRADE_SECRETS_FILE": str(tmp_path)})


def test_a_log_file_that_is_a_folder_is_refused(tmp_path: Path):
    with pytest.raises(SettingsError, match="is a folder") as caught:
        Settings.from_env({"QWENTRADE_LOG_FILE": str(tmp_path)})
    assert caught.value.variable == "QWENTRADE_LOG_FILE"
    assert str(tmp_path / "qwentrade.log") in str(caught.value)
