"""Trading: TradingService opens, adds to, reduces and closes positions with exchange-held
stop-loss and take-profit orders (see ``service`` for units and the safety rules).

The service is one class assembled from one part per responsibility:

* ``service`` - the public operations (open, add, reduce, close, set plans, external
  close, refresh plans, record an order, resolve an intent);
* ``checks`` - input validation and sizing (``inputs``: the checks of single values);
* ``orders`` - order and intent bookkeeping (intent first, SENT, lookup, never re-sent);
* ``plans`` - stop-loss/take-profit replacement (new orders first, old ones canceled);
* ``closing`` - reduce/close and the realised PnL of a closed position;
* ``views`` - plain-value views of orders and positions;
* ``core`` - the collaborators, the per-symbol locks and the venue reads they share.
"""

from qwentrade.app.trading.core import TradingRepositories
from qwentrade.app.trading.service import TradingService

__all__ = ["TradingRepositories", "TradingService"]
