"""OKX bars built from the simulated market: alignment, aggregation, the candle window."""

from __future__ import annotations

import itertools

import pytest
from fake_okx_helpers import BTC

from qwentrade.domain.market import Timeframe, to_ms
from qwentrade.testing.fake_okx.market import BARS, candle_window, floor_open, source_frame

HOUR = 3_600_000


@pytest.mark.parametrize(
    ("bar", "frame", "boundary_hour"),
    [
        ("15m", Timeframe.M15, 0),
        ("30m", Timeframe.M15, 0),
        ("2H", Timeframe.H1, 0),
        ("6H", Timeframe.H1, 4),  # UTC+8: 16:00, 22:00, 04:00, 10:00 UTC
        ("12H", Timeframe.H4, 4),
        ("1D", Timeframe.H4, 16),
        ("6Hutc", Timeframe.H1, 0),
        ("1Dutc", Timeframe.D1, 0),
    ],
)
def test_bars_pick_their_source_and_alignment(bar, frame, boundary_hour):
    spec = BARS[bar]
    assert source_frame(spec, Timeframe.M15) == frame
    assert (
        floor_open(spec, 20 * 24 * HOUR + spec.length) % spec.length
        == (boundary_hour * HOUR) % spec.length
    )


def test_bars_finer_than_the_path_cannot_be_built():
    assert source_frame(BARS["15m"], Timeframe.H1) is None
    assert source_frame(BARS["1D"], Timeframe.H1) == Timeframe.H4


def test_the_window_is_the_newest_of_the_range_and_exclusive_at_both_cursors():
    bar = BARS["1H"]
    now = 100 * HOUR + 5
    assert candle_window(bar, now, 0, None, None, 3) == (98 * HOUR, 100 * HOUR)
    assert candle_window(bar, now, 0, 90 * HOUR, None, 3) == (87 * HOUR, 89 * HOUR)
    assert candle_window(bar, now, 0, None, 90 * HOUR, 300) == (91 * HOUR, 100 * HOUR)
    assert candle_window(bar, now, 0, 93 * HOUR, 90 * HOUR, 300) == (91 * HOUR, 92 * HOUR)
    assert candle_window(bar, now, 0, 91 * HOUR, 90 * HOUR, 300) is None
    assert candle_window(bar, now, 95 * HOUR, None, None, 300) == (95 * HOUR, 100 * HOUR)
    assert candle_window(bar, now, 0, None, None, 300, recent_only=4) == (97 * HOUR, 100 * HOUR)


@pytest.mark.parametrize("bar", ["30m", "2H", "6H", "12Hutc"])
def test_aggregated_bars_match_their_parts(client, bar):
    spec = BARS[bar]
    parts_bar = "15m" if spec.length < 2 * HOUR else "1H"
    rows = client.data(client.get("/api/v5/market/candles", f"instId={BTC}&bar={bar}&limit=4"))
    parts = client.data(
        client.get("/api/v5/market/candles", f"instId={BTC}&bar={parts_bar}&limit=100")
    )
    closed = rows[1]
    opened = int(closed[0])
    inside = [p for p in parts if opened <= int(p[0]) < opened + spec.length]
    assert len(inside) == spec.length // (15 * 60_000 if parts_bar == "15m" else HOUR)
    assert closed[1] == inside[-1][1] and closed[4] == inside[0][4]
    assert float(closed[2]) == max(float(p[2]) for p in inside)
    assert float(closed[6]) == pytest.approx(sum(float(p[6]) for p in inside), rel=1e-5)
    assert closed[8] == "1" and rows[0][8] == "0"


@pytest.mark.parametrize("bar", ["1m", "3m", "5m"])
def test_bars_finer_than_the_path_are_cut_from_its_walk_and_add_up_to_it(client, bar):
    length = BARS[bar].length
    quarters = client.data(client.get("/api/v5/market/candles", f"instId={BTC}&bar=15m&limit=3"))
    closed = quarters[1]
    opened = int(closed[0])
    rows = client.data(
        client.get(
            "/api/v5/market/candles",
            f"instId={BTC}&bar={bar}&before={opened - 1}&after={opened + 15 * 60_000}",
        )
    )
    inside = sorted(rows, key=lambda r: int(r[0]))
    assert [int(r[0]) for r in inside] == list(range(opened, opened + 15 * 60_000, length))
    assert all(r[8] == "1" for r in inside)
    assert inside[0][1] == closed[1] and inside[-1][4] == closed[4]
    assert max(float(r[2]) for r in inside) == float(closed[2])
    assert min(float(r[3]) for r in inside) == float(closed[3])
    assert sum(float(r[6]) for r in inside) == pytest.approx(float(closed[6]), rel=1e-4)
    for earlier, later in itertools.pairwise(inside):
        assert earlier[4] == later[1]  # the walk is continuous inside a base candle


def test_the_forming_minute_shows_only_the_walk_so_far(okx, client):
    rows = client.data(client.get("/api/v5/market/candles", f"instId={BTC}&bar=1m&limit=5"))
    now = to_ms(okx.engine.server_time())
    assert int(rows[0][0]) == now - now % 60_000 and rows[0][8] == "0"
    assert all(r[8] == "1" for r in rows[1:])
    assert float(rows[0][4]) == pytest.approx(float(okx.engine.last_price(BTC)), abs=0.11)
