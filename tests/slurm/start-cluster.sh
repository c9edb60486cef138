#!/usr/bin/env bash
# Start a throw-away one-node SLURM cluster on this machine, every file of it under one
# state folder: munged, slurmctld and slurmd (and, with accounting, MariaDB and slurmdbd)
# on their own sockets and free TCP ports, so nothing in /etc is written and a cluster of
# another run on the same machine is left alone. Fake GPUs (gres symlinks to /dev/null)
# let `--gpus=1` jobs schedule on a machine without one.
#
# Usage: start-cluster.sh STATE_DIR   (every folder above STATE_DIR searchable by all:
#   munged refuses a socket that other users could not reach)
#   then `source STATE_DIR/env` for SLURM_CONF, and stop-cluster.sh STATE_DIR to stop it.
# Needs root and Debian's apt (bookworm: slurm-wlm 22.05, munge 0.5); installs what is
# missing. No systemd, no cgroups.
#
# Environment:
#   SLURM_TEST_GPUS        fake GPUs on the node (default 1; 0 = none)
#   SLURM_TEST_ACCOUNTING  1 = also MariaDB + slurmdbd, so sacct works (default 0)
#   SLURM_TEST_MIN_JOB_AGE seconds a finished job stays visible to squeue/scontrol
#                          (default 600)
set -euo pipefail

STATE=${1:?usage: start-cluster.sh STATE_DIR}
GPUS=${SLURM_TEST_GPUS:-1}
ACCOUNTING=${SLURM_TEST_ACCOUNTING:-0}
MIN_JOB_AGE=${SLURM_TEST_MIN_JOB_AGE:-600}

log() { echo "[start-cluster] $*" >&2; }
die() {
    log "ERROR: $*"
    for f in "$STATE"/log/*.log; do
        [ -s "$f" ] && { echo "--- $f" >&2; tail -n 15 "$f" >&2; }
    done
    exit 1
}
# wait_until SECONDS COMMAND...: retry COMMAND every 0.2 s
wait_until() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.2
    done
}
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

[ "$(id -u)" = 0 ] || die "needs root (it installs packages and runs the daemons)"
command -v apt-get >/dev/null || die "needs Debian's apt-get"

# 1. packages
pkgs=(slurmctld slurmd slurm-client munge)
[ "$ACCOUNTING" = 1 ] && pkgs+=(slurmdbd mariadb-server)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    timeout 300 apt-get update -qq </dev/null || die "apt-get update failed"
    timeout 600 apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null \
        >"${TMPDIR:-/tmp}/slurm-test-apt.log" 2>&1 \
        || { tail -n 20 "${TMPDIR:-/tmp}/slurm-test-apt.log" >&2; die "apt-get install failed"; }
fi

mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd)
# munged wants every directory above its socket searchable by all
chmod 755 "$STATE"
mkdir -p "$STATE"/{etc,run,log,state,spool,munge}
chmod 755 "$STATE/run"
chmod 700 "$STATE/munge"
if [ -s "$STATE/run/slurmctld.pid" ] && kill -0 "$(cat "$STATE/run/slurmctld.pid")" 2>/dev/null; then
    die "a cluster is already running under $STATE"
fi

# 2. munge, with its own key and socket
MUNGE_SOCKET=$STATE/run/munge.socket
mungekey --create --keyfile="$STATE/munge/munge.key" --force
chmod 400 "$STATE/munge/munge.key"
log "starting munged"
munged --key-file="$STATE/munge/munge.key" --socket="$MUNGE_SOCKET" \
    --pid-file="$STATE/run/munged.pid" --log-file="$STATE/log/munged.log" \
    --seed-file="$STATE/munge/munged.seed" || die "munged did not start"
wait_until 10 bash -c "munge -S '$MUNGE_SOCKET' -n | unmunge -S '$MUNGE_SOCKET'" \
    || die "munge does not answer on $MUNGE_SOCKET"

# 3. slurm.conf and gres.conf
NODE=$(hostname -s)
CPUS=$(nproc)
# Memory the node offers: 80% of this machine's, but at least 32 GB so that a job
# retried with the profile's `mem_mb * attempt` still fits on a small machine. SLURM
# does not enforce it here (no cgroups) and the tiny workflow uses a few GB at most;
# SlurmdParameters=config_overrides lets slurmd accept the configured value.
MEM_MB=$(awk '/MemTotal/ {m = int($2 / 1024 * 0.8); print (m > 32768 ? m : 32768)}' /proc/meminfo)
CTLD_PORT=$(free_port)
SLURMD_PORT=$(free_port)
GRES_TYPES=""
NODE_GRES=""
if [ "$GPUS" -gt 0 ]; then
    GRES_TYPES="GresTypes=gpu"
    NODE_GRES="Gres=gpu:$GPUS"
    # gres device files must stat() as devices: symlinks to /dev/null
    for i in $(seq 0 $((GPUS - 1))); do ln -sfn /dev/null "$STATE/run/fakegpu$i"; done
    printf 'AutoDetect=off\nNodeName=%s Name=gpu File=%s/run/fakegpu[0-%d]\n' \
        "$NODE" "$STATE" $((GPUS - 1)) >"$STATE/etc/gres.conf"
fi
if [ "$ACCOUNTING" = 1 ]; then
    DBD_PORT=$(free_port)
    ACCOUNTING_CONF="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$DBD_PORT
# with slurmdbd, clients (sacct, sacctmgr) find munge's socket here, not in AuthInfo
AccountingStoragePass=$MUNGE_SOCKET
AccountingStorageTRES=gres/gpu
AccountingStoreFlags=job_comment
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30"
else
    ACCOUNTING_CONF="AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none"
fi
cat >"$STATE/etc/slurm.conf" <<EOF
# written by tests/slurm/start-cluster.sh
ClusterName=pcltest
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
StateSaveLocation=$STATE/state
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/run/slurmctld.pid
SlurmdPidFile=$STATE/run/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
# containers: no cgroups, no systemd
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
$ACCOUNTING_CONF
# one line per finished job, kept whatever MinJobAge and accounting are
JobCompType=jobcomp/filetxt
JobCompLoc=$STATE/log/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
SlurmdParameters=config_overrides
MinJobAge=$MIN_JOB_AGE
DefMemPerCPU=1024
$GRES_TYPES
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB $NODE_GRES State=UNKNOWN
PartitionName=main Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$STATE/etc/slurm.conf
printf 'export SLURM_CONF=%q\n' "$SLURM_CONF" >"$STATE/env"
# The plugin's job step runs `srun` with SLURM_CONF removed from its environment, so
# the configuration must also be where SLURM looks by default, as on a real cluster:
# symlinks in /etc/slurm, removed again by stop-cluster.sh. Another live configuration
# there (a real cluster, a concurrent test) is never replaced.
mkdir -p /etc/slurm
for f in slurm.conf gres.conf; do
    link=/etc/slurm/$f
    if [ -L "$link" ] && [ ! -e "$link" ]; then
        rm -f "$link" # dangling: left by a test cluster that is gone
    elif [ -e "$link" ] || [ -L "$link" ]; then
        die "$link exists (-> $(readlink -f "$link")); refusing to replace it"
    fi
    [ -e "$STATE/etc/$f" ] && ln -s "$STATE/etc/$f" "$link"
done

# 4. accounting: MariaDB and slurmdbd, on their own ports and sockets
if [ "$ACCOUNTING" = 1 ]; then
    DB_PORT=$(free_port)
    DB_SOCKET=$STATE/run/mysqld.sock
    mkdir -p "$STATE/mysql"
    mariadb-install-db --user=root --datadir="$STATE/mysql" --auth-root-authentication-method=normal \
        >"$STATE/log/mariadb-install.log" 2>&1 || die "mariadb-install-db failed"
    log "starting mariadbd"
    mariadbd --user=root --datadir="$STATE/mysql" --socket="$DB_SOCKET" --port="$DB_PORT" \
        --bind-address=127.0.0.1 --pid-file="$STATE/run/mariadbd.pid" \
        --log-error="$STATE/log/mariadb.log" </dev/null >/dev/null 2>&1 &
    wait_until 30 mariadb --socket="$DB_SOCKET" -e 'select 1' || die "mariadbd does not answer"
    mariadb --socket="$DB_SOCKET" -e "CREATE DATABASE slurm_acct_db;
        CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY 'pcltest';
        CREATE USER 'slurm'@'localhost' IDENTIFIED BY 'pcltest';
        GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
        GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"
    cat >"$STATE/etc/slurmdbd.conf" <<EOF
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$DBD_PORT
SlurmUser=root
PidFile=$STATE/run/slurmdbd.pid
LogFile=$STATE/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=pcltest
StorageLoc=slurm_acct_db
EOF
    chmod 600 "$STATE/etc/slurmdbd.conf"
    log "starting slurmdbd"
    slurmdbd || die "slurmdbd did not start"
    wait_until 30 sacctmgr -n list cluster || die "slurmdbd does not answer"
    sacctmgr -i add cluster pcltest >/dev/null
    sacctmgr -i add account pcltest Cluster=pcltest >/dev/null
    sacctmgr -i add user root Account=pcltest >/dev/null
fi

# 5. slurmctld and slurmd
log "starting slurmctld (port $CTLD_PORT)"
slurmctld -f "$SLURM_CONF" || die "slurmctld did not start"
wait_until 30 scontrol ping || die "slurmctld does not answer"
log "starting slurmd (port $SLURMD_PORT)"
slurmd -f "$SLURM_CONF" || die "slurmd did not start"

# 6. wait until the node takes jobs
state=""
deadline=$((SECONDS + 60))
while [ "$SECONDS" -lt "$deadline" ]; do
    state=$(sinfo -h -n "$NODE" -o %T 2>/dev/null || true)
    case "$state" in
    idle | mixed | allocated)
        log "node $NODE is $state; SLURM_CONF=$SLURM_CONF"
        sinfo -o "%P %N %T %c %m %G" >&2
        exit 0
        ;;
    down* | drain* | fail*) scontrol update NodeName="$NODE" State=RESUME 2>/dev/null || true ;;
    esac
    sleep 0.5
done
die "node $NODE did not become idle (last state '$state')"
