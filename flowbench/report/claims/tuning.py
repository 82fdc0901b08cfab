"""C10, the paper's "no hyper-parameter tuning" argument asked of every method: ours (one loss,
Xiao, Yan & Amit 2019, arXiv 1911.02052, Sec. 3-4) needs less tuning than the four-loss INN of
Ardizzone et al. (arXiv:1808.04730), whose loss weights and ramp are hand-tuned.

Measured from the equal-budget Optuna studies (``flowbench.tuning``): each method's *expected best
validation distance after k random trials* (Dodge et al. 2019, "Show your work", arXiv:1909.03004,
Sec. 3: the expected minimum of k draws with replacement from the n random trials' values), and
the number of random trials it needs to come within the task's validation floor of the best value
its whole study found (recipe, random and TPE trials). Unstable trials carry the useless level
(``flowbench.tuning``), so instability counts as sensitivity.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .core import NOT_REPRODUCED, NOT_TESTED, PARTLY, REPRODUCED, Claim, ClaimSpec, Run, verdict, worst

#: the share of bootstrap replicates (of each method's random trials) that decides C10 on a task
C10_SHARE = 0.8
C10_BOOTSTRAP = 1000
C10_SEED = 20191106

_OURS, _INN = Run("ours"), Run("inn")

SPEC_C10 = ClaimSpec(
    "C10", "Ours needs less hyper-parameter tuning than the four-loss INN (Sec. 3-4: one loss, no "
           "loss weights or ramp to tune).",
    ("the tuning studies (flowbench.tuning) of ours and the INN on every tuned task",),
    "Per task and method: from its n random trials (unstable ones at the useless level), E_k = the "
    "expected best validation W2 after k of them (Dodge et al. 2019); B = the best stable value of its "
    "whole study; k* = the least k with E_k <= B + the task's validation floor (n + 1 if none, or if no trial is stable). Per task, "
    f"over {C10_BOOTSTRAP} bootstrap resamples of each method's random trials: reproduced if k*(ours) "
    f"< k*(inn) in at least {C10_SHARE:.0%} of them, not reproduced if k*(ours) > k*(inn) in at least "
    f"{C10_SHARE:.0%}, else partly (the trials cannot tell them apart). Overall the worse task; not "
    f"tested without both studies",
    run=_OURS, against=_INN)


def expected_best(values, k_max: int | None = None) -> pd.DataFrame:
    """Expected minimum (and its standard deviation) of k draws with replacement from ``values``,
    k = 1..k_max (default: len(values)); Dodge et al. 2019, Sec. 3, for a distance to minimise.
    With v_(1) <= ... <= v_(n): P(min of k = v_(i)) = ((n-i+1)/n)^k - ((n-i)/n)^k."""
    v = _sorted_finite(values)
    k = np.arange(1, (len(v) if k_max is None else int(k_max)) + 1)
    mean, second = _min_moments(v, k)
    return pd.DataFrame({"k": k, "mean": mean, "sd": np.sqrt(np.maximum(second - mean ** 2, 0.0))},
                        columns=["k", "mean", "sd"])


def _sorted_finite(values) -> np.ndarray:
    v = np.sort(np.asarray(values, dtype=float))
    if len(v) == 0:
        raise ValueError("expected_best needs at least one value")
    if not np.all(np.isfinite(v)):
        raise ValueError("expected_best needs finite values (unstable trials carry the useless level)")
    return v


def _min_moments(v: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """E[min] and E[min^2] of k draws with replacement from the sorted values ``v``, for each k."""
    n = len(v)
    i = np.arange(1, n + 1)
    p = ((n - i + 1) / n) ** k[:, None] - ((n - i) / n) ** k[:, None]      # [len(k), n]
    return p @ v, p @ (v * v)


def trials_to_near_best(values, best: float, floor: float) -> int:
    """The least k with E[best of k random trials] <= ``best`` + ``floor``; len(values) + 1 when
    no k up to len(values) gets there, or when ``best`` is NaN (no stable trial in the study)."""
    v = _sorted_finite(values)
    mean, _ = _min_moments(v, np.arange(1, len(v) + 1))
    hit = np.flatnonzero(mean <= best + floor)
    return int(hit[0]) + 1 if len(hit) else len(v) + 1


def study_summary(trials: pd.DataFrame, floors: dict) -> pd.DataFrame:
    """One row per (task, method) study: random trials n, unstable random trials, recipe value,
    the study's best value (and its phase), the floor, k* and the recipe's regret (recipe / best)."""
    rows = []
    for (task, method), g in trials.groupby(["task", "method"], sort=True):
        rnd = g[g["phase"] == "random"]
        ok = g[(g["state"] == "complete") & ~g["unstable"].astype(bool)]   # the study's best: a stable trial
        rec = g[g["phase"] == "recipe"]["value"]
        best_row = ok.loc[ok["value"].idxmin()] if len(ok) else None
        floor = float(floors.get(task, np.nan))
        best = float(best_row["value"]) if best_row is not None else np.nan
        # no stable trial at all: the random search never reaches a usable recipe (n + 1)
        k = (trials_to_near_best(rnd["value"], best, floor) if len(rnd) and np.isfinite(floor) else None)
        rows.append({"task": task, "method": method, "trials": len(g), "random": len(rnd),
                     "unstable_random": int(rnd["unstable"].astype(bool).sum()),
                     "recipe_value": float(rec.iloc[0]) if len(rec) else np.nan, "best_value": best,
                     "best_phase": best_row["phase"] if best_row is not None else "",
                     "floor": floor, "k_near_best": k,
                     "recipe_regret": (float(rec.iloc[0]) / best) if len(rec) and best > 0 else np.nan})
    return pd.DataFrame(rows, columns=["task", "method", "trials", "random", "unstable_random", "recipe_value",
                                       "best_value", "best_phase", "floor", "k_near_best", "recipe_regret"])


def c10_task_verdict(ours_random, ours_best: float, inn_random, inn_best: float, floor: float,
                     replicates: int = C10_BOOTSTRAP, seed: int = C10_SEED) -> tuple[str, dict]:
    """C10 on one task (SPEC_C10's rule): (verdict, {k_ours, k_inn, less, more}) where ``less`` /
    ``more`` are the shares of bootstrap replicates with k*(ours) < / > k*(inn)."""
    a, b = np.asarray(ours_random, float), np.asarray(inn_random, float)
    if len(a) == 0 or len(b) == 0:
        return NOT_TESTED, {}
    rng = np.random.default_rng(seed)
    less = more = 0
    for _ in range(replicates):
        ka = trials_to_near_best(rng.choice(a, len(a)), ours_best, floor)
        kb = trials_to_near_best(rng.choice(b, len(b)), inn_best, floor)
        less += ka < kb
        more += ka > kb
    out = {"k_ours": trials_to_near_best(a, ours_best, floor), "k_inn": trials_to_near_best(b, inn_best, floor),
           "less": less / replicates, "more": more / replicates}
    if out["less"] >= C10_SHARE:
        return REPRODUCED, out
    if out["more"] >= C10_SHARE:
        return NOT_REPRODUCED, out
    return PARTLY, out


def claim_c10(trials: pd.DataFrame | None, floors: dict | None) -> Claim:
    """C10 over every task with a study of both ours and the INN; overall the worse task."""
    ours, inn = SPEC_C10.run.method, SPEC_C10.against.method
    if trials is None or not len(trials):
        return verdict(SPEC_C10, "no tuning study was run", NOT_TESTED)
    summary = study_summary(trials, floors or {})
    parts, verdicts = [], []
    for task in sorted(summary["task"].unique()):
        s = summary[summary["task"] == task].set_index("method")
        if ours not in s.index or inn not in s.index:
            parts.append(f"{task}: not tested (no study of {ours if ours not in s.index else inn})")
            continue
        g = trials[trials["task"] == task]
        rnd = {m: g[(g["method"] == m) & (g["phase"] == "random")]["value"] for m in (ours, inn)}
        v, o = c10_task_verdict(rnd[ours], s.loc[ours, "best_value"], rnd[inn], s.loc[inn, "best_value"],
                                float(s.loc[ours, "floor"]))
        if v == NOT_TESTED:
            parts.append(f"{task}: not tested (no random trials)")
            continue
        verdicts.append(v)
        n = {m: int(s.loc[m, "random"]) for m in (ours, inn)}

        def k_text(k, m):
            return f"> {n[m]}" if k > n[m] else str(k)
        parts.append(f"{task}: k*({ours}) = {k_text(o['k_ours'], ours)} of {n[ours]} random trials "
                     f"({int(s.loc[ours, 'unstable_random'])} unstable), k*({inn}) = {k_text(o['k_inn'], inn)} of "
                     f"{n[inn]} ({int(s.loc[inn, 'unstable_random'])} unstable); best W2 {s.loc[ours, 'best_value']:.3g} "
                     f"vs {s.loc[inn, 'best_value']:.3g}, floor {s.loc[ours, 'floor']:.3g}; bootstrap: ours needs fewer "
                     f"in {o['less']:.0%}, more in {o['more']:.0%} [{v}]")
    return verdict(SPEC_C10, "; ".join(parts), worst(verdicts) if verdicts else NOT_TESTED)
