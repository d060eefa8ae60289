# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: test-outage demo test test-fast fuzz faults setup system-deps java-deps node-deps kafka-jars lint typecheck contracts-check clean

demo: $(STAMP)
	$(BIN)/passerelle demo $(ARGS)

# The shared fixtures (real LHEO feeds, the official XSD) when the repository sits beside them, as in CI.
SHARED ?= $(wildcard ../shared)
export PASSERELLE_SHARED_DIR ?= $(SHARED)

test: $(STAMP) system-deps node-deps kafka-jars lint typecheck contracts-check
	$(BIN)/pytest -q -m "not outage" $(PYTEST_ARGS)

# The embedded broker killed and restarted under an in-process stack, alone (make test runs it too). It runs in a
# child process with a deadline: a consumer's close once froze the whole process inside confluent-kafka.
test-outage: $(STAMP)
	$(BIN)/pytest -q tests/e2e/test_broker_outage.py::test_the_broker_restart_passes_in_a_process_of_its_own $(PYTEST_ARGS)

# No broker, no network: the domain core, the dialects, the hop with fakes. Under 30 s.
test-fast: $(STAMP) node-deps
	$(BIN)/pytest -q -n 2 -m "not broker and not kafka" $(PYTEST_ARGS)

# The fuzz suite's long run: 10,000 hostile inputs per dialect, through the adapters' real inbound flow.
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest -q -p no:cacheprovider tests/fuzz $(PYTEST_ARGS)

# The fault tests' long run on the 3-node Apache Kafka cluster: 50,000 messages per fault (docs/reliability.md).
FAULT_EVENTS ?= 50000
FAULT_RATE   ?= 1000
faults: $(STAMP) kafka-jars
	PASSERELLE_FAULT_EVENTS=$(FAULT_EVENTS) PASSERELLE_FAULT_RATE=$(FAULT_RATE) \
	PASSERELLE_FAULT_REPORT=$(CURDIR)/bench/results/faults.jsonl \
	  $(BIN)/pytest -q -p no:cacheprovider -m faults tests/faults $(PYTEST_ARGS)

setup: $(STAMP)

# The virtualenv is rebuilt when the project's dependencies change.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Debian packages the tests use (promtool and a real Prometheus, Chromium for the console's pages). Installed only when missing.
system-deps:
	@{ command -v promtool >/dev/null 2>&1 && command -v chromium >/dev/null 2>&1; } || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq prometheus chromium >/dev/null; }

# Java 17 and Maven: Maven fetches Apache Kafka's jars, Java runs the test brokers. Installed only when missing.
java-deps:
	@{ command -v java >/dev/null 2>&1 && command -v mvn >/dev/null 2>&1; } || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq openjdk-17-jre-headless maven >/dev/null; }

# Node.js and the AsyncAPI parser (versions locked in tools/asyncapi/package-lock.json) that checks contracts/asyncapi.yaml.
NODE_TOOLS := tools/asyncapi/node_modules/.package-lock.json
node-deps: $(NODE_TOOLS)
$(NODE_TOOLS): tools/asyncapi/package-lock.json
	@command -v npm >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nodejs npm >/dev/null; }
	npm ci --prefix tools/asyncapi --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $(NODE_TOOLS)

# Apache Kafka's jars (version pinned in deploy/kafka/pom.xml), fetched once into .cache/kafka (again when the POM changes).
kafka-jars: $(STAMP) java-deps
	$(BIN)/python -m passerelle.broker.apache

lint: $(STAMP)
	$(BIN)/ruff check passerelle services tests bench
	$(BIN)/ruff format --check passerelle services tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

contracts-check: $(STAMP)
	$(BIN)/passerelle contracts check
	$(BIN)/passerelle contracts openapi --check

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis tools/asyncapi/node_modules
