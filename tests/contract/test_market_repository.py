"""MarketSeriesRepository contract: memory, SQLite and PostgreSQL behave the same."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from storage_samples import BTC, ETH, T0

from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.market import (
    BookSnapshot,
    EtfFlow,
    FearGreed,
    FundingRate,
    Liquidation,
    OpenInterest,
    Sentiment,
)
from qwentrade.domain.stats import SeriesStats

H8 = timedelta(hours=8)


def funding(i: int, symbol: str = BTC, rate: str = "0.0001") -> FundingRate:
    time = T0 + i * H8
    return FundingRate(symbol, time, Decimal(rate) + i, Decimal("0.00009876543210"), time + H8)


SAMPLES = [
    funding(0),
    FundingRate(ETH, T0 + timedelta(hours=3), Decimal("-0.0001"), None, None),
    OpenInterest(BTC, T0, 1.55e10, 2.5e8, 1.6393442622950818, 1.5e10, 1.6e10, 1.4e10, 1.55e10),
    OpenInterest(ETH, T0, 7.5e9),
    Sentiment(BTC, T0, 0.55, 0.45, 0.55 / 0.45),
    BookSnapshot(
        BTC,
        T0,
        ((Decimal("42000.1"), Decimal("1.5")), (Decimal("42000.0"), Decimal("0.001"))),
        ((Decimal("42000.2"), Decimal("3")),),
    ),
    EtfFlow("BTC", date(2024, 1, 2), -1.25e8, 43000.0),
    EtfFlow("ETH", date(2024, 1, 2), 2.5e7, None, 1.25e8, 1.0e8),
    FearGreed(T0, 72.0, "Greed"),
    Liquidation(BTC, T0, 1.2e6, 3.4e5),
]


@pytest.mark.parametrize("item", SAMPLES, ids=lambda item: type(item).__name__)
def test_each_kind_round_trips_exactly_and_idempotently(repos, item):
    assert repos.market.upsert([item]) == 1
    assert repos.market.upsert([item]) == 1
    symbol = None if isinstance(item, FearGreed) else item.symbol
    assert repos.market.range(type(item), symbol) == [item]
    assert repos.market.latest(type(item), symbol) == item


def test_kinds_may_be_mixed_in_one_call_and_stay_apart(repos):
    assert repos.market.upsert(SAMPLES) == len(SAMPLES)
    for kind in {type(item) for item in SAMPLES}:
        same = [item for item in SAMPLES if type(item) is kind]
        assert sorted(repos.market.range(kind), key=repr) == sorted(same, key=repr)


def test_liquidation_total_is_long_plus_short():
    assert Liquidation(BTC, T0, 1.2e6, 3.4e5).total_liquidation == 1.54e6
    with pytest.raises(InvalidInput) as info:
        Liquidation(BTC, T0, 1.0, 2.0, 4.0)
    assert info.value.field == "total_liquidation"


def test_updates_win(repos):
    repos.market.upsert([funding(0), funding(1)])
    newer = FundingRate(BTC, T0, Decimal("-0.000375"), None)
    repos.market.upsert([newer])
    assert repos.market.range(FundingRate, BTC) == [newer, funding(1)]


def test_range_by_time_symbol_and_page(repos):
    repos.market.upsert([funding(i) for i in range(6)] + [funding(i, ETH) for i in range(3)])
    assert repos.market.range(FundingRate, BTC, T0 + H8, T0 + 3 * H8) == [funding(1), funding(2)]
    assert repos.market.range(FundingRate, BTC, limit=2, offset=3) == [funding(3), funding(4)]
    newest = repos.market.range(FundingRate, BTC, newest_first=True, limit=2)
    assert newest == [funding(5), funding(4)]
    everyone = repos.market.range(FundingRate, end=T0 + H8)
    assert everyone == [funding(0), funding(0, ETH)]
    assert repos.market.latest(FundingRate, ETH) == funding(2, ETH)
    assert repos.market.latest(FundingRate, "SOL-USDT-SWAP") is None


def test_etf_flows_are_filed_under_midnight_utc_of_their_date(repos):
    flows = [EtfFlow("BTC", date(2024, 1, day), float(day)) for day in (1, 2, 3)]
    repos.market.upsert(flows)
    noon = datetime(2024, 1, 1, 12, tzinfo=T0.tzinfo)
    assert repos.market.range(EtfFlow, "BTC", start=noon) == flows[1:]
    assert repos.market.range(EtfFlow, "BTC", start=T0, end=T0 + timedelta(days=2)) == flows[:2]
    assert repos.market.stats(EtfFlow) == [
        SeriesStats("BTC", 3, T0, T0 + timedelta(days=2)),
    ]


def test_stats_per_symbol_and_global_fear_greed(repos):
    repos.market.upsert([funding(i) for i in range(3)] + [funding(0, ETH)])
    repos.market.upsert([FearGreed(T0 + timedelta(days=d), 50.0 + d) for d in range(4)])
    assert repos.market.stats(FundingRate) == [
        SeriesStats(BTC, 3, T0, T0 + 2 * H8),
        SeriesStats(ETH, 1, T0, T0),
    ]
    assert repos.market.stats(FearGreed) == [SeriesStats("global", 4, T0, T0 + timedelta(days=3))]
    assert repos.market.stats(Liquidation) == []


def test_wrong_kinds_and_naive_times_are_refused(repos):
    with pytest.raises(InvalidInput) as info:
        repos.market.upsert([funding(0), "not a series item"])
    assert info.value.field == "items[1]"
    assert repos.market.range(FundingRate) == []
    with pytest.raises(InvalidInput) as info:
        repos.market.range(dict)
    assert info.value.field == "kind"
    with pytest.raises(InvalidInput) as info:
        repos.market.range(FundingRate, start=datetime(2024, 1, 1))
    assert info.value.field == "start"


def test_two_threads_writing_at_once_lose_nothing(repos):
    errors: list[BaseException] = []

    def write(symbol: str) -> None:
        try:
            for i in range(40):
                repos.market.upsert([funding(i, symbol), funding(max(i - 1, 0), symbol)])
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=write, args=(s,)) for s in (BTC, ETH)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert [(s.symbol, s.rows) for s in repos.market.stats(FundingRate)] == [(BTC, 40), (ETH, 40)]
