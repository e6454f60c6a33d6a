# shellcheck shell=bash
# Local PostgreSQL (>= 15) for Syncline: our own cluster under $REPO/.local/pg, not the
# Debian-managed one. Sourced by deploy/local/infra.sh, which defines LOCAL_DIR,
# INFRA_TIMEOUT and the helpers (log, die, die_with_log, port_open, now, apt_install).
#
# Env: SYNCLINE_PG_PORT (default 5432).

PG_PORT="${SYNCLINE_PG_PORT:-5432}"
PG_MIN_MAJOR=15
PG_HOME="$LOCAL_DIR/pg"
PG_DATA="$PG_HOME/data"
PG_RUN="$PG_HOME/run" # unix socket directory
PG_LOG="$PG_HOME/log/postgres.log"
PG_APP_USER=syncline
PG_APP_PASSWORD=syncline
PG_APP_DB=syncline

PG_BIN=""     # directory holding postgres/initdb/pg_ctl (resolved lazily)
PG_OS_USER="" # OS user owning the cluster (initdb/postgres refuse to run as root)

# Unix socket paths are limited to ~107 bytes; fall back to /tmp for very deep checkouts.
if [[ ${#PG_RUN} -gt 90 ]]; then
    PG_RUN="/tmp/syncline-pg-$(printf '%s' "$PG_HOME" | md5sum | cut -c1-12)"
fi

# pg__major BINDIR: major version of the server binaries in BINDIR (empty if unusable).
pg__major() {
    local dir="$1" f
    for f in postgres initdb pg_ctl; do
        [[ -x "$dir/$f" ]] || return 1
    done
    "$dir/postgres" -V 2>/dev/null | awk '{print $3}' | cut -d. -f1
}

# pg__find_bin: echo the newest usable (>= 15) server bin dir, or fail.
pg__find_bin() {
    local dir major
    # Debian layout: /usr/lib/postgresql/<major>/bin, newest first.
    while read -r dir; do
        [[ -n "$dir" ]] || continue
        major="$(pg__major "$dir" || true)"
        if [[ -n "$major" && "$major" -ge $PG_MIN_MAJOR ]]; then
            echo "$dir"
            return 0
        fi
    done < <(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -rV)
    # Anything on PATH (e.g. /usr/local/bin/pg_ctl symlinked into a Debian bin dir).
    if command -v pg_ctl >/dev/null 2>&1; then
        dir="$(dirname "$(readlink -f "$(command -v pg_ctl)")")"
        major="$(pg__major "$dir" || true)"
        if [[ -n "$major" && "$major" -ge $PG_MIN_MAJOR ]]; then
            echo "$dir"
            return 0
        fi
    fi
    return 1
}

# pg__install: install the server from Debian packages without starting Debian's cluster.
pg__install() {
    command -v apt-cache >/dev/null 2>&1 || die "PostgreSQL >= $PG_MIN_MAJOR not found and this is not a Debian system; install it and retry"
    local candidate
    candidate="$(apt-cache policy postgresql 2>/dev/null | awk '/Candidate:/ {print $2}')"
    if [[ -z "$candidate" || "$candidate" == "(none)" ]]; then
        # Package lists may be missing on a fresh machine.
        if [[ $EUID -eq 0 ]]; then
            log "apt-get update"
            # shellcheck disable=SC2034 # read by apt_install (infra.sh)
            apt-get update -q >/dev/null && APT_UPDATED=1
        fi
        candidate="$(apt-cache policy postgresql 2>/dev/null | awk '/Candidate:/ {print $2}')"
    fi
    [[ -n "$candidate" && "$candidate" != "(none)" ]] || die "apt has no 'postgresql' package candidate"
    # Debian versions look like 15+248+deb12u2 (bookworm) or 17+278 (trixie).
    local major="${candidate%%+*}"
    major="${major#*:}"
    if [[ ! "$major" =~ ^[0-9]+$ || "$major" -lt $PG_MIN_MAJOR ]]; then
        die "apt offers postgresql $candidate, need >= $PG_MIN_MAJOR"
    fi
    log "postgres: installing postgresql $candidate from Debian packages"
    # Keep the package's maintainer scripts from starting Debian's own cluster (no systemd here,
    # and it would grab port 5432): a policy-rc.d that denies service starts during the install.
    local policy=/usr/sbin/policy-rc.d created=0
    if [[ $EUID -eq 0 && ! -e "$policy" ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        created=1
    fi
    local rc=0
    (apt_install postgresql) || rc=$?
    [[ $created -eq 1 ]] && rm -f "$policy"
    [[ $rc -eq 0 ]] || die "installing postgresql failed"
}

pg__ensure_bin() {
    [[ -n "$PG_BIN" ]] && return 0
    if ! PG_BIN="$(pg__find_bin)"; then
        pg__install
        PG_BIN="$(pg__find_bin)" || die "PostgreSQL >= $PG_MIN_MAJOR still not found after installing"
    fi
}

# pg__psql: path of a psql client (server bin dir first, then PATH); empty if none.
pg__psql() {
    if [[ -n "$PG_BIN" && -x "$PG_BIN/psql" ]]; then
        echo "$PG_BIN/psql"
    elif PG_BIN="$(pg__find_bin)" && [[ -x "$PG_BIN/psql" ]]; then
        echo "$PG_BIN/psql"
    else
        command -v psql 2>/dev/null || true
    fi
}

# pg__ensure_user: pick (or create) the OS user that owns the cluster.
pg__ensure_user() {
    [[ -n "$PG_OS_USER" ]] && return 0
    if [[ $EUID -ne 0 ]]; then
        PG_OS_USER="$(id -un)"
    elif [[ -e "$PG_DATA/PG_VERSION" ]]; then
        PG_OS_USER="$(stat -c %U "$PG_DATA")" # keep whoever initialised it
    elif id postgres >/dev/null 2>&1; then
        PG_OS_USER=postgres
    else
        if ! id syncline >/dev/null 2>&1; then
            log "postgres: creating system user 'syncline' to own the cluster"
            useradd --system --user-group --no-create-home --home-dir /nonexistent \
                --shell /usr/sbin/nologin syncline
        fi
        PG_OS_USER=syncline
    fi
    [[ "$PG_OS_USER" != root && "$PG_OS_USER" != UNKNOWN ]] || die "cannot run PostgreSQL as '$PG_OS_USER'"
}

# pg__as_user CMD...: run as the cluster owner.
pg__as_user() {
    if [[ $EUID -eq 0 ]]; then
        runuser -u "$PG_OS_USER" -- "$@"
    else
        "$@"
    fi
}

pg__ctl() { pg__as_user "$PG_BIN/pg_ctl" -D "$PG_DATA" "$@"; }

# pg__running: our cluster's postmaster is alive.
pg__running() {
    [[ -f "$PG_DATA/postmaster.pid" ]] || return 1
    if [[ -z "$PG_BIN" ]]; then
        PG_BIN="$(pg__find_bin)" || return 1
    fi
    pg__ensure_user
    pg__ctl status >/dev/null 2>&1
}

pg__pid() { head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null || true; }

# pg__tcp_ok: SELECT 1 as the app role over TCP (password auth) returns 1.
pg__tcp_ok() {
    local psql out
    psql="$(pg__psql)"
    [[ -n "$psql" ]] || return 1
    out="$(PGPASSWORD="$PG_APP_PASSWORD" PGCONNECT_TIMEOUT=3 "$psql" -X -w -q -A -t \
        "host=127.0.0.1 port=$PG_PORT user=$PG_APP_USER dbname=$PG_APP_DB" \
        -c 'SELECT 1' 2>/dev/null)" || return 1
    [[ "$out" == 1 ]]
}

pg__write_conf() {
    local conf="$PG_DATA/syncline.conf" tmp
    tmp="$(mktemp)"
    cat >"$tmp" <<EOF
# Written by deploy/local/postgres.sh on every start; edit that script, not this file.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_RUN'
max_connections = 100
shared_buffers = 128MB
password_encryption = scram-sha-256
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
log_timezone = 'UTC'
timezone = 'UTC'
EOF
    install -m 0600 -o "$(id -u "$PG_OS_USER")" -g "$(id -g "$PG_OS_USER")" "$tmp" "$conf" 2>/dev/null ||
        cp "$tmp" "$conf"
    rm -f "$tmp"
}

pg__conf_port() { sed -n 's/^port = \([0-9]*\)$/\1/p' "$PG_DATA/syncline.conf" 2>/dev/null || true; }

pg__initdb() {
    local locale=C.UTF-8
    locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$' || locale=C
    log "postgres: initdb $PG_DATA (owner $PG_OS_USER, locale $locale)"
    mkdir -p "$PG_DATA"
    chown "$PG_OS_USER:" "$PG_DATA"
    chmod 700 "$PG_DATA"
    pg__as_user "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -E UTF8 --locale="$locale" \
        --auth-local=trust --auth-host=scram-sha-256 >>"$PG_LOG" 2>&1 ||
        die_with_log "$PG_LOG" "postgres: initdb failed"
    printf "\n# Syncline local settings (port, listen address, socket dir)\ninclude_if_exists = 'syncline.conf'\n" |
        pg__as_user tee -a "$PG_DATA/postgresql.conf" >/dev/null
}

pg__bootstrap() {
    # Superuser over the private unix socket (trust); creates/refreshes role + database.
    pg__as_user "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_RUN" -p "$PG_PORT" -U postgres -d postgres \
        >>"$PG_LOG" 2>&1 <<SQL || die_with_log "$PG_LOG" "postgres: creating role/database '$PG_APP_USER' failed"
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_APP_USER') THEN
    CREATE ROLE $PG_APP_USER LOGIN CREATEDB PASSWORD '$PG_APP_PASSWORD';
  ELSE
    ALTER ROLE $PG_APP_USER LOGIN CREATEDB PASSWORD '$PG_APP_PASSWORD';
  END IF;
END
\$\$;
SELECT 'CREATE DATABASE $PG_APP_DB OWNER $PG_APP_USER'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$PG_APP_DB')\gexec
SQL
}

pg_up() {
    local start
    start="$(now)"
    if pg__tcp_ok; then
        log "postgres: already up on 127.0.0.1:$PG_PORT"
        return 0
    fi
    pg__ensure_bin
    pg__ensure_user

    mkdir -p "$PG_HOME/log"
    chown "$PG_OS_USER:" "$PG_HOME/log"
    touch "$PG_LOG"
    chown "$PG_OS_USER:" "$PG_LOG"
    mkdir -p "$PG_RUN"
    chown "$PG_OS_USER:" "$PG_RUN"
    chmod 700 "$PG_RUN"
    pg__as_user test -w "$PG_HOME/log" ||
        die "postgres: OS user '$PG_OS_USER' cannot reach $PG_HOME (make the checkout's parent dirs traversable: chmod o+x)"

    local bin_major
    bin_major="$(pg__major "$PG_BIN")"
    if [[ -e "$PG_DATA/PG_VERSION" ]]; then
        local data_major
        data_major="$(cat "$PG_DATA/PG_VERSION")"
        [[ "$data_major" == "$bin_major" ]] ||
            die "postgres: $PG_DATA was created by PostgreSQL $data_major but binaries are $bin_major; run: deploy/local/infra.sh reset postgres"
    else
        pg__initdb
    fi

    if pg__running; then
        if [[ "$(pg__conf_port)" != "$PG_PORT" ]]; then
            log "postgres: running on port $(pg__conf_port), restarting on $PG_PORT"
            pg__ctl stop -m fast -w -t 60 >>"$PG_LOG" 2>&1 || die_with_log "$PG_LOG" "postgres: stop failed"
        fi
    fi
    if ! pg__running; then
        if port_open "$PG_PORT"; then
            die "postgres: port $PG_PORT is in use by another process that does not accept user '$PG_APP_USER'/'$PG_APP_PASSWORD' (set SYNCLINE_PG_PORT to another port)"
        fi
        pg__write_conf
        log "postgres: starting PostgreSQL $bin_major on 127.0.0.1:$PG_PORT (log: $PG_LOG)"
        # setsid: detach from this shell's session so the server outlives it;
        # 9>&-: do not let the server inherit infra.sh's lock fd.
        pg__as_user setsid "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t "$INFRA_TIMEOUT" start >/dev/null 2>&1 9>&- ||
            die_with_log "$PG_LOG" "postgres: server did not start within ${INFRA_TIMEOUT}s"
    fi
    pg__bootstrap

    local deadline=$((start + INFRA_TIMEOUT))
    until pg__tcp_ok; do
        [[ $(now) -lt $deadline ]] ||
            die_with_log "$PG_LOG" "postgres: 'SELECT 1' as $PG_APP_USER@127.0.0.1:$PG_PORT still failing after ${INFRA_TIMEOUT}s"
        sleep 0.5
    done
    log "postgres: ready on 127.0.0.1:$PG_PORT (pid $(pg__pid), $(($(now) - start))s)"
}

pg_down() {
    if [[ -f "$PG_DATA/postmaster.pid" ]] && pg__running; then
        log "postgres: stopping (pid $(pg__pid))"
        pg__ctl stop -m fast -w -t 60 >>"$PG_LOG" 2>&1 || die_with_log "$PG_LOG" "postgres: pg_ctl stop failed"
        log "postgres: stopped"
    elif port_open "$PG_PORT"; then
        warn "postgres: port $PG_PORT is served by a process not started from $PG_DATA; leaving it alone"
    else
        log "postgres: not running"
    fi
}

pg_status() {
    local pid=- note=""
    if [[ -f "$PG_DATA/postmaster.pid" ]] && pg__running; then
        pid="$(pg__pid)"
    fi
    if pg__tcp_ok; then
        [[ "$pid" == - ]] && note=" (not ours: no cluster running from $PG_DATA)"
        printf '%-9s up    127.0.0.1:%-6s pid=%s%s\n' postgres "$PG_PORT" "$pid" "$note"
        return 0
    fi
    [[ "$pid" != - ]] && note=" (process running but SELECT 1 as $PG_APP_USER fails)"
    printf '%-9s down  127.0.0.1:%-6s pid=%s%s\n' postgres "$PG_PORT" "$pid" "$note"
    return 1
}

pg_check() {
    if pg__tcp_ok; then
        log "postgres: OK (SELECT 1 as $PG_APP_USER@127.0.0.1:$PG_PORT/$PG_APP_DB)"
        return 0
    fi
    log "postgres: FAILED (SELECT 1 as $PG_APP_USER@127.0.0.1:$PG_PORT/$PG_APP_DB)"
    return 1
}

pg_reset() {
    pg_down
    log "postgres: wiping $PG_HOME"
    rm -rf "$PG_HOME"
    [[ "$PG_RUN" == "$PG_HOME"/* ]] || rm -rf "$PG_RUN"
}
