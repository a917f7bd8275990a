#!/usr/bin/env bash
# Start a throwaway Slurm 22.05 stack on loopback for the slurm plugin's real-runner tests:
#   munged -> MariaDB (127.0.0.1 + a private socket) -> slurmdbd -> cluster registered
#   -> slurmctld + one slurmd node "localhost" (this machine's CPUs and memory, one fake GPU).
# No systemd: every daemon runs from files under one state directory.
#
# Usage:   .ci/slurm/start.sh [STATE_DIR]
#          STATE_DIR defaults to $SLURM_CI_DIR, else ${TMPDIR:-/tmp}/marketplace-slurm-ci.
# Then:    . STATE_DIR/env.sh   (exports SLURM_CONF and MARKETPLACE_SLURM_RUNNER/_CLUSTER)
# Stop:    .ci/slurm/stop.sh [--purge] [STATE_DIR]
#
# Idempotent: installs packages (apt-get) only if missing, initialises the database once,
# and leaves alone any daemon whose pid file names a live process. Prints a timing per step;
# exits non-zero, saying what failed and quoting its log, if anything cannot start.
# Must run as root (Debian bookworm / Ubuntu with Slurm 22.05 packages).
#
# Settings (environment): SLURM_CI_CLUSTER (testcluster), SLURM_CI_DB_PORT (3307),
# SLURM_CI_DBD_PORT (6819), SLURM_CI_CTLD_PORT (6817), SLURM_CI_SLURMD_PORT (6818),
# SLURM_CI_WITH_JOBS (1: also slurmctld and slurmd; 0: accounting only),
# SLURM_CI_QUICKACK (1), SLURM_CI_LOOPBACK_SHIM (auto | 1 | 0), see below.
set -euo pipefail

DIR=${1:-${SLURM_CI_DIR:-${TMPDIR:-/tmp}/marketplace-slurm-ci}}
CLUSTER=${SLURM_CI_CLUSTER:-testcluster}
DB_PORT=${SLURM_CI_DB_PORT:-3307}
DBD_PORT=${SLURM_CI_DBD_PORT:-6819}
CTLD_PORT=${SLURM_CI_CTLD_PORT:-6817}
SLURMD_PORT=${SLURM_CI_SLURMD_PORT:-6818}
WITH_JOBS=${SLURM_CI_WITH_JOBS:-1}
DB_USER=slurm
DB_PASS=slurm-ci-only   # MariaDB listens on 127.0.0.1 only; this stack is throwaway

t_start=$(date +%s%N)
elapsed() { local ms=$((($(date +%s%N) - t_start) / 1000000)); printf '%d.%03d' $((ms / 1000)) $((ms % 1000)); }
stamp() { printf '[%7ss] %s\n' "$(elapsed)" "$*"; }
die() { # die MESSAGE [LOG]: say what failed, quote the end of its log, exit 1
    echo "slurm-ci: $1" >&2
    if [ -n "${2:-}" ] && [ -s "$2" ]; then
        echo "--- last lines of $2:" >&2
        tail -n 20 "$2" >&2
    fi
    exit 1
}
alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for() { # wait_for SECONDS DESCRIPTION LOG CMD...: poll CMD every 0.1 s
    local seconds=$1 what=$2 log=$3 n=$(($1 * 10))
    shift 3
    until "$@" >/dev/null 2>&1; do
        n=$((n - 1))
        [ "$n" -gt 0 ] || die "$what did not come up within $seconds s" "$log"
        sleep 0.1
    done
}
free_port() { # free_port PORT DAEMON: refuse to start DAEMON on a port someone else holds
    if port_taken "$1"; then
        die "port $1 on 127.0.0.1 is taken, so $2 cannot listen there (another Slurm or MariaDB? set SLURM_CI_*_PORT)"
    fi
}

[ "$(id -u)" = 0 ] || die "must run as root (it starts munged, MariaDB and the Slurm daemons)"
case "$DIR" in /*) ;; *) DIR=$PWD/$DIR ;; esac
mkdir -p "$DIR"/{etc,log,run,state,spool/slurmd,munge,mysql,dev}
touch "$DIR/.marketplace-slurm-ci"   # marks the directory as ours, for stop.sh --purge
chmod 755 "$DIR" "$DIR/munge"         # munged wants its socket directory searchable by all
ETC=$DIR/etc
LOG=$DIR/log
stamp "state directory $DIR"

# ---------------------------------------------------------------- 1. packages
PACKAGES="slurm-wlm slurmdbd munge mariadb-server"
missing=0
for program in munged mariadbd mariadb-install-db slurmdbd slurmctld slurmd sacctmgr sacct sbatch; do
    command -v "$program" >/dev/null || missing=1
done
compgen -G "/usr/lib/*/slurm-wlm/accounting_storage_mysql.so" >/dev/null || missing=1
if [ "$missing" = 1 ]; then
    command -v apt-get >/dev/null || die "Slurm is not installed and there is no apt-get to install $PACKAGES"
    stamp "installing $PACKAGES (log: $LOG/apt.log)"
    policy_made=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then  # no init system: keep postinst from starting services
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        policy_made=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086
    if ! apt-get install -y -q --no-install-recommends $PACKAGES >"$LOG/apt.log" 2>&1; then
        apt-get update -q >>"$LOG/apt.log" 2>&1 || true
        # shellcheck disable=SC2086
        apt-get install -y -q --no-install-recommends $PACKAGES >>"$LOG/apt.log" 2>&1 \
            || { [ "$policy_made" = 0 ] || rm -f /usr/sbin/policy-rc.d; die "apt-get install $PACKAGES failed" "$LOG/apt.log"; }
    fi
    [ "$policy_made" = 0 ] || rm -f /usr/sbin/policy-rc.d
fi
stamp "packages present ($(slurmd -V 2>/dev/null))"

# ---------------------------------------------------------------- 2. no delayed ACKs on 127.0.0.1
# Slurm's RPCs are small writes on Nagle sockets, so each request/response on loopback waits
# ~40 ms for a delayed ACK (a sacctmgr modify takes ~370 ms instead of ~20 ms). "quickack 1"
# on the local 127.0.0.1 route removes that. It is host-wide (loopback only); stop.sh reverts
# it if this script set it. SLURM_CI_QUICKACK=0 leaves routing alone.
if [ "${SLURM_CI_QUICKACK:-1}" = 1 ] && command -v ip >/dev/null; then
    route=$(ip route show table local exact 127.0.0.1 | head -1)
    if [ -n "$route" ] && [[ "$route" != *quickack* ]]; then
        # shellcheck disable=SC2086
        if ip route change table local $route quickack 1 2>/dev/null; then
            touch "$DIR/run/quickack-set"
            stamp "quickack set on the 127.0.0.1 route"
        else
            stamp "note: could not set quickack on 127.0.0.1 (commands will be ~10x slower)"
        fi
    fi
fi

# ---------------------------------------------------------------- 3. munge
MUNGE_SOCKET=$DIR/munge/munge.socket.2
if ! alive "$DIR/munge/munged.pid"; then
    [ -s "$DIR/munge/munge.key" ] || dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
    chmod 400 "$DIR/munge/munge.key"
    rm -f "$MUNGE_SOCKET" "$MUNGE_SOCKET.lock"
    munged --force --key-file="$DIR/munge/munge.key" --socket="$MUNGE_SOCKET" \
        --pid-file="$DIR/munge/munged.pid" --log-file="$LOG/munged.log" \
        --seed-file="$DIR/munge/munged.seed" || die "munged did not start" "$LOG/munged.log"
    wait_for 10 munged "$LOG/munged.log" sh -c "munge -n -S '$MUNGE_SOCKET' | unmunge -S '$MUNGE_SOCKET'"
fi
stamp "munged up"

# ---------------------------------------------------------------- 4. MariaDB
DB_SOCKET=$DIR/mysql/mysqld.sock
MYSQL=(mariadb --no-defaults --socket="$DB_SOCKET" -uroot)
if ! alive "$DIR/mysql/mariadbd.pid"; then
    free_port "$DB_PORT" mariadbd
    if [ ! -d "$DIR/mysql/data/mysql" ]; then
        mariadb-install-db --no-defaults --datadir="$DIR/mysql/data" --user=root \
            --auth-root-authentication-method=socket --skip-test-db >"$LOG/mariadb-install.log" 2>&1 \
            || die "mariadb-install-db failed" "$LOG/mariadb-install.log"
    fi
    setsid mariadbd --no-defaults --user=root --datadir="$DIR/mysql/data" \
        --socket="$DB_SOCKET" --port="$DB_PORT" --bind-address=127.0.0.1 --skip-name-resolve \
        --pid-file="$DIR/mysql/mariadbd.pid" --log-error="$LOG/mariadbd.log" \
        --innodb-buffer-pool-size=256M --innodb-log-file-size=64M --innodb-lock-wait-timeout=900 \
        --skip-log-bin </dev/null >/dev/null 2>&1 &
    wait_for 60 mariadbd "$LOG/mariadbd.log" "${MYSQL[@]}" -e 'select 1'
fi
"${MYSQL[@]}" <<SQL || die "could not create the Slurm database and its user" "$LOG/mariadbd.log"
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASS';
GRANT ALL ON slurm_acct_db.* TO '$DB_USER'@'127.0.0.1';
GRANT ALL ON slurm_acct_db.* TO '$DB_USER'@'localhost';
SQL
stamp "mariadbd up on 127.0.0.1:$DB_PORT"

# ---------------------------------------------------------------- 5. configuration
read -r CPUS BOARDS SOCKETS CORES THREADS MEMORY < <(slurmd -C | awk '/^NodeName/ {
    for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    print v["CPUs"], v["Boards"], v["SocketsPerBoard"], v["CoresPerSocket"], v["ThreadsPerCore"], v["RealMemory"] }')
[ -n "${MEMORY:-}" ] || die "slurmd -C did not describe this machine"

# A fake GPU, so jobs can ask for --gres=gpu:1 and gres/gpu shows in AllocTRES. Slurm 22.05
# drops a GPU without a device file and refuses a regular file, so the device is a character
# device with /dev/null's numbers. Without CAP_MKNOD the node has no GPU (tests adapt).
NODE_GRES="Gres=gpu:1"
[ -c "$DIR/dev/nvidia0" ] || mknod -m 666 "$DIR/dev/nvidia0" c 1 3 2>/dev/null \
    || { NODE_GRES=""; stamp "note: mknod not permitted, the node gets no GPU"; }

cat >"$ETC/slurmdbd.conf" <<EOF
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$DBD_PORT
SlurmUser=root
DebugLevel=info
LogFile=$LOG/slurmdbd.log
PidFile=$DIR/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=$DB_USER
StoragePass=$DB_PASS
StorageLoc=slurm_acct_db
EOF
chmod 600 "$ETC/slurmdbd.conf"

cat >"$ETC/slurm.conf" <<EOF
ClusterName=$CLUSTER
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
CredType=cred/munge
CommunicationParameters=NoInAddrAny
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool/slurmd
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig=$ETC/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
ReturnToService=2
GresTypes=gpu
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=$DBD_PORT
# Clients reach slurmdbd's munge through AccountingStoragePass, not AuthInfo.
AccountingStoragePass=$MUNGE_SOCKET
AccountingStorageTRES=gres/gpu
# limits: GrpTRESMins, GrpJobs and GrpSubmitJobs are enforced; safe: a job that could
# overrun GrpTRESMins waits (AssocGrpCPUMinutesLimit) instead of starting.
AccountingStorageEnforce=associations,limits,safe
JobCompType=jobcomp/none
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$CPUS Boards=$BOARDS SocketsPerBoard=$SOCKETS CoresPerSocket=$CORES ThreadsPerCore=$THREADS RealMemory=$MEMORY $NODE_GRES State=UNKNOWN
# Jobs need a time limit for GrpTRESMins to be checked: DefaultTime gives them one.
PartitionName=debug Nodes=ALL Default=YES DefaultTime=00:10:00 MaxTime=01:00:00 State=UP
EOF
if [ -n "$NODE_GRES" ]; then
    echo "NodeName=localhost Name=gpu File=$DIR/dev/nvidia0" >"$ETC/gres.conf"
else
    : >"$ETC/gres.conf"
fi
: >"$ETC/plugstack.conf"
cat >"$DIR/env.sh" <<EOF
# Written by .ci/slurm/start.sh: the clients' view of the Slurm stack in $DIR.
export SLURM_CONF=$ETC/slurm.conf
export MARKETPLACE_SLURM_RUNNER=subprocess
export MARKETPLACE_SLURM_CLUSTER=$CLUSTER
EOF
export SLURM_CONF=$ETC/slurm.conf
stamp "configuration written ($ETC, env file $DIR/env.sh)"

# ---------------------------------------------------------------- 6. loopback-only daemons
# slurmdbd and slurmctld 22.05 always listen on 0.0.0.0 (NoInAddrAny does not cover
# slurmctld, and slurmdbd has no such option). With a C compiler, an LD_PRELOAD shim turns
# their bind(INADDR_ANY) into bind(127.0.0.1). SLURM_CI_LOOPBACK_SHIM: auto (if cc exists),
# 1 (required), 0 (off).
SHIM_MODE=${SLURM_CI_LOOPBACK_SHIM:-auto}
DAEMON_ENV=(env)
if [ "$SHIM_MODE" != 0 ]; then
    SHIM=$DIR/run/bind_loopback.so
    if [ ! -s "$SHIM" ] && command -v cc >/dev/null; then
        cat >"$DIR/run/bind_loopback.c" <<'CSRC'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
int bind(int fd, const struct sockaddr *addr, socklen_t len) {
    static int (*real_bind)(int, const struct sockaddr *, socklen_t);
    if (!real_bind) real_bind = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "bind");
    if (addr && addr->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        struct sockaddr_in in4;
        memcpy(&in4, addr, sizeof in4);
        if (in4.sin_addr.s_addr == htonl(INADDR_ANY)) {
            in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            return real_bind(fd, (const struct sockaddr *)&in4, sizeof in4);
        }
    } else if (addr && addr->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 in6;
        memcpy(&in6, addr, sizeof in6);
        if (!memcmp(&in6.sin6_addr, &in6addr_any, sizeof in6addr_any)) {
            in6.sin6_addr = in6addr_loopback;
            return real_bind(fd, (const struct sockaddr *)&in6, sizeof in6);
        }
    }
    return real_bind(fd, addr, len);
}
CSRC
        cc -shared -fPIC -O2 -o "$SHIM" "$DIR/run/bind_loopback.c" -ldl 2>"$LOG/shim.log" \
            || die "could not compile the loopback shim" "$LOG/shim.log"
    fi
    if [ -s "$SHIM" ]; then
        DAEMON_ENV=(env LD_PRELOAD="$SHIM")
    elif [ "$SHIM_MODE" = 1 ]; then
        die "SLURM_CI_LOOPBACK_SHIM=1 but there is no C compiler (apt-get install gcc)"
    else
        stamp "note: no C compiler; slurmdbd and slurmctld listen on 0.0.0.0 (munge-authenticated)"
    fi
fi

# ---------------------------------------------------------------- 7. slurmdbd and the cluster
if ! alive "$DIR/run/slurmdbd.pid"; then
    free_port "$DBD_PORT" slurmdbd
    "${DAEMON_ENV[@]}" slurmdbd || die "slurmdbd did not start" "$LOG/slurmdbd.log"
    wait_for 60 slurmdbd "$LOG/slurmdbd.log" sacctmgr -n -P list cluster
fi
stamp "slurmdbd up on 127.0.0.1:$DBD_PORT"
if ! sacctmgr -n -P list cluster format=Cluster | grep -qx "$CLUSTER"; then
    sacctmgr -i add cluster "$CLUSTER" >"$LOG/add-cluster.log" 2>&1 \
        || die "could not register the cluster $CLUSTER" "$LOG/add-cluster.log"
fi
stamp "cluster $CLUSTER registered"

# ---------------------------------------------------------------- 8. slurmctld and slurmd
if [ "$WITH_JOBS" = 1 ]; then
    if ! alive "$DIR/run/slurmctld.pid"; then
        free_port "$CTLD_PORT" slurmctld
        "${DAEMON_ENV[@]}" slurmctld || die "slurmctld did not start" "$LOG/slurmctld.log"
        wait_for 60 slurmctld "$LOG/slurmctld.log" scontrol ping
    fi
    if ! alive "$DIR/run/slurmd.pid"; then
        free_port "$SLURMD_PORT" slurmd
        "${DAEMON_ENV[@]}" slurmd -N localhost || die "slurmd did not start" "$LOG/slurmd.log"
    fi
    wait_for 60 "node localhost (idle)" "$LOG/slurmd.log" \
        sh -c "sinfo -h -n localhost -o %t | grep -Eq '^(idle|mix|alloc)'"
    stamp "slurmctld + slurmd up; node localhost: $(sinfo -h -n localhost -o 'cpus=%c mem=%m gres=%G')"
fi

echo "slurm-ci: ready in $(elapsed)s; clients: . $DIR/env.sh"
