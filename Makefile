# The two commands a stranger needs: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum requirements.lock | cut -c1-12)
PG_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/test

.PHONY: demo test lint test-faults bench bench-matching bench-scaleout worker portal clean

$(STAMP): requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing pinned dependencies into $(VENV) ..."
	@$(PY) -m pip install -q --disable-pip-version-check -r requirements.lock
	@rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

demo: $(STAMP)
	$(PY) -m runtime.demo

worker: $(STAMP)
	$(PY) worker.py --dev

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy .

test: $(STAMP) lint
	$(PY) -m pytest -q -p no:cacheprovider

bench: $(STAMP)
	$(PY) -m bench.run_all

bench-matching: $(STAMP)
	$(PY) -m bench.matching

bench-scaleout: $(STAMP)
	$(PY) -m bench.scaleout

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
