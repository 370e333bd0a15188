# TuneForge: `make run` starts the platform locally, `make test` runs the suite.
PY_BOOT ?= python3.11
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
PROTOS  := $(wildcard proto/tuneforge/v1/*.proto)
MODEL_DIR ?= var/models/tiny-qwen2

.PHONY: setup proto proto-check docs model run demo test test-fast bench clean

setup: $(STAMP)

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

run: model
	$(PY) -m services.local_stack

demo: $(STAMP)
	$(PY) examples/demo.py

test: model proto-check
	$(PY) -m pytest -q $(PYTEST_ARGS)

test-fast: model
	$(PY) -m pytest -q -m "not e2e" $(PYTEST_ARGS)

# Benchmarks print a table against a baseline measured in the same run (minutes each).
bench: model
	$(PY) -m bench.dataset_bench
	$(PY) -m bench.train_bench
	$(PY) -m bench.serve_bench

clean:
	rm -rf var .pytest_cache
