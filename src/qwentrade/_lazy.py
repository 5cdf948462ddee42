"""Lazy exports for package ``__init__`` modules (PEP 562).

A package lists its public names and the module each comes from; a name is imported on
first use, so ``import qwentrade.adapters.sql.engine`` does not import Alembic, and a
command imports only the adapters it uses. The names stay the package's public API.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: dict[str, Any], exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for the package whose globals are ``package``;
    ``exports`` maps each public name to the module that defines it."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package['__name__']!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        package[name] = value  # later lookups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted({*package, *exports})

    return __getattr__, __dir__
