"""A run's figure data: the small part of its samples that the task's figures and its eps split read.

``evaluate_run`` writes ``figure_data.npz`` beside ``metrics.json``; the figure job and the eps
split read it instead of the run's full ``posterior_samples.npz`` and ``predictions.npz``. So a
run whose scoring is done needs only its small files (``metrics.json``, ``figure_data.npz``,
``train_log.csv``, ``train_info.json``) for everything downstream, which is what lets a run be
carried from one machine to another (``flowbench.carry``) without its samples or its checkpoint.

What it holds, taken from the run's own files without any new draw (so every figure and every
eps-split number is the one it was before):

- ``condition_ids``: the evaluation conditions, as in the samples file;
- on the first seed of (method, variant), the seed every figure draws: ``samples``, the first
  ``Task.figure_points`` draws per condition (the most any of the kind's figures shows), and the
  kind's own extras (``Task.figure_arrays``: the mixture's predicted labels for Fig. 5.1);
- on a task with a calibration set: ``coverage``, the run's coverage curve [levels, d]
  (``metrics.coverage`` over the observations whose draws are finite; absent when none is);
- on a run the eps split reads (``eps_split.smoothed_runs``): ``eps_samples``, the first n draws
  at the split's conditions, and ``eps_condition_ids``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

FIGURE_DATA = "figure_data.npz"


def figure_data(config: dict, task_name: str, method: str, variant: str, seed: int, rundir,
                task=None) -> dict[str, np.ndarray]:
    """The arrays of ``figure_data.npz`` for the run in ``rundir`` (see the module docstring)."""
    from . import metrics as M
    from .eps_split import split_conditions, smoothed_runs
    from .recipes import first_seed
    from .records import read_npz
    from .tasks import load_task

    rundir = Path(rundir)
    task = task or load_task(config, task_name)
    post = read_npz(rundir / "posterior_samples.npz")
    out: dict[str, np.ndarray] = {"condition_ids": np.asarray([str(c) for c in post["condition_ids"]])}
    if first_seed(config, task_name, method, variant) == int(seed):
        out["samples"] = np.ascontiguousarray(post["samples"][:, :task.figure_points])
        out.update(task.figure_arrays(read_npz(rundir / "predictions.npz")))
    if "calibration_samples" in post:
        smp, tru = post["calibration_samples"], post["calibration_x"]
        ok = np.all(np.isfinite(smp), axis=(1, 2))
        if ok.any():
            out["coverage"] = M.coverage(smp[ok], tru[ok], np.asarray(M.COVERAGE_LEVELS))
    tcfg = config["tasks"][task_name]
    if tcfg.get("eps_split") and (method, variant) in smoothed_runs(config, task_name):
        picked, n = split_conditions(task, tcfg)
        ids = [str(c) for c in post["condition_ids"]]
        out["eps_samples"] = np.ascontiguousarray(post["samples"][picked, :n])
        out["eps_condition_ids"] = np.asarray([ids[k] for k in picked])
    return out


def write_figure_data(path, arrays: dict) -> None:
    from .io import write_npz
    write_npz(path, **arrays)


def read_figure_data(rundir) -> dict | None:
    """The run's figure data, or None when the run has none (not run in this config)."""
    from .records import read_npz
    f = Path(rundir) / FIGURE_DATA
    return read_npz(f) if f.exists() else None
