# The README's two commands: `make demo` and `make test`. Each bootstraps .venv itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck check-imports pytest docs clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

DEMO := --config sample_data/.tokenlens/config.toml --tz UTC

demo: $(STAMP)
	$(BIN)/tokenlens report sample_data $(DEMO) --by source --by user
	$(BIN)/tokenlens report sample_data $(DEMO) --by model_family
	$(BIN)/tokenlens leaderboard sample_data $(DEMO) --rank-by cost

lint: $(STAMP)
	$(BIN)/ruff check
	$(BIN)/ruff format --check

typecheck: $(STAMP)
	$(BIN)/mypy

check-imports: $(STAMP)
	$(BIN)/lint-imports

pytest: $(STAMP)
	$(BIN)/python -m pytest -q

docs: $(STAMP)
	$(BIN)/python -m tokenlens.cli.docgen > docs/cli.md

test: lint typecheck check-imports pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
