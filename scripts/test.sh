#!/usr/bin/env bash
# Body of `make test`: throwaway PostgreSQL + Redis, `make lint`, pytest, then the chosen
# subsets against Redis Sentinel, Redis Cluster and PgBouncer + a replica (scripts/topologies.sh,
# built on the same PostgreSQL), then the production image built and run on the same services
# (scripts/image.sh; IMAGE_TEST=none skips it).
# The services live in a fresh mktemp dir and are stopped (and the dir
# removed) on every exit: success, failure or interrupt.
# Exit code: lint's, pytest's or the topologies'.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

export UV_PYTHON_DOWNLOADS=${UV_PYTHON_DOWNLOADS:-never}
export UV_PYTHON=${UV_PYTHON:-python3}
UV=${UV:-uv}
MAKE=${MAKE:-make}
PYTEST_ARGS=${PYTEST_ARGS--q}

services_dir=$(mktemp -d /tmp/referral-test.XXXXXX)

cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    bash scripts/services.sh stop "$services_dir" || true
    rm -rf -- "$services_dir"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

bash scripts/services.sh start "$services_dir"
# shellcheck disable=SC1091
source "$services_dir/env"
export DJANGO_DEBUG=false

echo "== make lint"
# $MAKE and $UV may hold several words (e.g. "python3 -m uv"): split on purpose.
# shellcheck disable=SC2086
$MAKE --no-print-directory lint

echo "== pytest $PYTEST_ARGS"
# shellcheck disable=SC2086
$UV run pytest $PYTEST_ARGS

# TOPOLOGIES=none skips them (e.g. with PYTEST_ARGS naming a part of the suite).
if [[ ${TOPOLOGIES:-} != none ]]; then
    echo "== topologies ${TOPOLOGIES:-sentinel cluster postgres}"
    export PG_PORT PG_BIN REDIS_URL
    # shellcheck disable=SC2086
    bash scripts/topologies.sh test ${TOPOLOGIES:-}
fi

if [[ ${IMAGE_TEST:-} != none ]]; then
    echo "== image"
    bash scripts/image.sh build
    bash scripts/image.sh test
fi
