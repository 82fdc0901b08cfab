# Helpers shared by the rules.
#
# Each config writes under its own folder, results/<name>/ (`name` in the config: `full` for
# config/config.yaml, `smoke` for config/smoke.yaml), so a smoke run never touches a full run's
# results, and the committed report/ is written only by a config whose `report_dir` says so.
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
    return int(config.get("threads_per_job", 1))
