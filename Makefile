# Two entry points: `make demo` and `make test`. Each sets itself up from nothing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint unit integration stack schemas bench fuzz clean browser

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/stream-app demo $(DEMO_ARGS)

test: $(STAMP) lint browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Headless Chromium for tests/integration/test_dashboard_browser.py, from Debian's packages:
# installed when missing and we are root; otherwise that test skips and says why.
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing chromium and chromium-driver (apt-get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends chromium chromium-driver >/dev/null; \
	else echo "chromium/chromedriver missing and not root: the browser test will skip"; fi

lint: $(STAMP)
	$(BIN)/ruff check stream_app tests bench
	$(BIN)/ruff format --check stream_app tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

integration: $(STAMP)
	$(BIN)/python -m pytest tests/integration $(PYTEST_ARGS)

stack: $(STAMP)
	$(BIN)/stream-app stack

schemas: $(STAMP)
	$(BIN)/stream-app schemas write

.PHONY: openapi
openapi: $(STAMP)
	$(BIN)/stream-app api openapi

# docs/settings.md from the models in stream_app/settings/ (a unit test fails when it drifts).
.PHONY: settings-docs
settings-docs: $(STAMP)
	$(BIN)/python -m stream_app.settings.docs

BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

# Benchmarks on the embedded stack (~18 min); figures merge into bench/results/latest.json.
# bench.soak (10 min) is not part of it: `.venv/bin/python -m bench.soak`.
bench: $(BENCH_STAMP)
	$(BIN)/python -m bench.profiles $(BENCH_ARGS)
	$(BIN)/python -m bench.memory
	$(BIN)/python -m bench.throughput $(THROUGHPUT_ARGS)
	$(BIN)/python -m bench.peers $(PEERS_ARGS)
	$(BIN)/python -m bench.learning
	$(BIN)/python -m bench.sentiment
	$(BIN)/python -m bench.timing
	$(BIN)/python -m bench.commerce $(COMMERCE_ARGS)
	$(BIN)/python -m bench.backfill
	$(BIN)/python -m bench.basket
	$(BIN)/python -m bench.cutover
	$(BIN)/python -m bench.lift
	$(BIN)/python -m bench.audit
	$(BIN)/python -m bench.reports
	$(BIN)/python -m bench.cluster
	$(BIN)/python -m bench.recovery

fuzz: $(BENCH_STAMP)
	$(BIN)/python -m bench.fuzz $(FUZZ_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .stream-app-data test-artifacts
