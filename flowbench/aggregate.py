"""What the aggregate step writes beside a task's metrics: the settings each run used
(``runs.csv``) and the task's own record (``task.json``). Torch-free, so the step starts in a
fraction of a training job's time (it runs once per task, and again on every rerun)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .records import read_json
from .tasks import load_task

RUN_COLUMNS = ["task", "method", "variant", "seed", "config_digest", "iterations", "batch_size",
               "n_eval", "steps_done", "diverged", "device", "threads", "n_parameters", "sample_seconds",
               "early_stopping", "best_step", "stopped_early"]


def runs_table(info_files) -> pd.DataFrame:
    """One row per run from its ``train_info.json`` (path ``.../<task>/<method>/<variant>/seed<k>/``):
    the settings each run actually used, which the report states."""
    rows = []
    for f in info_files:
        f = Path(f)
        info = read_json(f)
        seed_dir, variant_dir = f.parent, f.parent.parent
        rows.append({"task": variant_dir.parent.parent.name, "method": variant_dir.parent.name,
                     "variant": variant_dir.name, "seed": int(seed_dir.name.removeprefix("seed")),
                     **{k: info.get(k) for k in RUN_COLUMNS[4:]}})
    df = pd.DataFrame(rows, columns=RUN_COLUMNS)
    return df.sort_values(["task", "method", "variant", "seed"], kind="stable").reset_index(drop=True)


def task_record(config: dict, task_name: str) -> dict:
    """The task's own record for the report (``task.json``): kind, conditions, description,
    figures, whether the paper's mixture claims apply; and ``recipes``, each method's recipe on
    this task (the first variant its runs list), which the report's ranking of methods uses."""
    from .config import task_recipes
    task = load_task(config, task_name)
    return {**task.record(), "figures": list(type(task).figure_names(config["tasks"][task_name])),
            "recipes": task_recipes(config, task_name)}
