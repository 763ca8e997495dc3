#!/usr/bin/env bash
# The production image (Dockerfile), built and run.
#
#   scripts/image.sh build   # docker build where a Docker engine answers, else podman build
#   scripts/image.sh test    # start the built image on PostgreSQL + Redis, check it, stop it
#
# build: without a Docker engine, podman builds with chroot isolation (no container runtime
# needed). Its base image comes from scripts/base-image.sh: pulled, or a stand-in built from
# Debian packages where no registry is reachable. The host's CA bundle is mounted over the
# image's own for the build only, so PyPI is reachable through a host's custom CA while the
# image keeps Debian's bundle.
#
# test: the image's contents (user, no compiler, no caches, size on disk under MAX_IMAGE_MB),
# then the image started as its entry point and command on the loopback PostgreSQL and Redis named by
# DATABASE_URL and REDIS_URL (its own, from scripts/services.sh, when they are unset). Where the
# runtime can start containers that is `run --network host`; where it cannot (no rlimits for
# the OCI runtime, as in some sandboxes), the image's root filesystem runs under chroot as the
# image's user, with the image's environment and working directory, in private mount and PID
# namespaces (the root file system stays read-only, /tmp is a tmpfs). Then: the image's own
# HEALTHCHECK command passes, the Postman collection passes (newman), the Twilio provider sends
# to a local stand-in for Twilio's API, and the entry point's `check --deploy` refuses an unsafe
# environment. Everything started is stopped on exit.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

IMAGE=${IMAGE:-referral-api:latest}
# Size limit, in MB: the image unpacked on disk, as `docker images` reports it (the base is 124 MB
# of it). The compressed size, what a registry stores and a host pulls, is reported beside it.
MAX_IMAGE_MB=${MAX_IMAGE_MB:-250}
HOST_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
# Shared with tests/e2e/test_newman.py: `npm ci` empties node_modules first.
NPM_LOCK=/tmp/referral-postman-npm.lock

log() { printf '== image: %s\n' "$*" >&2; }
die() {
    printf 'image: error: %s\n' "$*" >&2
    exit 1
}

usage() {
    echo "usage: $0 build|test" >&2
    exit 2
}

# docker where an engine answers (`docker info`), else podman (installed when missing).
engine() {
    if command -v docker >/dev/null 2>&1 && timeout 20 docker info >/dev/null 2>&1; then
        echo docker
    else
        bash scripts/install-tools.sh podman
    fi
}

# ------------------------------------------------------------------------------------ build

cmd_build() {
    local engine started
    engine=$(engine)
    started=$(date +%s)
    if [[ $engine == docker ]]; then
        docker build --tag "$IMAGE" .
    else
        # The first FROM names the base; the later ones name the Dockerfile's own stages.
        bash scripts/base-image.sh "$(awk 'toupper($1) == "FROM" { print $2; exit }' Dockerfile)"
        local ca=()
        [[ -r $HOST_CA_BUNDLE ]] && ca=(--volume "$HOST_CA_BUNDLE:$HOST_CA_BUNDLE:ro")
        # The docker format keeps HEALTHCHECK (OCI image configs have no such field).
        podman build --isolation chroot --format docker --layers --pull=missing \
            "${ca[@]}" --tag "$IMAGE" .
    fi
    log "built $IMAGE with $engine in $(($(date +%s) - started)) s, $(image_mb "$engine") MB"
}

image_mb() {
    local bytes
    bytes=$("$1" image inspect --format '{{.Size}}' "$IMAGE")
    echo $((bytes / 1000000))
}

# ------------------------------------------------------------------------------------- test

work=
services_dir=
root=
server_pid=
engine_name=

cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    set +e
    stop_server
    if [[ -n $root ]]; then
        podman image unmount "$IMAGE" >/dev/null
    fi
    if [[ -n $services_dir ]]; then
        bash scripts/services.sh stop "$services_dir" >/dev/null
        rm -rf -- "$services_dir"
    fi
    if [[ -n $work ]]; then
        rm -rf -- "$work"
    fi
    exit "$rc"
}

# One field of the image's configuration, as JSON.
config() {
    "$engine_name" image inspect --format "{{json .Config.$1}}" "$IMAGE"
}

# A JSON list of strings (or null) as NUL-separated words, for `mapfile -d ''`.
json_words() {
    python3 -c 'import json, sys
for word in json.loads(sys.stdin.read()) or []:
    sys.stdout.write(word + "\0")'
}

can_run_containers() {
    [[ $engine_name == docker ]] && return 0
    timeout 120 podman run --rm --network host --entrypoint /bin/true "$IMAGE" >/dev/null 2>&1
}

# in_image [--timeout S] ENV_FILE COMMAND...: COMMAND in the image as its user and working
# directory, with the image's environment plus the NAME=value lines of ENV_FILE; in the
# foreground, stopped after S seconds if given.
in_image() {
    local limit=()
    if [[ $1 == --timeout ]]; then
        limit=(timeout --kill-after=10 "$2")
        shift 2
    fi
    local env_file=$1
    shift
    local env=()
    mapfile -t env <"$env_file"
    if [[ -n $root ]]; then
        # --kill-child: when unshare ends, so does everything in the PID namespace. The inner
        # script expands its own arguments, hence single quotes.
        # shellcheck disable=SC2016
        "${limit[@]}" unshare --mount --pid --fork --kill-child --mount-proc="$root/proc" -- \
            bash -c 'set -e; root=$1; shift
                mount --rbind /dev "$root/dev"
                mount -t tmpfs -o mode=1777,size=256m tmpfs "$root/tmp"
                exec chroot --userspec="$USER_SPEC" --groups="${USER_SPEC#*:}" "$root" "$@"' \
            _ "$root" /usr/bin/env -i -C "$WORKDIR" "${IMAGE_ENV[@]}" "${env[@]}" "$@"
    else
        local flags=()
        for line in "${env[@]}"; do flags+=(--env "$line"); done
        "${limit[@]}" "$engine_name" run --rm --network host "${flags[@]}" \
            --entrypoint "$1" "$IMAGE" "${@:2}"
    fi
}

start_server() {
    local env_file=$1 log_file=$2
    shift 2
    in_image "$env_file" "$@" >"$log_file" 2>&1 &
    server_pid=$!
}

stop_server() {
    [[ -n $server_pid ]] || return 0
    if kill -0 "$server_pid" 2>/dev/null; then
        # As `docker stop`: TERM to the container's first process, KILL after a grace period.
        # Under chroot that is the PID namespace's init, the child of unshare (the child of
        # this script's background subshell); `podman run` passes the signal on itself.
        local child target
        child=$(ps -o pid= --ppid "$server_pid" | head -1 | tr -d ' ')
        target=$child
        if [[ -n $child && $(ps -o comm= -p "$child") == unshare ]]; then
            target=$(ps -o pid= --ppid "$child" | head -1 | tr -d ' ')
        fi
        kill -TERM "${target:-$server_pid}" 2>/dev/null || true
        for _ in $(seq 1 40); do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.5
        done
        if [[ -n $child ]]; then
            kill -KILL "$child" 2>/dev/null || true
        fi
        kill -KILL "$server_pid" 2>/dev/null || true
    fi
    wait "$server_pid" 2>/dev/null || true
    server_pid=
}

free_port() {
    python3 -c 'import random, socket
for _ in range(100):
    port = random.randint(20000, 32000)
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        print(port)
        break'
}

random_key() { python3 -c "import secrets; print(secrets.token_urlsafe($1))"; }

check_contents() {
    local user size packed
    user=$(config User | tr -d '"')
    [[ -n $user && ${user%%:*} != 0 && ${user%%:*} != root ]] || die "the image runs as root"
    size=$(image_mb "$engine_name")
    # What a registry stores and a host pulls: the layers gzip-compressed. gzip -1 compresses
    # less than a registry push does, so this is an upper bound (and 3 times faster).
    packed=$(("$("$engine_name" save "$IMAGE" | gzip -1 -c | wc -c)" / 1000000))
    log "size $size MB on disk (limit $MAX_IMAGE_MB MB), $packed MB compressed; user $user"
    ((size < MAX_IMAGE_MB)) || die "the image is $size MB on disk, over $MAX_IMAGE_MB MB"
    [[ -n $root ]] || return 0
    local found
    found=$(cd "$root" && find usr/bin usr/local/bin -maxdepth 1 \
        \( -name gcc -o -name 'gcc-*' -o -name cc -o -name c++ -o -name g++ -o -name clang \
        -o -name ld -o -name make \) -print)
    [[ -z $found ]] || die "a compiler or build tool is left in the image: $found"
    found=$(cd "$root" && find . -xdev \( -name .cache -o -path ./root/.cache \
        -o -path ./tmp/uv-cache -o -name pip-cache \) -print 2>/dev/null | head -5)
    [[ -z $found ]] || die "a cache is left in the image: $found"
    log "no compiler, no pip or uv cache"
    # The host's own CA certificates (its TLS proxy's) are mounted for the build only: none may
    # be left in the image's bundle. Bundles wrap base64 at 64 columns, so compare unwrapped.
    local cert body bundle
    bundle=$(tr -d '\n' <"$root/etc/ssl/certs/ca-certificates.crt")
    for cert in /usr/local/share/ca-certificates/*.crt; do
        [[ -r $cert ]] || continue
        body=$(grep -v -- '-----' "$cert" | tr -d '\n\r')
        [[ $bundle != *"$body"* ]] || die "the host's CA certificate $cert is baked into the image"
    done
    log "no host CA certificate in the image's bundle"
}

cmd_test() {
    engine_name=$(engine)
    "$engine_name" image exists "$IMAGE" 2>/dev/null || "$engine_name" image inspect "$IMAGE" >/dev/null ||
        die "$IMAGE is not built: run make image"
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
    work=$(mktemp -d /tmp/referral-image-test.XXXXXX)
    chmod 755 "$work"

    if [[ -z ${DATABASE_URL:-} || -z ${REDIS_URL:-} ]]; then
        services_dir=$(mktemp -d /tmp/referral-image-services.XXXXXX)
        bash scripts/services.sh start "$services_dir" >&2
        # shellcheck disable=SC1091
        source "$services_dir/env"
    fi

    if can_run_containers; then
        log "starting containers with $engine_name run --network host"
    else
        log "the runtime cannot start containers: running the image's root filesystem under chroot"
        root=$(podman image mount "$IMAGE")
    fi
    mapfile -d '' -t IMAGE_ENV < <(config Env | json_words)
    USER_SPEC=$(config User | tr -d '"')
    [[ $USER_SPEC == *:* ]] || USER_SPEC=$USER_SPEC:$USER_SPEC
    WORKDIR=$(config WorkingDir | tr -d '"')
    export USER_SPEC
    local entrypoint=() command=() healthcheck=()
    mapfile -d '' -t entrypoint < <(config Entrypoint | json_words)
    mapfile -d '' -t command < <(config Cmd | json_words)
    mapfile -d '' -t healthcheck < <(config Healthcheck.Test | json_words)
    [[ ${healthcheck[0]:-} == CMD ]] || die "no HEALTHCHECK CMD in the image"
    healthcheck=("${healthcheck[@]:1}")

    check_contents

    # A production environment on the test run's services. Redis database 2 keeps the
    # server's keys apart from the unit tests' (0) and the live tests' (1).
    local port
    port=$(free_port)
    cat >"$work/env" <<EOF
HOME=$WORKDIR
DATABASE_URL=$DATABASE_URL
REDIS_URL=${REDIS_URL%/*}/2
DJANGO_SECRET_KEY=$(random_key 50)
JWT_SIGNING_KEY=$(random_key 32)
DJANGO_DEBUG=false
DJANGO_ALLOWED_HOSTS=127.0.0.1,localhost
HOST=127.0.0.1
PORT=$port
GUNICORN_WORKERS=2
GUNICORN_THREADS=16
SMS_DELAY_MIN_SECONDS=0.05
SMS_DELAY_MAX_SECONDS=0.1
OTP_SENDS_PER_IP_PER_HOUR=10000
EOF

    # The entry point checks and migrates in that safe environment; only the command it then
    # runs exposes the codes, which the collection reads in place of an SMS.
    log "starting ${entrypoint[*]} ${command[*]} on 127.0.0.1:$port"
    start_server "$work/env" "$work/server.log" \
        "${entrypoint[@]}" env OTP_EXPOSE_CODE=true "${command[@]}"
    local deadline=$((SECONDS + 180))
    until in_image --timeout 10 "$work/env" "${healthcheck[@]}" >/dev/null 2>&1; do
        if ! kill -0 "$server_pid" 2>/dev/null || ((SECONDS > deadline)); then
            cat "$work/server.log" >&2
            die "the image's HEALTHCHECK did not pass"
        fi
        sleep 1
    done
    log "HEALTHCHECK passes after $((SECONDS + 180 - deadline)) s"

    local phone
    phone=+7999$(python3 -c 'import secrets; print(f"{secrets.randbelow(10**7):07d}")')
    in_image --timeout 120 "$work/env" python manage.py createsuperuser --noinput --phone "$phone" >&2
    run_newman "http://127.0.0.1:$port" "$phone"
    stop_server
    log "stopped; server log tail:"
    tail -5 "$work/server.log" >&2

    sends_through_twilio "$work/env"
    refuses "$work/env" "users.E005" DJANGO_DEBUG=true
    refuses "$work/env" "users.E003" DJANGO_SECRET_KEY=short
    log "passed"
}

# refuses ENV_FILE CHECK_ID NAME=value: the entry point with one unsafe variable exits non-zero
# and names the check.
refuses() {
    local env_file=$1 id=$2 setting=$3 rc=0
    grep -v "^${setting%%=*}=" "$env_file" >"$work/unsafe.env"
    echo "$setting" >>"$work/unsafe.env"
    in_image --timeout 180 "$work/unsafe.env" "${entrypoint[@]}" "${command[@]}" \
        >"$work/unsafe.log" 2>&1 || rc=$?
    if ((rc == 0 || rc == 124)) || ! grep -q "$id" "$work/unsafe.log"; then
        cat "$work/unsafe.log" >&2
        die "the entry point did not refuse $setting (exit $rc)"
    fi
    log "$setting: the entry point exits $rc ($id)"
}

# sends_through_twilio ENV_FILE: the Twilio provider sends one message from the image to a
# local server answering as Twilio's Messages API does. The image leaves out twilio's asyncio
# dependencies (aiohttp and its own), so this proves the synchronous client needs none of them.
sends_through_twilio() {
    local port twilio_pid rc=0
    port=$(free_port)
    cat >"$work/twilio.py" <<'EOF'
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

class Twilio(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        with open(sys.argv[2], "a") as record:
            record.write(f"{self.path} {body}\n")
        answer = json.dumps({"sid": "SM" + "0" * 32, "status": "queued"}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass

HTTPServer(("127.0.0.1", int(sys.argv[1])), Twilio).serve_forever()
EOF
    python3 "$work/twilio.py" "$port" "$work/twilio.log" &
    twilio_pid=$!
    cp "$1" "$work/twilio.env"
    cat >>"$work/twilio.env" <<EOF
TWILIO_ACCOUNT_SID=AC$(printf '0%.0s' {1..32})
TWILIO_AUTH_TOKEN=$(random_key 16)
TWILIO_FROM=+15005550006
TWILIO_API_BASE_URL=http://127.0.0.1:$port
EOF
    sleep 1
    in_image --timeout 120 "$work/twilio.env" python manage.py shell -c \
        "from users.sms import SmsMessage; from users.sms_providers import TwilioBackend; TwilioBackend().send(SmsMessage(phone='+79990000000', text='image test'))" \
        >"$work/twilio.out" 2>&1 || rc=$?
    kill "$twilio_pid" 2>/dev/null || true
    wait "$twilio_pid" 2>/dev/null || true
    if ((rc != 0)) || ! grep -q '/Messages.json .*To=%2B79990000000' "$work/twilio.log" 2>/dev/null; then
        cat "$work/twilio.out" >&2
        die "the Twilio provider did not send from the image (exit $rc)"
    fi
    log "the Twilio provider sends from the image"
}

# newman at the version pinned in postman/package-lock.json, installed by `npm ci` if needed.
run_newman() {
    local url=$1 phone=$2 newman=postman/node_modules/.bin/newman
    (
        flock -w 900 9 || die "timed out waiting for $NPM_LOCK"
        local pinned installed=
        pinned=$(python3 -c 'import json; print(json.load(open("postman/package.json"))["devDependencies"]["newman"])')
        [[ -r postman/node_modules/newman/package.json ]] &&
            installed=$(python3 -c 'import json; print(json.load(open("postman/node_modules/newman/package.json"))["version"])')
        if [[ $installed != "$pinned" ]]; then
            command -v npm >/dev/null 2>&1 || die "npm is needed to install newman (apt-get install -y npm)"
            npm ci --prefix postman --no-audit --no-fund >&2
        fi
    ) 9>"$NPM_LOCK"
    log "newman against $url"
    NO_COLOR=1 "$newman" run postman/referral_api.postman_collection.json \
        --environment postman/local.postman_environment.json \
        --env-var "baseUrl=$url" --env-var "staffPhone=$phone" \
        --color off --timeout-request 20000 --reporters cli >"$work/newman.log" 2>&1 || {
        cat "$work/newman.log" >&2
        die "the Postman collection failed against the image"
    }
    tail -25 "$work/newman.log" >&2
}

main() {
    (($# == 1)) || usage
    case $1 in
        build) cmd_build ;;
        test) cmd_test ;;
        *) usage ;;
    esac
}

main "$@"
