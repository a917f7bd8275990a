#!/usr/bin/env bash
# Start a throwaway PostgreSQL cluster on loopback for the PostgreSQL adapter's tests:
# initdb into a state directory, then one postmaster on 127.0.0.1 at a free port, with
# fsync on (the crash tests need commits that really reach the disk). No systemd, no
# Debian "main" cluster: everything lives under the state directory.
#
# Usage:   .ci/postgres/start.sh [STATE_DIR]
#          STATE_DIR defaults to $PG_CI_DIR, else ${TMPDIR:-/tmp}/marketplace-postgres-ci.
# Then:    . STATE_DIR/env.sh   (exports MARKETPLACE_POSTGRES_URL and PG_CI_DIR)
# Stop:    .ci/postgres/stop.sh [--purge] [STATE_DIR]
#
# Idempotent: installs the Debian packages (apt-get) only if initdb is missing, runs initdb
# once, and leaves a running server alone. As root, the server runs as PG_CI_USER (the
# "postgres" system user the package creates; created if missing), because PostgreSQL
# refuses to run as root; as any other user it runs as that user (and cannot install).
#
# Settings (environment): PG_CI_PORT (a free port, chosen once and kept), PG_CI_USER
# (postgres), PG_CI_MAX_CONNECTIONS (200).
set -euo pipefail

DIR=${1:-${PG_CI_DIR:-${TMPDIR:-/tmp}/marketplace-postgres-ci}}
RUN_AS=${PG_CI_USER:-postgres}
MAX_CONNECTIONS=${PG_CI_MAX_CONNECTIONS:-200}

t_start=$(date +%s%N)
elapsed() { local ms=$((($(date +%s%N) - t_start) / 1000000)); printf '%d.%03d' $((ms / 1000)) $((ms % 1000)); }
stamp() { printf '[%7ss] %s\n' "$(elapsed)" "$*"; }
die() { # die MESSAGE [LOG]: say what failed, quote the end of its log, exit 1
    echo "postgres-ci: $1" >&2
    if [ -n "${2:-}" ] && [ -s "$2" ]; then
        echo "--- last lines of $2:" >&2
        tail -n 20 "$2" >&2
    fi
    exit 1
}
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

case "$DIR" in /*) ;; *) DIR=$PWD/$DIR ;; esac
mkdir -p "$DIR/log"
touch "$DIR/.marketplace-postgres-ci"   # marks the directory as ours, for stop.sh --purge
LOG=$DIR/log
stamp "state directory $DIR"

# ---------------------------------------------------------------- 1. packages
bin_dir() { # the bin directory of the newest PostgreSQL server installed, or nothing
    local found
    found=$(compgen -G "/usr/lib/postgresql/*/bin/initdb" | sort -V | tail -n 1 || true)
    if [ -n "$found" ]; then
        dirname "$found"
    elif command -v initdb >/dev/null; then
        dirname "$(readlink -f "$(command -v initdb)")"
    fi
}
BIN=$(bin_dir)
if [ -z "$BIN" ]; then
    [ "$(id -u)" = 0 ] || die "PostgreSQL is not installed, and only root can install it (apt-get install postgresql)"
    command -v apt-get >/dev/null || die "PostgreSQL is not installed and there is no apt-get to install it"
    stamp "installing postgresql (log: $LOG/apt.log)"
    policy_made=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then  # keep postinst from starting Debian's own cluster
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        policy_made=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q --no-install-recommends postgresql >"$LOG/apt.log" 2>&1; then
        apt-get update -q >>"$LOG/apt.log" 2>&1 || true
        apt-get install -y -q --no-install-recommends postgresql >>"$LOG/apt.log" 2>&1 \
            || { [ "$policy_made" = 0 ] || rm -f /usr/sbin/policy-rc.d; die "apt-get install postgresql failed" "$LOG/apt.log"; }
    fi
    [ "$policy_made" = 0 ] || rm -f /usr/sbin/policy-rc.d
    BIN=$(bin_dir)
    [ -n "$BIN" ] || die "postgresql is installed but no initdb was found under /usr/lib/postgresql"
fi
echo "$BIN" >"$DIR/bindir"   # for stop.sh
stamp "server binaries in $BIN ($("$BIN/postgres" --version))"

# ---------------------------------------------------------------- 2. who runs the server
if [ "$(id -u)" = 0 ]; then
    if ! id -u "$RUN_AS" >/dev/null 2>&1; then
        useradd --system --no-create-home --home-dir "$DIR" --shell /usr/sbin/nologin "$RUN_AS" \
            || die "could not create the system user $RUN_AS to run the server"
        stamp "created system user $RUN_AS"
    fi
    as_owner() { runuser -u "$RUN_AS" -- "$@"; }
    chown -R "$RUN_AS": "$DIR"
    as_owner test -w "$DIR" || die "$RUN_AS cannot write $DIR (a parent directory closed to others?); set PG_CI_DIR elsewhere"
else
    RUN_AS=$(id -un)
    as_owner() { "$@"; }
fi

# ---------------------------------------------------------------- 3. the cluster
DATA=$DIR/data
PASSWORD_FILE=$DIR/password
if [ ! -s "$DATA/PG_VERSION" ]; then
    rm -rf "$DATA"
    (umask 077 && head -c 18 /dev/urandom | base64 | tr '+/' '-_' >"$PASSWORD_FILE")
    [ "$(id -u)" != 0 ] || chown "$RUN_AS": "$PASSWORD_FILE"
    as_owner "$BIN/initdb" --pgdata="$DATA" --username=postgres --pwfile="$PASSWORD_FILE" \
        --auth-local=peer --auth-host=scram-sha-256 --encoding=UTF8 --locale=C \
        >"$LOG/initdb.log" 2>&1 || die "initdb failed" "$LOG/initdb.log"
    stamp "initdb done ($DATA)"
fi
[ -s "$PASSWORD_FILE" ] || die "$PASSWORD_FILE is missing: run .ci/postgres/stop.sh --purge and start again"
PASSWORD=$(cat "$PASSWORD_FILE")

running() { as_owner "$BIN/pg_ctl" status --pgdata="$DATA" >/dev/null 2>&1; }
if running && [ -s "$DIR/port" ]; then
    PORT=$(cat "$DIR/port")
    stamp "server already running on 127.0.0.1:$PORT"
else
    PORT=${PG_CI_PORT:-}
    [ -n "$PORT" ] || { [ ! -s "$DIR/port" ] || PORT=$(cat "$DIR/port"); }
    if [ -z "$PORT" ] || port_taken "$PORT"; then
        [ -z "${PG_CI_PORT:-}" ] || die "port $PG_CI_PORT on 127.0.0.1 is taken; set PG_CI_PORT to a free one"
        PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') \
            || die "could not find a free port (python3 is needed for that, or set PG_CI_PORT)"
    fi
    echo "$PORT" >"$DIR/port"
    mkdir -p "$DIR/socket"
    [ "$(id -u)" != 0 ] || chown "$RUN_AS": "$DIR/port" "$DIR/socket"
    # Written at every start, so a changed port or setting takes effect; fsync and
    # synchronous_commit are PostgreSQL's defaults, set anyway because the crash tests
    # rely on them.
    cat >"$DATA/postgresql.auto.conf" <<EOF
# Written by .ci/postgres/start.sh
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DIR/socket'
max_connections = $MAX_CONNECTIONS
fsync = on
synchronous_commit = on
full_page_writes = on
logging_collector = off
EOF
    [ "$(id -u)" != 0 ] || chown "$RUN_AS": "$DATA/postgresql.auto.conf"
    as_owner "$BIN/pg_ctl" start --pgdata="$DATA" --log="$LOG/postgres.log" --wait --timeout=60 \
        >"$LOG/pg_ctl.log" 2>&1 || die "the server did not start" "$LOG/postgres.log"
    stamp "server up on 127.0.0.1:$PORT"
fi

URL="postgresql://postgres:$PASSWORD@127.0.0.1:$PORT/postgres"
(umask 077 && cat >"$DIR/env.sh" <<EOF
# Written by .ci/postgres/start.sh: how to reach the throwaway cluster in $DIR.
export PG_CI_DIR=$DIR
export MARKETPLACE_POSTGRES_URL=$URL
EOF
)
"$BIN/psql" "$URL" --no-psqlrc --quiet --tuples-only --command 'SELECT 1' >/dev/null 2>"$LOG/psql.log" \
    || die "the server is up but does not accept $URL" "$LOG/psql.log"
stamp "ready: . $DIR/env.sh (MARKETPLACE_POSTGRES_URL=postgresql://postgres:***@127.0.0.1:$PORT/postgres)"
