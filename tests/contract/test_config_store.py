"""ConfigStore contract: typed keys, validation on write, defaults, no secrets."""

from __future__ import annotations

import pytest

from qwentrade.domain.config_keys import CONFIG_KEYS
from qwentrade.domain.errors import InvalidInput


@pytest.fixture
def store(repos):
    return repos.config


def test_every_key_starts_at_its_default_with_a_description(store):
    entries = store.all()
    assert [e.key for e in entries] == sorted(CONFIG_KEYS)
    for entry in entries:
        spec = CONFIG_KEYS[entry.key]
        assert (entry.value, entry.default, entry.type) == (spec.default, spec.default, spec.type)
        assert entry.description and entry.is_default
        assert store.get(entry.key) == spec.default


@pytest.mark.parametrize(
    ("key", "given", "expected"),
    [
        ("api.max_retries", 5, 5),
        ("api.max_retries", " 7 ", 7),
        ("api.rate_window_seconds", "1.5", 1.5),
        ("api.timeout_seconds", 30, 30.0),
        ("detector.signal_threshold", "20", 20),
    ],
)
def test_set_parses_and_get_returns_the_typed_value(store, key, given, expected):
    assert store.set(key, given) == expected
    value = store.get(key)
    assert value == expected and type(value) is type(expected)
    entry = next(e for e in store.all() if e.key == key)
    assert entry.value == expected and not entry.is_default


def test_a_bad_value_is_refused_naming_the_key_and_the_old_value_stays(store):
    store.set("api.max_retries", 4)
    for bad in ("many", 2.5, 11, -1, True, None):
        with pytest.raises(InvalidInput) as info:
            store.set("api.max_retries", bad)
        assert info.value.field == "api.max_retries"
        assert store.get("api.max_retries") == 4
    with pytest.raises(InvalidInput) as info:
        store.set("signal.expiry_hours", "inf")
    assert "finite" in str(info.value)


def test_unknown_and_secret_keys_are_refused(store):
    with pytest.raises(InvalidInput) as info:
        store.set("api.max_retry", 3)
    assert info.value.field == "api.max_retry" and "known keys" in str(info.value)
    for secret in ("okx.api_key", "okx.secret", "okx.passphrase", "coinglass.apikey"):
        with pytest.raises(InvalidInput) as info:
            store.set(secret, "hunter2")
        assert "environment" in str(info.value)
        with pytest.raises(InvalidInput):
            store.get(secret)
    assert all(e.value != "hunter2" for e in store.all())


def test_reset_restores_the_default(store):
    store.set("pending.expiry_minutes", 15)
    assert store.reset("pending.expiry_minutes") == 60
    assert store.get("pending.expiry_minutes") == 60


def test_a_change_is_seen_by_the_next_read(store):
    for value in (10, 11, 12):
        store.set("sync.start_days_15m", value)
        assert store.get("sync.start_days_15m") == value


def test_the_key_table_is_valid():
    for spec in CONFIG_KEYS.values():
        assert spec.parse(spec.default) == spec.default, spec.name
        assert spec.parse(spec.format(spec.default)) == spec.default, spec.name
        assert spec.description, spec.name
        if spec.minimum is not None:
            with pytest.raises(InvalidInput):
                spec.parse(spec.minimum - 1)
