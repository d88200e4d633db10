# Liaison — `make dev` runs the product locally, `make test` checks it.
SHELL := /bin/bash
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: test dev token lint fmt venv clean

venv: $(STAMP)

$(STAMP): requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

## make test: the whole suite against a local AWS it starts and stops, then cfn-lint.
test: $(STAMP)
	cargo fmt --all -- --check
	scripts/with-moto.sh cargo test --workspace --no-fail-fast
	$(VENV)/bin/cfn-lint infra/template.yaml
	$(VENV)/bin/openapi-spec-validator infra/openapi.yaml

## make dev: the product on http://127.0.0.1:3000 against a local AWS (moto),
## with demo data and two tokens to try; Ctrl-C stops all it started.
dev: $(STAMP)
	scripts/dev.sh

## make token USER=u_chris: a 12-hour dev token for a demo directory user;
## ARGS="--account acc_acme" or ARGS="--manager" for anyone else.
token:
	@cargo run -q -p liaison-local -- token --sub "$(USER)" $(ARGS)

lint:
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all

clean:
	rm -rf $(VENV) target
