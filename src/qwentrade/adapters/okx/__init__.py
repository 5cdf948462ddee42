"""adapters/okx"""

from qwentrade.adapters.okx.exchange import OkxExchange
from qwentrade.adapters.okx.gate import GateClosed, GateState, PermitGate, PermitTimeout
from qwentrade.adapters.okx.limits import OKX_LIMITS, EndpointLimit, LimitRule
from qwentrade.adapters.okx.market_source import OkxMarketSource
from qwentrade.adapters.okx.retry import RetryPolicy
from qwentrade.adapters.okx.signing import OkxCredentials
from qwentrade.adapters.okx.stream import OkxPrivateStream, StreamState
from qwentrade.adapters.okx.stream_queues import EventQueues

__all__ = [
    "OKX_LIMITS",
    "EndpointLimit",
    "EventQueues",
    "GateClosed",
    "GateState",
    "LimitRule",
    "OkxCredentials",
    "OkxExchange",
    "OkxMarketSource",
    "OkxPrivateStream",
    "PermitGate",
    "PermitTimeout",
    "RetryPolicy",
    "StreamState",
]
