import logging

import pytest

from qwentrade.app.logging import MASK, configure_logging
from qwentrade.app.settings import Settings

SECRET = "okx-secret-value-123"


@pytest.fixture
def logged(tmp_path):
    settings = Settings.from_env(
        {
            "QWENTRADE_OKX_SECRET": SECRET,
            "QWENTRADE_API_KEY": "api-key-456",
            "QWENTRADE_LOG_FILE": str(tmp_path / "logs" / "q.log"),
            "QWENTRADE_LOG_MAX_BYTES": "2048",
            "QWENTRADE_LOG_BACKUPS": "2",
        }
    )
    root = configure_logging(settings, stream=False)
    yield settings
    for handler in list(root.handlers):
        if getattr(handler, "_qwentrade", False):
            root.removeHandler(handler)
            handler.close()


def read_logs(settings):
    return settings.log_file.read_text()


def test_secret_masked_in_message_args_and_traceback(logged):
    log = logging.getLogger("qwentrade.test")
    log.warning("signing with %s", SECRET)
    log.info(f"url https://x/?key=api-key-456&secret={SECRET}")
    try:
        raise RuntimeError(f"bad secret {SECRET}")
    except RuntimeError:
        log.exception("request failed")
    text = read_logs(logged)
    assert SECRET not in text and "api-key-456" not in text
    assert text.count(MASK) >= 4
    assert "RuntimeError" in text


def test_one_line_per_event(logged):
    logging.getLogger("qwentrade.test").error("first line\nsecond line")
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("qwentrade.test").exception("failed")
    lines = read_logs(logged).splitlines()
    assert len(lines) == 2
    assert "first line | second line" in lines[0]
    assert "Traceback" in lines[1] and "ValueError: boom" in lines[1]


def test_file_rotates_at_the_configured_size(logged):
    log = logging.getLogger("qwentrade.test")
    for i in range(200):
        log.warning("event %d %s", i, "x" * 40)
    files = sorted(p.name for p in logged.log_file.parent.iterdir())
    assert files == ["q.log", "q.log.1", "q.log.2"]
    assert logged.log_file.stat().st_size <= 2048


def test_reconfiguring_does_not_duplicate_handlers(logged):
    configure_logging(logged, stream=False)
    logging.getLogger("qwentrade.test").warning("once")
    assert read_logs(logged).count("once") == 1
