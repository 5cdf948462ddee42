"""adapters/okx"""

from qwentrade.adapters.okx.gate import GateClosed, GateState, PermitGate, PermitTimeout
from qwentrade.adapters.okx.limits import OKX_LIMITS, EndpointLimit, LimitRule
from qwentrade.adapters.okx.stream import EventQueues, OkxPrivateStream, StreamState

__all__ = [
    "OKX_LIMITS",
    "EndpointLimit",
    "EventQueues",
    "GateClosed",
    "GateState",
    "LimitRule",
    "OkxPrivateStream",
    "PermitGate",
    "PermitTimeout",
    "StreamState",
]
