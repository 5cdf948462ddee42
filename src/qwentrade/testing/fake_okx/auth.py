"""OKX request signing, verified exactly as OKX verifies it (okx-spec section A and C2).

REST: ``OK-ACCESS-SIGN = base64(HMAC-SHA256(secret, timestamp + METHOD + requestPath +
body))`` where ``requestPath`` is the path with its raw query string and ``body`` the raw
body text, both exactly as received: nothing is re-encoded or re-serialised, so a client
that signs something other than what it sends fails here as it would on OKX.

WebSocket login: ``sign = base64(HMAC-SHA256(secret, timestamp + "GET" +
"/users/self/verify"))`` with ``timestamp`` in Unix seconds (a string from ccxt, a JSON
number from python-okx: both are accepted). Only plain decimal seconds are a timestamp:
``"nan"``, ``"inf"``, ``"1e9"`` or ``" 17e8"`` are 60004 - ``float()`` would take them,
and a NaN compares as never expired, so a signed login would replay forever.

Every check returns an :class:`AuthFailure` (OKX code, message, HTTP status) or ``None``.
Values are compared as UTF-8 bytes: a non-ASCII key, passphrase or sign is simply wrong
(``hmac.compare_digest`` refuses non-ASCII ``str``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime

import attrs

#: Requests whose timestamp is further than this from the server's clock are refused.
TIMESTAMP_WINDOW_SECONDS = 30.0
WS_VERIFY_PATH = "/users/self/verify"

_ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$", re.ASCII)
_WS_SECONDS = re.compile(r"[0-9]{1,12}(\.[0-9]{1,9})?")


@attrs.frozen
class Credentials:
    """The one API key the fake accepts. ``repr`` masks the secret and passphrase."""

    api_key: str
    secret: str = attrs.field(repr=False)
    passphrase: str = attrs.field(repr=False)


@attrs.frozen
class AuthFailure:
    """Why a request was refused: OKX ``code``, ``msg`` and the HTTP status (401)."""

    code: str
    message: str
    status: int = 401


def sign(secret: str, prehash: str) -> str:
    """Base64 of the raw HMAC-SHA256 digest of ``prehash`` keyed by ``secret``."""
    digest = hmac.new(secret.encode(), prehash.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def rest_timestamp(when: datetime) -> str:
    """``OK-ACCESS-TIMESTAMP`` text for ``when``: ISO-8601 UTC with milliseconds and ``Z``."""
    text = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return text[:-3] + "Z"


def parse_rest_timestamp(text: str) -> datetime | None:
    """The time of an ``OK-ACCESS-TIMESTAMP`` value, or None when it is not OKX's format."""
    if not _ISO_MS.match(text):
        return None
    try:
        return datetime.strptime(text[:-1], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC)
    except ValueError:
        try:
            return datetime.strptime(text[:-1], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
        except ValueError:
            return None


def signed_headers(
    credentials: Credentials, method: str, request_path: str, body: str, when: datetime
) -> dict[str, str]:
    """The four ``OK-ACCESS-*`` headers a client sends (used by tests and examples)."""
    timestamp = rest_timestamp(when)
    return {
        "OK-ACCESS-KEY": credentials.api_key,
        "OK-ACCESS-SIGN": sign(
            credentials.secret, timestamp + method.upper() + request_path + body
        ),
        "OK-ACCESS-TIMESTAMP": timestamp,
        "OK-ACCESS-PASSPHRASE": credentials.passphrase,
    }


def _same(sent: str, expected: str) -> bool:
    """Constant-time equality of two texts, whatever characters they hold."""
    return hmac.compare_digest(
        sent.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = headers.get(name.lower())
    return value


def verify_rest(
    headers: Mapping[str, str],
    method: str,
    request_path: str,
    body: bytes,
    credentials: Credentials,
    now: datetime,
) -> AuthFailure | None:
    """Check a private REST request; None when it is correctly signed and fresh.

    ``request_path`` is the raw path plus ``?`` and raw query (no ``?`` without a query);
    ``headers`` must look names up case-insensitively or hold lower-case names.
    ``now`` is the server's clock (the fake's clock skew included).
    """
    key = _header(headers, "OK-ACCESS-KEY")
    if not key:
        return AuthFailure("50103", 'Request header "OK-ACCESS-KEY" cannot be empty.')
    passphrase = _header(headers, "OK-ACCESS-PASSPHRASE")
    if not passphrase:
        return AuthFailure("50104", 'Request header "OK-ACCESS-PASSPHRASE" cannot be empty.')
    signature = _header(headers, "OK-ACCESS-SIGN")
    if not signature:
        return AuthFailure("50106", 'Request header "OK-ACCESS-SIGN" cannot be empty.')
    timestamp = _header(headers, "OK-ACCESS-TIMESTAMP")
    if not timestamp:
        return AuthFailure("50107", 'Request header "OK-ACCESS-TIMESTAMP" cannot be empty.')
    sent_at = parse_rest_timestamp(timestamp)
    if sent_at is None:
        return AuthFailure("50112", "Invalid OK-ACCESS-TIMESTAMP")
    if abs((now - sent_at).total_seconds()) > TIMESTAMP_WINDOW_SECONDS:
        return AuthFailure("50102", "Timestamp request expired")
    if not _same(key, credentials.api_key):
        return AuthFailure("50111", "Invalid OK-ACCESS-KEY")
    if not _same(passphrase, credentials.passphrase):
        return AuthFailure("50105", "Invalid OK-ACCESS-PASSPHRASE")
    try:
        body_text = body.decode()
    except UnicodeDecodeError:
        return AuthFailure("50113", "Invalid Sign")
    expected = sign(credentials.secret, timestamp + method.upper() + request_path + body_text)
    if not _same(signature, expected):
        return AuthFailure("50113", "Invalid Sign")
    return None


def ws_login_sign(secret: str, timestamp: str) -> str:
    """The ``sign`` of a WebSocket login at ``timestamp`` (Unix seconds, as text)."""
    return sign(secret, f"{timestamp}GET{WS_VERIFY_PATH}")


def verify_ws_login(arg: object, credentials: Credentials, now: datetime) -> AuthFailure | None:
    """Check one ``login`` arg ``{apiKey, passphrase, timestamp, sign}``; None when valid.

    Codes as OKX sends them: 60012 malformed, 60004 bad timestamp, 60006 expired, 60005 bad
    key, 60024 wrong passphrase, 60007 bad signature.
    """
    if not isinstance(arg, Mapping):
        return AuthFailure("60012", "Invalid request: login args must be objects")
    api_key, passphrase, sent = arg.get("apiKey"), arg.get("passphrase"), arg.get("timestamp")
    signature = arg.get("sign")
    texts = [v for v in (api_key, passphrase, signature) if isinstance(v, str) and v]
    if len(texts) != 3:
        return AuthFailure("60012", "Invalid request: login needs apiKey, passphrase and sign")
    text = _ws_timestamp_text(sent)
    if text is None:
        return AuthFailure("60004", "Invalid timestamp")
    if abs(now.timestamp() - float(text)) > TIMESTAMP_WINDOW_SECONDS:
        return AuthFailure("60006", "Timestamp request expired")
    api_key, passphrase, signature = texts
    if not _same(api_key, credentials.api_key):
        return AuthFailure("60005", "Invalid OK-ACCESS-KEY")
    if not _same(passphrase, credentials.passphrase):
        return AuthFailure("60024", "Wrong passphrase")
    if not _same(signature, ws_login_sign(credentials.secret, text)):
        return AuthFailure("60007", "Invalid sign")
    return None


def _ws_timestamp_text(sent: object) -> str | None:
    """The signed text of a login ``timestamp``: plain decimal seconds (a string, or a
    JSON number as Python prints it), or None when it is anything else."""
    if isinstance(sent, bool) or not isinstance(sent, str | int | float):
        return None
    if isinstance(sent, int) and not 0 <= sent < 10**12:
        return None
    text = repr(sent) if isinstance(sent, float) else str(sent)
    return text if _WS_SECONDS.fullmatch(text) else None
