"""The report: stats with the documented keys, a plotly figure, and an HTML page that a
real headless browser (Debian's chromium) draws: its screenshot shows candles in both
plotly colours and the equity line where the charts are, not a blank page."""

from __future__ import annotations

import math
import struct
import subprocess
import zlib

import numba
import numpy as np
import pytest
from backtest_helpers import ETH_FILE

import qwentrade
from env_helpers import require_chromium

KEYS = {
    "trades", "total_return", "annual_return", "max_drawdown", "sharpe", "sortino",
    "win_rate", "profit_factor", "average_trade", "exposure", "fees", "funding",
    "buy_and_hold", "funding_source",
}  # fmt: skip
GREEN, RED = (0x3D, 0x99, 0x70), (0xFF, 0x41, 0x36)  # plotly's candle colours


@pytest.fixture(scope="module")
def result():
    return qwentrade.backtest(ETH_FILE)


def test_the_notebook_entry_point_returns_frames_stats_and_a_figure(result):
    assert set(result.stats) >= KEYS
    stats = result.stats
    assert stats["trades"] == result.trades.height > 0
    realized = result.trades["realized"].sum()
    assert stats["end_balance"] == pytest.approx(10000 + realized, abs=1e-6)
    assert stats["total_return"] == pytest.approx(realized / 10000, abs=1e-9)
    assert -1 < stats["max_drawdown"] < 0 and 0 < stats["exposure"] < 1
    assert stats["win_rate"] == pytest.approx((result.trades["realized"] > 0).mean())
    assert result.equity.columns == ["time", "close", "equity", "drawdown"]
    figure = result.plot()
    assert {trace.type for trace in figure.data} >= {"candlestick", "scatter"}


def _png_pixels(blob: bytes) -> np.ndarray:
    """An 8-bit RGB/RGBA non-interlaced PNG as a (height, width, channels) array."""
    assert blob[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks, header = 8, [], None
    while pos < len(blob):
        (length,) = struct.unpack(">I", blob[pos : pos + 4])
        kind, body = blob[pos + 4 : pos + 8], blob[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0
    channels = 3 if colour == 2 else 4
    raw = np.frombuffer(zlib.decompress(b"".join(chunks)), dtype=np.uint8)
    return _unfilter(raw, width, height, channels).reshape(height, width, channels)


@numba.njit(cache=True)
def _unfilter(raw, width, height, channels):
    stride = width * channels
    out = np.zeros(height * stride, dtype=np.uint8)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        src = y * (stride + 1) + 1
        row = y * stride
        for x in range(stride):
            a = int(out[row + x - channels]) if x >= channels else 0
            b = int(out[row - stride + x]) if y > 0 else 0
            c = int(out[row - stride + x - channels]) if (y > 0 and x >= channels) else 0
            v = int(raw[src + x])
            if kind == 1:
                v += a
            elif kind == 2:
                v += b
            elif kind == 3:
                v += (a + b) // 2
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                v += a if (pa <= pb and pa <= pc) else (b if pb <= pc else c)
            out[row + x] = v & 0xFF
    return out


def _near(pixels: np.ndarray, colour: tuple[int, int, int], tolerance: int = 24) -> int:
    diff = np.abs(pixels[..., :3].astype(int) - np.array(colour)).max(axis=-1)
    return int((diff <= tolerance).sum())


def test_the_html_report_is_drawn_by_a_real_headless_browser(result, tmp_path):
    browser = require_chromium()
    page = result.to_html(tmp_path / "report.html")
    text = page.read_text(encoding="utf-8")
    assert "<script" in text and "<script src=" not in text  # plotly.js embedded: offline
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--window-size=1200,1400", "--virtual-time-budget=5000",
            f"--screenshot={shot}", page.as_uri(),
        ],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    pixels = _png_pixels(shot.read_bytes())
    chart = pixels[pixels.shape[0] // 2 :]  # the stats table is on top; charts below
    assert _near(chart, GREEN) > 500 and _near(chart, RED) > 500  # candles of both colours
    assert _near(chart, (0x2C, 0x7F, 0xB8)) > 100  # the equity line
    white = (chart[..., :3].min(axis=-1) > 245).mean()
    assert white < 0.9 and not math.isnan(white)
