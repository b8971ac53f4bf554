# The two commands: `make run` starts the site, `make test` runs every test.
# Both create .venv from the locked requirements on first use.

PYTHON ?= python3.13
VENV := .venv
BIN := $(VENV)/bin
DEV_ENV = DEBUG=true PORT=$(PORT)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run superuser test bench bench-huge bench-http lighthouse load faults lint format lock clean

$(BIN)/.installed: requirements/dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements/dev.txt
	@touch $@

# The standards tools the tests run (axe-core, the Nu Html Checker) and Lighthouse, from
# package-lock.json into node_modules/ (npm and Java 17 from Debian). Not part of the site:
# `make run` does without them, and without npm `make test` skips those checks (CI fails).
node_modules/.package-lock.json: package-lock.json
	@if command -v npm >/dev/null; then npm ci --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: the standards checks (axe-core, Nu Html Checker) will be skipped"; fi

install: $(BIN)/.installed node_modules/.package-lock.json

run: $(BIN)/.installed
	$(DEV_ENV) $(BIN)/python manage.py migrate --no-input
	$(DEV_ENV) $(BIN)/python manage.py load_default_essays
	@echo
	@echo "  Essay Forum runs at http://$(HOST):$(PORT)/ (development mode, SQLite in data/)."
	@echo "  For the admin at http://$(HOST):$(PORT)/admin/, create an account first: make superuser"
	@echo "  A background worker sends notification mail (printed here, see EMAIL_URL)."
	@echo
	@$(DEV_ENV) $(BIN)/python manage.py mail_worker --interval 2 & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(DEV_ENV) $(BIN)/python manage.py runserver $(HOST):$(PORT)

superuser: $(BIN)/.installed
	$(DEV_ENV) $(BIN)/python manage.py migrate --no-input
	$(DEV_ENV) $(BIN)/python manage.py createsuperuser

test: install
	$(BIN)/pytest $(PYTEST_ARGS)

# Side by side with the peers in one run (bench/compare.py; half an hour or more): needs
# PostgreSQL and Redis (db 15) on 127.0.0.1, wrk, ports 18010-18052, and the peers'
# scripts in ../shared/bench-peers (BENCH_PEERS=dir elsewhere; without them their rows
# are skipped). `make bench-http` is the older concurrency table (bench/run.py).
bench: install
	$(BIN)/python bench/compare.py $(BENCH_ARGS)

# A million comments, 100,000 in one section, in PostgreSQL (bench/huge.py; database
# huge_bench, BENCH_ARGS=--keep to reuse it): pages, permalink, search, essay, admin.
bench-huge: install
	$(BIN)/python bench/huge.py $(BENCH_ARGS)

bench-http: install
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# Lighthouse 12 (accessibility, SEO) on the essay page and a section with 1,000 comments,
# in Debian's Chromium; scores go in the README (scripts/lighthouse --help).
lighthouse: install
	$(BIN)/python scripts/lighthouse $(LIGHTHOUSE_ARGS)

# Load and faults (docs/load-and-faults.md): Locust against gunicorn + PostgreSQL + Redis on
# 127.0.0.1, then a check that every acknowledged write is there once and every counter
# equals a recount. `make load` uses the shared PostgreSQL and Redis (database 2);
# `make faults` starts private ones to break: all scenarios, or FAULTS="redis-stop ...".
load: install
	$(BIN)/python load/run.py load $(LOAD_ARGS)

faults: install
	$(BIN)/python load/run.py faults $(FAULTS) $(LOAD_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Refresh the lock files after editing pyproject.toml (hashes only, no index URLs).
lock: install
	$(BIN)/uv pip compile pyproject.toml --python-version 3.13 --universal --generate-hashes \
		--no-emit-index-url --no-emit-find-links --quiet -o requirements/main.txt
	$(BIN)/uv pip compile pyproject.toml --group dev --python-version 3.13 --universal \
		--generate-hashes --no-emit-index-url --no-emit-find-links --quiet -o requirements/dev.txt

clean:
	rm -rf $(VENV) node_modules data/staticfiles .pytest_cache .ruff_cache
