# customerio-gcp — the commands a person (and CI) runs. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: help install run test lint format schemas sandbox lock clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt shared/pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e shared
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install pinned dependencies and the package

run: $(STAMP) ## run the whole pipeline locally on emulators and the sandbox, print a summary
	$(PY) -m customerio_gcp.local.pipeline $(ARGS)

test: $(STAMP) ## run unit and integration tests (starts the emulators and the sandbox itself)
	$(PY) -m pytest $(ARGS)

lint: $(STAMP) ## ruff and mypy --strict on the package
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy --config-file shared/pyproject.toml shared/src

format: $(STAMP) ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

schemas: $(STAMP) ## re-export the message JSON Schemas into docs/messages
	$(PY) -m customerio_gcp.messages.schema docs/messages

sandbox: $(STAMP) ## run the local Customer.io sandbox on port 8090
	$(VENV)/bin/customerio-sandbox --port 8090

clean: ## remove the venv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
