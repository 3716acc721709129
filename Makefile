# The README's quick start is `make run` and `make test`; both set up what they need first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup assets run test test-slow test-fast lint format bench-collect bench-history bench-page bench-viewers \
	bench-soak bench-workers bench-flood clean

setup: $(STAMP) assets

# Browser assets (socket.io-client, uPlot) from npm into web/static/vendor/ (git-ignored).
assets:
	sh scripts/install-assets.sh

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

run: setup
	$(BIN)/hostpulse serve

# Every tier a change needs (unit, integration, e2e): under 15 minutes on 2 cores.
test: setup
	$(BIN)/pytest -m "not soak and not slow and not package and not image"

# What waits long or builds (the wheel, the container image, a receiver down for 30 s…).
test-slow: setup
	$(BIN)/pytest -m "(slow or package or image) and not soak"

# Seconds: unit tests only, no servers, no browser.
test-fast: setup
	$(BIN)/pytest -m "not integration and not e2e and not soak" -q

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench-collect: setup
	$(BIN)/python benchmarks/collect.py

bench-history: setup
	$(BIN)/python benchmarks/history_budget.py

# An open host page's main-thread time a second in headless Chromium (~1 min);
# ARGS="old=/path/to/old/src new=src" for two trees side by side.
bench-page: setup
	$(BIN)/python benchmarks/page_cost.py $(ARGS)

# N = 1 … 5,000 live viewers, 30 s steady each (~4 min); ARGS=--quick for a smoke run.
bench-viewers: setup
	$(BIN)/python benchmarks/viewers.py $(ARGS)

# 500 viewers coming and going at 10/s for 30 min, 5% stalled; a row every 10 s.
bench-soak: setup
	$(BIN)/python benchmarks/soak.py $(ARGS)

# 5,000 viewers of one host against 1 and 2 `serve --redis` workers behind nginx (~2 min);
# needs redis-server, nginx and puppet. ARGS="-n 5000 8000" for more N.
bench-workers: setup
	$(BIN)/python benchmarks/viewers.py --workers 1 2 $(ARGS)

# What one hostile client costs: floods of each kind from one address (~2 min, loopback).
bench-flood: setup
	$(BIN)/python benchmarks/flood.py $(ARGS)

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info node_modules src/hostpulse/web/static/vendor
