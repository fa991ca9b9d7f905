.DEFAULT_GOAL := help
SHELL := /bin/bash

VENV ?= .venv
PYTHON := $(VENV)/bin/python
export PGHOST ?= 127.0.0.1
export PGPORT ?= 5432
export PGUSER ?= postgres

.PHONY: help install demo test test-sql test-py chaos bloat lint bench bench-compare bench-sql clean

help: ## Show this help
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install -q --upgrade pip
	$(PYTHON) -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed ## Create .venv with pgrun and its dev tools; make sure PostgreSQL and pgTAP are there
	@scripts/ensure_postgres.sh
	@scripts/ensure_chromium.sh

demo: install ## Run a worker with example tasks and cron against the local PostgreSQL
	PYTHON=$(PYTHON) scripts/demo.sh

test: install test-sql test-py ## Run every test (pgTAP, then pytest)

test-sql: install ## Run the pgTAP suite in a fresh database
	PYTHON=$(PYTHON) scripts/test_sql.sh

test-py: install ## Run the pytest suite (real PostgreSQL, real worker processes), and the sample project's
	cd examples/sample_project && $(abspath $(PYTHON)) -m pytest -q
	$(PYTHON) -m pytest

chaos: install ## The long chaos run: 100,000 jobs, 4 workers, 40 faults on a private cluster (about 10 min)
	cd tests && ../$(PYTHON) -u -m chaos --jobs $${JOBS:-100000} --faults $${FAULTS:-40} $${SEED:+--seed $$SEED}

bloat: install ## Dead tuples and throughput while xmin is pinned (idle in transaction, REPEATABLE READ readers); MINUTES=10 each
	$(PYTHON) bench/bloat.py --minutes $${MINUTES:-10} --out $${OUT:-bloat-results}

bench: install ## Measure pgrun alone, each workload on a fresh database (about 5 min)
	$(PYTHON) bench/run.py pgrun

bench-compare: install ## Measure pgrun beside Graphile Worker, procrastinate, pgqueuer and pgbench in one run (about 25 min)
	$(PYTHON) bench/run.py compare

bench-sql: install ## Claim + complete throughput and claim latency of the SQL core alone, six scenarios (about 6 min)
	$(PYTHON) bench/sql_claim.py

lint: install ## Check style with ruff
	$(VENV)/bin/ruff check runner tests examples bench

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) build dist *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
