# Two entry points that work on a fresh machine: `make demo` and `make test`.
# Both create .venv when it is missing and install what they need into it.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: demo test test-oldest test-newest lock lint typecheck unit postgres chromium screenshots reference test-otel bench bench-observe bench-providers bench-flush bench-server schema clean

# The development environment is installed from a lock: every package at the exact version (and
# file hashes) the suite last passed with, for Python 3.10 to 3.13, so that a fresh machine tests
# what the last person tested. `make lock` refreshes the locks to the newest releases (after
# `make test-newest` has passed); `make lock LOCK_FLAGS=` only brings them in line with a changed
# pyproject.toml, keeping every other version.
LOCK := requirements/dev.lock
BENCH_LOCK := requirements/bench.lock
OLD_LOCK := requirements/oldest.lock
# The oldest SDK releases aiobs supports, pinned in OLD_LOCK; `make test-oldest` runs the provider
# tests against them.
OLDEST_SDKS := requirements/oldest-sdks.txt
LOCK_FLAGS ?= --upgrade
# aiobs 0.2.0, the release this package succeeds, in an environment of its own (it has the same
# import name, so it never goes into .venv): tests/compat runs the same scripts under it and under
# .venv and compares what they report. `make unit` builds it first and sets AIOBS_REQUIRE_AIOBS02=1,
# which makes a missing reference environment an error rather than a skip.
REF_VENV := .venv-aiobs02
REF_IN := requirements/aiobs02.in
REF_LOCK := requirements/aiobs02.lock
REF_STAMP := $(REF_VENV)/.installed
# Arize Phoenix, a real OpenTelemetry consumer, in an environment of its own (it is large and
# needs Python 3.11+): `make test-otel` builds it from PHX_LOCK and runs tests/otel, which start
# Phoenix, export a session to it and read it back through its REST API.
PHX_VENV := .venv-phoenix
PHX_IN := requirements/phoenix.txt
PHX_LOCK := requirements/phoenix-lock.txt
PHX_STAMP := $(PHX_VENV)/.installed
UV_VERSION := 0.13.9
LOCK_VENV := .venv-lock
UV := $(LOCK_VENV)/bin/uv
COMPILE_FOR = $(UV) pip compile --quiet --universal --python-version $(1) --generate-hashes \
	--custom-compile-command 'make lock' $(LOCK_FLAGS)
COMPILE = $(call COMPILE_FOR,3.10)

# $(call locked-venv,DIR,LOCK): a new virtual environment in DIR with exactly what LOCK lists.
define locked-venv
	rm -rf $(1)
	$(PYTHON) -m venv $(1)
	$(1)/bin/python -m pip install --quiet --upgrade pip
	$(1)/bin/python -m pip install --quiet --require-hashes -r $(2)
endef

# A new lock gets a new environment, so that nothing from the previous one is left over; aiobs
# itself is installed without resolving its dependencies again (they are all in the lock).
$(VENV)/.installed-lock: $(LOCK)
	$(call locked-venv,$(VENV),$(LOCK))
	touch $@

$(STAMP): $(VENV)/.installed-lock pyproject.toml hatch_build.py aiobs/_speedups.c
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

demo: $(STAMP)
	$(BIN)/python examples/demo.py
	$(BIN)/python -m aiobs report out/demo.json -o out/demo.html
	@echo "Open out/demo.html in a browser (one file, nothing fetched), or browse out/ with: $(BIN)/aiobs ui out"

test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check aiobs tests bench examples
	$(BIN)/ruff format --check aiobs tests bench examples
	$(BIN)/lint-imports  # the layer contracts in pyproject.toml ([tool.importlinter])

typecheck: $(STAMP)
	$(BIN)/mypy

# AIOBS_REQUIRE_SPEEDUPS=1: the C wrapper of @observe (aiobs._speedups) must have been built. The
# second run takes the pure-Python wrappers, id sources, and the callsite walk, request/response
# encoding and completion of provider calls, which other installs may use.
unit: $(STAMP) postgres chromium $(REF_STAMP)
	AIOBS_REQUIRE_AIOBS02=1 AIOBS_REQUIRE_SPEEDUPS=1 $(BIN)/python -m pytest
	AIOBS_PURE_PYTHON=1 $(BIN)/python -m pytest -q tests/test_observe.py tests/test_observe_paths.py \
		tests/test_observe_c.py tests/test_observe_otel.py tests/test_ids.py tests/test_concurrency.py \
		tests/providers/test_openai.py tests/providers/test_callsite.py tests/providers/test_plain_json.py \
		tests/providers/test_complete_call.py tests/providers/test_internal_errors.py \
		tests/providers/test_anthropic.py tests/providers/test_gemini.py

# The reference environment for tests/compat (see REF_VENV above).
$(REF_STAMP): $(REF_LOCK)
	$(call locked-venv,$(REF_VENV),$(REF_LOCK))
	touch $@

$(PHX_STAMP): $(PHX_LOCK)
	$(call locked-venv,$(PHX_VENV),$(PHX_LOCK))
	touch $@

test-otel: $(STAMP) $(PHX_STAMP)
	AIOBS_REQUIRE_PHOENIX=1 $(BIN)/python -m pytest tests/otel

reference: $(REF_STAMP)

# The flush server's storage tests start their own PostgreSQL server from the Debian binaries.
# They are installed with apt-get as root or with sudo that needs no password. Where that cannot
# be done, the PostgreSQL tests are skipped with one line saying how to enable them, unless
# AIOBS_REQUIRE_POSTGRES=1 (as in CI), which makes a missing PostgreSQL an error.
postgres:
	@found() { ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null; }; \
	if found; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then sudo=; \
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo -n"; \
	else sudo=none; fi; \
	if [ "$$sudo" != none ] && command -v apt-get >/dev/null; then \
		echo "installing PostgreSQL (apt-get) for the flush server tests"; \
		$$sudo apt-get update -qq && \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	fi; \
	if ! found && [ "$$AIOBS_REQUIRE_POSTGRES" = 1 ]; then \
		echo "AIOBS_REQUIRE_POSTGRES=1 but PostgreSQL is not installed" \
			"(make installs it with apt-get as root or with sudo)" >&2; \
		exit 1; \
	fi

# The web UI's tests drive Debian's Chromium through Playwright (never `playwright install`, which
# downloads a browser). It is installed like PostgreSQL above; where that cannot be done, the
# browser tests are skipped with one line saying so, unless AIOBS_REQUIRE_BROWSER=1 (as in CI).
chromium:
	@found() { [ -x /usr/bin/chromium ]; }; \
	if found; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then sudo=; \
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo -n"; \
	else sudo=none; fi; \
	if [ "$$sudo" != none ] && command -v apt-get >/dev/null; then \
		echo "installing Chromium (apt-get) for the web UI tests"; \
		$$sudo apt-get update -qq && \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi; \
	if ! found && [ "$$AIOBS_REQUIRE_BROWSER" = 1 ]; then \
		echo "AIOBS_REQUIRE_BROWSER=1 but Chromium is not installed" \
			"(make installs it with apt-get as root or with sudo)" >&2; \
		exit 1; \
	fi

# The screenshots in docs/ui.md, taken in Chromium from a server with sample sessions.
screenshots: $(STAMP) chromium
	$(BIN)/python -m tests.ui.screenshots docs/img
	$(BIN)/python -m tests.ui.screenshots_local docs/img

# The oldest SDKs, in an environment of their own.
OLD_VENV := .venv-oldest
OLD_STAMP := $(OLD_VENV)/.installed

$(OLD_STAMP): $(OLD_LOCK) pyproject.toml
	$(call locked-venv,$(OLD_VENV),$(OLD_LOCK))
	$(OLD_VENV)/bin/python -m pip install --quiet --no-deps -e .
	touch $@

test-oldest: $(OLD_STAMP)
	$(OLD_VENV)/bin/python -m pytest -q tests/providers tests/test_provider_registry.py

# The newest release of everything pyproject.toml allows, in a new environment each time, through
# lint, type checks and the whole suite: run it before `make lock` moves the lock to them.
NEW_VENV := .venv-newest

test-newest: postgres chromium $(REF_STAMP)
	rm -rf $(NEW_VENV)
	$(PYTHON) -m venv $(NEW_VENV)
	$(NEW_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(NEW_VENV)/bin/python -m pip install --quiet -e '.[dev]'
	$(NEW_VENV)/bin/ruff check aiobs tests bench examples
	$(NEW_VENV)/bin/ruff format --check aiobs tests bench examples
	$(NEW_VENV)/bin/lint-imports
	$(NEW_VENV)/bin/mypy
	AIOBS_REQUIRE_AIOBS02=1 $(NEW_VENV)/bin/python -m pytest

# uv, which writes the locks, lives in an environment of its own: the project does not need it.
$(LOCK_VENV)/.uv-$(UV_VERSION):
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet 'uv==$(UV_VERSION)'
	touch $@

# The bench lock is the dev lock (its versions as constraints) plus what the benchmarks add.
lock: $(LOCK_VENV)/.uv-$(UV_VERSION)
	$(COMPILE) --extra dev -o $(LOCK) pyproject.toml
	$(COMPILE) --extra dev --extra bench -c $(LOCK) -o $(BENCH_LOCK) pyproject.toml
	$(COMPILE) --extra dev -c $(OLDEST_SDKS) -o $(OLD_LOCK) pyproject.toml
	$(COMPILE) -c $(LOCK) -o $(REF_LOCK) $(REF_IN)
	$(call COMPILE_FOR,3.11) -o $(PHX_LOCK) $(PHX_IN)

$(VENV)/.installed-bench: $(STAMP) $(BENCH_LOCK)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(BENCH_LOCK)
	touch $@

bench: bench-observe bench-providers bench-flush bench-server

bench-observe: $(STAMP)
	$(BIN)/python bench/bench_observe.py

bench-providers: $(VENV)/.installed-bench
	$(BIN)/python bench/bench_providers.py

bench-flush: $(STAMP)
	$(BIN)/python bench/bench_flush.py

bench-server: $(STAMP) postgres
	$(BIN)/python bench/bench_server.py

# The web UI over 100,000 sessions and 1,000,000 events (SQLite, built once and kept under /tmp).
.PHONY: bench-ui
bench-ui: $(STAMP) chromium
	$(BIN)/python bench/bench_ui.py

schema: $(STAMP)
	$(BIN)/python -c 'import json, aiobs.models as m; print(json.dumps(m.json_schema(), indent=2, sort_keys=True))' > docs/schema/export.schema.json

clean:
	rm -rf $(VENV) $(OLD_VENV) $(NEW_VENV) $(LOCK_VENV) $(REF_VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis build dist *.egg-info
