# Ramp: the two commands are `make demo` and `make test`; everything else is a step of theirs.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
ASSETS := operator/ramp/dashboard/static/vendor/uPlot.iife.min.js
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: help venv assets browser dist image binaries cluster-binaries cluster cluster-down cluster-status crds lint test test-unit demo demo-stop bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | column -t -s $$'\t'

# ramp-flags (./flags) first: ramp-operator depends on it, and it is not taken from an index.
$(STAMP): pyproject.toml flags/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e './flags[prometheus]'
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP) $(ASSETS) ## create .venv and install Ramp with its dev dependencies

# The dashboard's chart library comes from npm (web/package-lock.json pins it) and is copied into
# the package as data: `ramp dashboard` never loads anything from a CDN.
$(ASSETS): web/package.json web/package-lock.json
	npm ci --prefix web --no-audit --no-fund --loglevel=error
	mkdir -p $(@D)
	cp web/node_modules/uplot/dist/uPlot.iife.min.js web/node_modules/uplot/dist/uPlot.min.css $(@D)/
	cp web/node_modules/uplot/LICENSE $(@D)/uPlot.LICENSE

assets: $(ASSETS) ## install the dashboard's chart library (uPlot, from npm) into the package

browser: ## install Debian's chromium and chromium-driver for the dashboard's browser tests
	bash testbed/browser.sh

dist: $(STAMP) $(ASSETS) ## build the two wheels, ramp-flags (for apps) and ramp-operator, into dist/
	$(VENV)/bin/pip wheel --quiet --no-deps --wheel-dir dist ./flags .

image: ## build the operator image localhost/ramp:dev with buildah (Debian base cached in ~/.cache/ramp-testbed)
	bash testbed/image.sh

binaries: ## build (once, cached in ~/.cache/ramp-testbed) the control plane, kwok, helm, flagd, Flux; install prometheus, lua
	bash testbed/build.sh all

cluster-binaries: ## build only what the cluster runs (the control plane, etcd, kwok; prometheus): all `make demo` needs
	bash testbed/build.sh cluster

cluster: binaries ## start etcd, apiserver, controller-manager, scheduler, kwok nodes and Prometheus
	$(PYTHON) testbed/cluster.py up

cluster-down: ## stop every process `make cluster` started
	$(PYTHON) testbed/cluster.py down

cluster-status: ## show the testbed processes
	$(PYTHON) testbed/cluster.py status

crds: $(STAMP) ## regenerate crds/ (and the chart's copy) from the pydantic models
	$(PY) -m ramp.api.crd > crds/ramp.dev_rollouts.yaml
	$(PY) -m ramp.api.policy_crd > crds/ramp.dev_rolloutpolicies.yaml
	@if [ -d charts/ramp/crds ]; then cp crds/ramp.dev_rollouts.yaml crds/ramp.dev_rolloutpolicies.yaml charts/ramp/crds/; fi

lint: $(STAMP) ## ruff (lint + format check), mypy strict on operator/, the import layers
	$(VENV)/bin/ruff check operator flags tests bench testbed examples
	$(VENV)/bin/ruff format --check operator flags tests bench testbed examples
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

test-unit: $(STAMP) ## the fast, cluster-free tests
	$(VENV)/bin/pytest tests/unit -q

test: $(STAMP) $(ASSETS) browser binaries image lint ## install everything and run the whole suite (brings the cluster up and down)
	$(VENV)/bin/pytest -q -ra

demo: $(STAMP) cluster-binaries ## start the local cluster and Prometheus, run the operator and show two rollouts
	$(PY) examples/demo-app/demo.py

demo-stop: ## stop the operator `make demo` left running (the cluster stays up)
	$(PY) examples/demo-app/demo.py --stop

bench: $(STAMP) binaries ## print performance figures (see docs/PERFORMANCE.md)
	$(PY) -m bench.flags
	$(PY) -m bench.bucketing
	$(PY) -m bench.reaction
	$(PY) -m bench.detection

clean: cluster-down ## stop the cluster and remove local state (the build cache stays)
	rm -rf .testbed
