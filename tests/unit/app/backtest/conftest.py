"""The real ETH candles of tests/data as a Market, once per session."""

import pytest
from backtest_helpers import ETH, ETH_FILE

from qwentrade.app.backtest import data


@pytest.fixture(scope="session")
def eth_market():
    return data.market(data.read_file(ETH_FILE), ETH)
