# The two commands a newcomer needs: `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install lock run test fuzz bench lint format worker beat migrate clean

## Install the pinned set of requirements/dev.txt (runtime, every extra, dev tools), then the
## project itself without touching those pins.
$(STAMP): pyproject.toml requirements/dev.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

install: $(STAMP)

## Pin the dependencies again after editing pyproject.toml, for CPython 3.11 on Linux x86_64:
## requirements/runtime.txt (the image: runtime and the cloud targets) and requirements/dev.txt
## (make install and CI: everything, at the same versions). Pins already there are kept unless
## `make lock LOCK_ARGS=--upgrade` (everything) or `LOCK_ARGS='--upgrade-package django'`.
UV ?= $(or $(wildcard $(VENV)/bin/uv),uv)
LOCK := $(UV) pip compile --quiet --python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
	--generate-hashes --custom-compile-command 'make lock' $(LOCK_ARGS)
lock:
	$(LOCK) pyproject.toml --extra kserve --extra sagemaker --extra s3 -o requirements/runtime.txt
	$(LOCK) pyproject.toml --all-extras -c requirements/runtime.txt -o requirements/dev.txt

## Start the portal with demo data on the embedded default (or on DATABASE_URL / REDIS_URL when set).
run: $(STAMP)
	$(PY) -m portal.runner

## Run the test suite (PostgreSQL and Redis when reachable, else SQLite with PostgreSQL-only tests skipped).
test: $(STAMP)
	bin/run-tests

## Fuzz the API longer than `make test` does: FUZZ_EXAMPLES generated requests per operation and role.
FUZZ_EXAMPLES ?= 100
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) bin/run-tests tests/fuzz

## Run the benchmarks (never part of `make test`).
bench: $(STAMP)
	$(PY) -m benchmarks

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DEBUG=true $(VENV)/bin/mypy portal tenants governance chargeback
	$(VENV)/bin/lint-imports

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

migrate: $(STAMP)
	DEBUG=$${DEBUG:-true} $(PY) manage.py migrate

worker: $(STAMP)
	DEBUG=$${DEBUG:-true} $(VENV)/bin/celery -A portal worker --loglevel=INFO

beat: $(STAMP)
	DEBUG=$${DEBUG:-true} $(VENV)/bin/celery -A portal beat --loglevel=INFO

## Start from scratch: remove everything the embedded default made (database, MLflow store,
## broker, cache, model copies, captured traffic, keys) and the tests' artifacts.
VAR_DIR ?= $(or $(PORTAL_VAR_DIR),var)
clean:
	@removed=0; \
	for path in "$(VAR_DIR)"/* "$(VAR_DIR)"/.[!.]* test-artifacts; do \
	  [ -e "$$path" ] || continue; \
	  echo "Removing $$path"; rm -rf "$$path"; removed=1; \
	done; \
	[ "$$removed" = 1 ] && echo "Removed what the embedded default made; the next make run starts from scratch." \
	  || echo "Nothing to remove: the embedded default has made nothing yet."
