"""A run's figure data: the small part of its samples that the task's figures and its eps split read.

``evaluate_run`` writes ``figure_data.npz`` beside ``metrics.json`` (its arrays:
``flowbench.pipeline.figure_data``); the figure job and the eps
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

FIGURE_DATA = "figure_data.npz"


def write_figure_data(path, arrays: dict) -> None:
    from .io import write_npz
    write_npz(path, **arrays)


def read_figure_data(rundir) -> dict | None:
    """The run's figure data, or None when the run has none (not run in this config)."""
    from .records import read_npz
    f = Path(rundir) / FIGURE_DATA
    return read_npz(f) if f.exists() else None
