# Ramp: the two commands are `make demo` and `make test`; everything else is a step of theirs.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: help venv binaries cluster cluster-down cluster-status crds lint test test-unit demo bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | column -t -s $$'\t'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP) ## create .venv and install Ramp with its dev dependencies

binaries: ## build (once, cached in ~/.cache/ramp-testbed) the control plane, kwok, helm; install prometheus
	bash testbed/build.sh

cluster: binaries ## start etcd, apiserver, controller-manager, scheduler, kwok nodes and Prometheus
	$(PYTHON) testbed/cluster.py up

cluster-down: ## stop every process `make cluster` started
	$(PYTHON) testbed/cluster.py down

cluster-status: ## show the testbed processes
	$(PYTHON) testbed/cluster.py status

crds: $(STAMP) ## regenerate crds/ (and the chart's copy) from the pydantic models
	$(PY) -m ramp.api.crd > crds/ramp.dev_rollouts.yaml
	@if [ -d charts/ramp/crds ]; then cp crds/ramp.dev_rollouts.yaml charts/ramp/crds/; fi

lint: $(STAMP) ## ruff (lint + format check) and mypy strict on operator/
	$(VENV)/bin/ruff check operator tests bench testbed examples
	$(VENV)/bin/ruff format --check operator tests bench testbed examples
	$(VENV)/bin/mypy

test-unit: $(STAMP) ## the fast, cluster-free tests
	$(VENV)/bin/pytest tests/unit -q

test: $(STAMP) binaries lint ## install everything and run the whole suite (brings the cluster up and down)
	$(VENV)/bin/pytest -q -ra

demo: $(STAMP) binaries ## start the local cluster and Prometheus, run the operator and show two rollouts
	$(PY) examples/demo-app/demo.py

bench: $(STAMP) binaries ## print performance figures (see docs/PERFORMANCE.md)
	$(PY) bench/flags.py
	$(PY) bench/reaction.py
	$(PY) bench/detection.py

clean: cluster-down ## stop the cluster and remove local state (the build cache stays)
	rm -rf .testbed
