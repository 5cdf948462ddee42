# The two set-up commands of the README: `make run` and `make test`.
# Each creates .venv on first use and reuses it afterwards (re-installing only when
# pyproject.toml changes).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test soak lint bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "qwentrade needs Python 3.11 or newer; set PYTHON=python3.x")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/qwentrade serve

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports

test: lint
	$(BIN)/python -m pytest

# Long randomised runs kept out of `make test` (which runs a small sample of each).
soak: $(STAMP)
	SOAK_KILL_TRIALS=$${SOAK_KILL_TRIALS:-40} $(BIN)/python -m pytest -q -s tests/e2e/test_kill_writes.py
	SOAK_SYNC_KILLS=$${SOAK_SYNC_KILLS:-200} $(BIN)/python -m pytest -q -s tests/e2e/test_kill_sync.py
	SOAK_TRADING_RUNS=$${SOAK_TRADING_RUNS:-1000} $(BIN)/python -m pytest -q -s tests/e2e/test_kill_trading.py
	SOAK_TRADING_EXAMPLES=$${SOAK_TRADING_EXAMPLES:-2000} $(BIN)/python -m pytest -q -s tests/unit/machines/test_trading_machine.py
	SOAK_PENDING_EXAMPLES=$${SOAK_PENDING_EXAMPLES:-3000} $(BIN)/python -m pytest -q -s tests/unit/app/test_pending_property.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache
