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

.PHONY: venv lock demo test lint test-faults bench bench-matching bench-scaleout worker portal clean \
	i18n i18n-extract i18n-check

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

# Translations: the .po catalogs are committed; their .mo files are built here.
LOCALE_PO := $(wildcard locales/*/LC_MESSAGES/messages.po)
LOCALE_MO := $(LOCALE_PO:.po=.mo)
BABEL_KEYWORDS := -k tr -k trn:1,2 -k trp:1c,2 -k _ -k _n:1,2 -k _p:1c,2

locales/%/LC_MESSAGES/messages.mo: locales/%/LC_MESSAGES/messages.po $(STAMP)
	$(PY) -m mail.catalogs compile $<

i18n: $(LOCALE_MO)

i18n-check:
	$(PY) -m mail.catalogs check

# Update the template (messages.pot) from the code and templates, then every catalog.
i18n-extract: $(STAMP)
	$(VENV)/bin/pybabel -q extract -F babel.cfg $(BABEL_KEYWORDS) --no-location --sort-output \
		--project=fasttrack --copyright-holder="FastTrack referrals" -o locales/messages.pot .
	$(VENV)/bin/pybabel -q update -i locales/messages.pot -d locales -D messages --no-fuzzy-matching --ignore-obsolete

demo: $(STAMP) i18n
	$(PY) -m demo

worker: $(STAMP) i18n
	$(PY) worker.py --dev

portal: $(STAMP) i18n
	$(PY) -m portal

lint: $(STAMP) i18n
	$(PY) -m mail.catalogs check
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy .

# The suite mostly waits (timeouts, backoffs, servers starting): two pytest-xdist workers, each
# with its own Temporal servers, PostgreSQL database and SMTP peer (tests/conftest.py), whole
# test files per worker. `make test TEST_WORKERS=0` runs it in one process.
TEST_WORKERS ?= 2

test: $(STAMP) lint
	$(PY) -m pytest -q -p no:cacheprovider $(if $(filter-out 0,$(TEST_WORKERS)),-n $(TEST_WORKERS))

bench: $(STAMP)
	$(PY) -m bench.run_all

bench-matching: $(STAMP)
	$(PY) -m bench.matching

bench-scaleout: $(STAMP)
	$(PY) -m bench.scaleout

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
