# Two entry points for a new user: `make plan` (offline preview of every shipped stack)
# and `make test` (lint, format check, tests). Both create .venv from pinned requirements.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STACKS := $(patsubst stacks/Pulumi.%.yaml,%,$(wildcard stacks/Pulumi.*.yaml))

.PHONY: plan test lint benchmark clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

plan: $(VENV)/.runtime
	@for stack in $(STACKS); do \
		echo "== plan $$stack"; \
		$(BIN)/python -m blueprints plan $$stack --out build/plans || exit $$?; \
	done
	@echo "plans written to build/plans/"

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest

benchmark: $(VENV)/.runtime
	$(BIN)/python benchmarks/plan_time.py

clean:
	rm -rf $(VENV) build .pytest_cache .ruff_cache
