"""Logging: one line per event, a rotating file, and secrets masked wherever they appear.

``configure_logging(settings)`` is called once by the entry point (never at import).
The :class:`SecretMaskingFilter` renders each record's message (and traceback) and
replaces every configured secret with ``********`` before any handler formats it, so a
secret passed as an argument, inside an exception, or in a URL never reaches a log line.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from qwentrade.app.settings import Settings, SettingsError

MASK = "********"
LINE_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"
# Alembic says "Context impl SQLiteImpl." and more at INFO on every command; qwentrade logs
# one line of its own when a migration actually runs. DEBUG shows Alembic's lines again.
QUIET_BELOW_DEBUG = ("alembic",)


class SecretMaskingFilter(logging.Filter):
    """Replace every secret in a record's rendered message and exception text."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # Longest first so a secret containing another is masked whole.
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def mask(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.mask(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = self.mask(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        if record.stack_info:
            record.stack_info = self.mask(record.stack_info)
        return True


class OneLineFormatter(logging.Formatter):
    """Format a record on one line: newlines in messages and tracebacks become `` | ``."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\r", "").replace("\n", " | ")


def configure_logging(settings: Settings, *, stream: bool = True) -> logging.Logger:
    """Install the handlers on the ``qwentrade`` and root loggers; return the root logger.

    Handlers: stderr (when ``stream``) and, unless ``settings.log_file`` is None, a
    RotatingFileHandler of ``log_max_bytes`` x ``log_backups``. Every handler carries the
    masking filter, so records from any library are masked too.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_qwentrade", False):
            root.removeHandler(handler)
            handler.close()
    masking = SecretMaskingFilter(settings.secrets())
    formatter = OneLineFormatter(LINE_FORMAT)
    handlers: list[logging.Handler] = []
    if stream:
        handlers.append(logging.StreamHandler())
    if settings.log_file is not None:
        handlers.append(_file_handler(settings))
    for handler in handlers:
        handler.addFilter(masking)
        handler.setFormatter(formatter)
        handler._qwentrade = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(settings.log_level)
    quiet = logging.DEBUG if settings.log_level == "DEBUG" else logging.WARNING
    for name in QUIET_BELOW_DEBUG:
        logging.getLogger(name).setLevel(quiet)
    return root


def _file_handler(settings: Settings) -> logging.Handler:
    import logging.handlers  # here: a process that logs to no file does not pay for it

    path = settings.log_file
    assert path is not None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return logging.handlers.RotatingFileHandler(
            path,
            maxBytes=settings.log_max_bytes,
            backupCount=settings.log_backups,
            encoding="utf-8",
        )
    except OSError as e:
        raise SettingsError(
            "QWENTRADE_LOG_FILE",
            f"cannot write the log file {path} ({e.strerror}): name a file in a writable "
            "folder, or set it empty to log to no file",
        ) from None
