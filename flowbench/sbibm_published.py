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
