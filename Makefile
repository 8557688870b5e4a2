# Two entry points for a new user: `make plan` (offline preview of every shipped stack)
# and `make test` (lint, format check, tests). Both create .venv from pinned requirements.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: plan test lint benchmark clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

PIP := $(BIN)/pip install --quiet --disable-pip-version-check

# The project itself is installed editable, without dependencies: it adds the `mlkit` command.
$(VENV)/.runtime: requirements.txt pyproject.toml | $(BIN)/python
	$(PIP) -r requirements.txt
	$(PIP) --no-deps -e .
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt pyproject.toml | $(BIN)/python
	$(PIP) -r requirements-dev.txt
	$(PIP) --no-deps -e .
	touch $@ $(VENV)/.runtime

plan: $(VENV)/.runtime
	$(BIN)/mlkit plan --all --out build/plans
	@echo "plans written to build/plans/"

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Work stealing balances the few slow tests (Evidently's and the SDK's imports) best. Pytest
# keeps rewritten test modules as bytecode, which PYTHONDONTWRITEBYTECODE would forbid.
test: lint
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest -n auto --dist worksteal

benchmark: $(VENV)/.runtime
	$(BIN)/python benchmarks/plan_time.py

clean:
	rm -rf $(VENV) build .pytest_cache .ruff_cache
