"""Errors -> HTTP responses, decided in one table.

Every error body is JSON: ``{"status_code", "error", "field", "detail"}`` (``field`` names
the request field at fault, or is null), plus ``errors`` (every field at fault) for a
request Litestar refused before the handler ran. An unexpected exception is logged with
its traceback and answered 500 with no detail (nothing internal reaches the client).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException

from qwentrade.app.detection import NoCandles
from qwentrade.domain import errors as domain
from qwentrade.domain.config_keys import ConfigUnavailable

log = logging.getLogger(__name__)

# Looked up along the exception's class hierarchy: the most specific entry wins.
STATUS_CODES: dict[type[Exception], int] = {
    domain.InvalidInput: 400,
    domain.OrderNotFound: 404,
    NoCandles: 404,
    domain.NoPosition: 404,  # nothing held on the symbol to add to, reduce or close
    domain.InvalidTransition: 409,
    domain.PositionExists: 409,  # one position per symbol, as the original
    domain.SymbolLeased: 409,  # another instance is trading the symbol now
    domain.InsufficientFunds: 422,
    domain.ExchangeRejected: 422,
    domain.RateLimited: 429,
    domain.AuthFailed: 502,  # the venue refused OUR keys: not the client's fault
    domain.ExchangeUnavailable: 503,
    ConfigUnavailable: 503,
    domain.OutcomeUnknown: 504,  # sent, answer lost: look the order up, never re-send
    domain.DomainError: 422,  # a rule of the domain refused the request
}


def register(error: type[Exception], status_code: int) -> None:
    """Add an error class of a service (e.g. a position already open -> 409) to the table."""
    STATUS_CODES[error] = status_code


def status_of(error: Exception) -> int:
    """The status code for ``error``: its nearest class in :data:`STATUS_CODES`, else 500."""
    for kind in type(error).__mro__:
        if kind in STATUS_CODES:
            return STATUS_CODES[kind]
    return 500


def error_body(
    status_code: int, error: str, detail: str, field: str | None = None, **extra: Any
) -> dict[str, Any]:
    return {"status_code": status_code, "error": error, "field": field, "detail": detail, **extra}


def domain_error_response(request: Request, error: Exception) -> Response:
    """A DomainError (or ValueError from a service) as its table status, naming the field."""
    status_code = status_of(error)
    if status_code == 500 and isinstance(error, ValueError):
        status_code = 400  # a library-level ValueError is bad input by contract
    if status_code >= 500:
        log.warning("%s %s: %s", request.method, request.url.path, error)
    field = getattr(error, "field", None)
    detail = str(error) or type(error).__name__
    return _json(status_code, error_body(status_code, type(error).__name__, detail, field))


def http_error_response(request: Request, error: HTTPException) -> Response:
    """Litestar's own refusals (validation, 401, 404, 405, 413) in the same shape."""
    status_code = error.status_code
    if isinstance(error, ValidationException) or status_code == 400:
        status_code = 400
        errors = _validation_errors(error.extra)
        field = errors[0]["field"] if errors else None
        message = errors[0]["message"] if errors else error.detail
        detail = f"{field}: {message}" if field else str(message)
        body = error_body(400, "ValidationError", detail, field, errors=errors)
        return _json(400, body)
    body = error_body(status_code, type(error).__name__, str(error.detail))
    return _json(status_code, body, headers=getattr(error, "headers", None))


def unexpected_error_response(request: Request, error: Exception) -> Response:
    log.error("unexpected error in %s %s", request.method, request.url.path, exc_info=error)
    body = error_body(500, "InternalError", "internal error: see the service's log")
    return _json(500, body)


def _validation_errors(extra: object) -> list[dict[str, Any]]:
    """Litestar's ``[{"key", "message", "source"}]`` as ``[{"field", "message", "source"}]``."""
    if not isinstance(extra, list):
        return []
    out = []
    for item in extra:
        if isinstance(item, dict):
            message = str(item.get("message", ""))
            field = item.get("key")
            if field == "data":  # the body as a whole: name the field msgspec names
                named = _NAMED_FIELD.search(message)
                field = named.group(1) if named else "body"
            out.append({"field": field, "message": message, "source": item.get("source")})
    return out


# msgspec: "Object missing required field `amount`", "... unknown field `x`"
_NAMED_FIELD = re.compile(r"field `([^`]{1,64})`")


def _json(status_code: int, body: dict[str, Any], headers: Any = None) -> Response:
    return Response(
        content=body, status_code=status_code, media_type=MediaType.JSON, headers=headers
    )


EXCEPTION_HANDLERS = {
    HTTPException: http_error_response,
    domain.DomainError: domain_error_response,
    ValueError: domain_error_response,
    Exception: unexpected_error_response,
}
