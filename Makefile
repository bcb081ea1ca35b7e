# bangfu — the two set-up commands are `make demo` and `make test` (see README.md);
# `make check` is the developers' quick loop.
SHELL := /bin/bash
PYTHON ?= python3.11
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(PYTHON)
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
VENV := .venv
DATA ?= data
PACKAGES := bangfu assets pipelines resources checks warehouse bench
# pytest-xdist workers for `make test` / `make check`: whole files per worker (module fixtures
# are built once); the session's generated data are built once for all (tests/conftest.py).
# Files go out in collection order (end-to-end before the many short unit files), not
# xdist's default of the most tests first, which left the two long daemon files for last.
PYTEST_WORKERS ?= 2
PYTEST := $(VENV)/bin/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder

.PHONY: demo test check system-deps lint format ui ui-operator pictures docs bench clean

# uv manages the environment; bootstrap it with pip when the machine has none.
.tools/bin/uv:
	@echo "uv not found: installing it into .tools/ with pip …"
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv

# Bytecode is compiled once here: where PYTHONDONTWRITEBYTECODE keeps Python from caching it,
# every bangfu process (CLI, Dagster run, pool worker, test) would otherwise compile Dagster &
# co. and our own modules from source at each start-up. (An edited module's bytecode is stale
# and simply not used.)
$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --all-extras --compile-bytecode
	$(VENV)/bin/python -m compileall -q $(PACKAGES)
	@touch $@

demo: $(VENV)/.synced
	$(VENV)/bin/bangfu demo --data $(DATA)

# The whole suite. Its system packages (LibreOffice, Chromium, nginx …) are installed first
# when missing (as root; otherwise the script prints the apt-get line to run). Some tests also
# need PostgreSQL at 127.0.0.1:5432 and Redis at 127.0.0.1:6379 (.ci/run starts them).
test: system-deps $(VENV)/.synced
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PYTEST)

# The quick loop: lint, format check and the tests that need no service, browser, office suite
# or end-to-end run (the marks are in pyproject.toml and tests/conftest.py).
check: $(VENV)/.synced
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PYTEST) -m "not slow and not postgres and not browser and not office"

system-deps:
	@bash scripts/system-deps.sh

lint: $(VENV)/.synced
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.synced
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The Dagster UI over the demo data: http://127.0.0.1:3000 (UI_PORT=…)
# `make ui`: the auditors' view, read-only (lineage, partitions, metadata, checks, runs; launching,
# wiping, schedule and sensor switches are refused). `make ui-operator`: the operators' full UI
# with the daemon (`dagster dev`). In production both sit behind nginx: docs/DEPLOY.md.
UI_PORT ?= 3000
UI_ENV = BANGFU_DATA=$(DATA) DAGSTER_HOME=$(abspath $(DATA))/dagster_home DAGSTER_EVENT_BATCH_SIZE=1000
ui: $(VENV)/.synced
	$(UI_ENV) $(VENV)/bin/dagster-webserver --read-only -w workspace.yaml -h 127.0.0.1 -p $(UI_PORT)

ui-operator: $(VENV)/.synced
	$(UI_ENV) $(VENV)/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p $(UI_PORT)

# The README's pictures (docs/img/) from the demo's outputs: run `make demo` first.
pictures: system-deps $(VENV)/.synced
	$(VENV)/bin/python scripts/pictures.py --data $(DATA)

# The tables of docs/ that are made from the code (a test fails when they are stale).
docs: $(VENV)/.synced
	$(VENV)/bin/python -m bangfu.docgen

bench: $(VENV)/.synced
	$(VENV)/bin/python -m bench

clean:
	rm -rf $(DATA) .pytest_cache
