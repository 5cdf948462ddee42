"""Packages that import their public names on first use still export every one of them."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

LAZY = {
    "qwentrade.adapters.sql": ("alembic", "polars"),
    "qwentrade.adapters.sql.repositories": ("polars",),
    "qwentrade.adapters.sim": ("polars", "numpy"),
    "qwentrade.domain.detector": ("polars", "numpy"),
}


@pytest.mark.parametrize("name", sorted(LAZY))
def test_every_public_name_resolves_and_is_listed(name):
    package = importlib.import_module(name)
    for export in package.__all__:
        value = getattr(package, export)
        assert getattr(value, "__name__", export) == export
        assert export in dir(package)
    with pytest.raises(AttributeError, match="no_such_name"):
        package.no_such_name  # noqa: B018


@pytest.mark.parametrize("name", sorted(LAZY))
def test_importing_the_package_imports_none_of_its_heavy_libraries(name):
    probe = f"import sys, {name}; print(sorted(m for m in {LAZY[name]!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
