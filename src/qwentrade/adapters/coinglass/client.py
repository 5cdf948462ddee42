"""The CoinGlass v4 HTTP client: key header, envelope, errors, request window, retries.

The rules (okx-spec section E1, E2, E4):

1. Every request is a GET under ``/api/`` with the header ``CG-API-KEY``. The key is
   never logged, put in an error or shown by ``repr``.
2. Success is HTTP 2xx with body ``code == "0"``; ``data`` is the answer. Any other body
   code is an error even on HTTP 200 (plan-gated calls answer that way).
3. Errors: ``429`` (HTTP or body) is a rate limit; HTTP 5xx, body ``500``/``408`` and no
   answer at all (connect error, timeout) are the server's trouble; both are retried with
   exponential backoff up to ``max_retries`` times, then raised as ``RateLimited`` /
   ``ExchangeUnavailable``. A message containing "Upgrade plan" is ``ExchangeRejected``
   (the plan does not allow the request: a longer interval may); ``401``/``403`` or a
   message about the API key is ``AuthFailed``; ``400``/``422`` is ``InvalidInput``
   naming the parameter when the message does; anything else is ``ExchangeRejected``
   with CoinGlass's code.
4. A sliding window keeps at most ``requests_per_minute`` requests in any 60 s. Without
   an explicit limit the window starts at the smallest plan's 30 and follows the
   ``API-KEY-MAX-LIMIT`` header, which states the key's plan limit.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Protocol

import httpx

from qwentrade.domain.errors import (
    AuthFailed,
    DomainError,
    ExchangeRejected,
    ExchangeUnavailable,
    InvalidInput,
    RateLimited,
)

DEFAULT_URL = "https://open-api-v4.coinglass.com"
KEY_HEADER = "CG-API-KEY"
LIMIT_HEADER = "API-KEY-MAX-LIMIT"
WINDOW_SECONDS = 60.0
SMALLEST_PLAN_PER_MINUTE = 30  # Hobbyist (okx-spec E2)


class Revealable(Protocol):
    """A masked secret (the app's ``Secret``): ``reveal()`` gives the value."""

    def reveal(self) -> str: ...


class _Retry(Exception):
    """A failure worth another try; ``error`` is raised when the tries run out."""

    def __init__(self, error: DomainError, rate_limited: bool) -> None:
        super().__init__(str(error))
        self.error = error
        self.rate_limited = rate_limited


class RequestWindow:
    """At most ``limit`` requests in any ``WINDOW_SECONDS`` (rule 4); times are passed in."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise InvalidInput("requests_per_minute", f"must be at least 1, got {limit}")
        self.limit = limit
        self._sent: deque[float] = deque()

    def wait_time(self, now: float) -> float:
        """Seconds to wait at ``now`` before the next request may go."""
        while self._sent and self._sent[0] <= now - WINDOW_SECONDS:
            self._sent.popleft()
        if len(self._sent) < self.limit:
            return 0.0
        return self._sent[-self.limit] + WINDOW_SECONDS - now

    def record(self, now: float) -> None:
        self._sent.append(now)


class CoinGlassClient:
    """GETs CoinGlass v4 paths and returns the envelope's ``data`` (rules 1-4)."""

    def __init__(
        self,
        api_key: str | Revealable,
        *,
        base_url: str = DEFAULT_URL,
        timeout: float = 10.0,
        requests_per_minute: int | None = None,
        max_retries: int = 4,
        backoff_base: float = 2.0,
        backoff_cap: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        key = api_key if isinstance(api_key, str) else api_key.reveal()
        if not key:
            raise InvalidInput("api_key", "a CoinGlass API key is required (CG-API-KEY)")
        self._key = key
        self.base_url = base_url.rstrip("/")
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.sleep = sleep
        self.monotonic = monotonic
        self._follow_plan = requests_per_minute is None
        self.window = RequestWindow(requests_per_minute or SMALLEST_PLAN_PER_MINUTE)
        self._lock = threading.Lock()
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={KEY_HEADER: key, "accept": "application/json"},
            timeout=timeout,
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"CoinGlassClient(base_url={self.base_url!r}, api_key='********')"

    def __enter__(self) -> CoinGlassClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def get(self, path: str, params: Mapping[str, str | int] | None = None) -> object:
        """The ``data`` of ``GET path`` (rules 2-3), retrying rate limits and server errors."""
        attempt = 0
        while True:
            self._admit()
            try:
                return self._once(path, dict(params or {}))
            except _Retry as e:
                if attempt >= self.max_retries:
                    raise e.error from None
                self.sleep(min(self.backoff_cap, self.backoff_base * 2**attempt))
                attempt += 1

    def _admit(self) -> None:
        with self._lock:
            while (delay := self.window.wait_time(self.monotonic())) > 0:
                self.sleep(delay)
            self.window.record(self.monotonic())

    def _once(self, path: str, params: dict) -> object:
        try:
            response = self._http.get(path, params=params)
        except httpx.TimeoutException:
            raise _Retry(ExchangeUnavailable(f"CoinGlass GET {path} timed out"), False) from None
        except httpx.TransportError as e:
            error = ExchangeUnavailable(f"CoinGlass GET {path} failed: {type(e).__name__}")
            raise _Retry(error, False) from None
        self._follow_limit(response.headers.get(LIMIT_HEADER))
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            body = {"code": str(response.status_code), "msg": "answer is not a JSON object"}
        code, message = str(body.get("code")), self._scrub(str(body.get("msg") or ""))
        if response.is_success and code == "0":
            return body.get("data")
        raise self._error(path, params, response.status_code, code, message)

    def _follow_limit(self, header: str | None) -> None:
        if self._follow_plan and header and header.isdigit() and int(header) > 0:
            self.window.limit = int(header)

    def _scrub(self, text: str) -> str:
        return text.replace(self._key, "********")

    def _error(self, path: str, params: dict, status: int, code: str, message: str) -> Exception:
        text = f"CoinGlass GET {path} answered HTTP {status}, code {code}: {message}"
        lowered = message.lower()
        if status == 429 or code == "429":
            return _Retry(RateLimited(f"{text}; still limited after retries"), True)
        if status >= 500 or code in ("500", "408"):
            return _Retry(ExchangeUnavailable(text), False)
        if "upgrade plan" in lowered:
            return ExchangeRejected(
                f"{text}: the key's plan does not allow this request; use a longer interval "
                "or a higher CoinGlass plan",
                code=code,
            )
        if status in (401, 403) or code in ("401", "403") or "api key" in lowered:
            return AuthFailed(f"{text}: check the CoinGlass API key (QWENTRADE_COINGLASS_API_KEY)")
        if status in (400, 422) or code in ("400", "422"):
            field = next((name for name in params if name in lowered), "request")
            return InvalidInput(field, text)
        return ExchangeRejected(text, code=code)
