"""The domain's error tree.

Every error a user can meet derives from :class:`DomainError`. Input errors also derive
from :class:`ValueError` so library callers can catch the standard type; they name the
field that was wrong and say what is allowed.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""


class InvalidInput(DomainError, ValueError):
    """A value given by the caller is not allowed; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class InvalidTransition(DomainError):
    """A state change that the object's transition table does not allow."""


class InsufficientFunds(DomainError):
    """The account has not enough available margin or balance for the request."""


class OrderNotFound(DomainError):
    """No order exists with the given id or client order id."""


class RateLimited(DomainError):
    """The venue refused the request because a rate limit was reached."""


class ExchangeUnavailable(DomainError):
    """The venue could not be reached or answered with a server error."""


class AuthFailed(DomainError):
    """The venue rejected the credentials or the request signature."""


class OutcomeUnknown(DomainError):
    """A request was sent but its answer was lost: look the order up, never re-send blindly."""


class PositionExists(DomainError):
    """The symbol already has an open position (one position per symbol); ``symbol`` names it."""

    def __init__(self, symbol: str, message: str) -> None:
        super().__init__(message)
        self.symbol = symbol


class NoPosition(DomainError):
    """The symbol has no open position to add to, reduce, close or protect."""

    def __init__(self, symbol: str, message: str) -> None:
        super().__init__(message)
        self.symbol = symbol


class SymbolLeased(DomainError):
    """Another service instance holds the trading lease of the symbol until it expires."""

    def __init__(self, symbol: str, owner: str, message: str) -> None:
        super().__init__(message)
        self.symbol = symbol
        self.owner = owner


class ExchangeRejected(DomainError):
    """The venue understood the request and refused it; ``code`` is the venue's code."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code
