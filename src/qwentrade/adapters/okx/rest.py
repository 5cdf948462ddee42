"""One OKX REST request: permit gate -> ccxt's HTTP transport -> a classified answer.

ccxt's ``okx`` carries the requests (its session, timeouts and implicit endpoint paths),
with three of its habits switched off: its own throttle (``enableRateLimit: False``; the
permit gate decides), its signing (ours, :mod:`.signing`, which never injects a broker
``clOrdId``) and its error mapping (we keep OKX's code and message and classify them,
:mod:`.retry`). Its debug logger, which prints request headers, is silenced.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any, Protocol

import ccxt

from qwentrade.adapters.okx import wire
from qwentrade.adapters.okx.retry import (
    DEFAULT_POLICY,
    Classified,
    Failure,
    FailureKind,
    RetryPolicy,
    run,
)
from qwentrade.adapters.okx.signing import ClockOffset, OkxCredentials, sign_request
from qwentrade.domain.errors import AuthFailed, ExchangeUnavailable
from qwentrade.domain.ratelimit import Priority

log = logging.getLogger(__name__)

DEFAULT_MAX_RETRIES = 3
DEFAULT_TIMEOUT = 30.0
DEMO_HEADER = "x-simulated-trading"
_HEADER_VALUE = re.compile(r"(OK-ACCESS-[A-Z]+['\"]?\s*[:=]\s*['\"]?)[^'\",\s}]+", re.IGNORECASE)


class Gate(Protocol):
    """The permit gate's interface (``adapters.okx.gate.PermitGate``)."""

    def permit(
        self,
        priority: Priority,
        endpoint: str,
        instrument: str | None = None,
        timeout: float | None = None,
    ) -> AbstractContextManager[None]: ...

    def penalise(self, seconds: float) -> None: ...


class Config(Protocol):
    def get(self, key: str) -> Any: ...


class HttpFailure(Exception):
    """An HTTP error status, with OKX's JSON answer when there was one."""

    def __init__(self, status: int, payload: object, text: str) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.payload = payload
        self.text = text


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` without any credential value or ``OK-ACCESS-*`` header value."""
    for secret in secrets:
        text = text.replace(secret, "***")
    return _HEADER_VALUE.sub(r"\1***", text)


def _silent_logger() -> logging.Logger:
    quiet = logging.Logger("qwentrade.okx.ccxt")  # unregistered: no parent, no output
    quiet.addHandler(logging.NullHandler())
    quiet.propagate = False
    return quiet


class _Ccxt(ccxt.okx):  # type: ignore[misc]
    """ccxt's okx with our signing and raw error answers."""

    signer: Callable[[str, list, str, Any], dict]

    def sign(self, path, api=("public",), method="GET", params=None, headers=None, body=None):
        return self.signer(path, list(api), method, params if params is not None else {})

    def handle_errors(self, code, reason, url, method, headers, body, response, *args):
        if code is not None and int(code) >= 400:
            raise HttpFailure(int(code), response, (body or "")[:300])
        return None


def kind_of(code: str, http_status: int | None = None) -> FailureKind:
    """How an OKX code (or, without one, an HTTP status) is retried."""
    if code in wire.RATE_LIMIT_CODES or (not code and http_status == 429):
        return FailureKind.RATE_LIMITED
    if code == wire.TIMESTAMP_EXPIRED:
        return FailureKind.CLOCK
    if code in wire.SERVER_CODES or (not code and (http_status or 0) >= 500):
        return FailureKind.SERVER
    return FailureKind.FINAL


class OkxRest:
    """Signed, gated, classified requests to OKX's REST API.

    ``request`` retries what may be repeated (:func:`retry.run`); ``attempt`` is one try
    that raises :class:`~.retry.Classified`, for callers with their own recovery (orders).
    """

    def __init__(
        self,
        gate: Gate,
        *,
        rest_url: str = "https://www.okx.com",
        credentials: OkxCredentials | None = None,
        demo: bool = False,
        config: Config | None = None,
        sleep: Callable[[float], None] = time.sleep,
        draw: Callable[[], float] = random.random,
        backoff: RetryPolicy = DEFAULT_POLICY,
        local_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self.gate = gate
        self.credentials = credentials
        self.config = config
        self.sleep = sleep
        self.draw = draw
        self.backoff = backoff
        self.local_ms = local_ms
        self.clock = ClockOffset()
        self._clock_known = False
        self._headers = threading.local()
        url = rest_url.rstrip("/")
        client = _Ccxt(
            {
                "enableRateLimit": False,
                "urls": {"api": {"rest": url}, "test": {"rest": url}},
            }
        )
        client.signer = self._sign
        client.logger = _silent_logger()
        if demo:  # ccxt adds x-simulated-trading: 1 to every request in sandbox mode
            client.set_sandbox_mode(True)
            client.headers[DEMO_HEADER] = "1"
        self.rest_url = url
        self.client = client

    # -- settings read at call time ------------------------------------------------------

    def _setting(self, key: str, default: float) -> float:
        if self.config is None:
            return default
        try:
            return self.config.get(key)
        except Exception:  # a missing store or key must not stop trading
            return default

    def policy(self) -> RetryPolicy:
        retries = int(self._setting("API_MAX_RETRIES", DEFAULT_MAX_RETRIES))
        return RetryPolicy(retries, self.backoff.base, self.backoff.cap)

    # -- time --------------------------------------------------------------------------

    def server_ms(self) -> int:
        """OKX's clock now (ours corrected by the last measured offset)."""
        return self.clock.server_ms(self.local_ms())

    def sync_clock(self) -> int:
        """Measure OKX's clock (``GET /public/time``); returns its time in ms."""
        sent = self.local_ms()
        [item] = self.request("GET", "public/time", sync=False)
        server = int(item["ts"])
        self.clock.update(server, sent, self.local_ms())
        self._clock_known = True
        return server

    # -- requests ----------------------------------------------------------------------

    def _sign(self, path: str, api: list, method: str, params: Any) -> dict:
        private = api[0] == "private"
        extra = dict(getattr(self._headers, "value", None) or {})
        signed = sign_request(
            method,
            path,
            params,
            self.credentials if private else None,
            self.server_ms(),
            extra,
        )
        return {
            "url": self.rest_url + signed.path,
            "method": method,
            "body": signed.body,
            "headers": signed.headers,
        }

    def request(
        self,
        method: str,
        path: str,
        params: dict | list | None = None,
        *,
        priority: Priority = Priority.QUERY,
        private: bool = False,
        instrument: str | None = None,
        sync: bool = True,
    ) -> list:
        """``data`` of one request, retried on network, 5xx, rate-limit and clock failures."""
        return run(
            lambda: self.attempt(
                method, path, params, priority=priority, private=private, instrument=instrument
            ),
            self.policy(),
            self.sleep,
            self.draw,
            self.after_failure if sync else None,
        )

    def after_failure(self, failure: Failure, delay: float) -> None:
        """Penalise the gate after a rate limit; re-measure the clock after 50102."""
        if failure.kind is FailureKind.RATE_LIMITED:
            self.gate.penalise(delay)
        elif failure.kind is FailureKind.CLOCK:
            try:
                self.sync_clock()
            except Exception as e:  # the retry reports the original failure
                log.warning("could not re-measure OKX's clock: %s", e)

    def attempt(
        self,
        method: str,
        path: str,
        params: dict | list | None = None,
        *,
        priority: Priority = Priority.QUERY,
        private: bool = False,
        instrument: str | None = None,
        headers: Mapping[str, str] | None = None,
        items: bool = True,
    ) -> list:
        """One try: ``data`` of the answer, or :class:`Classified` with the domain error."""
        if private and not self._clock_known:
            try:
                self.sync_clock()
            except Exception as e:  # not fatal: the local clock is usually right
                log.warning("could not measure OKX's clock, using ours: %s", e)
                self._clock_known = True
        if private and self.credentials is None:
            raise Classified(
                Failure(FailureKind.FINAL, AuthFailed(f"{method} /api/v5/{path} needs an API key"))
            )
        timeout = self._setting("API_REQUEST_TIMEOUT", DEFAULT_TIMEOUT)
        endpoint = f"{method} /api/v5/{path}"
        self.client.timeout = int(timeout * 1000)
        api = ["private" if private else "public"]
        with self.gate.permit(priority, endpoint, instrument):
            self._headers.value = headers
            try:
                payload = self.client.request(path, api, method, params or {})
            except HttpFailure as e:
                raise Classified(self._http_failure(endpoint, e)) from None
            except ccxt.RequestTimeout as e:
                raise self._lost(endpoint, "timed out", e) from None
            except ccxt.NetworkError as e:
                raise self._lost(endpoint, "lost its connection", e) from None
            except ccxt.BaseError as e:
                error = ExchangeUnavailable(f"{endpoint} failed: {self._scrub(str(e))}")
                raise Classified(Failure(FailureKind.FINAL, error)) from None
            finally:
                self._headers.value = None
        failed = wire.envelope_failure(payload, items)
        if failed is None:
            data = payload.get("data") if isinstance(payload, Mapping) else None
            return data if isinstance(data, list) else []
        code, message = failed
        raise Classified(self._okx_failure(endpoint, code, message, None))

    def _lost(self, endpoint: str, what: str, e: Exception) -> Classified:
        error = ExchangeUnavailable(f"{endpoint} {what}: {self._scrub(str(e))}")
        return Classified(Failure(FailureKind.NETWORK, error))

    def _http_failure(self, endpoint: str, e: HttpFailure) -> Failure:
        if isinstance(e.payload, Mapping) and e.payload.get("code") not in (None, "", "0"):
            failed = wire.envelope_failure(e.payload)
            if failed is not None:
                return self._okx_failure(endpoint, failed[0], failed[1], e.status)
        return self._okx_failure(endpoint, "", f"{endpoint}: {self._scrub(e.text)}", e.status)

    def _okx_failure(self, endpoint: str, code: str, message: str, status: int | None) -> Failure:
        error = wire.error_from_okx(code, self._scrub(message), status)
        if isinstance(error, AuthFailed) and code != wire.TIMESTAMP_EXPIRED:
            log.warning("OKX refused the credentials on %s: %s", endpoint, error)
        return Failure(kind_of(code, status), error)

    def _scrub(self, text: str) -> str:
        return scrub(text, self.credentials.values() if self.credentials else ())
