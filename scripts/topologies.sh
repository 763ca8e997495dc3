#!/usr/bin/env bash
# Real topologies on loopback for the scaling tests (docs/scaling.md), started from Debian's own
# packages (installed with apt-get when missing, like scripts/services.sh does):
#
#   scripts/topologies.sh start sentinel DIR   # Redis: a primary, a replica, three sentinels
#   scripts/topologies.sh start cluster DIR    # Redis Cluster: three primaries, three replicas
#   scripts/topologies.sh start postgres DIR   # PgBouncer (transaction mode) and a streaming
#                                              # replica (pg_basebackup) of the PostgreSQL that
#                                              # scripts/services.sh started: source its env first
#   scripts/topologies.sh start pgbouncer DIR  # PgBouncer alone (make bench's --pgbouncer)
#   scripts/topologies.sh stop DIR             # stop what DIR holds (idempotent, never fails)
#   scripts/topologies.sh replica-stop DIR     # the replica tests take the replica away...
#   scripts/topologies.sh replica-start DIR    # ...and bring it back
#   scripts/topologies.sh test [NAME...]       # `make test-topologies`: start each topology
#                                              # (sentinel cluster postgres), run its tests,
#                                              # stop it, also on failure or interrupt
#
# Every port is picked free at run time. DIR/env exports what the application reads
# (REDIS_URL, REDIS_SENTINELS, REDIS_SENTINEL_MASTER, REDIS_CLUSTER, DATABASE_URL,
# DJANGO_DB_PGBOUNCER, DATABASE_REPLICA_URL) and what the tests need to act on the topology.
set -euo pipefail

HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
PROJECT=$(dirname -- "$HERE")
# shellcheck source=scripts/services.sh
source "$HERE/services.sh"

log() { printf 'topologies: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

SENTINEL_MASTER=referral
# Short failure detection so that a test's failover takes seconds (production keeps defaults
# or tunes them to its network: docs/scaling.md).
SENTINEL_DOWN_AFTER_MS=1000
CLUSTER_NODE_TIMEOUT_MS=1000

topologies_usage() {
    sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# ---------------------------------------------------------------- packages

ensure_topology_packages() {
    local pkgs=() lock=/tmp/referral-services-apt.lock
    command -v redis-sentinel >/dev/null 2>&1 || pkgs+=(redis-sentinel)
    pgbouncer_bin >/dev/null || pkgs+=(pgbouncer)
    have_redis || pkgs+=(redis-server redis-tools)
    ((${#pkgs[@]} == 0)) && return 0
    is_root || die "missing ${pkgs[*]}; install them (apt-get install -y ${pkgs[*]}) or run as root"
    exec 9>"$lock"
    flock -w 900 9 || die "timed out waiting for $lock"
    log "installing ${pkgs[*]} with apt-get"
    # Keep the packages' init scripts from starting their own pgbouncer / redis.
    local made_policy=0 rc=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        made_policy=1
    fi
    {
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq &&
            DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
                --no-install-recommends "${pkgs[@]}"
    } >&2 || rc=$?
    if ((made_policy)); then rm -f /usr/sbin/policy-rc.d; fi
    flock -u 9
    exec 9>&-
    ((rc == 0)) || die "apt-get install ${pkgs[*]} failed (exit $rc)"
}

# ------------------------------------------------------------------ helpers

pgbouncer_bin() { command -v pgbouncer 2>/dev/null || ls /usr/sbin/pgbouncer 2>/dev/null; }

# Print COUNT distinct ports that nothing listens on; with `bus`, port + 10000 is free too (a
# cluster node's bus port).
free_ports() {
    python3 - "$1" "${2:-}" <<'PY'
import random
import socket
import sys

count, bus = int(sys.argv[1]), sys.argv[2] == "bus"
lo, hi = (33000, 45000) if bus else (20000, 32000)


def free(port):
    for host in ("127.0.0.1", "0.0.0.0"):
        with socket.socket() as probe:
            try:
                probe.bind((host, port))
            except OSError:
                return False
    return True


rng, ports = random.SystemRandom(), []
for _ in range(5000):
    port = rng.randint(lo, hi)
    if port not in ports and free(port) and (not bus or free(port + 10000)):
        ports.append(port)
        if len(ports) == count:
            print(*ports)
            sys.exit(0)
sys.exit("no free ports found")
PY
}

# wait_until SECONDS WHAT COMMAND...: run COMMAND every 0.1 s until it succeeds.
wait_until() {
    local secs=$1 what=$2 i
    shift 2
    for ((i = 0; i < secs * 10; i++)); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    die "timed out after ${secs}s waiting for: $what"
}

redis_up() { [[ $(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null) == PONG ]]; }

# redis_info PORT SECTION FIELD
redis_info() {
    redis-cli -h 127.0.0.1 -p "$1" info "$2" 2>/dev/null | tr -d '\r' |
        awk -F: -v field="$3" '$1 == field { print $2 }'
}

# start_redis_node DIR NAME PORT [redis-server options...]: pidfile DIR/NAME.pid.
start_redis_node() {
    local dir=$1 name=$2 port=$3
    shift 3
    mkdir -p -- "$dir/$name"
    redis-server --port "$port" --bind 127.0.0.1 --daemonize yes --pidfile "$dir/$name.pid" \
        --dir "$dir/$name" --save '' --appendonly no --logfile "$dir/$name.log" "$@" \
        >/dev/null || die "redis-server $name did not start; see $dir/$name.log"
    wait_until 30 "redis $name on port $port" redis_up "$port"
}

write_topology_env() {
    local dir=$1 tmp
    shift
    tmp=$(mktemp "$dir/env.XXXXXX")
    {
        echo "# written by scripts/topologies.sh; load with: source $dir/env"
        local pair
        for pair in "$@"; do
            printf 'export %s=%q\n' "${pair%%=*}" "${pair#*=}"
        done
    } >"$tmp"
    chmod 644 -- "$tmp"
    mv -f -- "$tmp" "$dir/env"
}

# ------------------------------------------------------------------ sentinel

sentinel_ready() {
    local port=$1 replicas sentinels
    replicas=$(redis-cli -h 127.0.0.1 -p "$port" sentinel master "$SENTINEL_MASTER" |
        tr -d '\r' | awk 'previous == "num-slaves" { print } { previous = $0 }')
    sentinels=$(redis-cli -h 127.0.0.1 -p "$port" sentinel master "$SENTINEL_MASTER" |
        tr -d '\r' | awk 'previous == "num-other-sentinels" { print } { previous = $0 }')
    [[ $replicas == 1 && $sentinels == 2 ]]
}

replica_synced() { [[ $(redis_info "$1" replication master_link_status) == up ]]; }

start_sentinel() {
    local dir=$1 primary replica s1 s2 s3 port i
    read -r primary replica s1 s2 s3 < <(free_ports 5)
    start_redis_node "$dir" primary "$primary"
    start_redis_node "$dir" replica "$replica" --replicaof 127.0.0.1 "$primary"
    wait_until 30 "the replica to sync" replica_synced "$replica"
    i=0
    for port in "$s1" "$s2" "$s3"; do
        i=$((i + 1))
        mkdir -p -- "$dir/sentinel-$i"
        # Sentinel rewrites its file (what it learns of replicas, sentinels and failovers).
        cat >"$dir/sentinel-$i.conf" <<EOF
port $port
bind 127.0.0.1
daemonize yes
pidfile $dir/sentinel-$i.pid
logfile $dir/sentinel-$i.log
dir $dir/sentinel-$i
sentinel resolve-hostnames no
sentinel monitor $SENTINEL_MASTER 127.0.0.1 $primary 2
sentinel down-after-milliseconds $SENTINEL_MASTER $SENTINEL_DOWN_AFTER_MS
sentinel failover-timeout $SENTINEL_MASTER 10000
sentinel parallel-syncs $SENTINEL_MASTER 1
EOF
        redis-sentinel "$dir/sentinel-$i.conf" >/dev/null ||
            die "redis-sentinel $i did not start; see $dir/sentinel-$i.log"
        wait_until 30 "sentinel $i on port $port" redis_up "$port"
    done
    for port in "$s1" "$s2" "$s3"; do
        wait_until 60 "sentinel on $port to know the replica and the two other sentinels" \
            sentinel_ready "$port"
    done
    write_topology_env "$dir" TOPOLOGY=sentinel \
        "REDIS_URL=redis://$SENTINEL_MASTER/0" \
        "REDIS_SENTINELS=127.0.0.1:$s1,127.0.0.1:$s2,127.0.0.1:$s3" \
        "REDIS_SENTINEL_MASTER=$SENTINEL_MASTER" REDIS_CLUSTER=false
    log "sentinel: primary $primary, replica $replica, sentinels $s1 $s2 $s3"
}

# ------------------------------------------------------------------- cluster

cluster_info() {
    redis-cli -h 127.0.0.1 -p "$1" cluster info 2>/dev/null | tr -d '\r' |
        awk -F: -v field="$2" '$1 == field { print $2 }'
}

cluster_ok() {
    local port
    for port in "$@"; do
        [[ $(cluster_info "$port" cluster_state) == ok ]] || return 1
        [[ $(cluster_info "$port" cluster_known_nodes) == "$#" ]] || return 1
        if [[ $(redis_info "$port" replication role) == slave ]]; then
            replica_synced "$port" || return 1
        fi
    done
    redis-cli --cluster check "127.0.0.1:$1" 2>/dev/null | grep -q 'All 16384 slots covered'
}

start_cluster() {
    local dir=$1 ports port nodes=()
    read -r -a ports < <(free_ports 6 bus)
    for port in "${ports[@]}"; do
        start_redis_node "$dir" "node-$port" "$port" --cluster-enabled yes \
            --cluster-config-file "$dir/node-$port/nodes.conf" \
            --cluster-node-timeout "$CLUSTER_NODE_TIMEOUT_MS"
        nodes+=("127.0.0.1:$port")
    done
    redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes \
        >"$dir/cluster-create.log" 2>&1 || {
        cat "$dir/cluster-create.log" >&2
        die "redis-cli --cluster create failed"
    }
    wait_until 60 "the cluster to agree on its slots and sync its replicas" \
        cluster_ok "${ports[@]}"
    write_topology_env "$dir" TOPOLOGY=cluster "REDIS_URL=redis://127.0.0.1:${ports[0]}/0" \
        REDIS_CLUSTER=true REDIS_SENTINELS= REDIS_SENTINEL_MASTER=
    log "cluster: nodes ${ports[*]}"
}

# ------------------------------------------------------------------ postgres

pgbouncer_up() {
    "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$1" -U postgres -d pgbouncer -c 'SHOW VERSION'
}

replica_pg_ready() {
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$1" -U postgres -t 2 &&
        [[ $("$PG_BIN/psql" -X -At -h 127.0.0.1 -p "$1" -U postgres -d postgres \
            -c 'SELECT pg_is_in_recovery()') == t ]]
}

# postgres_root DIR: a folder the postgres user can reach for PgBouncer's and the replica's
# files (DIR itself when it can), remembered in DIR/postgres-root for `stop`.
postgres_root() {
    local dir=$1 root
    [[ -n ${PG_PORT:-} && -n ${PG_BIN:-} ]] ||
        die "start scripts/services.sh first and source its env (PG_PORT, PG_BIN)"
    root=$dir
    if is_root; then
        chmod a+rx -- "$dir"
        as_pg test -x "$dir" 2>/dev/null || root=
    fi
    if [[ -z $root || ${#root} -gt 70 ]]; then
        root=$(mktemp -d /tmp/referral-pg.XXXXXX)
        chmod 755 -- "$root"
    fi
    # Written first, so that `stop` finds PgBouncer and the replica even if the start fails.
    printf '%s\n' "$root" >"$dir/postgres-root"
    printf '%s\n' "$root"
}

# start_pgbouncer ROOT PORT: PgBouncer in transaction mode in front of the primary.
start_pgbouncer_in() {
    local root=$1 bouncer=$2
    mkdir -p -- "$root/pgbouncer"
    printf '"postgres" ""\n' >"$root/pgbouncer/userlist.txt"
    cat >"$root/pgbouncer/pgbouncer.ini" <<EOF
; written by scripts/topologies.sh
[databases]
* = host=127.0.0.1 port=$PG_PORT

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bouncer
unix_socket_dir =
auth_type = trust
auth_file = $root/pgbouncer/userlist.txt
admin_users = postgres
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 40
pidfile = $root/pgbouncer/pgbouncer.pid
logfile = $root/pgbouncer/pgbouncer.log
EOF
    if is_root; then chown -R postgres: -- "$root/pgbouncer"; fi
    as_pg "$(pgbouncer_bin)" -d -q "$root/pgbouncer/pgbouncer.ini" ||
        die "pgbouncer did not start; see $root/pgbouncer/pgbouncer.log"
    wait_until 30 "pgbouncer on port $bouncer" pgbouncer_up "$bouncer"
}

# start_replica_in ROOT PORT: a hot standby of the primary, copied with pg_basebackup.
start_replica_in() {
    local root=$1 replica=$2 data=$1/replica
    mkdir -p -- "$root/replica-run" "$data"
    chmod 700 -- "$data"
    if is_root; then chown -R postgres: -- "$root/replica-run" "$data"; fi
    as_pg "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$PG_PORT" -U postgres -D "$data" \
        --write-recovery-conf --wal-method=stream --checkpoint=fast >/dev/null ||
        die "pg_basebackup failed"
    # The copy carries the primary's port and socket settings: the replica gets its own.
    as_pg tee "$data/referral_services.conf" >/dev/null <<EOF
# written by scripts/topologies.sh: a hot standby of the primary on port $PG_PORT
listen_addresses = '127.0.0.1'
port = $replica
unix_socket_directories = '$root/replica-run'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
hot_standby = on
logging_collector = off
EOF
    as_pg "$PG_BIN/pg_ctl" -D "$data" -l "$root/replica-run/postgres.log" -w -t 60 start \
        >/dev/null || die "the replica did not start; see $root/replica-run/postgres.log"
    wait_until 60 "the replica on port $replica" replica_pg_ready "$replica"
}

start_pgbouncer() {
    local dir=$1 root bouncer
    root=$(postgres_root "$dir")
    read -r bouncer < <(free_ports 1)
    start_pgbouncer_in "$root" "$bouncer"
    write_topology_env "$dir" TOPOLOGY=pgbouncer \
        "DATABASE_URL=postgres://postgres@127.0.0.1:$bouncer/referral" \
        DJANGO_DB_PGBOUNCER=true "PGBOUNCER_PORT=$bouncer" "PG_BIN=$PG_BIN" \
        "PG_TOPOLOGY_ROOT=$root" "TOPOLOGY_DIR=$dir"
    log "pgbouncer: $bouncer -> primary $PG_PORT"
}

start_postgres() {
    local dir=$1 root bouncer replica data
    root=$(postgres_root "$dir")
    data=$root/replica
    read -r bouncer replica < <(free_ports 2)
    start_pgbouncer_in "$root" "$bouncer"
    start_replica_in "$root" "$replica"
    write_topology_env "$dir" TOPOLOGY=postgres \
        "DATABASE_URL=postgres://postgres@127.0.0.1:$bouncer/referral" \
        DJANGO_DB_PGBOUNCER=true \
        "DATABASE_REPLICA_URL=postgres://postgres@127.0.0.1:$replica/referral" \
        "PG_PRIMARY_URL=postgres://postgres@127.0.0.1:$PG_PORT/referral" \
        "PGBOUNCER_PORT=$bouncer" "PG_BIN=$PG_BIN" "PG_REPLICA_DATA=$data" \
        "PG_REPLICA_PORT=$replica" "PG_TOPOLOGY_ROOT=$root" "TOPOLOGY_DIR=$dir"
    log "postgres: pgbouncer $bouncer -> primary $PG_PORT, replica $replica ($data)"
}

cmd_replica() {
    local action=$1 dir=$2
    (
        load_env "$dir"
        [[ -n ${PG_REPLICA_DATA:-} ]] || die "no replica in $dir"
        case $action in
            stop) as_pg "$PG_BIN/pg_ctl" -D "$PG_REPLICA_DATA" -m fast -w -t 60 stop >/dev/null ;;
            start)
                as_pg "$PG_BIN/pg_ctl" -D "$PG_REPLICA_DATA" -l \
                    "$PG_TOPOLOGY_ROOT/replica-run/postgres.log" -w -t 60 start >/dev/null
                wait_until 60 "the replica on port $PG_REPLICA_PORT" replica_pg_ready \
                    "$PG_REPLICA_PORT"
                ;;
        esac
    )
}

# ---------------------------------------------------------------- start/stop

cmd_start_topology() {
    local name=$1 dir rc=0
    case $name in
        sentinel | cluster | pgbouncer | postgres) ;;
        *) topologies_usage ;;
    esac
    dir=$(abspath "$2")
    ensure_topology_packages
    [[ ! -e $dir/env ]] || cmd_stop_topology "$dir"
    # Whatever goes wrong from here on, don't leave processes behind. (A subshell, not a trap:
    # `test` keeps its own EXIT trap for interrupts.)
    set +e
    (
        set -e
        "start_$name" "$dir"
    )
    rc=$?
    set -e
    if ((rc != 0)); then
        log "starting $name failed; stopping what was started"
        cmd_stop_topology "$dir"
        exit "$rc"
    fi
}

cmd_stop_topology() {
    local dir=$1
    [[ -d $dir ]] || return 0
    dir=$(cd -- "$dir" && pwd -P)
    (
        set +e
        PG_REPLICA_DATA= PG_TOPOLOGY_ROOT=
        load_env "$dir"
        if [[ -f $dir/postgres-root ]]; then
            PG_TOPOLOGY_ROOT=$(cat "$dir/postgres-root")
            PG_REPLICA_DATA=$PG_TOPOLOGY_ROOT/replica
            PG_BIN=${PG_BIN:-$(find_pg_bin)}
        fi
        local pidfile pid
        for pidfile in "$dir"/*.pid ${PG_TOPOLOGY_ROOT:+"$PG_TOPOLOGY_ROOT"/pgbouncer/pgbouncer.pid}; do
            [[ -f $pidfile ]] || continue
            pid=$(cat "$pidfile" 2>/dev/null)
            if pid_is "$pid" redis || pid_is "$pid" pgbouncer; then
                kill -TERM "$pid" 2>/dev/null
                if ! wait_pid_gone "$pid" 10; then
                    kill -KILL "$pid" 2>/dev/null
                    wait_pid_gone "$pid" 5
                fi
            fi
            rm -f -- "$pidfile"
        done
        if [[ -n $PG_REPLICA_DATA && -f $PG_REPLICA_DATA/postmaster.pid ]]; then
            pid=$(head -n 1 "$PG_REPLICA_DATA/postmaster.pid")
            as_pg "$PG_BIN/pg_ctl" -D "$PG_REPLICA_DATA" -m fast -w -t 60 stop >/dev/null 2>&1
            if pid_is "$pid" postgres; then
                kill -KILL "$pid" 2>/dev/null
                wait_pid_gone "$pid" 5
            fi
        fi
        if [[ $PG_TOPOLOGY_ROOT == /tmp/referral-pg.* ]]; then
            rm -rf -- "$PG_TOPOLOGY_ROOT"
        fi
        rm -f -- "$dir/env" "$dir/postgres-root"
        exit 0
    ) || true
    log "stopped the topology in $dir"
}

# ---------------------------------------------------------------------- test

# The modules each topology runs. The whole suite runs on one Redis and one PostgreSQL
# (scripts/test.sh); these are the ones whose code the topology changes.
REDIS_LIMIT_TESTS=(
    tests/users/test_otp_request.py
    tests/users/test_otp_verify.py
    tests/users/test_otp_concurrency.py
    tests/users/test_sms_pumping.py
    tests/invites/test_activate_limits.py
    tests/scaling
)
# run_tests NAME ENV_DIR [pytest arguments...]: pytest with the topology's env, in a subshell.
run_tests() {
    local name=$1 envdir=$2
    shift 2
    log "== $name: pytest $*"
    (
        # shellcheck disable=SC1091
        source "$envdir/env"
        # The suites that run through PgBouncer know no replica: the replica's tests have theirs.
        if [[ $name == pgbouncer ]]; then unset DATABASE_REPLICA_URL; fi
        export TOPOLOGY=$name DJANGO_DEBUG=false
        cd -- "$PROJECT"
        # shellcheck disable=SC2086
        # `python -m` puts the project on sys.path, for the plugin.
        ${UV:-uv} run python -m pytest -q -p no:cacheprovider -p tests.topologies.plugin "$@"
    )
}

test_topology() {
    local name=$1 dir=$2
    cmd_start_topology "$name" "$dir"
    case $name in
        sentinel)
            run_tests sentinel "$dir" "${REDIS_LIMIT_TESTS[@]}" tests/topologies/test_sentinel.py
            ;;
        cluster)
            run_tests cluster "$dir" "${REDIS_LIMIT_TESTS[@]}" tests/invites/test_leaderboard.py \
                tests/invites/test_abuse_signals.py tests/topologies/test_cluster.py
            ;;
        postgres)
            run_tests pgbouncer "$dir" tests/invites/test_concurrency.py \
                tests/invites/test_abuse_signals.py tests/invites/test_activate.py \
                tests/api/test_auth_api.py tests/rewards/test_api.py \
                tests/topologies/test_pgbouncer.py &&
                run_tests replica "$dir" tests/topologies/test_replica.py
            ;;
    esac
}

# What `test` started, for its EXIT trap (globals: the trap runs after the function returned).
TEST_BASE=
TEST_OWN_SERVICES=
TEST_STARTED=()

cleanup_topologies() {
    local code=$? dir
    trap - EXIT INT TERM HUP
    for dir in "${TEST_STARTED[@]}"; do cmd_stop_topology "$dir"; done
    if [[ -n $TEST_OWN_SERVICES ]]; then bash "$HERE/services.sh" stop "$TEST_OWN_SERVICES"; fi
    if [[ -n $TEST_BASE ]]; then rm -rf -- "$TEST_BASE"; fi
    exit "$code"
}

cmd_test() {
    local names=("$@") base name rc=0 began
    ((${#names[@]} > 0)) || names=(sentinel cluster postgres)
    trap cleanup_topologies EXIT
    base=$(mktemp -d /tmp/referral-topologies.XXXXXX)
    TEST_BASE=$base
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
    # The Redis topologies' tests need a PostgreSQL, and the postgres topology is built on one:
    # the caller's (scripts/test.sh exports its services'), or our own.
    if [[ -z ${PG_PORT:-} || -z ${PG_BIN:-} || ${DATABASE_URL:-} != postgres* ]]; then
        TEST_OWN_SERVICES=$base/services
        bash "$HERE/services.sh" start "$TEST_OWN_SERVICES" >/dev/null
        load_env "$TEST_OWN_SERVICES"
        export DATABASE_URL PG_PORT PG_BIN
    fi
    for name in "${names[@]}"; do
        TEST_STARTED+=("$base/$name")
        began=$SECONDS
        test_topology "$name" "$base/$name" || rc=1
        cmd_stop_topology "$base/$name"
        log "$name: $((SECONDS - began)) s"
    done
    return "$rc"
}

topologies_main() {
    (($# >= 1)) || topologies_usage
    local cmd=$1
    shift
    case $cmd in
        start)
            (($# == 2)) || topologies_usage
            trap 'cmd_stop_topology "$2"; exit 130' INT TERM HUP
            cmd_start_topology "$1" "$2"
            trap - INT TERM HUP
            ;;
        stop)
            (($# == 1)) || topologies_usage
            cmd_stop_topology "$1"
            ;;
        replica-stop | replica-start)
            (($# == 1)) || topologies_usage
            cmd_replica "${cmd#replica-}" "$1"
            ;;
        test) cmd_test "$@" ;;
        *) topologies_usage ;;
    esac
}

topologies_main "$@"
