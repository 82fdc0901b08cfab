#!/usr/bin/env bash
# The smoke workflow on a real SLURM cluster (one node, this machine), against a local run.
# What it does and what it prints: tests/slurm/README.md. Needs root, Debian (apt) and ~30 minutes
# on 2 cores. Usage, from anywhere:
#   tests/slurm/run_slurm_check.sh            # everything, then the daemons are stopped
# Environment: WORK (default /tmp/flowbench-slurm: the repository copy, the venv, the cluster's
# files), VENV (a venv to use or create; default $WORK/venv), KEEP_UP=1 (leave the cluster running),
# FROM_STEP=N (resume at step 5, 6, 7 or 8 with the copy and results of an earlier run in $WORK).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORK=${WORK:-/tmp/flowbench-slurm}
VENV=${VENV:-$WORK/venv}
COPY=$WORK/repo
FROM_STEP=${FROM_STEP:-1}
export SLURM_DIR=$WORK/cluster
mkdir -p "$WORK"
# shellcheck source=tests/slurm/slurm_cluster.sh
source "$REPO/tests/slurm/slurm_cluster.sh"

say() { printf '\n=== %s\n' "$*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "run as root (slurmd, apt-get)"

# ---- 1. SLURM from Debian's packages ------------------------------------------------------------
say "1. packages"
slurm_install
grep PRETTY_NAME /etc/os-release

# ---- 2. the repository as a checkout has it (tracked and untracked-not-ignored files) -----------
say "2. repository copy in $COPY"
if [ "$FROM_STEP" -le 2 ] || [ ! -d "$COPY" ]; then
  rm -rf "$COPY" && mkdir -p "$COPY"
  (cd "$REPO" && git ls-files -z --cached --others --exclude-standard | rsync -a --from0 --files-from=- ./ "$COPY/")
  mkdir -p "$COPY/results"
else
  echo "kept (FROM_STEP=$FROM_STEP)"
fi
# the image stage reads MNIST from $FLOWBENCH_DATA (the repository's ../shared/data when present);
# without a copy it is left out of both runs
DATA=${FLOWBENCH_DATA:-$REPO/../shared/data}
CHECK_CFG=$WORK/check.yaml
: >"$CHECK_CFG"
if [ -d "$DATA/mnist" ]; then
  export FLOWBENCH_DATA=$(cd "$DATA" && pwd)
else
  echo "no MNIST at $DATA: the image stage is left out"
  printf 'images: {datasets: [], epoch_curve: {datasets: []}}\n' >"$CHECK_CFG"
fi

# ---- 3. the environment: the lock, then the project with its `slurm` extra ----------------------
say "3. environment $VENV"
pipi() { "$VENV/bin/pip" install -q "$@" >>"$WORK/pip.log" 2>&1 || { tail -20 "$WORK/pip.log"; fail "pip install $*"; }; }
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  pipi --upgrade pip
  pipi "torch==2.13.0"
  pipi --require-hashes -r "$COPY/requirements/lock.txt"
fi
pipi -e "$COPY[slurm]"
# shellcheck disable=SC1091
source "$VENV/bin/activate"
pip list 2>/dev/null | grep -Ei '^(snakemake|snakemake-executor-plugin-slurm|snakemake-executor-plugin-slurm-jobstep|torch) '
cd "$COPY"

# ---- 4. the cluster ------------------------------------------------------------------------------
say "4. one-node cluster"
if [ "${KEEP_UP:-0}" != 1 ]; then trap slurm_down EXIT; fi
slurm_up
sinfo
T0=$(date +%Y-%m-%dT%H:%M:%S)

# the smoke config, each run under its own results/<name>/ (several files after one --configfile
# are merged in order: README "Configuration")
cfg() {  # cfg NAME [EXTRA-YAML] -> a config file that sets name (and EXTRA) over the smoke config
  local f=$WORK/$1.yaml
  cp "$CHECK_CFG" "$f"; printf 'name: %s\n%s\n' "$1" "${2:-}" >>"$f"; echo "$f"
}
# what a user sets for their own cluster (profiles/slurm/profile.yaml leaves it to them); a shorter
# first status check than the plugin's 40 s only makes this small run quicker
SLURM_ARGS=(--profile profiles/slurm --default-resources "slurm_account=$SLURM_ACCOUNT"
            "slurm_partition=$SLURM_PARTITION" --slurm-init-seconds-before-status-checks 10)

# ---- 5. the smoke workflow, locally --------------------------------------------------------------
LOCAL=$(cfg smoke_local)
REMOTE=$(cfg smoke_slurm)
if [ "$FROM_STEP" -le 5 ]; then
say "5. local smoke run (results/smoke_local)"
t=$SECONDS
snakemake --cores 2 --configfile config/smoke.yaml "$LOCAL" >"$WORK/local.log" 2>&1 \
  || { tail -40 "$WORK/local.log"; fail "local run"; }
echo "local run: $((SECONDS - t)) s, $(awk '$1 == "total" {print $2; exit}' "$WORK/local.log") jobs"

# ---- 6. the same under SLURM; one training job is cancelled by the scheduler mid-run --------------
fi

if [ "$FROM_STEP" -le 6 ]; then
say "6. SLURM smoke run (results/smoke_slurm), scancel of one running training job"
t=$SECONDS
# (a bound on the run: a job state the plugin does not understand would leave it waiting forever)
timeout -s INT -k 60 3600 snakemake "${SLURM_ARGS[@]}" --configfile config/smoke.yaml "$REMOTE" \
  >"$WORK/slurm.log" 2>&1 &
SMK=$!
CANCELLED=""
for _ in $(seq 600); do
  # the first training job that has run for 5 s (its Snakemake has started, the script may train)
  line=$(squeue -h -t R -o '%i %M %k' | awk '$3 ~ /^rule_train_run_/ && $2 >= "0:05" {print; exit}')
  if [ -n "$line" ]; then
    CANCELLED=$(awk '{print $1}' <<<"$line"); CANCELLED_RUN=$(awk '{print $3}' <<<"$line")
    scancel "$CANCELLED"; echo "scancel $CANCELLED ($CANCELLED_RUN, running for $(awk '{print $2}' <<<"$line"))"
    break
  fi
  kill -0 $SMK 2>/dev/null || break
  sleep 1
done
rc=0; wait $SMK || rc=$?
echo "SLURM run: exit $rc, $((SECONDS - t)) s"
[ $rc = 0 ] || { tail -60 "$WORK/slurm.log"; fail "SLURM run"; }
[ -n "$CANCELLED" ] || fail "no training job was seen running to cancel"

say "6a. sacct: every job of the run, as the scheduler recorded it"
sacct -X -S "$T0" -o JobID%6,Comment%62,State%14,Elapsed,AllocCPUS%5,ReqMem%7 | tee "$WORK/sacct_run.txt"
sacct -X -S "$T0" -P -n -o JobID,Comment,State >"$WORK/sacct_run.psv"
python - "$WORK/slurm.log" "$WORK/sacct_run.psv" "$CANCELLED" "$CANCELLED_RUN" <<'EOF'
import re, sys
log, sacct, cancelled, cancelled_run = open(sys.argv[1]).read(), open(sys.argv[2]).read(), sys.argv[3], sys.argv[4]
stats = re.search(r"Job stats:\n.*?\n-+\s+-+\n(.*?)\ntotal\s+(\d+)", log, re.S)
jobs = {l.split()[0]: int(l.split()[1]) for l in stats.group(1).splitlines()}
n_remote = sum(v for k, v in jobs.items() if k != "all")          # `all` has no action: local
submitted = re.findall(r"has been submitted with SLURM jobid (\d+)", log)
rows = [l.split("|") for l in sacct.splitlines() if l.strip()]
state = {r[0]: r[2].split()[0] for r in rows}
print(f"jobs of the run: {sum(jobs.values())} ({n_remote} with an action + `all`); "
      f"sbatch submissions: {len(submitted)}; in sacct: {len(rows)}")
assert len(submitted) == n_remote + 1, "one submission per job, plus the cancelled job's resubmission"
assert all(j in state for j in submitted), "a submitted job is missing from sacct"
assert state[cancelled] == "CANCELLED", state[cancelled]
others = [j for j in submitted if j != cancelled]
assert all(state[j] == "COMPLETED" for j in others), {j: state[j] for j in others if state[j] != "COMPLETED"}
again = [r for r in rows if r[1] == cancelled_run and r[0] != cancelled]
assert len(again) == 1 and state[again[0][0]] == "COMPLETED", again
print(f"every job ran through SLURM and COMPLETED; {cancelled} ({cancelled_run}) was CANCELLED "
      f"and resubmitted as {again[0][0]}, which COMPLETED")
EOF

say "6b. peak memory of each rule's jobs: sacct MaxRSS of the batch step (the job's snakemake) + the srun step (snakemake + the script)"
sacct -S "$T0" -P -n -o JobID,Comment,MaxRSS,ReqMem,Elapsed >"$WORK/sacct_steps.txt"
python - "$WORK/sacct_steps.txt" <<'EOF'
import collections, re, sys
def mb(s):
    m = re.match(r"([0-9.]+)([KMG]?)$", s or "")
    return float(m.group(1)) * {"K": 1 / 1024, "M": 1, "G": 1024, "": 1 / 2**20}[m.group(2)] if m else 0.0
rule, req, batch, step = {}, {}, collections.defaultdict(float), collections.defaultdict(float)
for line in open(sys.argv[1]):
    jid, comment, rss, reqmem, _ = line.rstrip("\n").split("|")
    base, _, kind = jid.partition(".")
    if not kind:
        rule[base], req[base] = re.sub(r"^rule_|_wildcards_.*$", "", comment), reqmem
    elif kind == "batch":
        batch[base] = max(batch[base], mb(rss))
    else:
        step[base] = max(step[base], mb(rss))
peak = collections.defaultdict(lambda: [0.0, 0.0, 0.0, ""])
for j, r in rule.items():
    if batch[j] + step[j] > peak[r][0]:
        peak[r] = [batch[j] + step[j], batch[j], step[j], req[j]]
print(f"{'rule':24s} {'job MB':>7s} {'batch':>6s} {'srun':>6s} {'asked':>7s}")
for r in sorted(peak):
    t, b, st, q = peak[r]
    print(f"{r:24s} {t:7.0f} {b:6.0f} {st:6.0f} {q:>7s}")
EOF

fi

# ---- 7. the metrics of the two runs agree (timings aside) ----------------------------------------
say "7. metrics: results/smoke_slurm against results/smoke_local"
python - <<'EOF'
import glob, os
import numpy as np, pandas as pd
TIMING = {"seconds_per_iteration", "train_seconds"}
KEYS = ["task", "method", "variant", "seed", "condition", "metric"]
n_files = n_values = 0
for local in sorted(glob.glob("results/smoke_local/**/metrics.csv", recursive=True)):
    remote = local.replace("results/smoke_local/", "results/smoke_slurm/", 1)
    assert os.path.exists(remote), remote
    a, b = (pd.read_csv(f, dtype={"condition": str}, keep_default_na=False) for f in (local, remote))
    a, b = (d[~d.metric.isin(TIMING) & ~d.metric.str.contains("seconds")] for d in (a, b))
    m = a.merge(b, on=KEYS, how="outer", suffixes=("_local", "_slurm"), indicator=True)
    assert (m._merge == "both").all(), m[m._merge != "both"]
    # an empty value is a metric a run does not define (e.g. W2 within modes that it never samples)
    x, y = (pd.to_numeric(m[c], errors="coerce").to_numpy(float) for c in ("value_local", "value_slurm"))
    ok = np.isclose(x, y, rtol=1e-6, atol=1e-9, equal_nan=True)
    assert ok.all(), m[~ok]
    n_files += 1; n_values += len(m)
    print(f"{local:48s} {len(m):4d} values equal (max |diff| {np.nanmax(np.abs(x - y), initial=0):.1e})")
print(f"{n_files} metrics files, {n_values} values: equal within rtol 1e-6 (timing metrics excluded)")
EOF

# ---- 8. a job killed mid-training while Snakemake does not resubmit: redone on the next run ------
say "8. scancel mid-training with --restart-times 0, then the same command again"
# longer training on gmm (so that the job can be caught training), three runs, gmm's targets only
REDO=$(cfg smoke_redo "tasks:
  gmm:
    train: {iterations: 4000, log_every: 100}
    runs: [{method: ours, variants: [paper], seeds: [0, 1]}, {method: cinn, variants: [default], seeds: [0]}]")
TARGET=results/smoke_redo/gmm/metrics.csv
T1=$(date +%Y-%m-%dT%H:%M:%S)
timeout -s INT -k 60 1800 snakemake "${SLURM_ARGS[@]}" --restart-times 0 --configfile config/smoke.yaml \
  "$REDO" -- $TARGET >"$WORK/redo1.log" 2>&1 &
SMK=$!
KILLED=""
for _ in $(seq 600); do
  # a running training job whose train.log (results/<name>/logs/<task>/<method>/<variant>/seed<k>/)
  # already shows training steps; the plugin names the job rule_train_run_wildcards_<t>_<m>_<v>_<k>
  for logf in $(ls results/smoke_redo/logs/gmm/*/*/seed*/train.log 2>/dev/null); do
    run=$(sed -E 's#^results/smoke_redo/logs/##; s#/train.log$##; s#/seed([0-9]+)$#/\1#; s#/#_#g' <<<"$logf")
    jid=$(squeue -h -t R -o '%i %k' | awk -v c="rule_train_run_wildcards_$run" '$2 == c {print $1}')
    if [ -n "$jid" ] && grep -q "^step " "$logf"; then
      KILLED=$jid; KILLED_RUN=$run
      echo "scancel $jid ($run) after: $(grep '^step ' "$logf" | tail -1)"
      scancel "$jid"; break 2
    fi
  done
  kill -0 $SMK 2>/dev/null || break
  sleep 1
done
rc=0; wait $SMK || rc=$?
echo "first run: exit $rc (non-zero expected: one job failed, keep-going finished the others)"
[ -n "$KILLED" ] || fail "no training job was caught training"
[ $rc != 0 ] || fail "the first run should fail"
sacct -X -S "$T1" -o JobID%6,Comment%62,State%14,Elapsed | tee "$WORK/sacct_redo1.txt"
find results/smoke_redo/gmm -name model.pt -printf '%P %T@\n' | sort >"$WORK/kept_before.txt"
echo "finished runs kept: $(cut -d' ' -f1 "$WORK/kept_before.txt" | tr '\n' ' ')"

T2=$(date +%Y-%m-%dT%H:%M:%S)
sleep 1
timeout -s INT -k 60 1800 snakemake "${SLURM_ARGS[@]}" --configfile config/smoke.yaml "$REDO" -- $TARGET \
  >"$WORK/redo2.log" 2>&1 || { tail -40 "$WORK/redo2.log"; fail "second run"; }
echo "second run: exit 0"
sacct -X -S "$T2" -o JobID%6,Comment%62,State%14,Elapsed | tee "$WORK/sacct_redo2.txt"
sacct -X -S "$T2" -P -n -o JobID,Comment,State >"$WORK/sacct_redo2.psv"
python - "$WORK/sacct_redo2.psv" "$KILLED_RUN" "$WORK/kept_before.txt" <<'EOF'
import subprocess, sys
rows = [l.split("|") for l in open(sys.argv[1]).read().splitlines() if l.strip()]
killed = sys.argv[2]
train = [r for r in rows if r[1].startswith("rule_train_run_")]
assert [r[1] for r in train] == [f"rule_train_run_wildcards_{killed}"], train
assert all(r[2] == "COMPLETED" for r in rows), rows
now = dict(l.split() for l in subprocess.run(
    ["find", "results/smoke_redo/gmm", "-name", "model.pt", "-printf", "%P %T@\n"],
    capture_output=True, text=True).stdout.splitlines())
before = dict(l.split() for l in open(sys.argv[3]).read().splitlines())
assert all(now[k] == v for k, v in before.items()), "a finished run was redone"
print(f"the second run redid only {killed} (and what reads it: "
      f"{', '.join(sorted({r[1].split('_wildcards_')[0][5:] for r in rows}))}); "
      f"{len(before)} finished training runs kept untouched")
EOF

say "all checks passed"
