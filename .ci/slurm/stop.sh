#!/usr/bin/env bash
# Stop the Slurm stack that .ci/slurm/start.sh started: each daemon by the pid in its pid
# file (never by name), in the reverse order of starting.
#
# Usage:   .ci/slurm/stop.sh [--purge] [STATE_DIR]
#          STATE_DIR defaults to $SLURM_CI_DIR, else ${TMPDIR:-/tmp}/marketplace-slurm-ci.
#          --purge also deletes STATE_DIR (database, Slurm state, logs, munge key), so the
#          next start is a fresh one.
# Reverts the "quickack 1" on the 127.0.0.1 route if start.sh set it. Idempotent.
set -uo pipefail

PURGE=0
if [ "${1:-}" = --purge ]; then
    PURGE=1
    shift
fi
DIR=${1:-${SLURM_CI_DIR:-${TMPDIR:-/tmp}/marketplace-slurm-ci}}
case "$DIR" in /*) ;; *) DIR=$PWD/$DIR ;; esac

if [ ! -e "$DIR/.marketplace-slurm-ci" ]; then
    echo "slurm-ci: $DIR holds no stack of start.sh; nothing to stop"
    exit 0
fi

stop_pidfile() { # stop_pidfile NAME PIDFILE: TERM, up to 30 s, then KILL
    local name=$1 pidfile=$2 pid n
    [ -s "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        n=300
        while kill -0 "$pid" 2>/dev/null && [ "$n" -gt 0 ]; do
            sleep 0.1
            n=$((n - 1))
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "slurm-ci: $name ($pid) did not exit within 30 s, killing it"
            kill -KILL "$pid"
        fi
        echo "slurm-ci: stopped $name ($pid)"
    fi
    rm -f "$pidfile"
}

stop_pidfile slurmd "$DIR/run/slurmd.pid"
stop_pidfile slurmctld "$DIR/run/slurmctld.pid"
stop_pidfile slurmdbd "$DIR/run/slurmdbd.pid"
stop_pidfile mariadbd "$DIR/mysql/mariadbd.pid"
stop_pidfile munged "$DIR/munge/munged.pid"

if [ -e "$DIR/run/quickack-set" ] && command -v ip >/dev/null; then
    route=$(ip route show table local exact 127.0.0.1 | head -1)
    if [[ "$route" == *"quickack 1"* ]]; then
        # shellcheck disable=SC2086
        ip route change table local ${route/ quickack 1/} \
            && echo "slurm-ci: removed quickack from the 127.0.0.1 route"
    fi
    rm -f "$DIR/run/quickack-set"
fi

if [ "$PURGE" = 1 ]; then
    rm -rf -- "$DIR"
    echo "slurm-ci: removed $DIR"
fi
