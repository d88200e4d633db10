# Liaison — `make dev` runs the product locally, `make test` checks it.
SHELL := /bin/bash
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: test test-web test-web-run screenshots dev web token build bench lint fmt venv clean

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
## /usr/bin/chromium is missing (apt-get; no browser download), builds the
## page (make web) and the local gateway, installs web/e2e's packages (npm
## ci, when its lockfile changed), then web/e2e/run.sh starts a private moto
## and gateway on free ports and runs the Playwright tests against them
## (E2E_ARGS="flow.spec.ts" or E2E_ARGS="--grep IME" for some of them).
E2E_ARGS ?=
test-web: $(STAMP) web
	$(MAKE) --no-print-directory test-web-run

## The page's own checks first: API types not drifted from the spec, types,
## unit tests, the 60 KB gzip budget; then the browser.
test-web-run: /usr/bin/chromium web/e2e/node_modules/.package-lock.json
	cd web && npm run check:api && npm run typecheck && npm test && npm run check:size
	cargo build -p liaison-local
	web/e2e/run.sh $(E2E_ARGS)

/usr/bin/chromium:
	@echo "test-web: installing Debian's chromium"
	if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium

web/e2e/node_modules/.package-lock.json: web/e2e/package-lock.json
	cd web/e2e && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
	@touch $@

## make screenshots: the browser tests' screenshots of the page (client and
## manager: list, thread, picker), copied to docs/screenshots/ for the README.
screenshots:
	LIAISON_E2E_COPY_SCREENSHOTS=1 $(MAKE) --no-print-directory test-web E2E_ARGS=screenshots.spec.ts

## make dev: the product on http://127.0.0.1:3000 against a local AWS (moto):
## the page at / (built by `make web`; sign in as anyone in the demo
## directory) and the API on the same origin, with demo data and two tokens
## to try; Ctrl-C stops all it started.
dev: $(STAMP) web
	scripts/dev.sh

## make web: the page in web/dist, which the local gateway serves (or
## LIAISON_WEB_DIR). Needs Node.js 20+ with npm (packages from the npm
## registry). `npm ci` runs only when web/package-lock.json is newer than
## web/node_modules, `npm run build` only when web/src, web/public,
## web/index.html, the package files, the Vite/TypeScript config or
## infra/openapi.yaml changed. Skipped, with a note, while web/ has no app.
WEB_INPUTS = $(shell find web/src web/public -type f 2>/dev/null) \
  $(wildcard web/index.html web/package.json web/package-lock.json web/vite.config.* web/tsconfig*.json) \
  infra/openapi.yaml

web:
	@if [ ! -f web/package.json ]; then \
	  echo "web: skipped: there is no web/package.json yet, so no page to build (the gateway serves the API and a note at /)"; \
	elif [ ! -f web/package-lock.json ]; then \
	  echo "web: web/package-lock.json is missing: run \`npm install\` in web/ and commit the lockfile" >&2; exit 1; \
	elif ! command -v npm >/dev/null 2>&1; then \
	  echo "web: npm not found: install Node.js 20 or later (with npm) to build the page" >&2; exit 1; \
	else \
	  $(MAKE) --no-print-directory web/dist/index.html && echo "web: the page is built in web/dist"; \
	fi

web/node_modules/.package-lock.json: web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	@mkdir -p web/node_modules && touch $@

web/dist/index.html: web/node_modules/.package-lock.json $(WEB_INPUTS)
	cd web && npm run build
	@touch $@

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

BENCH_BIN := $(or $(CARGO_TARGET_DIR),target)/release

bench: $(STAMP) $(BENCH_STAMP)
	cargo build --release -p liaison-bench $(addprefix -p ,$(FUNCTIONS))
	scripts/with-moto.sh $(BENCH_BIN)/bench --bin-dir $(BENCH_BIN) --out BENCHMARKS.md --notes bench/NOTES.md $(BENCH_ARGS)

lint:
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all

clean:
	rm -rf $(VENV) target
