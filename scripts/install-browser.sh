#!/usr/bin/env bash
# Debian's headless-capable Chromium for the browser e2e tests (tests/e2e/test_browser.py).
#
#   scripts/install-browser.sh      # idempotent: does nothing when `chromium` is on PATH
#
# Playwright's own browser download is not used (it needs a CDN the test hosts cannot reach);
# the tests drive /usr/bin/chromium through Playwright's `executable_path` instead.
# Installing needs root and apt-get.
set -euo pipefail

log() { printf 'install-browser: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

if command -v chromium >/dev/null 2>&1; then
    exit 0
fi

[[ ${EUID:-$(id -u)} -eq 0 ]] || die "chromium is missing; install it (apt-get install -y chromium) or run as root"
command -v apt-get >/dev/null 2>&1 || die "chromium is missing and there is no apt-get to install it"

# Serialize with other apt-get runs of this project (scripts/services.sh takes the same lock);
# re-check under the lock in case a parallel run installed it meanwhile.
lock=/tmp/referral-services-apt.lock
exec 9>"$lock"
flock -w 900 9 || die "timed out waiting for $lock"
if ! command -v chromium >/dev/null 2>&1; then
    log "installing chromium with apt-get"
    {
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq &&
            DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
                --no-install-recommends chromium fonts-dejavu-core
    } >&2 || die "apt-get install chromium failed"
fi
flock -u 9
exec 9>&-

command -v chromium >/dev/null 2>&1 || die "chromium still not found after install"
log "$(chromium --version 2>/dev/null || echo chromium installed)"
