"""CoinGlass v4 rows (okx-spec E3 samples) parse into domain values with the right units."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from qwentrade.adapters.coinglass.wire import (
    etf_flow_from_coinglass,
    fear_greed_from_coinglass,
    liquidation_from_coinglass,
    open_interest_from_coinglass,
    sentiment_from_coinglass,
)
from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.market import from_ms

BTC = "BTC-USDT-SWAP"


def test_open_interest_ohlc_strings_become_floats_and_the_close_is_the_value():
    row = {
        "time": 1741608000000,
        "open": "64211038522.5",
        "high": "64520114310.1",
        "low": "64102330931.2",
        "close": "64488201337.9",
    }
    point = open_interest_from_coinglass(BTC, row)
    assert point.time == from_ms(1741608000000)
    assert point.open_interest == point.close == 64488201337.9
    assert (point.open, point.high, point.low) == (64211038522.5, 64520114310.1, 64102330931.2)
    assert point.change_24h is None


def test_account_ratio_percentages_become_fractions():
    row = {
        "time": 1741604400000,
        "global_account_long_percent": 73.88,
        "global_account_short_percent": 26.12,
        "global_account_long_short_ratio": 2.83,
    }
    sentiment = sentiment_from_coinglass(BTC, row)
    assert sentiment.long_account_ratio == 0.7388
    assert sentiment.short_account_ratio == 0.2612
    assert sentiment.long_short_ratio == 2.83
    top = {
        "time": 1741615200000,
        "top_account_long_percent": 73.3,
        "top_account_short_percent": 26.7,
        "top_account_long_short_ratio": 2.75,
    }
    assert sentiment_from_coinglass(BTC, top, "top_account").long_account_ratio == 0.733


def test_liquidations_aggregated_numbers_and_pair_strings():
    aggregated = liquidation_from_coinglass(
        BTC,
        {
            "time": 1658966400000,
            "aggregated_long_liquidation_usd": 5916885.14234,
            "aggregated_short_liquidation_usd": 12969583.87632,
        },
    )
    assert aggregated.long_liquidation == 5916885.14234
    assert aggregated.total_liquidation == 5916885.14234 + 12969583.87632
    pair = liquidation_from_coinglass(
        BTC,
        {
            "time": 1658966400000,
            "long_liquidation_usd": "2369935.19562",
            "short_liquidation_usd": "6947459.43674",
        },
    )
    assert (pair.long_liquidation, pair.short_liquidation) == (2369935.19562, 6947459.43674)


def test_etf_flow_splits_gross_flows_from_the_tickers():
    row = {
        "timestamp": 1704931200000,
        "flow_usd": 243600000,
        "price_usd": 46663,
        "etf_flows": [
            {"etf_ticker": "GBTC", "flow_usd": -95100000},
            {"etf_ticker": "IBIT", "flow_usd": 111700000},
            {"etf_ticker": "FBTC", "flow_usd": 227000000},
        ],
    }
    flow = etf_flow_from_coinglass("BTC", row)
    assert flow.date == date(2024, 1, 11)
    assert flow.net_flow == 243600000 and flow.price_usd == 46663
    assert (flow.total_flow_in, flow.total_flow_out) == (338700000, 95100000)
    assert flow.total_flow_in - flow.total_flow_out == flow.net_flow


def test_etf_flow_without_consistent_tickers_gives_only_the_net():
    # The docs' own sample: the listed tickers do not add up to flow_usd.
    row = {
        "timestamp": 1704931200000,
        "flow_usd": 655300000,
        "price_usd": 46663,
        "etf_flows": [{"etf_ticker": "GBTC", "flow_usd": -95100000}],
    }
    flow = etf_flow_from_coinglass("BTC", row)
    assert flow.net_flow == 655300000
    assert flow.total_flow_in is None and flow.total_flow_out is None


@pytest.mark.parametrize(
    "data",
    [
        [{"data_list": [52, 48], "price_list": [1.0, 2.0], "time_list": [1636588800, 1636675200]}],
        {"data_list": [52, 48], "time_list": [1636588800000, 1636675200000]},
        [{"values": [52, 48], "price": [1.0, 2.0], "time_list": [1636588800, 1636675200]}],
    ],
    ids=["docs-list-seconds", "object-ms", "cn-names"],
)
def test_fear_greed_tolerates_every_documented_shape(data):
    points = fear_greed_from_coinglass(data)
    assert [p.value for p in points] == [52, 48]
    assert [p.time for p in points] == [
        datetime(2021, 11, 11, tzinfo=UTC),
        datetime(2021, 11, 12, tzinfo=UTC),
    ]


def test_a_row_without_a_number_names_the_field():
    with pytest.raises(InvalidInput) as caught:
        open_interest_from_coinglass(BTC, {"time": 1, "open": "x", "high": 1, "low": 1, "close": 1})
    assert caught.value.field == "open"
    with pytest.raises(InvalidInput, match="time_list"):
        fear_greed_from_coinglass([{"data_list": [1, 2], "time_list": [1]}])
