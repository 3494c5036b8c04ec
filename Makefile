# Two entry points that work on a fresh machine: `make demo` and `make test`.
# Both create .venv when it is missing and install what they need into it.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: demo test test-oldest lint typecheck unit postgres bench bench-observe bench-providers bench-flush bench-server schema clean

# The oldest SDK releases aiobs supports; `make test-oldest` runs the provider tests against them
# (`make test` runs everything against the newest).
# openai 1.40 predates httpx 0.28 (which dropped an argument it passes), hence the httpx bound.
OLDEST_SDKS := openai==1.40.0 anthropic==0.40.0 google-genai==1.0.0 'httpx<0.28'
OLD_VENV := .venv-oldest
OLD_STAMP := $(OLD_VENV)/.installed

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check aiobs tests bench examples
	$(BIN)/ruff format --check aiobs tests bench examples

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) postgres
	$(BIN)/python -m pytest

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

$(OLD_STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(OLD_VENV)
	$(OLD_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(OLD_VENV)/bin/python -m pip install --quiet -e '.[dev]' $(OLDEST_SDKS)
	touch $(OLD_STAMP)

test-oldest: $(OLD_STAMP)
	$(OLD_VENV)/bin/python -m pytest -q tests/providers tests/test_provider_registry.py

$(VENV)/.installed-bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
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

schema: $(STAMP)
	$(BIN)/python -c 'import json, aiobs.models as m; print(json.dumps(m.json_schema(), indent=2, sort_keys=True))' > docs/schema/export.schema.json

clean:
	rm -rf $(VENV) $(OLD_VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis build dist *.egg-info
