# edgeroom: `make run` serves on http://127.0.0.1:8787, `make test` runs everything.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8787
DATA_DIR ?= .edgeroom
PYTEST_ARGS ?=

ORACLE_DIR := conformance/oracle
ORACLE_STAMP := $(ORACLE_DIR)/node_modules/.installed

.PHONY: run test lint typecheck pytest install dev clean bench bench-full conformance oracle-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev,redis,browser,bench]'
	touch $@

install: $(VENV)/.installed

dev: $(VENV)/.dev-installed

## Start the service on the embedded default (SQLite + files, no other server).
run: install
	$(BIN)/edgeroom migrate --data-dir $(DATA_DIR)
	$(BIN)/edgeroom serve --host $(HOST) --port $(PORT) --data-dir $(DATA_DIR)

## The whole suite plus ruff and mypy. Set EDGEROOM_REQUIRE_ALL=1 to turn skips into failures.
test: dev lint typecheck oracle-deps pytest

lint: dev
	$(BIN)/ruff check app primitives tests bench conformance
	$(BIN)/ruff format --check app primitives tests bench conformance

typecheck: dev
	$(BIN)/mypy app primitives tests bench conformance

pytest: dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## Every benchmark, quick: each bench/*.py --quick, then the chat load harness against edgeroom and
## its peers (docs/benchmarks.md). A missed target or a failure does not stop the others; the
## exit status says whether any script failed.
bench: dev
	@status=0; for b in bench/*.py; do \
		case $$b in */__init__.py) continue;; esac; \
		echo "== $$b"; $(BIN)/python $$b --quick || status=1; \
	done; \
	echo "== bench/chatload --quick"; $(BIN)/python -m bench.chatload --quick || status=1; \
	exit $$status

## The chat load harness's full matrix (tens of minutes): writes bench/results/latest.md and plots.
bench-full: dev
	$(BIN)/python -m bench.chatload --full

$(ORACLE_STAMP): $(ORACLE_DIR)/package.json $(ORACLE_DIR)/package-lock.json
	cd $(ORACLE_DIR) && npm ci --no-audit --no-fund
	touch $@

## The conformance oracle's npm packages (pinned Miniflare/workerd), if npm is installed.
oracle-deps:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory $(ORACLE_STAMP); \
	else echo "npm not found: the conformance tests will be skipped"; fi

## Run every conformance case on workerd and on primitives/, compare, write docs/conformance.md.
conformance: dev $(ORACLE_STAMP)
	$(BIN)/python -m conformance.compare

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache $(DATA_DIR)
