# customerio-gcp — the commands a person (and CI) runs. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BQ_EMULATOR := .tools/local-bigquery/.installed
TF_TOOLS := .tools/tf-provider/.installed .tools/checkov/.installed

.PHONY: help install run test lint format schemas sandbox package cost bench soak mutate clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# The runtime and the three tools beside it, each its own distribution (see README "Layout").
PACKAGES := shared sandbox local ops

$(STAMP): requirements.txt requirements-dev.txt $(addsuffix /pyproject.toml,$(PACKAGES))
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps $(addprefix -e ,$(PACKAGES))
	@touch $(STAMP)

$(BQ_EMULATOR): scripts/install-bigquery-emulator.sh scripts/bigquery-emulator-requirements.txt
	bash scripts/install-bigquery-emulator.sh .tools/local-bigquery

$(TF_TOOLS): terraform/checks/install.sh terraform/checks/provider-requirements.txt terraform/checks/checkov-requirements.txt terraform/checks/standin_provider/build_schema.py terraform/checks/standin_provider/time_schema.py
	bash terraform/checks/install.sh .tools

install: $(STAMP) $(BQ_EMULATOR) $(TF_TOOLS) ## create .venv and .tools/ (BigQuery emulator, Terraform checks) with pinned dependencies

run: $(STAMP) $(BQ_EMULATOR) package ## run the whole pipeline locally on emulators and the sandbox, print a summary
	$(PY) -m customerio_gcp_local.pipeline $(ARGS)

test: $(STAMP) $(BQ_EMULATOR) $(TF_TOOLS) package ## run unit and integration tests (starts the emulators and the sandbox itself)
	$(PY) -m pytest $(ARGS)

lint: $(STAMP) ## ruff, and mypy --strict on the runtime and the tools
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	MYPYPATH=$(subst $(eval) ,:,$(addsuffix /src,$(PACKAGES))) $(VENV)/bin/mypy --config-file shared/pyproject.toml $(addsuffix /src,$(PACKAGES))
	@for main in functions/*/main.py; do $(VENV)/bin/mypy --config-file shared/pyproject.toml $$main || exit 1; done

format: $(STAMP) ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

schemas: $(STAMP) ## re-export the message JSON Schemas into docs/messages
	$(PY) -m customerio_gcp.messages.schema docs/messages

package: $(STAMP) ## zip each function with only what it runs into build/functions/ (Terraform uploads them; the local stack runs them)
	$(PY) scripts/package_functions.py build/functions --unpacked

sandbox: $(STAMP) ## run the local Customer.io sandbox on port 8090
	$(VENV)/bin/customerio-sandbox --port 8090

mutate: $(STAMP) ## mutation testing (mutmut) of the safety-critical modules: kill rate and surviving mutants (a report, never fails on the score)
	$(PY) scripts/mutate.py

clean: ## remove the venv and caches
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache .hypothesis

cost: $(STAMP) $(BQ_EMULATOR) package ## measure the functions and price them: $ per million messages and webhook events
	$(PY) -m bench.cost $(ARGS)

bench: $(STAMP) $(BQ_EMULATOR) package ## speed and memory figures with their baselines (bench/run.py); never fails on timing
	$(PY) -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	$(PY) -m bench.run $(ARGS)

soak: $(STAMP) $(BQ_EMULATOR) package ## the reliability suite at full size (20,000 messages, 5,000 webhook cases)
	SOAK_MESSAGES=20000 WEBHOOK_FUZZ_EXAMPLES=5000 $(PY) -m pytest tests/reliability -s $(ARGS)
