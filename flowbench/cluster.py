"""What each workflow job asks of a cluster scheduler, and how many threads a training job runs.

Read by workflow/rules/*.smk (every rule's ``resources:``; the ``threads:`` of the training rules)
and by tests/test_cluster.py. No torch and no Snakemake import, so parsing the workflow stays light.

Resources (Snakemake's standard resources, which the SLURM executor plugin turns into ``sbatch``
options: ``mem_mb`` -> ``--mem``, ``runtime`` (minutes) -> ``-t``, threads -> ``--cpus-per-task``,
``gpu`` -> ``--gpus``; https://snakemake.github.io/snakemake-plugin-catalog/plugins/executor/slurm.html
and https://snakemake.readthedocs.io/en/stable/snakefiles/rules.html#resources):

- ``mem_mb`` = 1.5 x the peak RSS measured for the rule's script + ``SNAKEMAKE_MB`` (a cluster job
  also holds its own ``snakemake`` process and the one ``srun`` starts, ~0.45 GB each), rounded
  up to 250 MB; + ``CUDA_HOST_MB`` when the job asks for a GPU (the CUDA runtime's host memory).
- ``runtime`` = 2 x the wall time of the rule's slowest measured job (at one thread, beside another
  job on a 2-core machine), at least 15 minutes, rounded up to 5.
- both are multiplied by Snakemake's ``attempt``: a job killed for memory or time (or by
  ``scancel``) is resubmitted by ``--restart-times`` (the SLURM profile sets 2) with twice, then
  three times, as much.
- ``gpu=1`` for the rules that read ``device`` when the config's ``device`` is ``cuda`` or
  ``cuda:N``. ``auto`` and ``cpu`` ask for none: ``auto`` takes a GPU only where the job lands on one,
  and asking every job for a GPU would leave it pending on a cluster without GPUs.

Nothing here is specific to one cluster: partition, account, QoS and the like are set by the user
(profiles/slurm/profile.yaml, or ``--set-resources`` / ``--default-resources``).
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass

MEM_FACTOR = 1.5      # peak RSS x this
SNAKEMAKE_MB = 1000   # the two Snakemake processes of a cluster job: sacct's MaxRSS of the batch
                      # step (the job's own snakemake) is ~450 MB, the srun step's one as much
CUDA_HOST_MB = 2000   # host memory of the CUDA runtime and kernels: an estimate, not measured here
TIME_FACTOR = 2.0     # slowest measured wall time x this
MIN_MINUTES = 15


@dataclass(frozen=True)
class Measured:
    """The peak a rule's jobs reached in a measured run, and where it was measured."""
    rss_mb: float       # peak RSS of the rule's script (Snakemake `benchmark:` max_rss, or sacct)
    minutes: float      # wall time of the rule's slowest job
    source: str
    uses_device: bool = False   # the rule reads `device` (a torch job that can run on a GPU)


# Sources: "full" = the last full run (config/config.yaml, 2-core CPU machine, one thread per job,
# two jobs side by side): report/tables/wall_time.csv (per rule: peak max_rss of its jobs, total
# wall time) and the per-job benchmark TSVs results/full/benchmarks/**.tsv; "smoke-slurm" = the
# smoke config under SLURM (tests/slurm/run_slurm_check.sh): sacct's MaxRSS of the job step that
# ran the script less the ~450 MB of that step's own snakemake, for rules that keep no benchmark TSV
# (all of them light pandas/matplotlib jobs).
MEASURED: dict[str, Measured] = {
    "train_run": Measured(
        1479, 75, "full: max_rss 1479 MB over 70 training jobs (1429 MB in the current run); "
                  "slowest inn/full_4x_cosine: 4 x a 400-iteration INN run, 15-19 min each at one "
                  "thread beside other jobs", True),
    "train_ensemble": Measured(
        17600, 300, "bench (notes/bench_ensemble.py 10 1600 inn full): the INN's 5 gmm seeds at batch "
                    "1,600 as one ensemble reached 17.6 GB resident on a CPU; runtime: the sum of its "
                    "seeds' train_run times", True),
    "evaluate_run": Measured(721, 2, "full: max_rss 721 MB, 19 s per job on average (70 jobs)"),
    "noise_floor": Measured(721, 10, "full: as evaluate_run (the same metrics on exact samples), "
                                     "10 pairs per condition and size"),
    "aggregate_task": Measured(400, 1, "smoke-slurm: 846 MB srun step (pandas)"),
    "reference_task": Measured(500, 10, "estimate: rejection ABC streamed in chunks; the full "
                                        "config's pool of 10^8 draws takes minutes"),
    "figure_task": Measured(400, 3, "smoke-slurm: 847 MB srun step (matplotlib); one job draws "
                                    "all 3-6 figures of a task (figure_task_<task>), ~20 s each"),
    "images_verify_data": Measured(
        400, 5, "smoke-slurm: 832 MB srun step; a download, if any, adds minutes"),
    "images_autoencoder": Measured(
        1335, 35, "full: max_rss 1335 MB; 24 min per job on average (4 jobs, 6 epochs of 60k)", True),
    "images_flow": Measured(362, 5, "full: max_rss 362 MB; 1.7 min per job on average (8 jobs)", True),
    "images_classifier_cnn": Measured(757, 5, "full: max_rss 757 MB; 1.6 min per job (4 jobs)", True),
    "images_evaluate": Measured(699, 2, "full: max_rss 699 MB; 17 s per job (4 jobs)", True),
    "images_aggregate": Measured(400, 1, "smoke-slurm: 815 MB srun step (pandas)"),
    "images_figures": Measured(400, 1, "as figure_task (matplotlib; too short for sacct's 5 s sampling)"),
    "images_epoch_curve": Measured(
        1624, 80, "full: max_rss 1624 MB; 18 auto-encoder epochs ~45-70 min + 7 probes", True),
    "provenance": Measured(300, 1, "smoke-slurm: 702 MB srun step"),
    "render_report": Measured(500, 2, "smoke-slurm: 566 MB srun step (sampled every 5 s: the "
                                      "peak may fall between samples; kept at 500 MB)"),
    "tune_study": Measured(1479, 600, "estimate: as train_run per trial (the largest draw of a "
                                      "search space is the recipes' size or less), 25 trials of up to "
                                      "~12 min each (the INN's gmm_some recipe); resumable when cut", True),
    "sbibm_figure": Measured(400, 1, "estimate: pandas and one matplotlib figure, as figure_task"),
    "tuning_summary": Measured(400, 1, "estimate: pandas and one matplotlib figure, as figure_task"),
    "tuning_publish": Measured(300, 1, "estimate: copies two small tables and a figure"),
    "eps_split_task": Measured(1000, 15, "estimate: up to 3.2e7 prior draws per target sample in "
                                         "chunks of 10^6, a kd-tree of the kept draws, exact W2 at n 2000"),
    "benchmark_costs": Measured(1603, 2, "full: max_rss 1603 MB, 102 s", True),
    "benchmark_precision": Measured(935, 1, "full: max_rss 935 MB, 55 s"),
    "benchmark_profile": Measured(3145, 1, "full: max_rss 3145 MB, 29 s", True),
}


def _round_up(x: float, step: int) -> int:
    return int(math.ceil(x / step) * step)


def wants_gpu(device) -> bool:
    """The config's ``device`` asks for CUDA (``cuda`` or ``cuda:N``)."""
    return str(device).startswith("cuda")


def mem_mb(rule: str, attempt: int = 1, gpu: bool = False) -> int:
    m = MEASURED[rule]
    base = _round_up(m.rss_mb * MEM_FACTOR + SNAKEMAKE_MB + (CUDA_HOST_MB if gpu else 0), 250)
    return base * max(int(attempt), 1)


def runtime(rule: str, attempt: int = 1) -> int:
    """Minutes."""
    m = MEASURED[rule]
    return _round_up(max(m.minutes * TIME_FACTOR, MIN_MINUTES), 5) * max(int(attempt), 1)


def rule_resources(rule: str, device="cpu") -> dict:
    """The ``resources:`` of a rule, as keyword arguments (``resources: **rule_resources(...)``):
    ``mem_mb`` and ``runtime`` scale with Snakemake's ``attempt``; ``gpu=1`` only where the rule
    reads ``device`` and the config asks for CUDA."""
    gpu = MEASURED[rule].uses_device and wants_gpu(device)

    def mem(wildcards, attempt):
        return mem_mb(rule, attempt, gpu)

    def minutes(wildcards, attempt):
        return runtime(rule, attempt)

    res = {"mem_mb": mem, "runtime": minutes}
    if gpu:
        res["gpu"] = 1
    return res


def resource_table(device="cpu") -> list[dict]:
    """One row per rule (first attempt): what README's "On a cluster" table lists."""
    rows = []
    for rule, m in MEASURED.items():
        gpu = m.uses_device and wants_gpu(device)
        rows.append({"rule": rule, "measured_rss_mb": m.rss_mb, "measured_minutes": m.minutes,
                     "mem_mb": mem_mb(rule, 1, gpu), "runtime_min": runtime(rule, 1),
                     "gpu_when_cuda": m.uses_device, "source": m.source})
    return rows


# ---------------------------------------------------------------------------------------------
# Threads of the training jobs (`threads_per_job`, `images.threads`)
# ---------------------------------------------------------------------------------------------
# An integer N: every training job runs N torch threads (Snakemake scales N down to --cores when it
# is larger). `auto`: the cores given, shared among the training jobs the command asks for, so
#   snakemake --cores 2 results/<name>/gmm/ours/paper/seed0/metrics.json   -> one job, 2 threads
#   snakemake --cores 2   (every run of a config with >= 2 runs)            -> 1 thread each, 2 at once
# Snakemake fixes a job's threads when it builds the job graph, before it knows how many jobs will
# be ready side by side, so "the jobs the command asks for" is read from the command's targets: files
# inside a run's folder name that run (an image run's folder: 2 training jobs at once, the
# auto-encoder beside the CNN, then the two flows); any other target (none: the default `all`; a
# rule; an aggregate) asks for every run of the config. On a cluster (any non-local executor, and the
# jobs it submits) `auto` is 1: each job gets its own CPUs from the scheduler, the parallelism comes
# from many jobs, and the job's own Snakemake process must arrive at the same number as the one that
# submitted it, which only the config can guarantee. Set an integer for more threads per job there.
AUTO = "auto"


def _run_patterns(results: str):
    r = re.escape(results.rstrip("/"))
    run = re.compile(rf"^{r}/(?!images/)([^/]+)/([^/]+)/([^/]+)/seed([0-9]+)/[^/]+$")
    image = re.compile(rf"^{r}/images/([^/]+)/seed([0-9]+)/[^/]+$")
    return run, image


def config_training_jobs(config: dict) -> int:
    """Training jobs of every run of the config (an image run counts 2: jobs that run side by side)."""
    from flowbench.config import iter_runs
    n = len(list(iter_runs(config)))
    images = config.get("images") or {}
    n += 2 * len(images.get("datasets") or []) * len(images.get("seeds") or [0])
    return n


def requested_training_jobs(targets, results: str, config: dict) -> int:
    """How many training jobs the command's targets ask for (see the comment above)."""
    run_re, image_re = _run_patterns(results)
    runs, images = set(), set()
    for t in targets or ():
        p = os.path.normpath(os.path.relpath(t) if os.path.isabs(t) else t)
        m = run_re.match(p)
        if m:
            runs.add(m.groups())
            continue
        m = image_re.match(p)
        if m:
            images.add(m.groups())
            continue
        return config_training_jobs(config)
    if not runs and not images:
        return config_training_jobs(config)
    return len(runs) + 2 * len(images)


def auto_threads(cores: int, jobs: int) -> int:
    """The cores given, shared among ``jobs`` training jobs (at least 1 thread each)."""
    cores = max(int(cores), 1)
    return max(1, cores // max(1, min(cores, int(jobs))))


def resolve_threads(setting, *, on_cluster: bool, cores=None, jobs: int = 1) -> int:
    """Threads of one training job for ``threads_per_job`` / ``images.threads`` = ``setting``."""
    if setting != AUTO:
        return int(setting)
    if on_cluster or cores is None:
        return 1
    return auto_threads(cores, jobs)
