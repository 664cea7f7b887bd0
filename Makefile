# QuizMail — `make run` starts the demo, `make test` runs every test. Both create .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
E2E    := tests/e2e/node_modules/axe-core/axe.min.js

.PHONY: run test test-fast lint format bench system-deps clean

run: $(STAMP)
	$(BIN)/quizmail demo

test: $(STAMP) system-deps $(E2E)
	$(BIN)/ruff check app tests bench
	$(BIN)/pytest

# Everything but the browser tests: quick to run while working.
test-fast: $(STAMP)
	$(BIN)/pytest -m "not e2e"

lint: $(STAMP)
	$(BIN)/ruff check app tests bench
	$(BIN)/ruff format --check app tests bench
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format app tests bench
	$(BIN)/ruff check --fix app tests bench

# Every benchmark runs even when one fails; the exit status says whether any did.
bench: $(STAMP) system-deps
	@failed=""; for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || failed="$$failed $$b"; done; \
	if [ -n "$$failed" ]; then echo "failed:$$failed"; exit 1; fi

system-deps:
	@bash .ci/system-deps

# The venv, with the app installed editable plus the test extras; remade when pyproject.toml changes.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

# axe-core for the accessibility checks in the browser tests (npm registry).
# Without npm the accessibility checks skip and say so; everything else still runs.
$(E2E): tests/e2e/package.json
	@if command -v npm >/dev/null; then \
	  npm install --prefix tests/e2e --no-audit --no-fund --silent && touch $@; \
	else echo "npm is missing: the accessibility checks will skip"; fi

clean:
	rm -rf $(VENV) tests/e2e/node_modules .pytest_cache .ruff_cache .mypy_cache
