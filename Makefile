SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
PIP_VERSION := 25.3
export PATH := $(CURDIR)/$(BIN):$(PATH)
export SAM_CLI_TELEMETRY := 0

.PHONY: help venv test lint typecheck unit integration run build validate scan fuzz lock clean sam-local-check

help:
	@echo "make run    serve the API at http://127.0.0.1:$${PORT:-3000} (no Docker, no AWS account)"
	@echo "make test   lint, validate the template, run every test"
	@echo "make fuzz   schemathesis against a local server, from docs/openapi.json"
	@echo "make build  sam build, then python3.13 bytecode (no Docker, no python3.13 needed)"
	@echo "make sam-local-check  the walk-through through sam local start-api (needs Docker; not in make test)"
	@echo "make bench  measure cold starts, warm costs, sizes and local latency (BENCH_ARGS=--check enforces)"
	@echo "make lock   regenerate constraints.txt from requirements-dev.txt"

$(VENV)/.installed: requirements-dev.txt constraints.txt layers/deps/requirements.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check pip==$(PIP_VERSION)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	touch $@

# Pyodide (CPython 3.13 in WebAssembly, run by Node.js) compiles the build to Lambda's bytecode
# (tools/bytecode.py), so that neither sam build nor this host needs python3.13. Only what builds
# needs it (and Node.js): build, test (tests/build), bench, sam-local-check; never run.
PYODIDE := tools/pyodide/node_modules/.installed
$(PYODIDE): tools/pyodide/package.json tools/pyodide/package-lock.json
	npm ci --prefix tools/pyodide --silent --no-audit --no-fund
	touch $@

venv: $(VENV)/.installed

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

validate: venv
	$(BIN)/sam validate --lint

# Strict types on the code that ships: the shared layer and the handlers (mypy.ini).
typecheck: venv
	$(BIN)/mypy layers/shared/python/books_api functions/*/app.py

unit: venv
	$(BIN)/pytest tests/unit

integration: venv
	$(BIN)/pytest tests/integration

# Branch coverage of the shared layer and the handlers is printed, with a floor (.coveragerc).
test: lint typecheck validate scan fuzz $(PYODIDE)
	$(BIN)/pytest --cov --cov-config=.coveragerc --cov-report=term:skip-covered

# Static scans, offline: cfn-lint on the template; checkov on the template after the SAM transform
# (the raw template hides the functions' roles and policies), skips justified in checkov.yaml;
# bandit on the code that ships or touches AWS, failing on any medium or high finding.
SCAN_VENV := .venv-scan
# actionlint on .github/workflows, in a venv of its own (requirements-actionlint.txt says why
# this package), pinned by the hashes of its wheels.
ACTIONLINT_VENV := .venv-actionlint
BANDIT_PATHS := layers/shared/python functions tools admin_cli local_api stack

# checkov runs twice: with the defaults, and with every option on (the WAF, strict revocation,
# deletion protection, the alarm e-mail, SnapStart, the catalogue cache), since it scans only the
# resources whose conditions the defaults meet.
OPTIONS_ON := WafEnabled=true StrictRevocation=true DeletionProtection=true AlarmEmail=ops@example.com SnapStart=true CatalogueCacheSeconds=30

scan: venv $(SCAN_VENV)/.installed $(ACTIONLINT_VENV)/.installed
	$(BIN)/cfn-lint template.yaml pipeline/deploy-roles.yaml
	$(PY) -m tools.sam_transform $(SCAN_VENV)/sam-transformed.json
	$(SCAN_VENV)/bin/checkov --config-file checkov.yaml --file $(SCAN_VENV)/sam-transformed.json
	$(PY) -m tools.sam_transform $(SCAN_VENV)/sam-transformed-options.json $(OPTIONS_ON)
	$(SCAN_VENV)/bin/checkov --config-file checkov.yaml --file $(SCAN_VENV)/sam-transformed-options.json
	$(SCAN_VENV)/bin/checkov --config-file checkov.yaml --file pipeline/deploy-roles.yaml
	$(SCAN_VENV)/bin/bandit --quiet --recursive --severity-level medium $(BANDIT_PATHS)
	$(ACTIONLINT_VENV)/bin/actionlint

# Fuzzing: schemathesis with docs/openapi.json against a local server on 127.0.0.1 (tools/fuzz.py,
# settings in tools/fuzz.toml), in its own venv (.venv-fuzz): it brings a pytest plugin of its own.
FUZZ_VENV := .venv-fuzz

# A tool with pins of its own gets a venv of its own, from its own requirements file.
$(SCAN_VENV)/.installed: requirements-scan.txt
$(FUZZ_VENV)/.installed: requirements-fuzz.txt
$(ACTIONLINT_VENV)/.installed: requirements-actionlint.txt
$(SCAN_VENV)/.installed $(FUZZ_VENV)/.installed $(ACTIONLINT_VENV)/.installed:
	test -x $(@D)/bin/python || python3 -m venv $(@D)
	$(@D)/bin/python -m pip install --quiet --disable-pip-version-check pip==$(PIP_VERSION)
	$(@D)/bin/python -m pip install --quiet --disable-pip-version-check -r $<
	touch $@

fuzz: venv $(FUZZ_VENV)/.installed
	$(PY) -m tools.fuzz --schemathesis $(FUZZ_VENV)/bin/schemathesis

build: venv $(PYODIDE)
	$(BIN)/sam build
	$(PY) -m tools.bytecode .aws-sam/build

# Where a request's time and money go (docs/PERFORMANCE.md): a few minutes; prints each figure
# against its target and writes bench/results.json. BENCH_ARGS=--check exits 1 on a missed target.
.PHONY: bench
bench: venv $(PYODIDE)
	$(PY) bench/run.py $(BENCH_ARGS)

# The whole API on 127.0.0.1 (docs/LOCAL.md): PORT, ADMIN_USERNAME and ADMIN_PASSWORD are read from
# the environment; ARGS passes more options (python -m local_api --help).
run: venv
	exec $(PY) -m local_api $(ARGS)

# The README's walk-through through `sam local start-api` in Lambda's containers, against moto, with
# no AWS account (local_api/sam_local_check.py). Opt-in: it needs a Docker daemon and SAM CLI's
# python3.13 base image for this host (docs/LOCAL.md). SAM_LOCAL_ARGS passes --requests/--books.
sam-local-check: venv $(PYODIDE)
	$(PY) -m local_api.sam_local_check $(SAM_LOCAL_ARGS)

lock:
	rm -rf /tmp/books-api-lock && python3 -m venv /tmp/books-api-lock
	/tmp/books-api-lock/bin/pip install --quiet pip==$(PIP_VERSION)
	/tmp/books-api-lock/bin/pip install --quiet -r requirements-dev.txt
	{ echo "# Generated by \`make lock\` from requirements-dev.txt: every transitive package pinned."; \
	  /tmp/books-api-lock/bin/pip freeze; } > constraints.txt

clean:
	rm -rf $(VENV) $(SCAN_VENV) $(FUZZ_VENV) $(ACTIONLINT_VENV) .aws-sam .pytest_cache .ruff_cache
