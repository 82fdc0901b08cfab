"""C6, C6b: ours trains faster than the four-loss INN, since it has one loss whose gradients are
evaluated once (Xiao, Yan & Amit 2019, arXiv 1911.02052, Sec. 3). Decided on seconds per
iteration: from the performance benchmark (one process, one method at a time) when it was run,
else from the workflow's training runs."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from ... import tables as T
from ...captions import TIME_FLOOR_MULTIPLE, W2_THRESHOLD_TIME
from ..stats import floor_mean
from .core import (CLAIM_TASK, NOT_REPRODUCED, NOT_TESTED, PARTLY, REPRODUCED, Claim, ClaimSpec, Run,
                   all_diverged, n_of, verdict)

SPEED_PASS, SPEED_PARTLY = 0.5, 1.0      # C6: s/iteration(ours) / s/iteration(inn) at most, below

_OURS, _INN = Run("ours", "paper"), Run("inn", "full")
_INN16 = Run("inn", "orig16_full")

SPEC_C6 = ClaimSpec(
    "C6", "Ours trains faster: one loss, gradients evaluated once (Sec. 3).",
    (str(_OURS), str(_INN), "results/benchmark/step_costs.csv (optional)"),
    f"r = s/iteration({_OURS}) / s/iteration({_INN}): from the performance benchmark "
    f"(results/benchmark/step_costs.csv, one process, one method at a time) at batch "
    f"{T.BENCH_PRIMARY_BATCH} (else its largest batch measured for both) when it was run, else from "
    f"the workflow's training runs on task {CLAIM_TASK} (jobs side by side, diverged runs excluded): "
    f"reproduced if r <= {SPEED_PASS:g}; partly if r < {SPEED_PARTLY:g}; else not reproduced. Time to "
    f"a probe W2 within {TIME_FLOOR_MULTIPLE:g} x its floor is shown beside it",
    run=_OURS, against=_INN)
SPEC_C6b = ClaimSpec(
    "C6b", f"As C6, against the original code's INN network ({_INN16}).",
    (str(_OURS), str(_INN16)),
    f"C6's rule with {_INN16} in place of {_INN} (the workflow's runs: the benchmark "
    f"measures {_INN})",
    run=_OURS, against=_INN16)


def _spi(metrics: pd.DataFrame, method: str, variant: str, task: str) -> tuple[float, int]:
    s = T.per_seed(metrics, task, method, variant, "seconds_per_iteration")
    mean, _, n = T.mean_ci(s.tolist())
    return mean, n


def _ttt_text(ttt: pd.DataFrame | None, method: str, variant: str, task: str) -> str | None:
    if ttt is None or ttt.empty:
        return None
    g = ttt[(ttt["task"] == task) & (ttt["method"] == method) & (ttt["variant"] == variant)]
    if g.empty or g["probes"].sum() == 0:
        return None
    reached = g[g["reached"]]
    txt = f"{method}/{variant} {len(reached)}/{len(g)} seeds"
    if len(reached):
        txt += f", mean {reached['seconds_to_threshold'].mean():.2f} s"
    return txt


def _no_speed(metrics: pd.DataFrame, task: str, run: Run) -> str:
    """Why ``run`` has no speed: not run, or every run diverged (a diverged run's seconds per
    iteration time the steps before it stopped, not the method)."""
    n = len(T.per_seed(metrics, task, run.method, run.variant, "diverged"))
    return f"{run} not run" if n == 0 else f"{run}: {all_diverged(n)}, no speed measured"


def bench_ratio(costs: pd.DataFrame | None) -> dict | None:
    """The benchmark's ours/paper over inn/full step-time ratio at batch 1600 (else at the largest
    batch measured for both): {batch_size, ours, inn, ratio}; None without both."""
    r = T.step_cost_ratios(costs)
    r = r[np.isfinite(r["ratio"].to_numpy(dtype=float))] if len(r) else r
    if r.empty:
        return None
    hit = r[r["batch_size"] == T.BENCH_PRIMARY_BATCH]
    row = (hit if len(hit) else r.sort_values("batch_size")).iloc[-1]
    return {"batch_size": int(row["batch_size"]), "ours": float(row["numerator_seconds"]),
            "inn": float(row["denominator_seconds"]), "ratio": float(row["ratio"])}


def time_threshold(floors: pd.DataFrame | None, task: str = CLAIM_TASK) -> tuple[float, str]:
    """The probe-W2 threshold of time to quality: TIME_FLOOR_MULTIPLE x the floor at the probe's
    sample size (the smallest size of the task's floor), or the fixed W2_THRESHOLD_TIME when no
    floor was computed; with a text saying which."""
    if floors is not None and len(floors) and len(floors[(floors["task"] == task) & (floors["metric"] == "w2")]):
        n = int(floors[(floors["task"] == task) & (floors["metric"] == "w2")]["n"].min())
        f = floor_mean(floors, task, "w2", n)
        return TIME_FLOOR_MULTIPLE * f, f"{TIME_FLOOR_MULTIPLE:g} x its floor {T.fmt(f)} at n = {n}"
    return W2_THRESHOLD_TIME, "a fixed threshold (no noise floor computed)"


def _benchmarked(spec: ClaimSpec) -> bool:
    """Whether the benchmark measures ``spec``'s two runs (it measures ours/paper and inn/full)."""
    return (str(spec.run), str(spec.against)) == (T.BENCH_OURS, T.BENCH_INN)


def claim_c6(metrics: pd.DataFrame, task: str = CLAIM_TASK, ttt: pd.DataFrame | None = None,
             costs: pd.DataFrame | None = None, inn_variant: str | None = None, cid: str = "C6",
             threshold_text: str | None = None) -> Claim:
    """Speed: the benchmark's ratio (a controlled comparison) when ``costs`` (step_costs.csv) has
    ours/paper and inn/full, else the ratio of the workflow's training runs, which ran side by side.
    ``cid``: C6 or C6b; ``inn_variant`` in place of its spec's INN variant."""
    spec = {"C6": SPEC_C6, "C6b": SPEC_C6b}[cid]
    if inn_variant is not None:
        spec = replace(spec, against=replace(spec.against, variant=inn_variant))
    run, against = spec.run, spec.against
    ours, n_o = _spi(metrics, *run, task)
    inn, n_i = _spi(metrics, *against, task)
    wf = ours / inn if n_o and n_i and inn > 0 else None
    benchmarked = _benchmarked(spec)
    bench = bench_ratio(costs) if benchmarked else None
    parts = []
    if bench is not None:
        note = "" if bench["batch_size"] == T.BENCH_PRIMARY_BATCH else \
            f" (batch {T.BENCH_PRIMARY_BATCH} not measured: the largest batch measured for both)"
        parts.append(f"benchmark, one process, one method at a time, batch {bench['batch_size']}{note}: "
                     f"{run} {bench['ours']:.4f} s/iteration, {against} {bench['inn']:.4f}: "
                     f"r = {bench['ratio']:.2f}")
    if wf is not None:
        parts.append(f"workflow runs on {task} (jobs side by side, noisier): {run} {ours:.4f} "
                     f"({n_of(n_o, 'run')}), {against} {inn:.4f} ({n_of(n_i, 'run')}): r = {wf:.2f}")
    else:
        missing = "; ".join(_no_speed(metrics, task, r) for r, n in ((run, n_o), (against, n_i)) if n == 0)
        parts.append(f"workflow runs on {task}: " + (missing or f"s/iteration({against}) is 0"))
    if benchmarked and bench is None:
        parts.append("the performance benchmark (`snakemake benchmark`) was not run"
                     if costs is None else f"the performance benchmark lacks {run} or {against}")
    times = [t for t in (_ttt_text(ttt, *run, task), _ttt_text(ttt, *against, task)) if t]
    if times:
        thr = threshold_text or f"{W2_THRESHOLD_TIME:.2f}"
        parts.append(f"time to probe W2 <= {thr}: " + "; ".join(times))
    r = bench["ratio"] if bench is not None else wf
    if r is None:
        return verdict(spec, "; ".join(parts), NOT_TESTED)
    v = REPRODUCED if r <= SPEED_PASS else PARTLY if r < SPEED_PARTLY else NOT_REPRODUCED
    return verdict(spec, "; ".join(parts), v)


def claim_c6b(metrics: pd.DataFrame, task: str = CLAIM_TASK, ttt: pd.DataFrame | None = None,
              threshold_text: str | None = None) -> Claim:
    return claim_c6(metrics, task, ttt, None, cid="C6b", threshold_text=threshold_text)
