# Shieldwall: two commands do everything on a fresh Debian 12 machine with Python 3.11.
#   make demo   -- create .venv, install, build the bundled sample image, scan it
#   make test   -- create .venv with dev extras, run the whole suite (unit + integration)
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
DEVSTAMP= $(VENV)/.installed-dev
DEMO_DIR ?= .demo

.PHONY: demo test lint typecheck check clean install dev golden

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEVSTAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(STAMP)

install: $(STAMP)
dev: $(DEVSTAMP)

demo: $(STAMP)
	SHIELDWALL_CACHE_DIR=$(DEMO_DIR)/cache SHIELDWALL_DATA_DIR=$(DEMO_DIR)/data \
	  $(BIN)/python -m shieldwall.demo $(DEMO_DIR)

lint: $(DEVSTAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(DEVSTAMP)
	$(BIN)/mypy

test: $(DEVSTAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/pytest -n 2 tests

clean:
	rm -rf $(VENV) $(DEMO_DIR) .mypy_cache .ruff_cache .pytest_cache

golden: $(DEVSTAMP)
	SHIELDWALL_UPDATE_GOLDEN=1 $(BIN)/pytest -q tests/unit/report/test_golden.py
