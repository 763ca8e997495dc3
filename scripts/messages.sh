#!/usr/bin/env bash
# Translation catalogs (English is the source language; Russian is locale/ru).
#
#   scripts/messages.sh compile   # .po → .mo where the .po is newer (make messages)
#   scripts/messages.sh extract   # update the .po files from the code and templates
#                                 # (make makemessages); then translate what is new
#
# The compiled .mo files are never committed: `make run`, `make serve`, `make test` and the
# Docker build compile them. gettext (msgfmt, xgettext, msgmerge) comes from Debian's `gettext`
# package, installed with apt-get when missing (root only), as scripts/services.sh installs its.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

UV=${UV:-uv}

log() { printf 'messages: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

usage() {
    echo "usage: $0 compile | extract" >&2
    exit 2
}

is_root() { [[ ${EUID:-$(id -u)} -eq 0 ]]; }

have_gettext() {
    command -v msgfmt >/dev/null 2>&1 && command -v xgettext >/dev/null 2>&1 &&
        command -v msgmerge >/dev/null 2>&1
}

ensure_gettext() {
    have_gettext && return 0
    is_root || die "gettext is missing; install it (apt-get install -y gettext) or run as root"
    command -v apt-get >/dev/null 2>&1 || die "gettext is missing and there is no apt-get"
    # Serialized with the other apt-get runs of this project (the same lock); re-checked under it.
    local lock=/tmp/referral-services-apt.lock
    exec 9>"$lock"
    flock -w 900 9 || die "timed out waiting for $lock"
    if ! have_gettext; then
        log "installing gettext with apt-get"
        {
            DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq &&
                DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
                    --no-install-recommends gettext
        } >&2 || die "apt-get install gettext failed"
    fi
    flock -u 9
    exec 9>&-
    have_gettext || die "gettext still not found after install"
}

cmd_compile() {
    ensure_gettext
    local po mo tmp
    for po in locale/*/LC_MESSAGES/*.po; do
        [[ -e $po ]] || continue
        mo=${po%.po}.mo
        if [[ -e $mo && $mo -nt $po ]]; then
            continue
        fi
        # Written aside, then renamed: servers starting side by side never read half a file.
        tmp=$(mktemp "$mo.XXXXXX")
        if ! msgfmt --check -o "$tmp" "$po"; then
            rm -f -- "$tmp"
            die "msgfmt refused $po"
        fi
        chmod 644 "$tmp"
        mv -f -- "$tmp" "$mo"
        log "compiled $mo"
    done
}

cmd_extract() {
    ensure_gettext
    # shellcheck disable=SC2086  # $UV may be several words ("python3 -m uv")
    $UV run python manage.py makemessages --locale ru --no-obsolete --add-location file \
        --ignore 'node_modules' --ignore 'staticfiles' --ignore 'tests' --ignore 'postman' \
        --ignore 'docs' --ignore 'scripts' --ignore 'bench_tools'
}

main() {
    (($# == 1)) || usage
    case $1 in
        compile) cmd_compile ;;
        extract) cmd_extract ;;
        *) usage ;;
    esac
}

main "$@"
