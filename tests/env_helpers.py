"""What the test machine offers, shared by tests in several folders (imported by name, as
``db_helpers``: ``tests/`` is on ``sys.path``). Under ``CI=true`` a missing requirement is a
failure, elsewhere a skip saying how to get it."""

from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM_MISSING = "no chromium: apt-get install chromium (or set QWENTRADE_TEST_CHROMIUM)"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def find_chromium() -> str | None:
    """Debian's chromium: ``QWENTRADE_TEST_CHROMIUM``, else the one on ``PATH``."""
    return (
        os.environ.get("QWENTRADE_TEST_CHROMIUM")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
    )


def require_chromium() -> str:
    """The chromium to drive; skips the test without one (fails it under ``CI=true``)."""
    found = find_chromium()
    if found is None:
        if in_ci():
            pytest.fail(f"{CHROMIUM_MISSING}; CI=true requires it", pytrace=False)
        pytest.skip(CHROMIUM_MISSING)
    return found
