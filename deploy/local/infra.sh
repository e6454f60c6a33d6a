#!/usr/bin/env bash
# Local development infrastructure for Syncline: PostgreSQL + single-node Kafka (KRaft).
#
#   deploy/local/infra.sh up     [postgres|kafka]   start (idempotent; waits for readiness)
#   deploy/local/infra.sh down   [postgres|kafka]   stop cleanly, keep data
#   deploy/local/infra.sh status [postgres|kafka]   one line per component; exit 0 iff all up
#   deploy/local/infra.sh check  [postgres|kafka]   real checks (SELECT 1, Kafka produce+consume)
#   deploy/local/infra.sh reset  [postgres|kafka]   stop, then wipe data (keeps the Kafka jar cache)
#
# Everything lives under $REPO/.local/ (gitignored). See deploy/local/README.md.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
LOCAL_DIR="$REPO_ROOT/.local"
INFRA_TIMEOUT="${SYNCLINE_INFRA_TIMEOUT:-90}"

# ----------------------------------------------------------------------------- helpers

log() { printf '[infra %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
warn() { log "WARNING: $*"; }
die() {
    printf '[infra %s] ERROR: %s\n' "$(date +%H:%M:%S)" "$*" >&2
    exit 1
}

# die_with_log FILE MESSAGE: fail and show the last 30 lines of a service log.
die_with_log() {
    local file="$1"
    shift
    printf '[infra %s] ERROR: %s\n' "$(date +%H:%M:%S)" "$*" >&2
    if [[ -f "$file" ]]; then
        printf -- '----- last 30 lines of %s -----\n' "$file" >&2
        tail -n 30 "$file" >&2 || true
        printf -- '----- end of %s -----\n' "$file" >&2
    else
        printf '(no log file at %s)\n' "$file" >&2
    fi
    exit 1
}

# port_open PORT: true if something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
    # shellcheck disable=SC2016 # $1 is expanded by the inner bash
    timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null
}

# Seconds since the epoch, for deadlines.
now() { date +%s; }

# apt_install PKG...: install Debian packages noninteractively (root only); `apt-get update` once.
APT_UPDATED=0
apt_install() {
    [[ $EUID -eq 0 ]] || die "need Debian packages ($*) but not running as root; install them: apt-get install -y $*"
    command -v apt-get >/dev/null 2>&1 || die "need packages ($*) and apt-get is not available"
    export DEBIAN_FRONTEND=noninteractive
    if [[ $APT_UPDATED -eq 0 ]]; then
        log "apt-get update"
        apt-get update -q >/dev/null || die "apt-get update failed"
        APT_UPDATED=1
    fi
    log "apt-get install -y $*"
    apt-get install -y -q --no-install-recommends "$@" >&2 || die "apt-get install $* failed"
}

# shellcheck source=SCRIPTDIR/postgres.sh
source "$SCRIPT_DIR/postgres.sh"
# shellcheck source=SCRIPTDIR/kafka.sh
source "$SCRIPT_DIR/kafka.sh"

# ----------------------------------------------------------------------------- main

usage() {
    sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# take_lock: serialise up/down/reset between concurrent invocations (other shells, CI).
# fd 9 holds the lock; daemons are started with 9>&- so they do not keep it.
take_lock() {
    mkdir -p "$LOCAL_DIR"
    exec 9>"$LOCAL_DIR/.infra.lock"
    if ! flock -n 9; then
        log "another infra.sh is running; waiting for its lock (up to ${INFRA_TIMEOUT}s x 3)"
        flock -w "$((INFRA_TIMEOUT * 3))" 9 || die "timed out waiting for $LOCAL_DIR/.infra.lock"
    fi
}

main() {
    local cmd="${1:-}"
    local which="${2:-all}"
    local components=()
    case "$which" in
        all) components=(postgres kafka) ;;
        postgres | pg) components=(postgres) ;;
        kafka) components=(kafka) ;;
        *) usage ;;
    esac
    [[ $# -le 2 ]] || usage

    local start rc=0 c
    start="$(now)"
    case "$cmd" in
        up)
            take_lock
            for c in "${components[@]}"; do
                case "$c" in
                    postgres) pg_up ;;
                    kafka) kafka_up ;;
                esac
            done
            log "up: ${components[*]} ready in $(($(now) - start))s"
            ;;
        down)
            take_lock
            # Reverse order: Kafka first, then Postgres.
            for ((i = ${#components[@]} - 1; i >= 0; i--)); do
                case "${components[$i]}" in
                    postgres) pg_down ;;
                    kafka) kafka_down ;;
                esac
            done
            ;;
        status)
            for c in "${components[@]}"; do
                case "$c" in
                    postgres) pg_status || rc=1 ;;
                    kafka) kafka_status || rc=1 ;;
                esac
            done
            return "$rc"
            ;;
        check)
            for c in "${components[@]}"; do
                case "$c" in
                    postgres) pg_check || rc=1 ;;
                    kafka) kafka_check || rc=1 ;;
                esac
            done
            return "$rc"
            ;;
        reset)
            take_lock
            for c in "${components[@]}"; do
                case "$c" in
                    postgres) pg_reset ;;
                    kafka) kafka_reset ;;
                esac
            done
            ;;
        -h | --help | help | "") usage ;;
        *) usage ;;
    esac
}

main "$@"
