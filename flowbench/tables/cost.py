"""Tables of the compute cost: the performance benchmark (``results/benchmark/``, off the default
path: seconds per training step and peak memory per method and batch size, the metrics' precision
and cost) and the workflow's own jobs (wall and CPU time per rule and per stage, from the
provenance's Snakemake benchmark records).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from .metrics import OURS, method_key, variant_key

BENCH_OURS, BENCH_INN = f"{OURS}/paper", "inn/full"
BENCH_PRIMARY_BATCH = 1600   # the paper's batch size


def load_step_costs(path: str | Path) -> pd.DataFrame:
    """``results/benchmark/step_costs.csv``: method, batch_size, seconds_per_iteration,
    peak_mem_mb, sorted by method (ours, inn, cinn, others; default variants first) then batch."""
    df = pd.read_csv(path, dtype={"method": str})
    missing = [c for c in ("method", "batch_size", "seconds_per_iteration", "peak_mem_mb") if c not in df]
    if missing:
        raise ValueError(f"{path}: lacks column(s) {missing}")
    df = df[["method", "batch_size", "seconds_per_iteration", "peak_mem_mb"]].copy()
    df["batch_size"] = df["batch_size"].astype(int)
    for c in ("seconds_per_iteration", "peak_mem_mb"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    return sort_step_costs(df)


def _bench_key(name: str) -> tuple:
    method, _, variant = name.partition("/")
    return method_key(method) + variant_key(variant)


def sort_step_costs(df: pd.DataFrame) -> pd.DataFrame:
    if df.empty:
        return df.reset_index(drop=True)
    order = sorted(range(len(df)), key=lambda i: (_bench_key(df["method"].iloc[i]), int(df["batch_size"].iloc[i])))
    return df.iloc[order].reset_index(drop=True)


def step_cost_ratios(costs: pd.DataFrame | None, num: str = BENCH_OURS, den: str = BENCH_INN) -> pd.DataFrame:
    """Per batch size measured for both: s/iteration of ``num`` and ``den`` and their ratio."""
    cols = ["batch_size", "numerator", "denominator", "numerator_seconds", "denominator_seconds", "ratio"]
    if costs is None or costs.empty:
        return pd.DataFrame(columns=cols)
    a = costs[costs["method"] == num].groupby("batch_size")["seconds_per_iteration"].mean()
    b = costs[costs["method"] == den].groupby("batch_size")["seconds_per_iteration"].mean()
    rows = [{"batch_size": int(bs), "numerator": num, "denominator": den,
             "numerator_seconds": float(a[bs]), "denominator_seconds": float(b[bs]),
             "ratio": float(a[bs] / b[bs]) if b[bs] > 0 else float("nan")}
            for bs in sorted(set(a.index) & set(b.index))]
    return pd.DataFrame(rows, columns=cols)


#: the rows of results/benchmark/metric_precision.csv (one per metric call between two exact samples)
PRECISION_COLUMNS = ["metric", "n", "label", "repeat", "value", "seconds"]


def precision_summary(rows) -> pd.DataFrame:
    """Per (metric, n): mean and standard deviation of the floor, mean seconds per call."""
    df = pd.DataFrame(rows, columns=PRECISION_COLUMNS)
    g = df.groupby(["metric", "n"], sort=True)
    out = g["value"].agg(floor_mean="mean", floor_sd="std").join(g["seconds"].agg(seconds="mean"))
    return out.reset_index()


def wall_time_table(provenance: dict | None) -> pd.DataFrame:
    """Per rule: jobs, wall seconds (sum), CPU seconds (sum), peak RSS (MB); then a total row."""
    cols = ["rule", "jobs", "wall_s", "cpu_s", "max_rss_mb"]
    per_rule = ((provenance or {}).get("benchmarks") or {}).get("per_rule") or {}
    rows = [{"rule": r, "jobs": int(v.get("jobs", 0)), "wall_s": float(v.get("s", float("nan"))),
             "cpu_s": float(v.get("cpu_time", float("nan"))),
             "max_rss_mb": float(v.get("max_rss", float("nan")))}
            for r, v in sorted(per_rule.items())]
    if rows:
        rows.append({"rule": "total", "jobs": sum(r["jobs"] for r in rows),
                     "wall_s": float(np.nansum([r["wall_s"] for r in rows])),
                     "cpu_s": float(np.nansum([r["cpu_s"] for r in rows])),
                     "max_rss_mb": float(np.nanmax([r["max_rss_mb"] for r in rows]))
                     if any(math.isfinite(r["max_rss_mb"]) for r in rows) else float("nan")})
    return pd.DataFrame(rows, columns=cols)


def _stage_of(file: str) -> str:
    """The stage of a benchmark file ``.../benchmarks/<...>.tsv``: ``<task> / <method>`` for a
    task's training and evaluation, ``<task> / <rule>`` for its other jobs, ``images / <step>``
    (auto-encoder, each flow, the CNN, evaluation, the epoch curve) over data sets and seeds, and
    ``cost benchmark``."""
    parts = Path(str(file)).parts
    parts = parts[parts.index("benchmarks") + 1:] if "benchmarks" in parts else parts
    stem = Path(parts[-1]).stem if parts else "?"
    if not parts:
        return "?"
    if parts[0] == "benchmark":
        return "cost benchmark"
    if parts[0] == "images":
        return f"images / {stem}"
    if len(parts) >= 5:      # <task>/<method>/<variant>/seed<k>/{train,evaluate}.tsv
        return f"{parts[0]} / {parts[1]}"
    return f"{parts[0]} / {stem}"


def cpu_by_stage(provenance: dict | None, extra: dict | None = None) -> pd.DataFrame:
    """CPU- and wall-hours per stage (``_stage_of``) from the provenance's benchmark jobs, largest
    first, then a total row. ``extra``: {stage: seconds} of jobs without a benchmark file (the
    reference posteriors record their build time themselves), counted as CPU = wall seconds."""
    cols = ["stage", "jobs", "cpu_hours", "wall_hours"]
    jobs = ((provenance or {}).get("benchmarks") or {}).get("jobs") or []
    acc: dict[str, list[float]] = {}
    for j in jobs:
        a = acc.setdefault(_stage_of(j.get("file", "")), [0, 0.0, 0.0])
        a[0] += 1
        a[1] += float(j.get("cpu_time") or 0.0)
        a[2] += float(j.get("s") or 0.0)
    for stage, secs in (extra or {}).items():
        if secs is not None and math.isfinite(float(secs)):
            a = acc.setdefault(stage, [0, 0.0, 0.0])
            a[0] += 1
            a[1] += float(secs)
            a[2] += float(secs)
    rows = sorted(({"stage": k, "jobs": int(v[0]), "cpu_hours": v[1] / 3600, "wall_hours": v[2] / 3600}
                   for k, v in acc.items()), key=lambda r: (-r["cpu_hours"], r["stage"]))
    if rows:
        rows.append({"stage": "total", "jobs": sum(r["jobs"] for r in rows),
                     "cpu_hours": sum(r["cpu_hours"] for r in rows),
                     "wall_hours": sum(r["wall_hours"] for r in rows)})
    return pd.DataFrame(rows, columns=cols)

