# Mineral Sentinel: every developer and CI command goes through here.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint typecheck compose-check k8s-check rules tools unit integration bench schemas kafka-start kafka-stop clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON)"; exit 1; }
	@command -v java >/dev/null || { echo "need Java 17+ (apt-get install openjdk-17-jre-headless)"; exit 1; }
	@command -v mvn >/dev/null || { echo "need Maven (apt-get install maven)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

## (1) the main job: sets everything up and runs the system end to end
demo: setup
	$(BIN)/sentinel demo

## (2) the test suite: lint, types, then every test (the broker is started by the tests)
test: setup tools lint typecheck compose-check k8s-check rules
	$(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check services tests
	$(BIN)/ruff format --check services tests

typecheck: setup
	$(BIN)/mypy

## Prometheus (promtool for rule checks, the server for the dashboard test) from Debian's packages
tools:
	@command -v promtool >/dev/null && command -v prometheus >/dev/null || { \
	  echo "installing Debian's prometheus package (promtool + server)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null; }

rules: tools
	promtool check config deploy/prometheus/prometheus.yml
	promtool check rules deploy/prometheus/rules/*.yml
	promtool test rules deploy/prometheus/tests/*.test.yml

## docker-compose.yml validated by compose-go, the loader `docker compose config` uses (no engine here)
compose-check: var/bin/compose-check
	var/bin/compose-check docker-compose.yml

var/bin/compose-check: deploy/compose-check/main.go deploy/compose-check/go.mod deploy/compose-check/go.sum
	@command -v go >/dev/null || { echo "need Go to validate docker-compose.yml"; exit 1; }
	mkdir -p var/bin
	cd deploy/compose-check && go build -o ../../var/bin/compose-check .

## Kubernetes manifests: kustomize build + strict decoding into the real API types (deploy/k8s)
k8s-check: var/bin/k8s-check
	var/bin/k8s-check -partial deploy/k8s/base
	var/bin/k8s-check deploy/k8s/overlays/example

var/bin/k8s-check: deploy/k8s-check/main.go deploy/k8s-check/kedakeys.go deploy/k8s-check/go.mod deploy/k8s-check/go.sum
	@command -v go >/dev/null || { echo "need Go to validate deploy/k8s"; exit 1; }
	mkdir -p var/bin
	cd deploy/k8s-check && go build -o ../../var/bin/k8s-check .

unit: setup
	$(BIN)/pytest -q -m unit

integration: setup
	$(BIN)/pytest -q -m "integration or e2e"

bench: setup
	$(BIN)/pytest -q -m bench -s tests/bench

schemas: setup
	$(BIN)/sentinel schemas

kafka-start: setup
	$(BIN)/sentinel kafka start

kafka-stop: setup
	$(BIN)/sentinel kafka stop

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
