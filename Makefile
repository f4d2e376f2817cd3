# Two commands set everything up on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ANFL_HOME ?= $(CURDIR)/.anfl
export ANFL_HOME
export DAGSTER_HOME := $(ANFL_HOME)/dagster
# The embedding model ships in a pip package: never reach for the Hugging Face hub.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
ESTATE ?=
PROJECT ?= $(if $(ESTATE),$(notdir $(abspath $(ESTATE))),aeonnova)

.PHONY: install run test ui bench clean

$(STAMP): pyproject.toml setup.py anfl_assets/_fastwalk.c anfl_assets/_pyoutline.c
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# The main job on embedded defaults: the sample estate unless ESTATE=/path is given.
run: install
ifeq ($(ESTATE),)
	@if [ ! -d "$(ANFL_HOME)/demo/AeonNovaProject" ]; then $(BIN)/anfl demo-estate "$(ANFL_HOME)/demo"; fi
	$(BIN)/anfl project add $(PROJECT) "$(ANFL_HOME)/demo/AeonNovaProject"
else
	$(BIN)/anfl project add $(PROJECT) "$(ESTATE)"
endif
	$(BIN)/anfl run $(PROJECT)

test: install
	$(BIN)/python -m pytest -q anfl_assets_tests

ui: install
	@mkdir -p "$(DAGSTER_HOME)" && cp -n dagster.yaml "$(DAGSTER_HOME)/dagster.yaml" || true
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

# Every benchmark script; figures go to benchmarks/RESULTS.md (see benchmarks/README.md).
bench: install
	$(BIN)/python benchmarks/bench_inventory.py
	$(BIN)/python benchmarks/bench_enrichment.py
	$(BIN)/pip install -q detect-secrets==1.5.0
	$(BIN)/python benchmarks/bench_security.py
	$(BIN)/python benchmarks/bench_vectors.py
	$(BIN)/python benchmarks/bench_embed.py

clean:
	rm -rf $(VENV) .anfl build anfl_assets/_fastwalk*.so anfl_assets/_pyoutline*.so
