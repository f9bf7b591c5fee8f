#!/usr/bin/env bash
# A one-node Slurm cluster for this host, as root, everything under one folder:
#   tests/slurm/cluster.sh start DIR   starts munged, slurmctld and slurmd; prints the
#                                      `export SLURM_CONF=…` line the clients need
#   tests/slurm/cluster.sh stop DIR    cancels every job, stops the three daemons and kills what
#                                      is left of the cluster's processes
#   tests/slurm/cluster.sh check DIR   fails, listing them, if any process of the cluster runs
# Debian 12's Slurm 22.05 (packages slurmctld slurmd slurm-client munge). The node gets this

# in containers too. Nothing is written outside DIR.
set -euo pipefail
cmd=${1:?start or stop}
dir=$(mkdir -p "${2:?folder}" && cd "$2" && pwd)
conf=$dir/slurm.conf

# Every process of this cluster: the daemons and their job steps carry BASIN_TEST_CLUSTER=$dir
# (set when they start), the jobs' own processes SLURM_CONF=$conf and a SLURM_JOB_ID.
ours() {
  for e in /proc/[0-9]*/environ; do
    pid=${e#/proc/}; pid=${pid%/environ}
    env=$( { tr "\\0" "\\n" < "$e"; } 2>/dev/null) || continue
    if grep -qxF "BASIN_TEST_CLUSTER=$dir" <<< "$env" || { grep -qxF "SLURM_CONF=$conf" <<< "$env" && grep -q "^SLURM_JOB_ID=" <<< "$env"; }; then
      echo "$pid"
    fi
  done
  return 0
}

stop() {
  if [ -f "$dir/slurmctld.pid" ]; then
    SLURM_CONF=$conf scancel --quiet --user="$(id -un)" 2>/dev/null || true
    for _ in $(seq 50); do [ -z "$(SLURM_CONF=$conf squeue -h 2>/dev/null)" ] && break; sleep 0.2; done
  fi
  for p in slurmd slurmctld munged; do
    [ -f "$dir/$p.pid" ] || continue
    pid=$(cat "$dir/$p.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$dir/$p.pid"
  done
  left=$(ours)
  if [ -n "$left" ]; then
    kill $left 2>/dev/null || true
    sleep 1
    left=$(ours)
    [ -z "$left" ] || kill -9 $left 2>/dev/null || true
  fi
}

if [ "$cmd" = check ]; then
  # exits 1, listing them, when a process of this cluster still runs
  left=$(ours)
  [ -z "$left" ] && exit 0
  for p in $left; do tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null; echo " (pid $p)"; done >&2
  exit 1
fi
if [ "$cmd" = stop ]; then
  stop
  exit 0
fi
[ "$cmd" = start ] || { echo "cluster.sh: start, stop or check, not $cmd" >&2; exit 2; }

host=$(hostname -s)
cpus=$(nproc)
mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/log"
chmod 700 "$dir/munge"
[ -f "$dir/munge/munge.key" ] || { dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none; chmod 600 "$dir/munge/munge.key"; }
cat > "$conf" <<CONF
ClusterName=basin-test
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket,cred_expire=5
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldPort=$(( 16817 + RANDOM % 1000 ))
SlurmdPort=$(( 17818 + RANDOM % 1000 ))
ReturnToService=2
MaxArraySize=1001
JobRequeue=1
MinJobAge=600
KillWait=30
InactiveLimit=0
MpiDefault=none
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
export BASIN_TEST_CLUSTER=$dir
munged --force --socket="$dir/munge/munge.socket" --key-file="$dir/munge/munge.key" \
  --pid-file="$dir/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/seed"
export SLURM_CONF=$conf
slurmctld -f "$conf"
slurmd -f "$conf"
for _ in $(seq 100); do
  if sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
    echo "export SLURM_CONF=$conf"
    exit 0
  fi
  sleep 0.2
done
echo "cluster.sh: the node did not come up; logs in $dir/log" >&2
sinfo >&2 || true
tail -5 "$dir/log/"*.log >&2 || true
stop
exit 1
