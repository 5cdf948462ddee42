"""A fake OKX server: the simulated exchange behind OKX's v5 REST and private WebSocket.

``FakeOkx`` serves on 127.0.0.1 (see :mod:`.server`); ``FaultPlan`` (alias ``Faults``)
switches faults on (see :mod:`.faults`); ``python -m qwentrade.testing.fake_okx`` runs it
from the command line.
"""

from qwentrade.testing.fake_okx.auth import Credentials, signed_headers, ws_login_sign
from qwentrade.testing.fake_okx.faults import FaultPlan, Faults
from qwentrade.testing.fake_okx.limits import LIMITS, Limit
from qwentrade.testing.fake_okx.server import FakeOkx, build_engine

__all__ = [
    "LIMITS",
    "Credentials",
    "FakeOkx",
    "FaultPlan",
    "Faults",
    "Limit",
    "build_engine",
    "signed_headers",
    "ws_login_sign",
]
