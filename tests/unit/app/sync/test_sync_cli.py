"""`qwentrade backfill` on a terminal: a progress bar per series, then the summary."""

from __future__ import annotations

import re
import sys

from qwentrade.app.cli import main


def test_backfill_draws_a_bar_per_series_on_a_terminal(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QWENTRADE_SYMBOLS", "BTC-USDT-SWAP")
    monkeypatch.setenv("QWENTRADE_LOG_FILE", "")
    monkeypatch.setenv("QWENTRADE_DATABASE_URL", f"sqlite:///{tmp_path / 'q.db'}")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main(["backfill", "--days", "4"]) == 0
    out, err = capsys.readouterr()
    bars = [line for line in err.replace("\r", "\n").splitlines() if "100%" in line]
    # one bar per series, in order (a bar redrawn at 100% by tqdm's refresh on a loaded
    # machine is the same bar: its lines are split on the carriage return above)
    assert list(dict.fromkeys(line.split(":")[0] for line in bars)) == [
        "BTC-USDT-SWAP 15m",
        "BTC-USDT-SWAP 4h",
        "BTC-USDT-SWAP 1d",
    ]
    done = re.search(r"(\d+)/(\d+)", bars[0])
    assert done and done[1] == done[2] and int(done[1]) >= 4 * 96 - 2  # every missing candle
    assert "candle/s" in bars[0]  # the rate (and the ETA while it runs)
    assert " .. " in bars[0]  # the time range fetched
    assert out.splitlines()[0].split()[:3] == ["symbol", "tf", "fetched"]
    assert main(["backfill", "--days", "4", "-q"]) == 0  # nothing missing: no bar, no fetch
    out, err = capsys.readouterr()
    assert "100%" not in err
    assert sum(int(r.split()[2]) for r in out.splitlines()[2:]) <= 1  # a close just now
