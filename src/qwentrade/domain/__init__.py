"""The pure core: value objects, indicators, detector, lifecycles. stdlib, attrs, numpy, polars only."""
