# `make run` serves the demo; `make test` runs the suite. Both set up .venv first, so a fresh clone needs nothing else.
# SQLite by default; set DATABASE_URL=postgres://… for PostgreSQL. Variables in .env (see .env.example) are used.
-include .env
export

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install install-dev lint format bench bench-quick fuzz clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# The demo runs with DEBUG on (a development server on localhost); production settings come from the environment.
# Background jobs (reports, exports, imports asked for async) run in `manage.py db_worker`, started beside the
# server in a session of its own (os.setsid: its code reloader's child goes with it) and ended with the server,
# whether it stops or Ctrl-C stops it.
run: export DEBUG ?= 1
run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_sochi
	$(PY) manage.py ensure_admin
	$(PY) manage.py jobs_upkeep
	@echo "Serving the admin at http://$(HOST):$(PORT)/admin/ ; background jobs run in manage.py db_worker"
	@$(PY) -c 'import os, sys; os.setsid(); os.execv(sys.executable, [sys.executable, *sys.argv[1:]])' \
		manage.py db_worker & worker=$$!; \
	trap 'kill -TERM -$$worker 2>/dev/null' EXIT INT TERM; \
	$(PY) manage.py runserver $(HOST):$(PORT)

test: install-dev
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache staticfiles

# Benchmarks against their floors on PostgreSQL (BENCH_POSTGRES_URL names the server; datasets of 10k and 1M
# violations are built once in databases of their own and reused). One line per case: PASS/FAIL, figure, floor,
# ratio, target. bench-quick uses 100k instead of 1M. See benchmarks/run.py.
bench: install-dev
	$(PY) benchmarks/run.py $(BENCH_ARGS)

bench-quick: install-dev
	$(PY) benchmarks/run.py --quick $(BENCH_ARGS)

# Schemathesis against the app under gunicorn, on a PostgreSQL database of its own (FUZZ_POSTGRES_URL names the
# server, default postgres://postgres@127.0.0.1:5432/postgres); exits non-zero on any failure. See benchmarks/fuzz.py.
FUZZ_ARGS ?= --max-examples 25 --workers 2 --seed 8
fuzz: install-dev
	$(PY) benchmarks/fuzz.py $(FUZZ_ARGS)
