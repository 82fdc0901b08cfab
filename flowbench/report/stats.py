"""Statistics that fit the data the verdicts are decided on.

- Distances (W2) are positive and heavy-tailed (a blown-up inverse gives 1e5 beside 0.1), so two
  runs are compared as the ratio of their geometric means over seeds, with a Welch t-interval and
  test on the difference of mean log distances (``log_ratio_test``). A raw-scale t-test on such
  numbers has its variance dominated by the one exploded seed.
- A claim that takes "any of several variants" corrects its p-values by Holm's step-down method
  (Holm 1979, "A simple sequentially rejective multiple test procedure"), ``holm``.
- Every distance threshold is a multiple of the finite-sample floor at the same sample size: the
  distance between two independent exact samples (``floor_mean``), so no threshold lies below what
  a perfect sampler scores.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd


def log_ratio_test(a, b, alpha: float = 0.05) -> dict:
    """Compare positive samples ``a`` (per-seed distances of one run) with ``b`` (another run).

    Returns ``ratio`` = exp(mean log a - mean log b) (the ratio of geometric means), its two-sided
    ``1 - alpha`` Welch interval ``ci = (lo, hi)`` (NaN with < 2 values in either group or no
    spread), and ``p`` the one-sided Welch p-value for "a is larger" (None where undefined).
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    out = {"ratio": float("nan"), "ci": (float("nan"), float("nan")), "p": None,
           "n_a": int(len(a)), "n_b": int(len(b))}
    if len(a) == 0 or len(b) == 0 or np.any(a <= 0) or np.any(b <= 0):
        return out
    la, lb = np.log(a), np.log(b)
    d = la.mean() - lb.mean()
    out["ratio"] = float(math.exp(d))
    if len(a) < 2 or len(b) < 2:
        return out
    va, vb = la.var(ddof=1) / len(a), lb.var(ddof=1) / len(b)
    se = math.sqrt(va + vb)
    if se == 0:
        return out
    df = (va + vb) ** 2 / ((va ** 2 / (len(a) - 1) if len(a) > 1 else 0)
                           + (vb ** 2 / (len(b) - 1) if len(b) > 1 else 0))
    from scipy import stats  # here: ~0.4 s to import; the workflow's DAG reads this package

    t = stats.t.ppf(1 - alpha / 2, df)
    out["ci"] = (float(math.exp(d - t * se)), float(math.exp(d + t * se)))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        p = float(stats.t.sf(d / se, df))
    out["p"] = p if math.isfinite(p) else None
    return out


def holm(pvalues: dict) -> dict:
    """Holm-adjusted p-values (None stays None): the i-th smallest of m p-values is multiplied by
    (m - i + 1), made monotone, capped at 1."""
    items = sorted(((p, k) for k, p in pvalues.items() if p is not None), key=lambda x: x[0])
    m = len(items)
    out = {k: None for k in pvalues}
    running = 0.0
    for i, (p, k) in enumerate(items):
        running = max(running, min(1.0, (m - i) * p))
        out[k] = running
    return out


def floor_mean(floors: pd.DataFrame | None, task: str, metric: str = "w2", n: int | None = None) -> float:
    """Mean over conditions and repeats of ``metric``'s floor on ``task`` at sample size ``n`` (the
    largest size when None); NaN when there is no floor."""
    if floors is None or floors.empty:
        return float("nan")
    f = floors[(floors["task"] == task) & (floors["metric"] == metric)]
    if f.empty:
        return float("nan")
    n = int(f["n"].max()) if n is None else int(n)
    f = f[f["n"] == n]
    return float(f["value"].mean()) if len(f) else float("nan")


def floor_table(floors: pd.DataFrame | None) -> pd.DataFrame:
    """Per (task, metric, n): mean, standard deviation and 95th percentile over conditions and
    repeats of the floor."""
    cols = ["task", "metric", "n", "floor_mean", "floor_sd", "floor_p95"]
    if floors is None or floors.empty:
        return pd.DataFrame(columns=cols)
    g = floors.groupby(["task", "metric", "n"], sort=True)["value"]
    out = g.agg(floor_mean="mean", floor_sd="std", floor_p95=lambda v: float(np.quantile(v, 0.95)))
    return out.reset_index()[cols]
