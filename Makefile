# Portico: `make up` runs everything on embedded defaults, `make test` runs the whole suite.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/portico
SHARED ?= ../shared

.PHONY: up test test-sqlite test-postgres compat lint bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]' -e examples/plugin
	touch $(STAMP)

up: $(STAMP)
	$(PY) -m portal.runner

test: $(STAMP) lint test-sqlite test-postgres

test-sqlite: $(STAMP)
	$(PY) -m pytest -n auto

# The browser tests drive pages, not SQL: they run once, in the SQLite pass; everything else runs on
# both databases.
test-postgres: $(STAMP)
	DATABASE_URL=$(PG_TEST_URL) $(PY) -m pytest -n auto --ignore=tests/e2e

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

compat: $(STAMP)
	$(PY) -m tests.compat $(SHARED)/kestra-flows

bench: $(STAMP)
	$(PY) bench/task_types.py
	$(PY) bench/engine_overhead.py --db sqlite --workers 1 --tasks 50 --executions 20
	$(PY) bench/lists.py --rows 10000 --loads 20

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
