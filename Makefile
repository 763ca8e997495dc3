# Developer entry points. `make help` lists them.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# uv: use the one on PATH, else the module that `pip install uv` provides
# (its script dir may not be on PATH, e.g. behind pyenv shims).
ifeq ($(origin UV),undefined)
UV := $(shell command -v uv >/dev/null 2>&1 && echo uv || echo python3 -m uv)
endif
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := python3
# Read by scripts/test.sh.
export UV
export MAKE

SERVICES_DIR ?= /tmp/referral-api-services
PYTEST_ARGS ?= -q
export PYTEST_ARGS
RUN_ADDR ?= 127.0.0.1:8000
OPENAPI := docs/openapi.yaml

.PHONY: help install .venv messages makemessages run serve services services-stop lint schema test \
	test-topologies image image-test bench bench-chains clean

help:
	@echo "make install        uv sync --frozen (creates .venv)"
	@echo "make messages       compile the translation catalogs (locale/*.po → .mo; gettext)"
	@echo "make makemessages   update locale/ru/LC_MESSAGES/django.po from the code and templates"
	@echo "make run            migrate + Django dev server on $(RUN_ADDR) (DEBUG on)"
	@echo "make serve          migrate + collectstatic + gunicorn (DEBUG off, PORT, default 8000)"
	@echo "make services       start PostgreSQL + Redis in $(SERVICES_DIR)"
	@echo "make services-stop  stop them"
	@echo "make lint           ruff, ruff format --check, mypy, migrations check, $(OPENAPI) check"
	@echo "make schema         regenerate $(OPENAPI)"
	@echo "make test           throwaway PostgreSQL + Redis, lint, pytest \$$PYTEST_ARGS (default -q),"
	@echo "                    then make test-topologies and make image-test"
	@echo "make test-topologies  Redis Sentinel, Redis Cluster, PgBouncer + a replica: each started"
	@echo "                    on loopback, its tests run, stopped (TOPOLOGIES=sentinel cluster postgres)"
	@echo "make image          build the Dockerfile as $(IMAGE) (docker, else podman; see docs/operations.md)"
	@echo "make image-test     run $(IMAGE) on PostgreSQL + Redis: healthcheck, Postman collection,"
	@echo "                    check --deploy refusals, contents and size (builds it first)"
	@echo "make bench          benchmark: 1M users, wrk against make serve (BENCH_ARGS=--quick)"
	@echo "make bench-chains   an activation at the bottom of referral chains 1k-100k deep"
	@echo "                    (CHAIN_BENCH_ARGS='--depths 1 1000 --rounds 10')"
	@echo "make clean          remove .venv and caches"

install:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || \
		python3 -m pip install --quiet uv || \
		python3 -m pip install --quiet --break-system-packages uv
	$(UV) sync --frozen

.venv: install

# Compiled catalogs are build output (.gitignore): every entry point below builds them first.
messages:
	bash scripts/messages.sh compile

makemessages: install
	bash scripts/messages.sh extract

run: install messages
	$(UV) run python manage.py migrate --noinput
	DJANGO_DEBUG=true $(UV) run python manage.py runserver $(RUN_ADDR)

serve: install messages
	$(UV) run python manage.py migrate --noinput
	$(UV) run python manage.py collectstatic --noinput
	DJANGO_DEBUG=false $(UV) run gunicorn -c referral_api/gunicorn_conf.py referral_api.wsgi:application

services:
	bash scripts/services.sh start $(SERVICES_DIR)
	@echo "Load them into your shell with:  source $(SERVICES_DIR)/env"
	@echo "Stop them with:                  make services-stop"

services-stop:
	bash scripts/services.sh stop $(SERVICES_DIR)

lint: install
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy .
	$(UV) run python manage.py makemigrations --check --dry-run
	@tmp=$$(mktemp /tmp/referral-openapi.XXXXXX); \
	trap 'rm -f "$$tmp"' EXIT; \
	echo "$(UV) run python manage.py spectacular --validate --fail-on-warn --file <tmp>"; \
	$(UV) run python manage.py spectacular --validate --fail-on-warn --file "$$tmp"; \
	if [[ ! -f $(OPENAPI) ]]; then \
		echo "$(OPENAPI) is missing: run make schema" >&2; exit 1; \
	fi; \
	if ! diff -u $(OPENAPI) "$$tmp"; then \
		echo "$(OPENAPI) is out of date: run make schema" >&2; exit 1; \
	fi; \
	echo "$(OPENAPI) is up to date"
	$(UV) run bandit -c pyproject.toml -r referral_api users invites web --severity-level medium -q
	@# pip-audit checks the exact versions in uv.lock (all groups) against PyPI's vulnerability
	@# data. A package the index cannot describe is listed as skipped, not failed: a mirror
	@# without PyPI's per-version JSON skips them all, so read the table (or add --strict).
	@req=$$(mktemp /tmp/referral-requirements.XXXXXX); \
	trap 'rm -f "$$req"' EXIT; \
	echo "$(UV) export --frozen --no-emit-project > <tmp> && $(UV) run pip-audit -r <tmp>"; \
	$(UV) export --frozen --no-emit-project --format requirements-txt --quiet > "$$req"; \
	$(UV) run pip-audit --disable-pip --require-hashes -r "$$req" --progress-spinner off

schema: install
	@mkdir -p $(dir $(OPENAPI))
	$(UV) run python manage.py spectacular --validate --fail-on-warn --file $(OPENAPI)

# Starts PostgreSQL + Redis in a mktemp dir, runs `make lint` and pytest against
# them, then the topologies' tests, and always stops them again (see scripts/test.sh).
test: install messages
	bash scripts/test.sh

# Each topology of docs/scaling.md started on loopback, its tests run against it, stopped again
# (also on failure): see scripts/topologies.sh.
TOPOLOGIES ?=
export TOPOLOGIES
test-topologies: install
	bash scripts/topologies.sh test $(TOPOLOGIES)

# The production image. `docker build` where a Docker engine answers, otherwise podman with chroot
# isolation on a base pulled or built from Debian packages (scripts/base-image.sh).
IMAGE ?= referral-api:latest
export IMAGE
image:
	bash scripts/image.sh build

# Starts the image on DATABASE_URL/REDIS_URL (its own services when unset), checks it, stops it.
image-test: image
	bash scripts/image.sh test

# Starts its own PostgreSQL + Redis, loads data, serves, drives wrk, prints one table, stops all.
bench: install
	$(UV) run python scripts/bench.py $(BENCH_ARGS)

# Its own PostgreSQL + Redis; chains loaded by COPY; activations at their bottoms timed (about
# 2 minutes; docs/performance.md › Deep referral chains).
CHAIN_BENCH_ARGS ?=
bench-chains: install
	$(UV) run python scripts/chain_bench.py $(CHAIN_BENCH_ARGS)

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -path ./.git -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
