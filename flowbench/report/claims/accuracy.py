"""C1: ours recovers the Gaussian-mixture posterior almost exactly (Xiao, Yan & Amit 2019,
arXiv 1911.02052, Fig. 5.1), judged by its W2 against the noise floor of the metric itself."""
from __future__ import annotations

import pandas as pd

from ... import tables as T
from ..stats import floor_mean
from .core import (CLAIM_TASK, NOT_REPRODUCED, NOT_TESTED, PARTLY, REPRODUCED, Claim, ClaimSpec, Run,
                   absent, finite, gm_describe, gm_stats, stability, verdict)

FLOOR_PASS, FLOOR_PARTLY = 3.0, 6.0      # C1: W2 within these multiples of the noise floor
ACCURACY_MIN = 0.99                      # C1: the forward classifier's accuracy for "reproduced"

_OURS = Run("ours", "paper")
SPEC_C1 = ClaimSpec(
    "C1", "Ours recovers the GMM posterior almost exactly (Fig. 5.1).",
    (str(_OURS), "noise floor"),
    f"q = W2({_OURS}) / floor, floor = mean W2 between two independent exact samples of the "
    f"same size (the workflow's noise_floor): reproduced if q <= {FLOOR_PASS:g} and accuracy "
    f">= {ACCURACY_MIN:g}; partly if q <= {FLOOR_PARTLY:g}; else not reproduced; not tested without "
    f"a floor",
    run=_OURS)


def _c1(metrics, task, floors):
    run = SPEC_C1.run
    s = gm_stats(metrics, *run, task)
    floor = floor_mean(floors, task, "w2")
    if s["n"] == 0:
        return absent(run, s), NOT_TESTED
    ev = (f"{gm_describe(run, s)}; floor {T.fmt(floor)}; accuracy "
          f"{T.fmt(s['accuracy'], '.4f')}")
    if not finite(floor) or floor <= 0:
        return ev + "; no noise floor computed", NOT_TESTED
    q = s["gm"] / floor
    ev += f"; q = W2 / floor = {q:.2f}"
    if q <= FLOOR_PASS and finite(s["accuracy"]) and s["accuracy"] >= ACCURACY_MIN:
        return ev, REPRODUCED
    return ev, PARTLY if q <= FLOOR_PARTLY else NOT_REPRODUCED


def claim_c1(metrics: pd.DataFrame, task: str = CLAIM_TASK, floors: pd.DataFrame | None = None) -> Claim:
    metrics = metrics[metrics["task"] == task]   # the claim reads one task: filter once
    ev, v = _c1(metrics, task, floors)
    st = stability(lambda m: _c1(m, task, floors)[1], metrics, task, [tuple(SPEC_C1.run)])
    return verdict(SPEC_C1, ev, v, st)
