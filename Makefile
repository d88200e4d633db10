# Liaison — `make dev` runs the product locally, `make test` checks it.
SHELL := /bin/bash
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: test dev lint fmt venv clean

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

lint:
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all

clean:
	rm -rf $(VENV) target
