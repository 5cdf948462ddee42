"""OKX REST request signing and the server-time offset (pure; okx-spec section A).

``OK-ACCESS-SIGN = base64(HMAC-SHA256(secret, timestamp + METHOD + requestPath + body))``
where ``requestPath`` includes the query string of a GET and ``body`` is the exact JSON
text sent on a POST. We sign ourselves rather than through ccxt's ``okx.sign`` because
ccxt injects a broker ``clOrdId``/``tag`` into every ``trade/order``, ``batch-orders`` and
``order-algo`` body that lacks one (okx-spec D3), which must never happen to our orders.

The timestamp is the local clock corrected by the offset to OKX's clock
(:class:`ClockOffset`), so a drifting host is not refused with ``50102``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from datetime import UTC, datetime
from urllib.parse import urlencode

import attrs

API_PREFIX = "/api/v5/"


@attrs.frozen
class OkxCredentials:
    """An OKX API key. ``repr`` shows none of the three values."""

    api_key: str = attrs.field(repr=False)
    secret: str = attrs.field(repr=False)
    passphrase: str = attrs.field(repr=False)

    def values(self) -> tuple[str, ...]:
        """The secret texts, for scrubbing them out of error messages."""
        return tuple(v for v in (self.api_key, self.secret, self.passphrase) if v)


@attrs.frozen
class SignedRequest:
    """What goes on the wire: the path with its query, the body text (or None), headers."""

    path: str
    body: str | None
    headers: dict[str, str]


def timestamp_text(epoch_ms: int) -> str:
    """``OK-ACCESS-TIMESTAMP``: ISO-8601 UTC with milliseconds and ``Z``."""
    when = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def signature(secret: str, prehash: str) -> str:
    """Base64 of the raw HMAC-SHA256 digest (not hex)."""
    digest = hmac.new(secret.encode(), prehash.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def body_text(params: dict | list) -> str:
    """The JSON body exactly as sent (and signed): compact, no spaces."""
    return json.dumps(params, separators=(",", ":"))


def sign_request(
    method: str,
    endpoint: str,
    params: dict | list,
    credentials: OkxCredentials | None,
    epoch_ms: int,
    extra_headers: dict[str, str] | None = None,
) -> SignedRequest:
    """The path (with query), body and headers of one request to ``/api/v5/<endpoint>``.

    Without ``credentials`` the request is public and carries no ``OK-ACCESS-*`` header.
    A GET puts ``params`` in the query; a POST sends them as the JSON body (nothing when
    empty, as ccxt does; OKX signs the empty string then).
    """
    path = API_PREFIX + endpoint
    body = None
    if method == "GET":
        if params:
            path += "?" + urlencode(params)
    elif params:
        body = body_text(params)
    headers = dict(extra_headers or {})
    if method != "GET":
        headers["Content-Type"] = "application/json"
    if credentials is not None:
        stamp = timestamp_text(epoch_ms)
        headers.update(
            {
                "OK-ACCESS-KEY": credentials.api_key,
                "OK-ACCESS-PASSPHRASE": credentials.passphrase,
                "OK-ACCESS-TIMESTAMP": stamp,
                "OK-ACCESS-SIGN": signature(
                    credentials.secret, stamp + method + path + (body or "")
                ),
            }
        )
    return SignedRequest(path, body, headers)


class ClockOffset:
    """OKX's clock minus ours, in milliseconds; thread-safe.

    ``update(server_ms, sent_ms, received_ms)`` takes a ``/public/time`` answer and the
    local times around the request; the midpoint of the round trip is taken as the
    moment the server read its clock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset_ms = 0

    @property
    def offset_ms(self) -> int:
        with self._lock:
            return self._offset_ms

    def update(self, server_ms: int, sent_ms: int, received_ms: int) -> int:
        offset = server_ms - (sent_ms + received_ms) // 2
        with self._lock:
            self._offset_ms = offset
        return offset

    def server_ms(self, local_ms: int) -> int:
        """OKX's time at local time ``local_ms``."""
        return local_ms + self.offset_ms
