#!/usr/bin/env bash
# The GPU check (issue 29): on a machine that has only a carried basin binary built with
# `--features wgpu` and, if it has no Vulkan loader, the loader packages unpacked from Debian's
# .deb files, it measures
#   1. `basin bench step` on wgpu and on the CPU for ne-f1, keskar-c1 and resnet-20 (batch 128):
#      images/s and the ratio GPU ÷ CPU;
#   2. a short training run (ne-f1, the bundled MNIST slice, 2 epochs, the same seed) on each
#      device: final train loss and test accuracy, and how far apart they are;
#   3. λ_max of the exact Hessian of the CPU run's weights on each device (1,000 examples):
#      the agreement of the curvature engine across devices,
# and writes one small report, OUTDIR/gpu_check.md (and .json, and .log with the raw outputs). It is sized to finish well
# inside one 10-minute command on a GPU machine; every step has its own time limit, and a step
# that fails or times out is reported as such, not left out.
#
#   bash scripts/gpu_check.sh [BASIN] [OUTDIR]
#
# BASIN: the binary, or a gzipped one (default: .gpu/basin.gz if present, else
# target/release/basin). OUTDIR: default $OUT if set (the device tool's folder), else
# gpu-check. Loader packages: every .gl/*.deb is unpacked into / first, when no libvulkan is
# installed. Prepare the carry on the build machine:
#   cargo build --release -p basin-cli --features wgpu
#   mkdir -p .gpu && strip -o .gpu/basin target/release/basin && gzip -f .gpu/basin
#   (cd .gl && apt-get download libvulkan1 libegl1 libglvnd0)   # see docs/guide/gpu.md
# Here, without a GPU, Mesa's software Vulkan driver (mesa-vulkan-drivers) stands in: slow,
# and SMALL=1 shrinks every step so the script itself can be tested.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-}
OUTDIR=${2:-${OUT:-gpu-check}}
mkdir -p "$OUTDIR"
# the runs and raw outputs stay in a scratch folder: OUTDIR gets three files (gpu_check.md,
# .json and .log, which holds every raw output), what the device tool brings back
WORK=$(mktemp -d)
LOG="$WORK/gpu_check.log"
: >"$LOG"
say() { echo "$*" | tee -a "$LOG"; }

if [ -z "$BIN" ]; then
  if [ -f .gpu/basin.gz ]; then BIN=.gpu/basin.gz; else BIN=target/release/basin; fi
fi
case "$BIN" in
  *.gz) gunzip -c "$BIN" >/tmp/basin-gpu && chmod +x /tmp/basin-gpu && BIN=/tmp/basin-gpu ;;
esac
[ -x "$BIN" ] || { echo "gpu_check.sh: $BIN: not an executable" >&2; exit 2; }

if ! ldconfig -p | grep -q libvulkan && ls .gl/*.deb >/dev/null 2>&1; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ] && [ -z "${VK_DRIVER_FILES:-}" ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi

if [ "${SMALL:-0}" = 1 ]; then
  STEPS=3 MODELS=ne-f1:1x28x28 EPOCHS=1 SUBSET="--set data.train_subset=512 --set data.test_subset=256" SAMPLES=256 LIMIT=900
else
  STEPS=30 MODELS=ne-f1:1x28x28,keskar-c1:3x32x32,resnet-20:3x32x32 EPOCHS=2 SUBSET="" SAMPLES=1000 LIMIT=150
fi
say "gpu_check: $BIN, $(nproc) CPU cores, $(date -u +%FT%TZ)"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee -a "$LOG"

# run NAME SECONDS CMD...: the command's output in OUTDIR/NAME.txt, its status in the log
run() {
  local name=$1 limit=$2; shift 2
  local t0=$SECONDS
  timeout "$limit" "$@" >"$WORK/$name.txt" 2>&1
  local rc=$?
  say "$name: exit $rc after $((SECONDS - t0)) s"
  return 0
}

for dev in wgpu cpu; do
  run "bench-$dev" "$LIMIT" "$BIN" bench step --device "$dev" --models "$MODELS" --steps "$STEPS"
done
for dev in wgpu cpu; do
  # shellcheck disable=SC2086
  run "train-$dev" "$LIMIT" "$BIN" train --device "$dev" --set train.epochs="$EPOCHS" $SUBSET --out "$WORK/run-$dev"
done
for dev in wgpu cpu; do
  run "hessian-$dev" "$LIMIT" "$BIN" hessian --run "$WORK/run-cpu" --device "$dev" --top-k 1 --samples "$SAMPLES" --json "$WORK/hessian-$dev.json" --force
done

python3 - "$WORK" "$OUTDIR" <<'PY'
import json, os, re, sys
out, dest = sys.argv[1], sys.argv[2]
def read(name):
    p = os.path.join(out, name)
    return open(p).read() if os.path.exists(p) else ""
def bench(dev):
    rows = {}
    for line in read(f"bench-{dev}.txt").splitlines():
        c = [x.strip() for x in line.split("|")]
        if len(c) > 5 and re.match(r"^(ne|keskar|resnet)", c[1]):
            rows[c[1]] = (int(c[2]), float(c[3]))  # batch, steps/s
    return rows
def summary(dev):
    p = os.path.join(out, f"run-{dev}", "summary.json")
    return json.load(open(p)) if os.path.exists(p) else None
def lam(dev):
    p = os.path.join(out, f"hessian-{dev}.json")
    return json.load(open(p))["mean"][0] if os.path.exists(p) else None
rel = lambda a, b: abs(a - b) / abs(b) if a is not None and b not in (None, 0) else None
g, c = bench("wgpu"), bench("cpu")
report = {"bench": [], "train": {}, "lambda_max": {}}
lines = ["# GPU check", "", read("gpu_check.log").strip().replace("\n", "  \n"), "",
         "| workload | batch | wgpu images/s | CPU images/s | wgpu ÷ CPU |", "|---|---|---|---|---|"]
for w in sorted(set(g) | set(c)):
    bg, bc = g.get(w), c.get(w)
    ig = bg[0] * bg[1] if bg else None
    ic = bc[0] * bc[1] if bc else None
    ratio = ig / ic if ig and ic else None
    report["bench"].append({"workload": w, "wgpu_images_per_s": ig, "cpu_images_per_s": ic, "ratio": ratio})
    f = lambda x, d=1: f"{x:.{d}f}" if x is not None else "failed"
    lines.append(f"| {w} | {(bg or bc)[0]} | {f(ig)} | {f(ic)} | {f(ratio, 2)} |")
sg, sc = summary("wgpu"), summary("cpu")
lines += ["", "| training (ne-f1, slice, same seed) | wgpu | CPU | relative difference |", "|---|---|---|---|"]
for k in ["train_loss", "test_loss", "test_acc"]:
    a, b = (sg or {}).get(k), (sc or {}).get(k)
    report["train"][k] = {"wgpu": a, "cpu": b, "rel": rel(a, b)}
    lines.append(f"| {k} | {a if a is not None else 'failed'} | {b if b is not None else 'failed'} | {rel(a, b) if rel(a, b) is not None else '—'} |")
lg, lc = lam("wgpu"), lam("cpu")
report["lambda_max"] = {"wgpu": lg, "cpu": lc, "rel": rel(lg, lc)}
lines += ["", f"λ_max of the CPU run's exact Hessian: wgpu {lg}, CPU {lc}, relative difference {rel(lg, lc)}"]
open(os.path.join(dest, "gpu_check.md"), "w").write("\n".join(lines) + "\n")
json.dump(report, open(os.path.join(dest, "gpu_check.json"), "w"), indent=1)
with open(os.path.join(dest, "gpu_check.log"), "w") as log:
    for name in sorted(os.listdir(out)):
        if name.endswith(".txt") or name == "gpu_check.log":
            log.write(f"===== {name}\n{read(name)}\n")
print("\n".join(lines))
PY
rm -rf "$WORK"
