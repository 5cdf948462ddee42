"""The pure core: values, indicators, detector, lifecycles (stdlib, attrs, numpy, polars)."""
