# Syncline's front door. `make test` is what CI runs; `make run` starts the whole system locally.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PY := .venv/bin/python
UV := python3 -m uv
SRC := libs services

.PHONY: help bootstrap tools infra-up infra-down infra-status infra-reset migrate topics test test-fast \
        lint format typecheck run bench schemas clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

bootstrap: ## install uv and the locked Python environment (.venv)
	@python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet --disable-pip-version-check 'uv>=0.5,<1'
	@$(UV) sync --all-packages --frozen --quiet

infra-up: ## start PostgreSQL and Kafka as local processes (installs them if missing)
	@bash deploy/local/infra.sh up

infra-down: ## stop PostgreSQL and Kafka (data is kept)
	@bash deploy/local/infra.sh down

infra-status: ## show whether PostgreSQL and Kafka are up
	@bash deploy/local/infra.sh status

infra-reset: ## stop and wipe local data (the Kafka jar cache is kept)
	@bash deploy/local/infra.sh reset

tools: ## build/install the deployment check tools (helm, compose-config, hadolint) into .local/bin
	@bash deploy/checks/install-tools.sh

migrate: bootstrap ## apply database migrations
	@.venv/bin/syncline migrate

topics: bootstrap ## create the Kafka topics
	@.venv/bin/syncline topics

test: bootstrap infra-up migrate topics tools ## provision everything and run the whole suite
	@.venv/bin/pytest

test-fast: bootstrap ## unit, property and contract tests only (no infrastructure)
	@.venv/bin/pytest tests/unit tests/properties tests/contract

lint: bootstrap ## ruff, mypy --strict and the import contracts
	@.venv/bin/ruff check $(SRC) tests bench
	@.venv/bin/ruff format --check $(SRC) tests bench
	@.venv/bin/mypy $(SRC)
	@.venv/bin/lint-imports

format: bootstrap ## format the code
	@.venv/bin/ruff format $(SRC) tests bench
	@.venv/bin/ruff check --fix $(SRC) tests bench

schemas: bootstrap ## regenerate the checked-in JSON Schemas of the bus messages
	@$(PY) -m syncmodel.export_schemas

run: bootstrap infra-up migrate topics ## run simulators + all services locally until Ctrl-C
	@.venv/bin/syncline dev

bench: bootstrap infra-up migrate topics ## run the benchmarks; writes bench/results.json
	@$(PY) -m bench.run

clean: ## remove caches (not .local)
	@rm -rf .pytest_cache .mypy_cache .ruff_cache .hypothesis
