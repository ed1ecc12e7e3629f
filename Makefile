# The two commands a stranger needs: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements-dev.lock pyproject.toml | sha1sum | cut -c1-12)
PG_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/test
# The tool that writes the locks, pinned (it is in requirements-dev.lock too).
UV_VERSION := 0.13.8
UV_COMPILE := $(VENV)/bin/uv pip compile pyproject.toml --universal --python-version 3.11 \
	--generate-hashes --custom-compile-command "make lock" --quiet

.PHONY: venv lock demo test lint test-faults bench bench-matching bench-scaleout worker portal clean

# Development: the development lock (hashes checked), then the project itself, editable, so
# `.venv/bin/fasttrack`, `fasttrack-worker` and `fasttrack-portal` run this checkout.
$(STAMP): requirements-dev.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing pinned dependencies into $(VENV) ..."
	@$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.lock
	@$(PY) -m pip install -q --disable-pip-version-check --no-deps -e .
	@rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

# Both locks from pyproject.toml: requirements.lock (production) and requirements-dev.lock
# (development, extra `dev`). Pins already in a lock are kept unless pyproject needs another
# version; `make lock UPGRADE=1` moves everything to the newest allowed.
lock:
	@test -x $(VENV)/bin/uv || { test -x $(PY) || $(PYTHON) -m venv $(VENV); \
		$(PY) -m pip install -q --disable-pip-version-check uv==$(UV_VERSION); }
	$(UV_COMPILE) $(if $(UPGRADE),--upgrade) -o requirements.lock
	$(UV_COMPILE) $(if $(UPGRADE),--upgrade) --extra dev -o requirements-dev.lock

demo: $(STAMP)
	$(PY) -m demo

worker: $(STAMP)
	$(PY) worker.py --dev

portal: $(STAMP)
	$(PY) -m portal

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
