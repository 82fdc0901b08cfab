"""Time to quality: the training seconds until the periodic probe's W2 first reaches a threshold.

A training log is a frame with one row per logged step (``step``, ``seconds``, ``probe_w2``, NaN
between probes). The threshold on the probe W2 is ``TIME_FLOOR_MULTIPLE`` times the task's noise
floor at the probe's sample size (the W2 between two independent exact samples of that size), or
the fixed ``W2_THRESHOLD_TIME`` when the task has no floor.
"""
from __future__ import annotations

import pandas as pd

from .metrics import RUN_KEYS, sort_runs

W2_THRESHOLD_TIME = 0.15    # time-to-quality threshold on the probe W2 when no floor is known
TIME_FLOOR_MULTIPLE = 3.0   # time to quality: the first probe W2 within this multiple of its floor


def time_to_threshold(log: pd.DataFrame, threshold: float = W2_THRESHOLD_TIME) -> float | None:
    """``seconds`` of the first log row whose ``probe_w2`` <= threshold; None if never reached."""
    if log is None or log.empty or "probe_w2" not in log or "seconds" not in log:
        return None
    w = pd.to_numeric(log["probe_w2"], errors="coerce")
    hit = log[(w <= threshold) & w.notna()]
    if hit.empty:
        return None
    if "step" in hit:
        hit = hit.sort_values("step", kind="stable")
    return float(hit["seconds"].iloc[0])


TTT_COLUMNS = ["task", "method", "variant", "seed", "has_log", "probes", "best_probe_w2", "reached",
               "seconds_to_threshold", "train_seconds", "threshold"]


def time_to_threshold_rows(metrics: pd.DataFrame) -> pd.DataFrame:
    """Time to quality per run from the rows evaluation wrote (``probe_count``,
    ``probe_best_w2``, ``probe_threshold``, ``seconds_to_probe_threshold``, ``train_seconds``):
    the columns of ``TTT_COLUMNS``; runs without probe rows (diverged, or no probing) are left out."""
    whole = metrics[metrics["condition"] == ""]
    wide = whole.pivot_table(index=RUN_KEYS, columns="metric", values="value", aggfunc="first")
    if "probe_count" not in wide:
        return pd.DataFrame(columns=TTT_COLUMNS)
    wide = wide[wide["probe_count"].notna()]
    get = lambda col: wide[col] if col in wide else pd.Series(float("nan"), index=wide.index)  # noqa: E731
    out = pd.DataFrame({"has_log": True, "probes": get("probe_count").astype(int),
                        "best_probe_w2": get("probe_best_w2").astype(float),
                        "reached": get("seconds_to_probe_threshold").notna(),
                        "seconds_to_threshold": get("seconds_to_probe_threshold").astype(float),
                        "train_seconds": get("train_seconds").astype(float),
                        "threshold": get("probe_threshold").astype(float)}, index=wide.index).reset_index()
    out["seed"] = out["seed"].astype(int)
    return sort_runs(out[TTT_COLUMNS], extra=("task", "seed")) if len(out) else pd.DataFrame(columns=TTT_COLUMNS)


def time_to_threshold_summary(ttt: pd.DataFrame) -> pd.DataFrame:
    """Per (task, method, variant): runs, reached (count), mean seconds over the runs that reached."""
    rows = []
    if not ttt.empty:
        for (task, method, variant), g in ttt.groupby(["task", "method", "variant"], sort=True):
            reached = g[g["reached"]]
            rows.append({"task": task, "method": method, "variant": variant, "runs": int(len(g)),
                         "reached": int(len(reached)),
                         "mean_seconds": float(reached["seconds_to_threshold"].mean()) if len(reached) else float("nan"),
                         "best_probe_w2": float(g["best_probe_w2"].min())})
    cols = ["task", "method", "variant", "runs", "reached", "mean_seconds", "best_probe_w2"]
    df = pd.DataFrame(rows, columns=cols)
    return sort_runs(df, extra=("task",)) if len(df) else df

