#!/usr/bin/env bash
# Stop the PostgreSQL cluster that .ci/postgres/start.sh started: pg_ctl's fast shutdown
# (open sessions are rolled back), else the postmaster by the pid in its pid file (never by
# name).
#
# Usage:   .ci/postgres/stop.sh [--purge] [STATE_DIR]
#          STATE_DIR defaults to $PG_CI_DIR, else ${TMPDIR:-/tmp}/marketplace-postgres-ci.
#          --purge also deletes STATE_DIR (the cluster, its logs and password), so the next
#          start is a fresh one.
# Idempotent.
set -uo pipefail

PURGE=0
if [ "${1:-}" = --purge ]; then
    PURGE=1
    shift
fi
DIR=${1:-${PG_CI_DIR:-${TMPDIR:-/tmp}/marketplace-postgres-ci}}
case "$DIR" in /*) ;; *) DIR=$PWD/$DIR ;; esac

if [ ! -e "$DIR/.marketplace-postgres-ci" ]; then
    echo "postgres-ci: $DIR holds no cluster of start.sh; nothing to stop"
    exit 0
fi

DATA=$DIR/data
PIDFILE=$DATA/postmaster.pid
if [ -s "$PIDFILE" ]; then
    pid=$(head -n 1 "$PIDFILE")
    owner=$(stat -c %U "$DATA")
    pg_ctl=""
    [ ! -x "$(cat "$DIR/bindir" 2>/dev/null)/pg_ctl" ] || pg_ctl="$(cat "$DIR/bindir")/pg_ctl"
    if kill -0 "$pid" 2>/dev/null; then
        stopped=1
        if [ -n "$pg_ctl" ]; then
            if [ "$(id -u)" = 0 ] && [ "$owner" != root ]; then
                runuser -u "$owner" -- "$pg_ctl" stop --pgdata="$DATA" --mode=fast --wait --timeout=30 >/dev/null 2>&1 || stopped=0
            else
                "$pg_ctl" stop --pgdata="$DATA" --mode=fast --wait --timeout=30 >/dev/null 2>&1 || stopped=0
            fi
        else
            stopped=0
        fi
        if [ "$stopped" = 0 ] && kill -0 "$pid" 2>/dev/null; then
            echo "postgres-ci: pg_ctl could not stop the server ($pid), killing it"
            kill -KILL "$pid" 2>/dev/null
        fi
        echo "postgres-ci: stopped the server ($pid)"
    fi
fi

if [ "$PURGE" = 1 ]; then
    rm -rf -- "$DIR"
    echo "postgres-ci: removed $DIR"
fi
