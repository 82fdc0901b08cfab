"""The published C2ST of sbibm's NPE (Lueckmann et al. 2021, arXiv:2101.04653; the extract and its
source: ``flowbench/data/README.md``) and the rule that decides whether this suite's NPE
reproduces it: a harness that cannot reproduce a published number is not trusted with the others.

The comparison is paired by observation (the same 10 sbibm observations): d_k = C2ST(ours, k) -
C2ST(published, k), k = 1..10; the deviation is mean(d) in units of its standard error
sd(d) / sqrt(n) (the spread over observations, each published value being one run). Reproduced if
|mean(d)| <= 2 standard errors, or |mean(d)| <= ``C2ST_TOLERANCE`` (the C2ST's own resolution at
10,000 draws per side); otherwise not reproduced, with the sign saying which side is better.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

PUBLISHED_NPE = Path(__file__).parent / "data" / "sbibm_npe_c2st.csv"
#: the C2ST difference below which two runs count as equal whatever the spread (about two standard
#: deviations of a C2ST between identical sets of 10,000 draws per side, ~0.005)
C2ST_TOLERANCE = 0.01
Z_MAX = 2.0


def published_npe(task: str | None = None, budget: int | None = None) -> pd.DataFrame:
    """The published NPE rows (task, num_simulations, num_observation, c2st), filtered."""
    df = pd.read_csv(PUBLISHED_NPE)
    if task is not None:
        df = df[df["task"] == task]
    if budget is not None:
        df = df[df["num_simulations"] == int(budget)]
    return df.reset_index(drop=True)


def compare(ours: dict[int, float], published: dict[int, float]) -> dict:
    """Paired comparison of {observation: C2ST} (the module docstring's rule): n, means, mean
    difference, its standard error, z and the verdict ``reproduced`` / ``not reproduced`` (``not
    tested`` with fewer than 2 shared observations)."""
    shared = sorted(set(ours) & set(published))
    out = {"n": len(shared), "ours": float(np.mean([ours[k] for k in shared])) if shared else math.nan,
           "published": float(np.mean([published[k] for k in shared])) if shared else math.nan}
    if len(shared) < 2:
        return {**out, "diff": math.nan, "se": math.nan, "z": math.nan, "verdict": "not tested"}
    d = np.array([ours[k] - published[k] for k in shared])
    diff, se = float(d.mean()), float(d.std(ddof=1) / math.sqrt(len(d)))
    z = diff / se if se > 0 else (0.0 if diff == 0 else math.copysign(math.inf, diff))
    ok = abs(diff) <= C2ST_TOLERANCE or abs(z) <= Z_MAX
    return {**out, "diff": diff, "se": se, "z": z, "verdict": "reproduced" if ok else "not reproduced"}


# ----------------------------------------------------------------------------------------------
# the report's sbibm section: C2ST against the simulation budget, and the published comparison
# ----------------------------------------------------------------------------------------------
C2ST_METRIC = "c2st_sbibm"
#: sbibm's C2ST of the compared runs at sbibm's own sample size (10,000 per side: the task's
#: ``published`` draws); the comparison reads it where it exists, else ``C2ST_METRIC`` at n_eval
PUBLISHED_C2ST = "c2st_sbibm_published"
#: the NPE variant compared with the published runs, in order of preference: ``sbibm`` (their
#: recipe, flowbench/data/README.md), else sbi's defaults
PUBLISHED_VARIANTS = ("sbibm", "default")


def sbibm_tasks(records: dict) -> dict[str, dict]:
    """{suite task: its ``sbibm`` record (name, budget, n_obs, n_eval)} of the sbibm tasks."""
    return {t: r["sbibm"] for t, r in records.items() if isinstance(r, dict) and r.get("sbibm")}


def _obs_number(condition: str) -> int | None:
    return int(condition[3:]) if condition.startswith("obs") and condition[3:].isdigit() else None


def c2st_by_seed(metrics: pd.DataFrame, records: dict, metric: str = C2ST_METRIC) -> pd.DataFrame:
    """One row per run of an sbibm task that was scored by sbibm's C2ST (``metric``: at n_eval, or
    ``PUBLISHED_C2ST`` at sbibm's own size): sbibm_task, budget, task, method, variant, seed and
    ``c2st`` (mean over the observations). Diverged runs have no row."""
    cols = ["sbibm_task", "budget", "task", "method", "variant", "seed", "c2st", "n_obs"]
    tasks = sbibm_tasks(records)
    m = metrics[(metrics["metric"] == metric) & metrics["task"].isin(list(tasks))]
    if m.empty:
        return pd.DataFrame(columns=cols)
    g = m.groupby(["task", "method", "variant", "seed"], sort=True)["value"].agg(["mean", "count"]).reset_index()
    g["sbibm_task"] = [tasks[t]["name"] for t in g["task"]]
    g["budget"] = [int(tasks[t]["budget"]) for t in g["task"]]
    g = g.rename(columns={"mean": "c2st", "count": "n_obs"})
    return g[cols].sort_values(["sbibm_task", "budget", "method", "variant", "seed"]).reset_index(drop=True)


def c2st_by_budget(by_seed: pd.DataFrame) -> pd.DataFrame:
    """Per (sbibm task, budget, method, variant): the mean C2ST over seeds, its standard deviation
    over seeds (NaN for one seed) and the number of seeds."""
    cols = ["sbibm_task", "budget", "method", "variant", "seeds", "c2st_mean", "c2st_sd"]
    if by_seed.empty:
        return pd.DataFrame(columns=cols)
    g = by_seed.groupby(["sbibm_task", "budget", "method", "variant"], sort=True)["c2st"]
    out = g.agg(seeds="count", c2st_mean="mean", c2st_sd=lambda v: float(np.std(v, ddof=1)) if len(v) > 1
                else math.nan).reset_index()
    return out[cols]


def published_comparison(metrics: pd.DataFrame, records: dict, method: str = "npe") -> pd.DataFrame:
    """The suite's ``method`` (sbi's NPE) against sbibm's published NPE at every sbibm task and
    budget it ran: per observation the mean C2ST over the suite's seeds, paired with the published
    run's (``compare``). The variant is the first of ``PUBLISHED_VARIANTS`` that ran; its C2ST at
    sbibm's own sample size (``PUBLISHED_C2ST``, the seeds that drew it) where it exists, else at
    n_eval (``metric`` says which)."""
    cols = ["sbibm_task", "budget", "task", "variant", "metric", "seeds", "n", "ours", "published", "diff", "se",
            "z", "verdict"]
    rows = []
    for t, info in sorted(sbibm_tasks(records).items(), key=lambda kv: (kv[1]["name"], kv[1]["budget"])):
        m = metrics[(metrics["task"] == t) & (metrics["method"] == method)
                    & metrics["metric"].isin([C2ST_METRIC, PUBLISHED_C2ST])]
        ran = [v for v in PUBLISHED_VARIANTS if (m["variant"] == v).any()]
        pub = published_npe(info["name"], info["budget"])
        if not ran or pub.empty:
            continue
        mv = m[m["variant"] == ran[0]]
        metric = PUBLISHED_C2ST if (mv["metric"] == PUBLISHED_C2ST).any() else C2ST_METRIC
        mv = mv[mv["metric"] == metric]
        per_obs = {}
        for cond, g in mv.groupby("condition"):
            k = _obs_number(str(cond))
            if k is not None:
                per_obs[k] = float(g["value"].astype(float).mean())
        res = compare(per_obs, {int(k): float(v) for k, v in zip(pub["num_observation"], pub["c2st"])})
        rows.append({"sbibm_task": info["name"], "budget": int(info["budget"]), "task": t, "variant": ran[0],
                     "metric": metric, "seeds": int(mv["seed"].nunique()), **res})
    return pd.DataFrame(rows, columns=cols)


def published_means(tasks=None) -> pd.DataFrame:
    """sbibm_task, budget and the published NPE's mean C2ST over its observations."""
    df = published_npe()
    if tasks is not None:
        df = df[df["task"].isin(list(tasks))]
    g = df.groupby(["task", "num_simulations"])["c2st"].mean().reset_index()
    return g.rename(columns={"task": "sbibm_task", "num_simulations": "budget", "c2st": "c2st_mean"})
