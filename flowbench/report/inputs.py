"""Reading ``results/``: the only inputs of the report (no training or benchmark code, no torch).

Each loader returns what is there, or an empty value where a stage did not run. Every file is
read through ``flowbench.records``: its integrity record, format and schema are checked first, so
the report's numbers, settings and counts come only from files that passed (a damaged one stops
the render with ``DamagedFile`` naming it).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import tables as T
from ..images.names import IMAGE_FIGURES
from ..records import read_csv, verify
from ..records import read_json as read_recorded_json

#: every image figure (Fig. 5.3 / 5.4 of ours, the cINN and the generative baselines); a report
#: copies those of the flows that ran (``tables.image_figure_names``) to ``figures/images/<dataset>/``
IMAGE_FIGURE_NAMES = IMAGE_FIGURES


def read_json(path: Path) -> dict | None:
    """A recorded JSON file (checked), or None where it is absent."""
    return read_recorded_json(path) if path.exists() else None


def _metrics(path: Path) -> pd.DataFrame:
    """A recorded tidy metrics CSV (checked; condition as text)."""
    return T.tidy(read_csv(path, dtype={"task": str, "method": str, "variant": str, "condition": str,
                                        "metric": str}, keep_default_na=False))


def discover_tasks(results_dir: str | Path) -> list[str]:
    """Tasks with a ``results/<task>/metrics.csv`` (the image stage, ``images``, excluded)."""
    return sorted(p.parent.name for p in Path(results_dir).glob("*/metrics.csv") if p.parent.name != "images")


def discover_image_datasets(results_dir: str | Path) -> list[str]:
    """Data sets with at least one image figure under ``results/images/<dataset>/figures/``."""
    root = Path(results_dir) / "images"
    return sorted(d.name for d in root.glob("*") if d.is_dir()
                  and any((d / "figures" / f"{n}.png").exists() for n in IMAGE_FIGURE_NAMES))


def load_task_metrics(results_dir: Path, tasks) -> pd.DataFrame:
    """The tidy metrics of every task (``results/<task>/metrics.csv``), sorted by run and metric."""
    frames = [_metrics(results_dir / t / "metrics.csv") for t in tasks
              if (results_dir / t / "metrics.csv").exists()]
    metrics = T.tidy(pd.concat(frames, ignore_index=True)) if frames else T.empty_metrics()
    return metrics.sort_values(T.METRIC_COLUMNS[:6], kind="stable").reset_index(drop=True)


def load_image_metrics(results_dir: Path) -> pd.DataFrame | None:
    """``results/images/metrics.csv`` (Table 1, generated images, claims C7, C8), or None."""
    path = results_dir / "images" / "metrics.csv"
    return _metrics(path) if path.exists() else None


def load_task_records(results_dir: Path, tasks) -> dict[str, dict]:
    """``results/<name>/<task>/task.json`` of each task (kind, conditions, description, figures,
    whether the paper's mixture claims apply), written by the aggregate step; {} where absent."""
    return {t: read_json(results_dir / t / "task.json") or {} for t in tasks}


def load_runs(results_dir: Path, tasks) -> pd.DataFrame:
    """``results/<name>/<task>/runs.csv`` of each task (the settings each run actually used, written
    by the aggregate step from its ``train_info.json``); an empty frame where absent."""
    frames = [read_csv(results_dir / t / "runs.csv") for t in tasks if (results_dir / t / "runs.csv").exists()]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["task", "method", "device"])


def run_devices(runs: pd.DataFrame) -> dict[str, int]:
    """{training device: number of runs} from ``runs.csv``."""
    counts = runs["device"].fillna("unknown").astype(str).value_counts() if len(runs) else {}
    return dict(sorted((k, int(v)) for k, v in dict(counts).items()))


def load_benchmark(results_dir: Path) -> dict | None:
    """``results/benchmark/`` (the off-default-path benchmark stage), or None when it was not run:
    {costs (DataFrame), fraction (dict or None), figure (Path or None), precision and profile
    (DataFrame or None)}."""
    d = results_dir / "benchmark"
    f = d / "step_costs.csv"
    if not f.exists():
        return None
    fig = d / "scaling.png"
    prec = d / "metric_precision.csv"
    return {"costs": T.load_step_costs(verify(f)), "fraction": read_json(d / "matmul_fraction.json"),
            "figure": fig if fig.exists() else None,
            "precision": T.precision_summary(read_csv(prec)) if prec.exists() else None,
            "profile": read_csv(d / "op_profile.csv") if (d / "op_profile.csv").exists() else None}


def load_epoch_curves(results_dir: Path) -> dict[str, pd.DataFrame]:
    """``results/images/epoch_curve/<dataset>.csv`` (accuracy against auto-encoder epochs) by data set."""
    src_dir = results_dir / "images" / "epoch_curve"
    return {p.stem: read_csv(p) for p in sorted(src_dir.glob("*.csv"))} if src_dir.exists() else {}


def load_eps_split(results_dir: Path, tasks) -> dict[str, pd.DataFrame]:
    """``results/<name>/<task>/eps_split.csv`` of each task that has one (what eps costs)."""
    return {t: read_csv(results_dir / t / "eps_split.csv", dtype={"condition": str}, keep_default_na=False)
            for t in tasks if (results_dir / t / "eps_split.csv").exists()}


def load_floors(results_dir: Path, tasks) -> pd.DataFrame | None:
    """``results/<name>/<task>/noise_floor.csv`` of each task (each metric between two independent
    exact samples: task, condition, metric, n, repeat, value), or None where none was computed."""
    frames = [read_csv(results_dir / t / "noise_floor.csv", dtype={"condition": str}, keep_default_na=False)
              for t in tasks if (results_dir / t / "noise_floor.csv").exists()]
    return pd.concat(frames, ignore_index=True) if frames else None


def load_tuning(folder) -> dict | None:
    """A tuning summary folder (``trials.csv`` and ``tuned_recipes.json``, as ``flowbench.tuning.publish``
    or the summary rule wrote them), checked: each file against its integrity record, and the table
    against the recipes' ``trials_sha256``; None when the folder holds none. Returns {trials,
    recipes, floors: {task: validation floor}, figure: the expected-best PNG or None}."""
    from ..records import REBUILD, DamagedFile, read_csv, read_json, sha256_of
    folder = Path(folder)
    tpath, rpath = folder / "trials.csv", folder / "tuned_recipes.json"
    if not tpath.exists() and not rpath.exists():
        return None
    rec = read_json(rpath)
    trials = read_csv(tpath, keep_default_na=False, na_values=[""])
    if sha256_of(tpath) != rec.get("trials_sha256"):
        raise DamagedFile(tpath, f"its SHA-256 is not the one {rpath.name} records for it", REBUILD)
    floors = {}
    for s in rec["studies"]:
        if s.get("floor") is not None:
            floors.setdefault(s["task"], float(s["floor"]))
    fig = folder / "expected_best.png"
    return {"trials": trials, "recipes": rec, "floors": floors, "figure": fig if fig.exists() else None}
