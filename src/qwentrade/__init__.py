"""qwentrade: low-frequency quantitative trading of OKX perpetual swaps."""

__version__ = "0.1.0"


def __getattr__(name: str):
    # ``qwentrade.open`` is the notebook reader; imported lazily so that ``import qwentrade``
    # stays cheap (the reader pulls in SQLAlchemy and polars).
    if name == "open":
        from qwentrade.reader import open

        return open
    if name == "backtest":  # the notebook backtest: qwentrade.backtest(candles, ...)
        from qwentrade.app.backtest import backtest

        return backtest
    raise AttributeError(f"module 'qwentrade' has no attribute {name!r}")
