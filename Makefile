# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast setup system-deps lint typecheck contracts-check clean

demo: $(STAMP)
	$(BIN)/passerelle demo $(ARGS)

# The shared fixtures (real LHEO feeds, the official XSD) when the repository sits beside them, as in CI.
SHARED ?= $(wildcard ../shared)
export PASSERELLE_SHARED_DIR ?= $(SHARED)

test: $(STAMP) system-deps lint typecheck contracts-check
	$(BIN)/pytest -q $(PYTEST_ARGS)

# No broker, no network: the domain core, the dialects, the hop with fakes. Under 30 s.
test-fast: $(STAMP)
	$(BIN)/pytest -q -m "not broker" $(PYTEST_ARGS)

setup: $(STAMP)

# The virtualenv is rebuilt when the project's dependencies change.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Debian packages the tests use (promtool and a real Prometheus). Installed only when missing.
system-deps:
	@command -v promtool >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq prometheus >/dev/null; }

lint: $(STAMP)
	$(BIN)/ruff check passerelle services tests bench
	$(BIN)/ruff format --check passerelle services tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

contracts-check: $(STAMP)
	$(BIN)/passerelle contracts check

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
