# Two commands on a fresh machine: `make run` and `make test`. Everything else is for developers.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CONFIG ?= examples/demo.yaml
# Test processes: much of the suite waits on real-time streams and servers, so two processes
# on two cores halve the wall time. TEST_WORKERS=0 runs everything in one process.
TEST_WORKERS ?= 2

.PHONY: install run test lint fix bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install Pantau with its development tools

run: $(STAMP)  ## start the hub with the demo city (CONFIG=... for another)
	$(VENV)/bin/pantau run $(CONFIG)

test: $(STAMP)  ## run the whole test suite
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

lint: $(STAMP)  ## ruff (lint and format) and mypy --strict
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

fix: $(STAMP)  ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(STAMP)  ## run every benchmark against its baseline and print the ratios
	@for f in bench/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
