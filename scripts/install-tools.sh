#!/usr/bin/env bash
# Installs command-line tools that some checks need, from Debian packages, when missing.
#
#   scripts/install-tools.sh compose    # a Compose implementation that validates
#                                       # docker-compose.yml without a Docker engine
#   scripts/install-tools.sh podman     # podman, to build the image without a Docker engine
#   scripts/install-tools.sh mmdebstrap # mmdebstrap, to build a stand-in base image from
#                                       # Debian packages when no registry is reachable
#
# `compose` is satisfied by the Compose v2 plugin (`docker compose`) when present; otherwise
# Debian's `docker-compose` (Compose v1.29, Python) is installed without its recommended
# Docker engine: `docker-compose config` parses, validates and resolves a compose file
# without talking to an engine. Root only (apt-get); prints the command to use on stdout.
set -euo pipefail

log() { printf 'install-tools: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

usage() {
    echo "usage: $0 compose|podman|mmdebstrap" >&2
    exit 2
}

is_root() { [[ ${EUID:-$(id -u)} -eq 0 ]]; }

# apt-get install "$@", serialized with other runs (services.sh takes the same lock).
apt_install() {
    is_root || die "missing $*; install them (apt-get install -y $*) or run as root"
    command -v apt-get >/dev/null 2>&1 || die "missing $* and no apt-get to install them"
    local lock=/tmp/referral-services-apt.lock
    exec 9>"$lock"
    flock -w 900 9 || die "timed out waiting for $lock"
    log "installing $* with apt-get"
    {
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq &&
            DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
                --no-install-recommends "$@"
    } >&2 || die "apt-get install $* failed"
    flock -u 9
    exec 9>&-
}

compose_command() {
    if command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
        echo "docker compose"
        return 0
    fi
    if command -v docker-compose >/dev/null 2>&1; then
        echo "docker-compose"
        return 0
    fi
    return 1
}

cmd_compose() {
    if ! compose_command >/dev/null; then
        apt_install docker-compose
    fi
    compose_command || die "docker-compose still not found after install"
}

# A command named like its Debian package: installed when missing, its name printed.
cmd_package() {
    command -v "$1" >/dev/null 2>&1 || apt_install "$1"
    command -v "$1" >/dev/null 2>&1 || die "$1 still not found after install"
    echo "$1"
}

main() {
    (($# == 1)) || usage
    case $1 in
        compose) cmd_compose ;;
        podman | mmdebstrap) cmd_package "$1" ;;
        *) usage ;;
    esac
}

main "$@"
