"""qwentrade: low-frequency quantitative trading of OKX perpetual swaps."""

__version__ = "0.1.0"
