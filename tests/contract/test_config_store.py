"""ConfigStore contract: the original's keys and defaults, typed values, validation on
write (ranges, ASCII numbers, cross-key rules), no secrets, nothing echoed that could be one."""

from __future__ import annotations

import pytest

from qwentrade.domain.config_keys import CONFIG_KEYS
from qwentrade.domain.errors import InvalidInput


@pytest.fixture
def store(repos):
    return repos.config


def test_every_key_starts_at_its_default_with_a_description_and_what_is_allowed(store):
    entries = store.all()
    assert [e.key for e in entries] == sorted(CONFIG_KEYS)
    for entry in entries:
        spec = CONFIG_KEYS[entry.key]
        assert (entry.value, entry.default, entry.type) == (spec.default, spec.default, spec.type)
        assert entry.description and entry.is_default and entry.allowed == spec.allowed
        assert store.get(entry.key) == spec.default
    allowed = {e.key: e.allowed for e in entries}
    assert allowed["DETECTOR_SIGNAL_THRESHOLD"] == "whole number 0..600"
    assert allowed["DETECTOR_MULTI_TIMEFRAME"] == "true/false"


@pytest.mark.parametrize(
    ("key", "given", "expected"),
    [
        ("DETECTOR_SIGNAL_THRESHOLD", 20, 20),
        ("detector.signal_threshold", " 17 ", 17),  # the dotted spelling is the same key
        ("DETECTOR_SIGNAL_EXPIRE_HOURS", "1.5", 1.5),
        ("detector_signal_expire_hours", 6, 6.0),
        ("DETECTOR_MULTI_TIMEFRAME", "false", False),
        ("KLINE_1D_START_DAYS", "+365", 365),
        ("DETECTOR_VOLUME_STD_MULTIPLIER", "2e0", 2.0),
    ],
)
def test_set_parses_and_get_returns_the_typed_value(store, key, given, expected):
    assert store.set(key, given) == expected
    value = store.get(key)
    assert value == expected and type(value) is type(expected)
    canonical = key.upper().replace(".", "_")
    entry = next(e for e in store.all() if e.key == canonical)
    assert entry.value == expected and not entry.is_default


def test_a_bad_value_is_refused_naming_the_key_and_the_old_value_stays(store):
    store.set("KLINE_15M_START_DAYS", 40)
    for bad in ("many", 2.5, 3651, 0, -1, True, None, "1_0", "١٠", "𝟗", "0x10", "4 0"):
        with pytest.raises(InvalidInput) as info:
            store.set("KLINE_15M_START_DAYS", bad)
        assert info.value.field == "KLINE_15M_START_DAYS"
        assert store.get("KLINE_15M_START_DAYS") == 40
    for bad in ("inf", "nan", "-inf", "1_0.5", "٣.٥"):
        with pytest.raises(InvalidInput) as info:
            store.set("DETECTOR_SIGNAL_EXPIRE_HOURS", bad)
        assert info.value.field == "DETECTOR_SIGNAL_EXPIRE_HOURS"
    with pytest.raises(InvalidInput) as info:
        store.set("DETECTOR_SIGNAL_EXPIRE_HOURS", "inf")
    assert "finite" in str(info.value)
    with pytest.raises(InvalidInput) as info:
        store.set("DETECTOR_SIGNAL_EXPIRE_HOURS", 0.1)
    assert "0.25..168" in str(info.value)


def test_a_refused_value_is_never_echoed_whole_nor_when_it_could_be_a_secret(store):
    huge = "9" * 100_000
    with pytest.raises(InvalidInput) as info:
        store.set("DETECTOR_SIGNAL_THRESHOLD", huge + "x")
    assert len(str(info.value)) < 300 and "100001 characters" in str(info.value)
    secretish = "sk-Zx81_aQ/9f=="
    with pytest.raises(InvalidInput) as info:
        store.set("DETECTOR_BB_CONFIRM_RATIO", secretish)
    assert secretish not in str(info.value) and "not shown" in str(info.value)
    with pytest.raises(InvalidInput) as info:
        store.set("DETECTOR_RSI_VETO", secretish)
    assert secretish not in str(info.value)
    with pytest.raises(InvalidInput) as info:
        store.set("DETECTOR_SIGNAL_THRESHOLD", "abc")  # short and plain: shown, to help
    assert "'abc'" in str(info.value)


def test_unknown_and_secret_keys_are_refused(store):
    with pytest.raises(InvalidInput) as info:
        store.set("DETECTOR_SIGNAL_TRESHOLD", 3)
    assert info.value.field == "DETECTOR_SIGNAL_TRESHOLD" and "config list" in str(info.value)
    for gone in ("detector.max_signals_per_day", "detector.cooldown_minutes"):
        with pytest.raises(InvalidInput):
            store.get(gone)  # nothing reads them: they are not keys
    for secret in ("okx.api_key", "OKX_SECRET", "okx.passphrase", "coinglass.apikey"):
        with pytest.raises(InvalidInput) as info:
            store.set(secret, "hunter2")
        assert "environment" in str(info.value) and "hunter2" not in str(info.value)
        with pytest.raises(InvalidInput):
            store.get(secret)
    with pytest.raises(InvalidInput) as info:
        store.get("x" * 100_000)
    assert len(str(info.value)) < 300
    assert all(e.value != "hunter2" for e in store.all())


def test_reset_restores_the_default(store):
    store.set("DETECTOR_KLINE_4H_COUNT", 15)
    assert store.reset("detector.kline_4h_count") == 60
    assert store.get("DETECTOR_KLINE_4H_COUNT") == 60


def test_a_change_is_seen_by_the_next_read(store):
    for value in (10, 11, 12):
        store.set("KLINE_4H_START_DAYS", value)
        assert store.get("KLINE_4H_START_DAYS") == value


def test_contradictory_keys_are_refused_on_write_whichever_is_written(store):
    store.set("DETECTOR_RSI_LONG_MAX", 70)
    with pytest.raises(InvalidInput) as info:
        store.set("DETECTOR_RSI_SHORT_MIN", 75)  # no RSI would suit either side
    assert info.value.field == "DETECTOR_RSI_SHORT_MIN" and "DETECTOR_RSI_LONG_MAX" in str(
        info.value
    )
    assert store.get("DETECTOR_RSI_SHORT_MIN") == 20.0
    with pytest.raises(InvalidInput):
        store.set("DETECTOR_SIGNAL_THRESHOLD", 31)  # above the 30 points there are
    store.set("DETECTOR_POINTS_ENVIRONMENT", 20)  # now 40 points: 31 is reachable
    assert store.set("DETECTOR_SIGNAL_THRESHOLD", 31) == 31
    with pytest.raises(InvalidInput) as info:
        store.reset("DETECTOR_POINTS_ENVIRONMENT")  # back to 30 points would strand 31
    assert "no signal could ever fire" in str(info.value)
    assert store.get("DETECTOR_POINTS_ENVIRONMENT") == 20
    with pytest.raises(InvalidInput):
        store.set("DETECTOR_KLINE_15M_COUNT", 19)  # the 20-candle windows need 20
    store.set("DETECTOR_BB_WINDOW", 10)
    store.set("DETECTOR_VOLUME_WINDOW", 10)
    assert store.set("DETECTOR_KLINE_15M_COUNT", 19) == 19
    with pytest.raises(InvalidInput):
        store.set("DETECTOR_VOLUME_WINDOW", 25)


def test_the_original_api_and_websocket_defaults(store):
    # APIManager: "每2秒最多10次请求", "至少200ms", "最大重试次数：3次", "请求超时：30秒";
    # WebSocket: "心跳间隔：20秒", "ping超时：5秒", "重连间隔：5秒"
    expected = {
        "API_RATE_LIMIT": 10,
        "API_RATE_WINDOW": 2.0,
        "API_MIN_INTERVAL": 0.2,
        "API_MAX_RETRIES": 3,
        "API_REQUEST_TIMEOUT": 30.0,
        "WS_HEARTBEAT_INTERVAL": 20.0,
        "WS_PING_TIMEOUT": 5.0,
        "WS_RECONNECT_INTERVAL": 5.0,
    }
    assert {key: store.get(key) for key in expected} == expected
    with pytest.raises(InvalidInput) as info:
        store.set("API_MIN_INTERVAL", 3)  # longer than the 2 s window
    assert "API_RATE_WINDOW" in str(info.value)
    store.set("API_RATE_WINDOW", 5)
    assert store.set("API_MIN_INTERVAL", 3) == 3.0


def test_the_key_table_is_valid():
    for spec in CONFIG_KEYS.values():
        assert spec.parse(spec.default) == spec.default, spec.name
        assert spec.parse(spec.format(spec.default)) == spec.default, spec.name
        assert spec.description, spec.name
        assert spec.name == spec.name.upper(), spec.name
        if spec.minimum is not None:
            with pytest.raises(InvalidInput):
                spec.parse(spec.minimum - 1)
