#!/usr/bin/env bash
# basin on a real Slurm (issue 24): starts a one-node cluster (cluster.sh), then
#  1. runs tests/slurm/experiments/tiny.toml (4 runs) as an array with --slurm, 2 tasks at a
#     time, warns one running task with USR2 (what Slurm sends before a time limit), and checks
#     that it checkpointed, requeued itself and resumed, and that report.json equals the same
#     experiment run locally with --jobs 1, every metric bit for bit (wall times aside);
#  2. checks the lock: a second `basin train` into the run folder a task is writing exits 2;
#  3. runs a 2-D surface as an array of 3 shards and a merge job, and checks that the merged
#     files equal the unsharded run's byte for byte;
#  4. stops the daemons and checks that nothing it started still runs.
# Usage: tests/slurm/run.sh [path/to/basin]   (default target/release/basin)
set -euo pipefail
cd "$(dirname "$0")/../.."
basin=$(realpath "${1:-target/release/basin}")
work=$(mktemp -d /tmp/basin-slurm-test.XXXXXX)
cluster=$work/cluster
cleanup() { tests/slurm/cluster.sh stop "$cluster" || true; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for f in "$work"/slurm/slurm/logs/* "$cluster"/log/slurmctld.log; do [ -f "$f" ] && { echo "== $f" >&2; tail -20 "$f" >&2; }; done; exit 1; }
wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
  local t=$1 what=$2; shift 2
  for _ in $(seq $((t * 5))); do "$@" && return 0; sleep 0.2; done
  fail "timed out after ${t}s waiting for $what"
}
eval "$(tests/slurm/cluster.sh start "$cluster")"
export RAYON_NUM_THREADS=1
exp=tests/slurm/experiments/tiny.toml

echo "== the experiment, locally, one run at a time"
"$basin" reproduce $exp --out "$work/local" --jobs 1 > "$work/local.log" 2>&1 || { cat "$work/local.log"; fail "local run"; }

echo "== the experiment as a Slurm array"
"$basin" reproduce $exp --out "$work/slurm" --slurm --slurm-arg=--cpus-per-task=1 --slurm-arg=--mem=500M --signal-before 30 | tee "$work/submit.log"
array=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['array'])" "$work/slurm/slurm/submitted.json")
report=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['then'])" "$work/slurm/slurm/submitted.json")
grep -q "submitted array $array (4 tasks) and report job $report" "$work/submit.log" || fail "submission line"
run0=$work/slurm/lr-0-05/seed-0
# task 0 trains run 0: wait until it has a checkpoint and is still training
wait_for 120 "task 0's first checkpoint" test -f "$run0/checkpoints/latest"
[ ! -f "$run0/summary.json" ] || fail "run 0 finished before the test could warn it; make tiny.toml's runs longer"
squeue -h -r -j "$array" -o "%K %T" | grep -q "^0 RUNNING" || fail "task 0 is not running"

echo "== a second writer into the folder task 0 is writing"
set +e
"$basin" train --out "$run0" --resume > "$work/second.log" 2>&1
code=$?
set -e
[ "$code" = 2 ] || { cat "$work/second.log"; fail "a second basin train exited $code, not 2"; }
grep -q "another basin (pid .* on .*) is writing this run folder" "$work/second.log" || fail "the lock error does not name its holder"

echo "== USR2 to task 0 (the time-limit warning)"
# slurmctld answers "Job can not be altered now" to a signal in the first moments of a job
# (and may deliver it anyway): retry until it is taken or the task has acted on it
log0=$work/slurm/slurm/logs/${array}_0.out
for _ in $(seq 20); do
  scancel --signal=USR2 --batch "${array}_0" 2>/dev/null && break
  grep -q "checkpointed and requeued" "$log0" && break
  sleep 0.5
done
wait_for 60 "task 0 to requeue itself" grep -q "checkpointed and requeued (preemption)" "$work/slurm/slurm/logs/${array}_0.out"
wait_for 300 "the report job" sh -c "! squeue -h -j $report | grep -q ."
restarts=$(scontrol show job "${array}_0" | grep -o 'Restarts=[0-9]*' | cut -d= -f2 || true)
[ "${restarts:-0}" -ge 1 ] || fail "task 0 was not requeued (Restarts=$restarts)"
grep -q "resuming from step [1-9]" "$work/slurm/slurm/logs/${array}_0.out" || fail "task 0 did not resume its run"
python3 - "$work/local/report.json" "$work/slurm/report.json" <<'PY' || fail "the Slurm report differs from the local one"
import json, sys
def strip(v):
    if isinstance(v, dict):
        return {k: strip(x) for k, x in v.items() if k != "seconds"}
    if isinstance(v, list):
        return [strip(x) for x in v]
    return v
a, b = (strip(json.load(open(p))) for p in sys.argv[1:])
if a != b:
    print(json.dumps(a, indent=1)[:2000]); print(json.dumps(b, indent=1)[:2000]); sys.exit(1)
print("report.json: the same metrics, bit for bit")
PY
"$basin" reproduce $exp --out "$work/slurm" --status | tee "$work/status.log"
grep -q "4 of 4 runs finished" "$work/status.log" || fail "--status does not count 4 finished runs"

echo "== a sharded 2-D surface"
surf=(landscape surface --run "$work/local/lr-0-05/seed-0" --dims 2 --points 7 --range 0.5 --train-subset 200 --test-subset 100 --batch-size 100)
"$basin" "${surf[@]}" --out "$work/whole" > /dev/null
"$basin" "${surf[@]}" --out "$work/sharded" --slurm --shards 3 --slurm-arg=--cpus-per-task=1 | tee "$work/shards.log"
merge=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['then'])" "$work/sharded.shards/slurm/submitted.json")
wait_for 300 "the merge job" sh -c "! squeue -h -j $merge | grep -q ."
for ext in json csv svg; do
  cmp "$work/whole.$ext" "$work/sharded.$ext" || fail "merged $ext differs from the unsharded one"
done
echo "merged surface: json, csv and svg equal the unsharded ones byte for byte"

echo "== stopping the cluster"
cleanup
trap - EXIT
tests/slurm/cluster.sh check "$cluster" || fail "processes of the cluster left running"
[ -n "${KEEP:-}" ] || rm -rf "$work"
echo "slurm test: passed"
