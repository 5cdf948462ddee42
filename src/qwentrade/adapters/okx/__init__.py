"""adapters/okx"""

from qwentrade.adapters.okx.gate import GateClosed, GateState, PermitGate, PermitTimeout
from qwentrade.adapters.okx.limits import OKX_LIMITS, EndpointLimit, LimitRule

__all__ = [
    "OKX_LIMITS",
    "EndpointLimit",
    "GateClosed",
    "GateState",
    "LimitRule",
    "PermitGate",
    "PermitTimeout",
]
