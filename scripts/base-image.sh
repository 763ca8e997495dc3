#!/usr/bin/env bash
# Makes the Dockerfile's base image available to podman:
#
#   scripts/base-image.sh [IMAGE]     # default: python:3.11-slim-bookworm
#
# 1. already in local storage (pulled or built by an earlier run): nothing to do;
# 2. pulled from Docker Hub when a registry is reachable;
# 3. otherwise a stand-in is built from Debian bookworm packages with mmdebstrap and tagged with
#    the base's full name (docker.io/library/...), so that `FROM python:3.11-slim-bookworm`
#    builds unchanged. It mirrors what the Dockerfile relies on in the official image:
#    `python`, `python3` and `pip` in /usr/local/bin, a pip that installs system-wide (no
#    EXTERNALLY-MANAGED marker), apt sources and CA certificates, apt that deletes the packages
#    it downloaded once installed (Debian's docker-clean), no compiler, no documentation.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

IMAGE=${1:-python:3.11-slim-bookworm}
FULL_NAME=docker.io/library/$IMAGE
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}

log() { printf 'base-image: %s\n' "$*" >&2; }

if podman image exists "$FULL_NAME"; then
    log "$FULL_NAME is in local storage"
    exit 0
fi

# A registry that does not answer must not hold the build up for long.
if timeout 60 podman pull --quiet "$FULL_NAME" >/dev/null 2>&1; then
    log "pulled $FULL_NAME"
    exit 0
fi

log "cannot pull $FULL_NAME: building a stand-in from Debian bookworm packages"
mmdebstrap=$(bash scripts/install-tools.sh mmdebstrap)
work=$(mktemp -d /tmp/referral-base-image.XXXXXX)
trap 'rm -rf -- "$work"' EXIT

# The hooks are expanded by mmdebstrap's shell ($1: the root file system), hence single quotes.
# shellcheck disable=SC2016
# The dpkg filters of Debian's -slim images: no manuals, documentation or translations.
# Recommends are off inside the image too, as in Debian's container images. The merged-usr hook
# lays out /usr as bookworm expects without the usrmerge package (which would pull in Perl).
"$mmdebstrap" \
    --quiet \
    --variant=apt \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --include=ca-certificates,netbase,tzdata,python3,python3-venv,python3-pip \
    --aptopt='APT::Install-Recommends "false"' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --customize-hook='rm -f "$1"/usr/lib/python3.11/EXTERNALLY-MANAGED' \
    --customize-hook='cp scripts/base-image-apt-clean.conf "$1"/etc/apt/apt.conf.d/docker-clean' \
    --customize-hook='for name in python python3 python3.11; do ln -sf /usr/bin/python3.11 "$1/usr/local/bin/$name"; done' \
    --customize-hook='for name in pip pip3 pip3.11; do ln -sf /usr/bin/pip3 "$1/usr/local/bin/$name"; done' \
    --customize-hook='find "$1"/usr/lib/python3* -name __pycache__ -prune -exec rm -rf {} +' \
    --customize-hook='rm -rf "$1"/root/.cache "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*' \
    bookworm "$work/rootfs.tar" \
    "deb $MIRROR bookworm main" \
    "deb $MIRROR bookworm-updates main" \
    "deb $SECURITY_MIRROR bookworm-security main"

# The official image's configuration, as far as the Dockerfile and its users can tell.
podman import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    --message "stand-in for $IMAGE built by scripts/base-image.sh from Debian bookworm packages" \
    "$work/rootfs.tar" "$FULL_NAME" >/dev/null
log "built and tagged $FULL_NAME ($(podman image inspect --format '{{.Size}}' "$FULL_NAME") bytes)"
