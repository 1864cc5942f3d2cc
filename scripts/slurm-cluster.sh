#!/usr/bin/env bash
# A throwaway single-node Slurm cluster for tests: munged, slurmctld and slurmd on localhost,
# all state, sockets and logs under one folder, no cgroups (proctrack/linuxproc, task/none), no
# accounting. Works as root on Debian's slurm-wlm 22.05 + munge.
#
#   scripts/slurm-cluster.sh start STATE_DIR   # prints `export SLURM_CONF=...` on stdout
#   scripts/slurm-cluster.sh stop STATE_DIR    # stops the daemons started in STATE_DIR, by PID
#
# Client commands (sbatch, squeue, scancel, sinfo) find the cluster through SLURM_CONF.
# Ports: SLURM_TEST_PORT (default 6817) for slurmctld and the next one for slurmd.
set -euo pipefail

usage() {
    echo "usage: $0 start|stop STATE_DIR" >&2
    exit 2
}

[ $# -eq 2 ] || usage
cmd=$1
mkdir -p "$2"
dir=$(cd "$2" && pwd)
conf=$dir/slurm.conf
port=${SLURM_TEST_PORT:-6817}

# 90% of the machine's memory (at most 4000 MB): a node with less than its configured memory
# would be drained.
memory_mb() {
    local mb
    mb=$(awk '/^MemTotal:/ { print int($2 / 1024 * 0.9) }' /proc/meminfo 2>/dev/null || true)
    [ -n "$mb" ] && [ "$mb" -gt 0 ] || mb=1000
    [ "$mb" -gt 4000 ] && mb=4000
    echo "$mb"
}

write_conf() {
    # The working configuration of shared/slurm/single-node.conf.example, embedded so the
    # script needs nothing beside the repository.
    cat >"$conf" <<EOF
ClusterName=census-test
SlurmctldHost=localhost
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket.2
CredType=cred/munge
SlurmUser=$(id -un)
SlurmdUser=$(id -un)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
StateSaveLocation=$dir/slurm/state
SlurmdSpoolDir=$dir/slurm/spool
SlurmctldPidFile=$dir/slurm/slurmctld.pid
SlurmdPidFile=$dir/slurm/slurmd.pid
SlurmctldLogFile=$dir/slurm/log/slurmctld.log
SlurmdLogFile=$dir/slurm/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MaxArraySize=10001
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$(memory_mb) State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
EOF
}

pid_of() {
    [ -s "$1" ] && cat "$1"
}

alive() {
    [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null
}

show_logs() {
    for f in "$dir"/munge/munged.log "$dir"/slurm/log/slurmctld.log "$dir"/slurm/log/slurmd.log; do
        [ -f "$f" ] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }
    done
    return 0
}

fail() {
    show_logs
    stop
    exit 1
}

start() {
    for tool in munged mungekey slurmctld slurmd sinfo sbatch; do
        command -v "$tool" >/dev/null || { echo "$tool not found: apt-get install -y slurm-wlm munge" >&2; exit 3; }
    done
    if alive "$(pid_of "$dir/slurm/slurmctld.pid" || true)"; then
        echo "a cluster is already running in $dir" >&2
        exit 1
    fi
    for p in "$port" $((port + 1)); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "port $p is in use (another cluster?): set SLURM_TEST_PORT to a free pair of ports" >&2
            exit 1
        fi
    done
    mkdir -p "$dir"/slurm/state "$dir"/slurm/spool "$dir"/slurm/log "$dir"/munge
    chmod 700 "$dir/munge"
    write_conf

    rm -f "$dir/munge/munge.key"
    mungekey --create --keyfile="$dir/munge/munge.key" --bits=1024
    chmod 400 "$dir/munge/munge.key"
    munged --force \
        --socket="$dir/munge/munge.socket.2" \
        --key-file="$dir/munge/munge.key" \
        --pid-file="$dir/munge/munged.pid" \
        --log-file="$dir/munge/munged.log" \
        --seed-file="$dir/munge/munged.seed" || fail

    slurmctld -f "$conf" || fail
    local node_name=()
    [ "$(hostname)" = localhost ] || node_name=(-N localhost)
    slurmd -f "$conf" "${node_name[@]}" || fail

    export SLURM_CONF=$conf
    local state=""
    for _ in $(seq 1 120); do
        state=$(sinfo -h -n localhost -o %T 2>/dev/null || true)
        [ "$state" = idle ] && break
        sleep 0.25
    done
    if [ "$state" != idle ]; then
        echo "the node did not become idle within 30 s (state: '${state:-unknown}')" >&2
        fail
    fi
    echo "export SLURM_CONF=$conf"
}

stop() {
    export SLURM_CONF=$conf
    # Jobs still running would outlive slurmd (their slurmstepd is a separate process).
    if alive "$(pid_of "$dir/slurm/slurmctld.pid" || true)"; then
        scancel --quiet --user="$(id -un)" 2>/dev/null || true
        sleep 0.5
    fi
    local pids=()
    for f in "$dir/slurm/slurmd.pid" "$dir/slurm/slurmctld.pid" "$dir/munge/munged.pid"; do
        local p
        p=$(pid_of "$f" || true)
        if alive "$p"; then
            kill -TERM "$p" 2>/dev/null || true
            pids+=("$p")
        fi
    done
    for _ in $(seq 1 50); do
        local left=0
        for p in "${pids[@]}"; do alive "$p" && left=1; done
        [ $left -eq 0 ] && break
        sleep 0.1
    done
    for p in "${pids[@]}"; do
        alive "$p" && kill -KILL "$p" 2>/dev/null || true
    done
    rm -f "$dir/slurm/slurmd.pid" "$dir/slurm/slurmctld.pid" "$dir/munge/munged.pid"
    return 0
}

case $cmd in
start) start ;;
stop) stop ;;
*) usage ;;
esac
