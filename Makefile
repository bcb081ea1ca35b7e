# bangfu — the two set-up commands are `make demo` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3.11
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(PYTHON)
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
VENV := .venv
DATA ?= data
PACKAGES := bangfu assets pipelines resources checks warehouse bench

.PHONY: demo test lint format ui bench clean

# uv manages the environment; bootstrap it with pip when the machine has none.
.tools/bin/uv:
	@echo "uv not found: installing it into .tools/ with pip …"
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv

# Bytecode is compiled once here: every bangfu process (CLI, Dagster run, pool worker, test)
# would otherwise compile Dagster & co. and our own modules from source at start-up, about
# 3 s each, where PYTHONDONTWRITEBYTECODE keeps Python from caching it. (An edited module's
# bytecode is stale and simply not used.)
$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --all-extras --compile-bytecode
	$(VENV)/bin/python -m compileall -q $(PACKAGES)
	@touch $@

demo: $(VENV)/.synced
	$(VENV)/bin/bangfu demo --data $(DATA)

test: $(VENV)/.synced
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/python -m pytest -q

lint: $(VENV)/.synced
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.synced
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The Dagster UI over the demo data: http://127.0.0.1:3000
ui: $(VENV)/.synced
	BANGFU_DATA=$(DATA) DAGSTER_HOME=$(abspath $(DATA))/dagster_home DAGSTER_EVENT_BATCH_SIZE=1000 \
	  $(VENV)/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

bench: $(VENV)/.synced
	$(VENV)/bin/python -m bench

clean:
	rm -rf $(DATA) .pytest_cache
