"""One REST request through the fake OKX server: route, signature, rate limit, faults,
handler, envelope. Synchronous and socket-free (the Litestar app calls it in a worker
thread), so it is tested directly as well as over HTTP.

Whatever arrives, the answer is OKX's envelope with an OKX code: a POST body that is not
JSON - or nests deeper than the parser goes (OKX's own parser stops at 1,000 levels too)
- is ``50002`` "JSON syntax error"; a GET body is never parsed (OKX reads GET parameters
from the query alone; the body still counts in the signature). HTTP 500 (``50026``)
means a bug in the fake, which is logged.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping
from urllib.parse import parse_qsl

import attrs

from qwentrade.testing.fake_okx import faults as fault_kinds
from qwentrade.testing.fake_okx.auth import Credentials, verify_rest
from qwentrade.testing.fake_okx.endpoints import Answer, Call
from qwentrade.testing.fake_okx.faults import RestFault
from qwentrade.testing.fake_okx.limits import RateLimiter
from qwentrade.testing.fake_okx.params import MESSAGE_LIMIT, QUOTE_LIMIT, OkxError, clip
from qwentrade.testing.fake_okx.routes import ROUTES
from qwentrade.testing.fake_okx.state import ServerState

log = logging.getLogger(__name__)

JSON = "application/json"
TEXT = "text/plain"
TIMEOUT_MESSAGE = (
    "API endpoint request timeout (does not mean that the request was successful or failed, "
    "please check the request result)."
)


@attrs.frozen
class Reply:
    """What goes back on the wire."""

    status: int
    body: bytes
    content_type: str = JSON

    def json(self) -> dict:
        return json.loads(self.body)


def _dump(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def error_reply(code: str, message: str, status: int) -> Reply:
    return Reply(status, _dump({"code": code, "msg": message[:MESSAGE_LIMIT], "data": []}))


def _system_error() -> Reply:
    return error_reply("50026", "System error. Try again later", 500)


def _micros() -> str:
    return str(time.time_ns() // 1000)


class Dispatcher:
    """Serves REST calls for one :class:`ServerState`."""

    def __init__(
        self,
        state: ServerState,
        credentials: Credentials,
        limiter: RateLimiter | None,
        stop: threading.Event,
    ) -> None:
        self.state = state
        self.credentials = credentials
        self.limiter = limiter
        self.stop = stop

    def handle(
        self,
        method: str,
        path: str,
        raw_query: str,
        headers: Mapping[str, str],
        body: bytes,
        client_ip: str = "127.0.0.1",
    ) -> Reply:
        """Answer one request; ``path``/``raw_query``/``body`` exactly as received."""
        try:
            return self._handle(method, path, raw_query, headers, body, client_ip)
        except Exception:  # a bug in the fake: answer as OKX does for a system error
            log.exception("fake OKX failed on %s %s", method, path[:QUOTE_LIMIT])
            return _system_error()

    def _handle(
        self,
        method: str,
        path: str,
        raw_query: str,
        headers: Mapping[str, str],
        body: bytes,
        client_ip: str,
    ) -> Reply:
        in_time = _micros()
        method = method.upper()
        if method not in ("GET", "POST"):
            return error_reply("50115", "Invalid request method.", 405)
        route = ROUTES.get((method, path))
        if route is None:
            return error_reply(
                "404", f"Not Found: the fake OKX server has no {method} {clip(path)}", 404
            )
        if route.private:
            request_path = path + ("?" + raw_query if raw_query else "")
            failure = verify_rest(
                headers, method, request_path, body, self.credentials, self.state.wall_now()
            )
            if failure is not None:
                return error_reply(failure.code, failure.message, failure.status)
        query = dict(parse_qsl(raw_query, keep_blank_values=True))
        parsed = None
        if method == "POST" and body.strip():
            try:
                parsed = json.loads(body)
            except (ValueError, RecursionError):  # RecursionError: nested too deep
                return error_reply("50002", "JSON syntax error", 400)
        if not self._admit(method, path, query, parsed, headers, client_ip, route.private):
            return error_reply("50011", "Too Many Requests", 429)
        fault = self.state.faults.take_rest(method, path)
        applies = fault is None or fault.apply or fault.kind == fault_kinds.DELAY
        reply = None
        if applies:
            reply = self._run(route, Call(method, path, query, parsed), in_time)
        if fault is None:
            return reply  # type: ignore[return-value]
        return self._fault_reply(fault, reply)

    def _run(self, route, call: Call, in_time: str) -> Reply:
        try:
            answer: Answer = route.handler(self.state, call)
        except OkxError as e:
            return error_reply(e.code, e.message, e.status)
        except Exception:  # a bug in the fake: answer as OKX does for a system error
            log.exception("fake OKX failed on %s %s", call.method, call.path)
            return _system_error()
        payload: dict = {"code": answer.code, "msg": answer.msg, "data": answer.data}
        if route.trade:
            payload["inTime"] = in_time
            payload["outTime"] = _micros()
        return Reply(200, _dump(payload))

    def _admit(self, method, path, query, parsed, headers, client_ip, private) -> bool:
        if self.limiter is None:
            return True
        items = parsed if isinstance(parsed, list) else [parsed if parsed else query]
        inst_ids = [_bucket_text(i.get("instId")) for i in items if isinstance(i, dict)]
        uid = (
            (headers.get("ok-access-key") or headers.get("OK-ACCESS-KEY") or "") if private else ""
        )[:QUOTE_LIMIT]
        return self.limiter.admit(
            method,
            path,
            time.monotonic(),
            ip=client_ip,
            uid=uid,
            inst_ids=inst_ids,
            inst_type=query.get("instType", "")[:QUOTE_LIMIT],
        )

    def _fault_reply(self, fault: RestFault, reply: Reply | None) -> Reply:
        if fault.kind == fault_kinds.DELAY:
            self.stop.wait(fault.seconds)
            return reply  # type: ignore[return-value]
        if fault.kind == fault_kinds.TIMEOUT:
            self.stop.wait(fault.seconds)
            return error_reply("50004", TIMEOUT_MESSAGE, fault.status)
        if fault.kind == fault_kinds.RATE_LIMIT:
            return error_reply("50011", "Too Many Requests", fault.status)
        # server error
        if not fault.json_body:
            return Reply(
                fault.status,
                b"Service Unavailable" if fault.status == 503 else b"Internal Server Error",
                TEXT,
            )
        if fault.status == 503:
            return error_reply("50001", "Service temporarily unavailable. Try again later", 503)
        return error_reply("50026", "System error. Try again later", fault.status)


def _bucket_text(value: object) -> str:
    """A rate-limit bucket name from a client's value (bounded: buckets are kept)."""
    return value[:QUOTE_LIMIT] if isinstance(value, str) else ""
