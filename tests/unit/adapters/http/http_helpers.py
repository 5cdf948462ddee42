"""Constants shared by the HTTP tests (a module of its own: conftest is not importable
by name when several test folders are collected together)."""

KEY = "test-key-3f9a1c"
HEADERS = {"X-API-Key": KEY}
