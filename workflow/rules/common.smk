# Helpers shared by the rules.
from flowbench.config import iter_runs

RESULTS = "results"

wildcard_constraints:
    task="[A-Za-z0-9_]+",
    method="[A-Za-z0-9_]+",
    variant="[A-Za-z0-9_.\-]+",
    seed="[0-9]+",


def run_dirs(task):
    return [f"{RESULTS}/{t}/{m}/{v}/seed{s}" for (t, m, v, s) in iter_runs(config, task)]


def job_threads():
    return int(config.get("threads_per_job", 1))
