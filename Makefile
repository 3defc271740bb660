# The two set-up commands (see README): `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: run test lint format catalogues extract-messages update-catalogues clean

## Install into .venv, build the index if missing, start the bot (or the terminal chat).
run: $(VENV)/.installed
	$(BIN)/migrant-bot run

## Install everything (incl. torch CPU and sentence-transformers); lint, type-check, test.
test: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e .
	$(MAKE) --no-print-directory catalogues
	touch $@

# torch first, from the local CPU wheel, so that sentence-transformers never pulls a
# CUDA build. The browser tests use Debian's Chromium (Playwright cannot download its
# own here): installed with apt-get if missing; if that is not possible they are skipped.
$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[st,dev]'
	bash scripts/install-chromium.sh
	touch $@

## Compile the gettext catalogues (.po -> .mo); .mo files are never committed.
catalogues:
	$(BIN)/pybabel compile -d locales -D messages --statistics

## After changing user-facing strings: extract them and update every catalogue.
extract-messages:
	$(BIN)/pybabel extract -F babel.cfg --no-location --sort-output -o locales/messages.pot .

update-catalogues: extract-messages
	$(BIN)/pybabel update -i locales/messages.pot -d locales -D messages --no-fuzzy-matching

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format:
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) var
