#!/usr/bin/env bash
# A throwaway PostgreSQL + PostGIS cluster for tests and benches. Never for real data: trust auth on loopback.
#
#   scripts/pg_cluster.sh start   [DIR] [PORT]   # initdb if needed, start, create ntpd_test + postgis; prints the URL last
#   scripts/pg_cluster.sh stop    [DIR]
#   scripts/pg_cluster.sh restart [DIR]          # the reconnect test bounces the server under a live pool
#   scripts/pg_cluster.sh status  [DIR]          # prints the URL and exits 0 when running, exits 3 otherwise
#
# DIR (default /tmp/ntpd-pg) is the data directory; it also holds the unix socket and postgres.log, and is owned by
# the postgres user. PORT defaults to 54329. Started as root, the server runs as postgres (PostgreSQL refuses root).
# Environment: PG_BIN (server bin directory; default the newest /usr/lib/postgresql/*/bin), NTPD_PG_SHARED_BUFFERS
# (default 1GB, read when the cluster is created).
set -euo pipefail

DB=ntpd_test
DEFAULT_DIR=/tmp/ntpd-pg
DEFAULT_PORT=54329
INSTALL_HINT="apt-get install postgresql postgresql-15-postgis-3"

die() {
    echo "pg_cluster: $*" >&2
    exit 1
}

usage() {
    echo "usage: $0 start [DIR] [PORT] | stop [DIR] | restart [DIR] | status [DIR]" >&2
    exit 2
}

# The newest installed server's bin directory, or PG_BIN when set.
find_bin() {
    if [[ -n "${PG_BIN:-}" ]]; then
        echo "$PG_BIN"
        return
    fi
    local dir
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then
            echo "$dir"
            return
        fi
    done
    if command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(command -v pg_ctl)"
        return
    fi
    die "no PostgreSQL server binaries (initdb, pg_ctl) found; install them: $INSTALL_HINT"
}

BIN=$(find_bin)
for tool in initdb pg_ctl pg_isready psql pg_config; do
    [[ -x "$BIN/$tool" ]] || die "$BIN/$tool is missing; install the server and PostGIS: $INSTALL_HINT"
done
SHAREDIR=$("$BIN/pg_config" --sharedir)
[[ -f "$SHAREDIR/extension/postgis.control" ]] \
    || die "PostGIS is not installed for $("$BIN/pg_config" --version) ($SHAREDIR/extension/postgis.control missing); install it: $INSTALL_HINT"

# Run a command as the postgres user when we are root; as ourselves otherwise.
as_pg() {
    if [[ $(id -u) -ne 0 ]]; then
        "$@"
    elif command -v runuser >/dev/null 2>&1; then
        runuser -u postgres -- "$@"
    else
        su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
    fi
}

running() {
    [[ -f "$DIR/PG_VERSION" ]] && as_pg "$BIN/pg_ctl" status -D "$DIR" >/dev/null 2>&1
}

# The port of the running server (line 4 of postmaster.pid), else the one configured, else the default.
port_of() {
    local port=""
    if [[ -f "$DIR/postmaster.pid" ]]; then
        port=$(sed -n 4p "$DIR/postmaster.pid" 2>/dev/null || true)
    fi
    if [[ -z "$port" && -f "$DIR/postgresql.auto.conf" ]]; then
        port=$(sed -n "s/^port = '\{0,1\}\([0-9]*\)'\{0,1\}$/\1/p" "$DIR/postgresql.auto.conf" | tail -n 1)
    fi
    echo "${port:-$DEFAULT_PORT}"
}

wait_ready() {
    local port=$1 i
    for i in $(seq 1 60); do
        if "$BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -d postgres -U postgres; then
            return 0
        fi
        sleep 0.5
    done
    tail -n 20 "$DIR/postgres.log" >&2 || true
    die "the server in $DIR did not answer on 127.0.0.1:$port within 30 s (log above: $DIR/postgres.log)"
}

psql_as_pg() {
    local port=$1 db=$2
    shift 2
    "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d "$db" "$@"
}

ensure_db() {
    local port=$1
    if [[ -z $(psql_as_pg "$port" postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'") ]]; then
        psql_as_pg "$port" postgres -c "CREATE DATABASE $DB"
    fi
    psql_as_pg "$port" "$DB" -c "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS postgis"
}

url_of() {
    echo "postgresql://postgres@127.0.0.1:$1/$DB"
}

init_cluster() {
    local port=$1
    if [[ -e "$DIR" && ! -d "$DIR" ]]; then
        die "$DIR exists and is not a directory"
    fi
    if [[ -d "$DIR" && -n $(ls -A "$DIR") ]]; then
        die "$DIR is not empty and holds no cluster (no PG_VERSION); remove it or choose another DIR"
    fi
    mkdir -p "$DIR"
    if [[ $(id -u) -eq 0 ]]; then
        id postgres >/dev/null 2>&1 || die "there is no postgres user; install the server package: $INSTALL_HINT"
        chown postgres:postgres "$DIR"
    fi
    chmod 700 "$DIR"
    as_pg "$BIN/initdb" -D "$DIR" -U postgres --auth=trust --encoding=UTF8 --locale=C >"$DIR.initdb.log" 2>&1 \
        || { cat "$DIR.initdb.log" >&2; die "initdb failed in $DIR"; }
    rm -f "$DIR.initdb.log"
    # loopback only: no other host may connect, and the socket lives in DIR (not /var/run/postgresql)
    as_pg sh -c "cat > '$DIR/pg_hba.conf'" <<'EOF'
# throwaway test cluster (scripts/pg_cluster.sh): trust, loopback and the local socket only
local   all             all                     trust
host    all             all     127.0.0.1/32    trust
EOF
    # Durability stays on (fsync) so bench figures mean something; memory is sized for the 1M-row bench (table and
    # indexes about 0.8 GB) and WAL may grow so a bulk write does not force checkpoints midway.
    as_pg sh -c "cat >> '$DIR/postgresql.auto.conf'" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$DIR'
shared_buffers = '${NTPD_PG_SHARED_BUFFERS:-1GB}'
max_wal_size = '4GB'
EOF
}

start() {
    local port=${1:-}
    if running; then
        local actual
        actual=$(port_of)
        if [[ -n "$port" && "$port" != "$actual" ]]; then
            echo "pg_cluster: $DIR is already running on port $actual (not $port)" >&2
        fi
        ensure_db "$actual"
        url_of "$actual"
        return
    fi
    if [[ ! -f "$DIR/PG_VERSION" ]]; then
        init_cluster "${port:-$DEFAULT_PORT}"
    elif [[ -n "$port" && "$port" != "$(port_of)" ]]; then
        as_pg sh -c "echo 'port = $port' >> '$DIR/postgresql.auto.conf'"
    fi
    port=$(port_of)
    as_pg "$BIN/pg_ctl" start -D "$DIR" -l "$DIR/postgres.log" -w -t 60 >/dev/null \
        || { tail -n 20 "$DIR/postgres.log" >&2 || true; die "the server in $DIR did not start (log above)"; }
    wait_ready "$port"
    ensure_db "$port"
    url_of "$port"
}

stop() {
    if running; then
        as_pg "$BIN/pg_ctl" stop -D "$DIR" -m fast -w >/dev/null
        echo "pg_cluster: stopped $DIR" >&2
    else
        echo "pg_cluster: $DIR is not running" >&2
    fi
}

restart() {
    [[ -f "$DIR/PG_VERSION" ]] || die "$DIR holds no cluster; run: $0 start $DIR"
    if running; then
        as_pg "$BIN/pg_ctl" restart -D "$DIR" -l "$DIR/postgres.log" -m fast -w -t 60 >/dev/null
        local port
        port=$(port_of)
        wait_ready "$port"
        url_of "$port"
    else
        start
    fi
}

status() {
    if running; then
        url_of "$(port_of)"
    else
        echo "pg_cluster: $DIR is not running" >&2
        exit 3
    fi
}

[[ $# -ge 1 ]] || usage
CMD=$1
DIR=${2:-$DEFAULT_DIR}
DIR=$(realpath -m "$DIR")  # postgres runs from another cwd, so relative paths would break
case "$CMD" in
    start) start "${3:-}" ;;
    stop) stop ;;
    restart) restart ;;
    status) status ;;
    *) usage ;;
esac
