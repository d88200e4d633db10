# Liaison — `make dev` runs the product locally, `make test` checks it.
SHELL := /bin/bash
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: test test-web screenshots dev token build bench lint fmt venv clean

venv: $(STAMP)

$(STAMP): requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

## make test: formatting and lints, the whole suite against a local AWS it
## starts and stops, schemathesis (every check) against the local gateway, a `make dev`
## smoke run, cfn-lint on the template and the OpenAPI validator, then the
## browser tests (make test-web).
test: $(STAMP)
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	scripts/with-moto.sh cargo test --workspace --no-fail-fast
	scripts/with-moto.sh scripts/schemathesis.sh
	scripts/dev-smoke.sh
	$(VENV)/bin/cfn-lint infra/template.yaml
	$(VENV)/bin/openapi-spec-validator infra/openapi.yaml
	$(MAKE) --no-print-directory test-web

## make test-web: the page in a real browser. Installs Debian's chromium if
## /usr/bin/chromium is missing (apt-get; no browser download), the Node
## packages of web/ and web/e2e/ (npm ci), builds the page and the local
## gateway, then web/e2e/run.sh starts a private moto and gateway on free
## ports and runs the Playwright tests against them (E2E_ARGS="flow.spec.ts"
## or E2E_ARGS="--grep IME" for some of them).
E2E_ARGS ?=
test-web: $(STAMP)
	@if [ ! -x /usr/bin/chromium ]; then \
	  echo "test-web: installing Debian's chromium"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium; \
	fi
	cd web && npm ci --no-audit --no-fund && npm run build
	cd web/e2e && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
	cargo build -p liaison-local
	web/e2e/run.sh $(E2E_ARGS)

## make screenshots: the browser tests' screenshots of the page (client and
## manager: list, thread, picker), copied to docs/screenshots/ for the README.
screenshots:
	LIAISON_E2E_COPY_SCREENSHOTS=1 $(MAKE) --no-print-directory test-web E2E_ARGS=screenshots.spec.ts

## make dev: the product on http://127.0.0.1:3000 against a local AWS (moto),
## with demo data and two tokens to try; Ctrl-C stops all it started.
dev: $(STAMP)
	scripts/dev.sh

## make token USER=u_chris: a 12-hour dev token for a demo directory user;
## ARGS="--account acc_acme" or ARGS="--manager" for anyone else.
token:
	@cargo run -q -p liaison-local -- token --sub "$(USER)" $(ARGS)

## make build: one deployable zip per function under target/lambda/, built
## with cargo-lambda and zig (from PyPI, into .venv) for ARCH: arm64 (the
## template's default) when the aarch64 standard library is installed,
## otherwise x86_64.
FUNCTIONS := $(notdir $(wildcard functions/*))
ARCH ?= $(shell rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu && echo arm64 || echo x86_64)
BUILD_STAMP := $(VENV)/.build-tools

$(BUILD_STAMP): requirements-build.txt $(STAMP)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-build.txt
	touch $(BUILD_STAMP)

build: $(BUILD_STAMP)
	@if [ "$(ARCH)" = x86_64 ]; then echo "note: building x86_64 (deploy with Architecture=x86_64): the aarch64-unknown-linux-gnu standard library is not installed here"; fi
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" cargo lambda build --release --output-format zip \
	  $(if $(filter arm64,$(ARCH)),--arm64,--x86-64) $(addprefix -p ,$(FUNCTIONS))
	@ls -l target/lambda/*/bootstrap.zip

## make bench: release binaries of every function and of a hello-world
## lambda_runtime baseline, each started by a local Lambda Runtime API stub
## against a local AWS behind TLS, beside a Python peer (bench/peer, not
## part of the product); prints the DESIGN.md performance figures and
## writes BENCHMARKS.md. BENCH_ARGS="--runs 5 --warm 50" for a quick one.
BENCH_VENV := bench/peer/.venv
BENCH_STAMP := $(BENCH_VENV)/.installed
BENCH_ARGS ?=

$(BENCH_STAMP): bench/peer/requirements.txt
	python3 -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet --disable-pip-version-check -r bench/peer/requirements.txt
	touch $(BENCH_STAMP)

bench: $(STAMP) $(BENCH_STAMP)
	cargo build --release -p liaison-bench $(addprefix -p ,$(FUNCTIONS))
	scripts/with-moto.sh target/release/bench --out BENCHMARKS.md --notes bench/NOTES.md $(BENCH_ARGS)

lint:
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all

clean:
	rm -rf $(VENV) target
