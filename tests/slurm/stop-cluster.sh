#!/usr/bin/env bash
# Stop the cluster that start-cluster.sh started under STATE_DIR: cancel its jobs, then
# stop each daemon by the PID in its PID file (TERM, then KILL after 10 s). Safe to run
# twice, or on a half-started cluster.
# Usage: stop-cluster.sh STATE_DIR
set -uo pipefail

STATE=${1:?usage: stop-cluster.sh STATE_DIR}
[ -d "$STATE" ] || exit 0
STATE=$(cd "$STATE" && pwd)
export SLURM_CONF=$STATE/etc/slurm.conf

log() { echo "[stop-cluster] $*" >&2; }
running() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_pidfile() { # NAME PIDFILE
    local pid
    running "$2" || { rm -f "$2"; return 0; }
    pid=$(cat "$2")
    log "stopping $1 (pid $pid)"
    kill "$pid" 2>/dev/null
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "$1 (pid $pid) ignored TERM: KILL"
        kill -9 "$pid" 2>/dev/null
    fi
    rm -f "$2"
}

# jobs first, so that no slurmstepd outlives slurmd
if running "$STATE/run/slurmctld.pid"; then
    timeout 20 scancel --full --user=root 2>/dev/null || true
    for _ in $(seq 25); do
        [ -z "$(timeout 5 squeue -h -t running,completing -o %i 2>/dev/null)" ] && break
        sleep 0.2
    done
fi
stop_pidfile slurmd "$STATE/run/slurmd.pid"
stop_pidfile slurmctld "$STATE/run/slurmctld.pid"
stop_pidfile slurmdbd "$STATE/run/slurmdbd.pid"
stop_pidfile mariadbd "$STATE/run/mariadbd.pid"
stop_pidfile munged "$STATE/run/munged.pid"
for f in slurm.conf gres.conf; do
    if [ -L "/etc/slurm/$f" ] && [ "$(readlink "/etc/slurm/$f")" = "$STATE/etc/$f" ]; then
        rm -f "/etc/slurm/$f"
    fi
done
