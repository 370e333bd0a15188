# TuneForge: `make run` starts the platform locally, `make test` runs the suite.
PY_BOOT ?= python3.11
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
PROTOS  := $(wildcard proto/tuneforge/v1/*.proto)
MODEL_DIR ?= var/models/tiny-qwen2

.PHONY: setup proto proto-check docs model run demo test test-fast bench clean browser-check

# The web console's front-end libraries (Chart.js), installed by npm from package-lock.json.
NODE_STAMP := node_modules/.package-lock.json

setup: $(STAMP) $(NODE_STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund

$(STAMP): pyproject.toml
	test -x $(PY) || $(PY_BOOT) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

# Generated gRPC code lives beside its .proto and is never edited by hand.
proto: $(STAMP)
	$(PY) -m grpc_tools.protoc -Iproto --python_out=proto --pyi_out=proto \
	  --grpc_python_out=proto $(PROTOS)

# Fails when the committed stubs differ from what `make proto` would generate.
proto-check: $(STAMP)
	$(PY) -m services.common.protocheck

# Generated documentation: event subjects and schemas, configuration of every process.
docs: $(STAMP)
	$(PY) -m services.common.events_doc
	$(PY) -m services.common.settings_doc

model: $(STAMP)
	$(PY) -m services.registry.tiny_model $(MODEL_DIR)

run: model $(NODE_STAMP)
	$(PY) -m services.local_stack

demo: $(STAMP)
	$(PY) examples/demo.py

test: model proto-check $(NODE_STAMP) browser-check
	$(PY) -m pytest -q --durations=12 $(PYTEST_ARGS)

test-fast: model
	$(PY) -m pytest -q -m "not e2e" $(PYTEST_ARGS)

# Benchmarks print a table against a baseline measured in the same run (minutes each).
bench: model
	$(PY) -m bench.dataset_bench
	$(PY) -m bench.train_bench
	$(PY) -m bench.serve_bench

# The console's browser test (tests/console) needs Debian's Chromium: say so when it is missing.
browser-check:
	@if command -v chromium >/dev/null; then \
	  echo "Browser test of the console: Chromium at $$(command -v chromium)"; \
	else \
	  echo "*** Chromium is not installed: the console's browser test (tests/console) is SKIPPED."; \
	  echo "*** Install it with: apt-get install -y chromium fonts-noto-cjk"; \
	fi

clean:
	rm -rf var .pytest_cache
