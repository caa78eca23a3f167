# The two commands of README.md: `make demo` and `make test`. Each sets up everything it needs
# on a fresh Debian machine (virtual environment, the package, Debian's Chromium and Firefox ESR).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint browsers setup

demo: setup
	$(BIN)/flakehunt demo

test: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

setup: $(STAMP) browsers
	@# An editable install leaves flakehunt's own modules without bytecode, and where
	@# PYTHONDONTWRITEBYTECODE is set (as on this project's machines) every command would
	@# compile them again: a tenth of a second at each start.
	@$(BIN)/python -m compileall -q src

browsers:
	@scripts/install-browsers.sh

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)
