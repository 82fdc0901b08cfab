# Helpers shared by the rules.
#
# Each config writes under its own folder, results/<name>/ (`name` in the config: `full` for
# config/config.yaml, `smoke` for config/smoke.yaml), so a smoke run never touches a full run's
# results, and the committed report/ is written only by config/config.yaml (alone or with the stage
# configs of config/stages/, which only add tasks; the
# Snakefile checks `report_dir` and who owns results/<name>/ before any job: flowbench/outputs.py).
from flowbench.cluster import AUTO, requested_training_jobs, resolve_threads, rule_resources
from flowbench.config import iter_runs
from flowbench.identity import evaluate_digest, images_digest, task_digest, train_digest

RESULTS = f"results/{config['name']}"

wildcard_constraints:
    task="[A-Za-z0-9_]+",
    method="[A-Za-z0-9_]+",
    variant="[A-Za-z0-9_.\-]+",
    seed="[0-9]+",


def run_dirs(task):
    return [f"{RESULTS}/{t}/{m}/{v}/seed{s}" for (t, m, v, s) in iter_runs(config, task)]


def job_threads():
    """Threads of a training job: `threads_per_job` (an integer, or `auto`: flowbench/cluster.py)."""
    return training_threads(config.get("threads_per_job", AUTO))


def training_threads(setting):
    """An integer setting as it is; `auto` as a function Snakemake calls for each job, once the
    executor, --cores and the targets are known (cluster: 1; local: the cores given, shared among
    the training jobs the targets ask for)."""
    if setting != AUTO:
        return int(setting)

    def threads(wildcards):
        on_cluster = workflow.remote_exec or not workflow.local_exec
        if on_cluster:
            return resolve_threads(setting, on_cluster=True)
        targets = workflow.dag_settings.targets if workflow.dag_settings is not None else ()
        return resolve_threads(setting, on_cluster=False, cores=workflow.cores,
                               jobs=requested_training_jobs(targets, RESULTS, config))

    return threads


def job_resources(rule):
    """A rule's `resources:` (memory, runtime, a GPU when `device` asks for CUDA), sized from
    measured peaks: flowbench/cluster.py, README "On a cluster"."""
    return rule_resources(rule, config.get("device", "auto"))
