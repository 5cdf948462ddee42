"""The fake OKX server's market statistics: the shapes of OKX's recorded/documented
answers (tests/data/okx), OKX's cursors and its refusals."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from fake_okx_helpers import BTC

DATA = Path(__file__).parents[2] / "data" / "okx"
OI = "/api/v5/public/open-interest"
OI_HISTORY = "/api/v5/rubik/stat/contracts/open-interest-history"
RATIO = "/api/v5/rubik/stat/contracts/long-short-account-ratio-contract"
LIQUIDATIONS = "/api/v5/public/liquidation-orders"


def recorded(name: str) -> list:
    return json.loads((DATA / f"{name}.json").read_text())["data"]


def test_open_interest_has_the_recorded_fields(client):
    [row] = client.data(client.get(OI, f"instType=SWAP&instId={BTC}"))
    [want] = recorded("http_get_public_open_interest")
    assert set(row) == set(want) and all(isinstance(v, str) for v in row.values())
    assert Decimal(row["oiCcy"]) == Decimal(row["oi"]) * Decimal("0.01")
    assert len(client.data(client.get(OI, "instType=SWAP"))) == 3
    assert client.data(client.get(OI, "instType=FUTURES")) == []


def test_series_rows_are_strings_newest_first_within_exclusive_bounds(client):
    rows = client.data(client.get(OI_HISTORY, f"instId={BTC}&period=1H&limit=5"))
    assert len(rows) == 5 and all(len(r) == 4 and all(isinstance(v, str) for v in r) for r in rows)
    stamps = [int(r[0]) for r in rows]
    assert stamps == sorted(stamps, reverse=True) and stamps[0] - stamps[1] == 3_600_000
    page = client.data(
        client.get(OI_HISTORY, f"instId={BTC}&period=1H&end={stamps[0]}&begin={stamps[3]}")
    )
    assert [int(r[0]) for r in page] == stamps[1:3]
    ratios = client.data(client.get(RATIO, f"instId={BTC}&limit=3"))  # default period 5m
    assert [len(r) for r in ratios] == [2, 2, 2]
    assert int(ratios[0][0]) - int(ratios[1][0]) == 300_000
    assert client.data(client.get(RATIO, f"instId={BTC}&limit=3")) == ratios


def test_liquidation_orders_are_the_documented_items_paged_on_ts(client):
    query = "instType=SWAP&instFamily=BTC-USDT&state=filled"
    [item] = client.data(client.get(LIQUIDATIONS, query + "&limit=5"))
    [want] = recorded("http_get_public_liquidation_orders")
    assert set(want) <= set(item) and item["instId"] == BTC
    assert len(item["details"]) == 5 and set(item["details"][0]) == set(want["details"][0])
    stamps = [int(d["ts"]) for d in item["details"]]
    assert stamps == sorted(stamps, reverse=True)
    [older] = client.data(client.get(LIQUIDATIONS, query + f"&limit=2&after={stamps[1]}"))
    assert [int(d["ts"]) for d in older["details"]] == stamps[2:4]
    for detail in item["details"]:
        assert (detail["posSide"], detail["side"]) in (("long", "sell"), ("short", "buy"))
    # OKX's default state is unfilled: the fake fills liquidations at once
    assert client.data(client.get(LIQUIDATIONS, "instType=SWAP&instFamily=BTC-USDT")) == []


def test_refusals_are_okx_codes(client):
    assert client.get(LIQUIDATIONS, "instType=SWAP").json()["code"] == "50015"
    assert client.get(OI, "").json()["code"] == "50014"
    assert client.get(OI_HISTORY, f"instId={BTC}&period=7m").json()["code"] == "51000"
    assert client.get(OI_HISTORY, "instId=DOGE-USDT-SWAP").json()["code"] == "51001"
    assert client.get(RATIO, f"instId={BTC}&limit=0").json()["code"] == "51000"
