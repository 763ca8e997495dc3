#!/usr/bin/env bash
# Throwaway PostgreSQL + Redis for development, tests and benchmarks.
#
#   scripts/services.sh start DIR   # start both, write DIR/env, print the URLs
#   scripts/services.sh stop DIR    # stop both (idempotent, never fails)
#
# Postgres listens only on 127.0.0.1 (plus a unix socket inside the pg root),
# Redis only on 127.0.0.1; both on free ports in 20000-32000 chosen at run
# time, so several runs can live side by side. Postgres runs as the
# `postgres` user when this script runs as root (initdb refuses root).
# Missing binaries are installed with apt-get (root only).
#
# DIR/env holds `export` lines for DATABASE_URL, REDIS_URL, PG_BIN, PG_DATA,
# PG_PORT, REDIS_PORT (and a few helpers used by `stop`).
set -euo pipefail

PORT_MIN=${SERVICES_PORT_MIN:-20000}
PORT_MAX=${SERVICES_PORT_MAX:-32000}
START_ATTEMPTS=8
READY_TIMEOUT=${SERVICES_READY_TIMEOUT:-60}
DB_NAME=referral
DB_USER=postgres

log() { printf 'services: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

usage() {
    cat >&2 <<EOF
usage: $0 start DIR | stop DIR | env DIR
EOF
    exit 2
}

is_root() { [[ ${EUID:-$(id -u)} -eq 0 ]]; }

# Run a command as the postgres user when we are root, as ourselves otherwise.
# `cd /` because the caller's working directory may be unreadable to postgres.
as_pg() {
    if is_root; then
        (cd / && runuser -u postgres -- "$@")
    else
        (cd / && "$@")
    fi
}

# ---------------------------------------------------------------- packages

find_pg_bin() {
    if [[ -n ${PG_BIN:-} && -x ${PG_BIN}/initdb && -x ${PG_BIN}/pg_ctl ]]; then
        printf '%s\n' "$PG_BIN"
        return 0
    fi
    local d
    if [[ -x /usr/lib/postgresql/15/bin/initdb ]]; then
        printf '%s\n' /usr/lib/postgresql/15/bin
        return 0
    fi
    # Newest other version first.
    for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -t/ -k5,5 -rn); do
        if [[ -x $d/initdb && -x $d/pg_ctl ]]; then
            printf '%s\n' "$d"
            return 0
        fi
    done
    if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v pg_ctl)"
        return 0
    fi
    return 1
}

have_redis() {
    command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1
}

ensure_packages() {
    local pkgs=()
    find_pg_bin >/dev/null || pkgs+=(postgresql)
    have_redis || pkgs+=(redis-server redis-tools)
    if ((${#pkgs[@]} == 0)); then
        return 0
    fi
    is_root || die "missing ${pkgs[*]}; install them (apt-get install -y ${pkgs[*]}) or run as root"
    command -v apt-get >/dev/null 2>&1 || die "missing ${pkgs[*]} and no apt-get to install them"

    # Serialize concurrent installs from parallel runs; re-check under the lock.
    local lock=/tmp/referral-services-apt.lock
    exec 9>"$lock"
    flock -w 900 9 || die "timed out waiting for $lock"
    pkgs=()
    find_pg_bin >/dev/null || pkgs+=(postgresql)
    have_redis || pkgs+=(redis-server redis-tools)
    if ((${#pkgs[@]} > 0)); then
        log "installing ${pkgs[*]} with apt-get"
        # Keep the packages' init scripts from starting their own default
        # cluster / redis on 5432 / 6379 (typical container trick).
        local made_policy=0
        if [[ ! -e /usr/sbin/policy-rc.d ]]; then
            printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
            chmod 755 /usr/sbin/policy-rc.d
            made_policy=1
        fi
        local rc=0
        {
            DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq &&
                DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
                    --no-install-recommends "${pkgs[@]}"
        } >&2 || rc=$?
        if ((made_policy)); then rm -f /usr/sbin/policy-rc.d; fi
        ((rc == 0)) || die "apt-get install ${pkgs[*]} failed (exit $rc)"
    fi
    flock -u 9
    exec 9>&-

    find_pg_bin >/dev/null || die "PostgreSQL binaries still not found after install"
    have_redis || die "redis-server / redis-cli still not found after install"
}

ensure_pg_user() {
    is_root || return 0
    id postgres >/dev/null 2>&1 && return 0
    log "creating system user postgres"
    useradd --system --user-group --no-create-home --home-dir /var/lib/postgresql \
        --shell /usr/sbin/nologin postgres
}

# ------------------------------------------------------------------- ports

# Print a port in [PORT_MIN, PORT_MAX] that nothing listens on right now.
# A bind attempt (without SO_REUSEADDR) on 127.0.0.1 and 0.0.0.0 is the test.
free_port() {
    python3 - "$PORT_MIN" "$PORT_MAX" <<'PY'
import random
import socket
import sys

lo, hi = int(sys.argv[1]), int(sys.argv[2])
rng = random.SystemRandom()
for _ in range(500):
    port = rng.randint(lo, hi)
    ok = True
    for host in ("127.0.0.1", "0.0.0.0"):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((host, port))
        except OSError:
            ok = False
        finally:
            s.close()
        if not ok:
            break
    if ok:
        print(port)
        sys.exit(0)
sys.exit("no free port found")
PY
}

# ------------------------------------------------------------------ helpers

abspath() {
    local d=$1
    mkdir -p -- "$d"
    (cd -- "$d" && pwd -P)
}

# True when pid $1 exists and is not a zombie (an exited daemon stays a
# zombie until init reaps it, which some container inits do lazily).
pid_alive() {
    local pid=$1 stat
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    if [[ -r /proc/$pid/stat ]]; then
        stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
        stat=${stat##*) }
        [[ ${stat:0:1} != [ZX] ]] || return 1
    fi
    return 0
}

# True when pid $1 is alive and its command name starts with $2.
pid_is() {
    local pid=$1 name=$2 comm
    pid_alive "$pid" || return 1
    comm=$(cat "/proc/$pid/comm" 2>/dev/null || true)
    [[ -z $comm || $comm == "$name"* ]]
}

wait_pid_gone() {
    local pid=$1 secs=$2 i
    for ((i = 0; i < secs * 10; i++)); do
        pid_alive "$pid" || return 0
        sleep 0.1
    done
    return 1
}

# Load DIR/env into local shell variables (without trusting it to exist).
load_env() {
    local dir=$1
    if [[ -r $dir/env ]]; then
        # shellcheck disable=SC1091
        source "$dir/env"
    fi
}

# ---------------------------------------------------------------- postgres

pg_running() {
    [[ -n ${PG_DATA:-} && -n ${PG_BIN:-} && -f $PG_DATA/postmaster.pid ]] || return 1
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1
}

start_pg() {
    local dir=$1
    PG_BIN=$(find_pg_bin) || die "no PostgreSQL binaries found"

    # The pg root holds the data dir, the socket dir and the server log; it
    # must be reachable by the postgres user. Prefer DIR itself; if postgres
    # can't traverse DIR (e.g. it is under /root), or the socket path would be
    # too long, use a private dir under /tmp and remember it in DIR/env.
    PG_ROOT=$dir
    PG_EXTERNAL_ROOT=
    if is_root; then
        chmod a+rx -- "$dir" # DIR is ours; mktemp -d makes it 0700
        if ! as_pg test -x "$dir" 2>/dev/null; then
            PG_ROOT=
        fi
    fi
    # sun_path is 108 bytes: "<sockdir>/.s.PGSQL.NNNNN" must fit.
    if [[ -n $PG_ROOT && ${#PG_ROOT} -gt 70 ]]; then
        PG_ROOT=
    fi
    if [[ -z $PG_ROOT ]]; then
        PG_ROOT=$(mktemp -d /tmp/referral-pg.XXXXXX)
        chmod 755 -- "$PG_ROOT"
        PG_EXTERNAL_ROOT=$PG_ROOT
        log "postgres cannot use $dir directly; its files live in $PG_ROOT"
    fi
    PG_DATA=$PG_ROOT/pg
    PG_SOCKET_DIR=$PG_ROOT/pgrun
    PG_LOG=$PG_SOCKET_DIR/postgres.log

    mkdir -p -- "$PG_DATA" "$PG_SOCKET_DIR"
    if is_root; then
        chown postgres: -- "$PG_DATA" "$PG_SOCKET_DIR"
    fi
    chmod 700 -- "$PG_DATA"
    chmod 755 -- "$PG_SOCKET_DIR"

    if [[ ! -s $PG_DATA/PG_VERSION ]]; then
        log "initdb $PG_DATA"
        as_pg "$PG_BIN/initdb" -D "$PG_DATA" --auth=trust -U "$DB_USER" -E UTF8 \
            --locale=C --no-sync >"$PG_ROOT/initdb.log" 2>&1 || {
            cat "$PG_ROOT/initdb.log" >&2
            die "initdb failed"
        }
        printf "\ninclude_if_exists = 'referral_services.conf'\n" |
            as_pg tee -a "$PG_DATA/postgresql.conf" >/dev/null
    fi

    local attempt
    for ((attempt = 1; attempt <= START_ATTEMPTS; attempt++)); do
        PG_PORT=$(free_port)
        as_pg tee "$PG_DATA/referral_services.conf" >/dev/null <<EOF
# written by scripts/services.sh at every start
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_SOCKET_DIR'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
logging_collector = off
EOF
        if as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t "$READY_TIMEOUT" \
            start >/dev/null 2>&1; then
            break
        fi
        log "postgres did not start on port $PG_PORT (attempt $attempt); log tail:"
        tail -n 5 "$PG_LOG" >&2 2>/dev/null || true
        # A half-started server must not survive into the next attempt.
        as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w stop >/dev/null 2>&1 || true
        PG_PORT=
    done
    [[ -n ${PG_PORT:-} ]] || die "postgres failed to start; see $PG_LOG"

    local i
    for ((i = 0; i < READY_TIMEOUT * 10; i++)); do
        if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U "$DB_USER" -t 2; then
            break
        fi
        sleep 0.1
    done
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U "$DB_USER" -t 2 ||
        die "postgres on port $PG_PORT is not ready after ${READY_TIMEOUT}s; see $PG_LOG"

    local exists
    exists=$("$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$PG_PORT" -U "$DB_USER" -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")
    if [[ $exists != 1 ]]; then
        "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U "$DB_USER" "$DB_NAME"
    fi
}

stop_pg() {
    [[ -n ${PG_DATA:-} && -d $PG_DATA ]] || return 0
    [[ -f $PG_DATA/postmaster.pid ]] || return 0
    local pid
    pid=$(head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null || true)
    if [[ -n ${PG_BIN:-} && -x $PG_BIN/pg_ctl ]]; then
        as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null 2>&1 || true
    fi
    # Fallback: the postmaster's own pid, if it is still there.
    if pid_is "$pid" postgres; then
        log "pg_ctl stop did not stop postgres (pid $pid); sending SIGQUIT"
        kill -QUIT "$pid" 2>/dev/null || true
        if ! wait_pid_gone "$pid" 10; then
            kill -KILL "$pid" 2>/dev/null || true
            wait_pid_gone "$pid" 5 || true
        fi
    fi
}

# ------------------------------------------------------------------- redis

start_redis() {
    local dir=$1 attempt i pid
    REDIS_PIDFILE=$dir/redis.pid
    for ((attempt = 1; attempt <= START_ATTEMPTS; attempt++)); do
        REDIS_PORT=$(free_port)
        rm -f -- "$REDIS_PIDFILE"
        redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes \
            --pidfile "$REDIS_PIDFILE" --dir "$dir" --save '' --appendonly no \
            --logfile "$dir/redis.log" >/dev/null 2>&1 || true
        for ((i = 0; i < READY_TIMEOUT * 10; i++)); do
            if [[ $(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]; then
                # Make sure the one answering is ours (pidfile written by it).
                pid=$(cat "$REDIS_PIDFILE" 2>/dev/null || true)
                if pid_is "$pid" redis; then
                    return 0
                fi
            fi
            # Daemonized child died (e.g. port taken meanwhile): try again.
            if ((i > 20)) && ! pid_is "$(cat "$REDIS_PIDFILE" 2>/dev/null || true)" redis; then
                break
            fi
            sleep 0.1
        done
        log "redis did not start on port $REDIS_PORT (attempt $attempt); log tail:"
        tail -n 5 "$dir/redis.log" >&2 2>/dev/null || true
        stop_redis
    done
    die "redis failed to start; see $dir/redis.log"
}

stop_redis() {
    local pid=
    if [[ -n ${REDIS_PIDFILE:-} && -f $REDIS_PIDFILE ]]; then
        pid=$(cat "$REDIS_PIDFILE" 2>/dev/null || true)
    fi
    if [[ -n ${REDIS_PORT:-} ]] && pid_is "$pid" redis; then
        timeout 10 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
        wait_pid_gone "$pid" 10 || true
    fi
    if pid_is "$pid" redis; then
        kill -TERM "$pid" 2>/dev/null || true
        if ! wait_pid_gone "$pid" 10; then
            kill -KILL "$pid" 2>/dev/null || true
            wait_pid_gone "$pid" 5 || true
        fi
    fi
    if [[ -n ${REDIS_PIDFILE:-} ]]; then
        rm -f -- "$REDIS_PIDFILE"
    fi
}

# -------------------------------------------------------------------- env

write_env() {
    local dir=$1 tmp
    DATABASE_URL=postgres://$DB_USER@127.0.0.1:$PG_PORT/$DB_NAME
    REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0
    tmp=$(mktemp "$dir/env.XXXXXX")
    {
        echo "# written by scripts/services.sh; load with: source $dir/env"
        printf 'export DATABASE_URL=%q\n' "$DATABASE_URL"
        printf 'export REDIS_URL=%q\n' "$REDIS_URL"
        printf 'export PG_BIN=%q\n' "$PG_BIN"
        printf 'export PG_DATA=%q\n' "$PG_DATA"
        printf 'export PG_PORT=%q\n' "$PG_PORT"
        printf 'export PG_SOCKET_DIR=%q\n' "$PG_SOCKET_DIR"
        printf 'export REDIS_PORT=%q\n' "$REDIS_PORT"
        printf 'export REDIS_PIDFILE=%q\n' "$REDIS_PIDFILE"
        # Set only when the pg files live outside DIR; `stop` removes it.
        printf 'export PG_EXTERNAL_ROOT=%q\n' "$PG_EXTERNAL_ROOT"
    } >"$tmp"
    chmod 644 -- "$tmp"
    mv -f -- "$tmp" "$dir/env"
}

print_urls() {
    printf 'export DATABASE_URL=%q\n' "$DATABASE_URL"
    printf 'export REDIS_URL=%q\n' "$REDIS_URL"
}

# --------------------------------------------------------------- commands

cmd_start() {
    local dir
    dir=$(abspath "$1")

    ensure_packages
    ensure_pg_user

    # Already up from an earlier start on the same DIR? Then just report it.
    if [[ -r $dir/env ]]; then
        (
            load_env "$dir"
            pg_running &&
                [[ $(redis-cli -h 127.0.0.1 -p "${REDIS_PORT:-0}" ping 2>/dev/null) == PONG ]]
        ) && {
            log "services in $dir are already running"
            load_env "$dir"
            print_urls
            return 0
        }
        # Stale or half-running: clean up what is there before starting anew.
        cmd_stop "$dir"
    fi

    # Whatever goes wrong from here on, don't leave processes behind.
    PG_DATA='' PG_EXTERNAL_ROOT='' REDIS_PORT='' REDIS_PIDFILE=''
    trap 'rc=$?; if ((rc != 0)); then log "start failed; stopping what was started"; stop_redis; stop_pg; fi' EXIT

    start_pg "$dir"
    start_redis "$dir"
    write_env "$dir"
    trap - EXIT

    log "postgres $PG_PORT (data $PG_DATA), redis $REDIS_PORT; load with: source $dir/env"
    print_urls
}

cmd_stop() {
    local dir=$1
    [[ -d $dir ]] || return 0
    dir=$(cd -- "$dir" && pwd -P)
    (
        # Defaults for a DIR whose env file was never written.
        PG_DATA=$dir/pg
        PG_BIN=$(find_pg_bin 2>/dev/null || true)
        PG_EXTERNAL_ROOT=
        REDIS_PORT=
        REDIS_PIDFILE=$dir/redis.pid
        load_env "$dir" || true
        set +e
        stop_redis
        stop_pg
        if [[ -n $PG_EXTERNAL_ROOT && $PG_EXTERNAL_ROOT == /tmp/referral-pg.* ]]; then
            rm -rf -- "$PG_EXTERNAL_ROOT"
        fi
        exit 0
    ) || true
    log "stopped services in $dir"
}

main() {
    (($# == 2)) || usage
    local cmd=$1 dir=$2
    [[ -n $dir ]] || usage
    case $cmd in
        start) cmd_start "$dir" ;;
        stop) cmd_stop "$dir" ;;
        env)
            [[ -r $dir/env ]] || die "$dir/env not found; run: $0 start $dir"
            cat "$dir/env"
            ;;
        *) usage ;;
    esac
}

# scripts/topologies.sh sources this file for its helpers.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    main "$@"
fi
