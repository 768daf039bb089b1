# Two commands matter: `make run` and `make test`. Both work on a fresh machine with Python 3.11+.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python

.PHONY: run test lint check-deploy migrate bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.run-deps: requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-deps: requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.run-deps

run: $(VENV)/.run-deps
	DEBUG=$${DEBUG:-1} $(PY) manage.py migrate --noinput
	DEBUG=$${DEBUG:-1} $(PY) manage.py seed_demo
	DEBUG=$${DEBUG:-1} $(PY) -m config.devserver

# The suite runs on PYTEST_WORKERS pytest-xdist workers (0: in this process, one test at a time). Most of
# its time is waiting on Chromium, real Celery workers and `make run`, which overlaps; each worker has a
# test database, a Redis database and a var/ folder of its own (tests/parallel.py). `loadgroup`: the
# cluster fault tests (tests/parallel.py, ONE_AT_A_TIME) run on one worker, one at a time.
PYTEST_WORKERS ?= 3

test: $(VENV)/.dev-deps
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

lint: $(VENV)/.dev-deps
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(VENV)/bin/lint-imports --no-cache

migrate: $(VENV)/.run-deps
	DEBUG=$${DEBUG:-1} $(PY) manage.py migrate --noinput

clean:
	rm -rf var/ .pytest_cache test-artifacts
