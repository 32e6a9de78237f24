# sec-ai NIDS — every target creates the virtual environment from the lock file if needed.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
UV_VERSION := 0.13.9

.PHONY: venv demo test lint fmt typecheck unit integration serve bench clean notebooks lock tools

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv==$(UV_VERSION)
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $@

venv: $(STAMP)

# Infrastructure scanners that cannot live in the app's venv: checkov pins boto3/packaging
# versions that break s3fs, so it gets its own venv (tests/infra run it with --skip-download).
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV    := .tools/checkov
CHECKOV_STAMP   := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)

$(CHECKOV_STAMP): requirements-checkov.lock $(STAMP)
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(BIN)/uv pip install --quiet --python $(CHECKOV_VENV)/bin/python -r requirements-checkov.lock
	touch $@

## make tools: install the infrastructure scanners (checkov) in their own venv under .tools/.
tools: $(CHECKOV_STAMP)

## make demo: set up and run the whole lifecycle on embedded defaults (SQLite MLflow, local files).
demo: venv
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/demo.sh

## make serve: run the inference service on the production model until Ctrl-C (docs/serving.md).
serve: venv
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/nids serve

## make test: set up and run lint, type checks and the whole test suite (integration and slow included).
test: venv tools
	$(BIN)/ruff check src tests benchmarks models
	$(BIN)/ruff format --check src tests benchmarks models
	$(BIN)/mypy
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest

## make notebooks: install the `notebooks` extra (Jupyter, pinned by the lock) and open notebooks/.
## Strip outputs before committing: .venv/bin/nbstripout notebooks/*.ipynb (make test checks it).
notebooks: venv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -c requirements.lock -e ".[notebooks]"
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/jupyter notebook notebooks/

unit: venv
	$(BIN)/pytest -m "not integration and not slow"

lint: venv
	$(BIN)/ruff check src tests benchmarks models
	$(BIN)/ruff format --check src tests benchmarks models

fmt: venv
	$(BIN)/ruff check --fix src tests benchmarks models
	$(BIN)/ruff format src tests benchmarks models

typecheck: venv
	$(BIN)/mypy

## make lock: re-resolve pinned dependencies after editing pyproject.toml.
lock: venv
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra notebooks --extra spark \
		--python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis build dist
