"""Cost of training: the optional performance benchmark (``results/benchmark/``)."""
from __future__ import annotations

import math

import pandas as pd

from ... import tables as T
from ..context import ReportContext
from ..markdown import markdown

BENCH_FIGURE = "figures/benchmark/scaling.png"

_NOT_RUN = ("The performance benchmark was not run. It is off the default path: "
            "`snakemake benchmark --cores 2` measures seconds per training iteration and peak memory "
            "of each method at each batch size in one job, one method at a time; then "
            "`snakemake --forcerun render_report` adds this section (and uses it in claim C6).")


def cost_of_training(ctx: ReportContext) -> list[str]:
    bench = ctx.bench
    lines = ["## Cost of training", ""]
    if bench is None:
        return lines + [_NOT_RUN, ""]
    costs = bench["costs"]
    dev = (bench["fraction"] or {}).get("device")
    lines += [
        "From `results/benchmark/` (`snakemake benchmark`): seconds per training iteration (median of "
        "the timed steps after warm-up) and the peak memory of a training step, each (method, batch) "
        "measured in its own fresh process, one at a time, with the same threads"
        + (f", on `{dev}`" if dev else "") + ". Peak memory is the growth of the process's peak RSS "
        "over the model's own footprint (on CUDA: peak allocated memory). A controlled comparison, "
        "unlike the workflow's training runs, which ran side by side.",
        "",
        markdown([[r.method, str(int(r.batch_size)), T.fmt(r.seconds_per_iteration, ".4f"),
                     T.fmt(r.peak_mem_mb, ".0f")] for r in costs.itertuples(index=False)],
                   ["method", "batch", "s / iteration", "peak memory MB"]),
        ""]
    lines += ratios(costs) + [""]
    lines += matmul_fraction(bench["fraction"] or {}) + [""]
    lines += scaling_figure(bool(bench.get("figure_copied"))) + [""]
    lines += profile(bench.get("profile"))
    lines += precision(bench.get("precision"), bench.get("n_eval"), bench.get("probe_n"))
    return lines


def ratios(costs: pd.DataFrame) -> list[str]:
    r = T.step_cost_ratios(costs)
    if not len(r):
        return [f"No batch size has both {T.BENCH_OURS} and {T.BENCH_INN}, so no time ratio."]
    return [f"Time ratio {T.BENCH_OURS} / {T.BENCH_INN} per batch size (below 1: ours is faster; "
            "claim C6 uses batch 1600, the paper's):",
            "",
            markdown([[str(int(x.batch_size)), T.fmt(x.numerator_seconds, ".4f"),
                         T.fmt(x.denominator_seconds, ".4f"), T.fmt(x.ratio, ".2f")]
                        for x in r.itertuples(index=False)],
                       ["batch", f"{T.BENCH_OURS} s", f"{T.BENCH_INN} s", "ratio"])]


def matmul_fraction(frac: dict) -> list[str]:
    fr = frac.get("fractions") or {}
    if not fr:
        return ["No matmul fraction (results/benchmark/matmul_fraction.json absent or empty)."]
    lines = ["Fraction of the plain-matmul limit that a training step of each method reaches: the "
             "step's own matrix multiplies (every one it runs, forward, backward and optimiser, "
             "recorded with their shapes by the torch profiler) replayed alone on fresh operands, "
             "over the step's time, both timed in the same process with the same threads (1.0 = "
             "no time beyond the multiplies; the rest is element-wise work, copies, autograd and "
             "Python):",
             ""]
    rows = []
    for method in fr:
        per_batch = fr[method]
        for k in sorted(per_batch, key=lambda x: (int(x) if str(x).isdigit() else math.inf, str(x))):
            v = per_batch[k]
            rows.append([method, str(k), T.fmt(v.get("step_seconds"), ".4f"), T.fmt(v.get("step_gflops"), ".2f"),
                         T.fmt(v.get("matmul_gflops"), ".1f"), T.fmt(v.get("fraction"), ".3f")])
    lines.append(markdown(rows, ["method", "batch", "step s", "step GFLOP/s", "its matmuls alone GFLOP/s",
                                 "fraction"]))
    return lines


def scaling_figure(copied: bool) -> list[str]:
    if not copied:
        return ["*scaling.png: not produced.*"]
    return [f"![scaling]({BENCH_FIGURE})", "",
            "*Left: seconds per training iteration against batch size (log-log), one line per method, "
            "with slope-1 (linear) and slope-2 (quadratic) guides: a likelihood loss should follow slope 1, "
            "MMD terms (pairwise over the batch) tend to slope 2 at large batches. Right: the time "
            "ratio of ours to each other "
            "method (below 1: ours is faster; dotted at 0.5, C6's threshold).*"]


_GROUPS = ("matmul", "element-wise/reduction", "copy/index/alloc", "python/autograd/optimizer")


def profile(prof: pd.DataFrame | None) -> list[str]:
    """### Where a training step's time goes (``op_profile.csv``); nothing without it."""
    if prof is None or not len(prof):
        return []
    groups = [g for g in _GROUPS if g in set(prof["group"])]
    cells = []
    for (method, batch), d in prof.groupby(["method", "batch_size"], sort=False):
        by = dict(zip(d["group"], d["share"]))
        wall = dict(zip(d["group"], d["self_seconds_per_step"])).get("wall (profiled step)")
        cells.append([method, str(int(batch))] + [T.fmt(by.get(g), ".2f") for g in groups]
                     + [T.fmt(wall, ".3f")])
    return ["### Where a training step's time goes", "",
            "torch profiler, CPU self time of one training step (after a warm-up), grouped: matrix multiplies "
            "(mm/addmm/bmm), element-wise kernels and reductions (activations, the coupling's exp/clamp, "
            "the MMD kernels), copies/indexing/allocation, and the rest (Python, autograd engine, "
            "optimizer bookkeeping). Shares of the profiled self time; the last column is the step's wall "
            "time under the profiler.",
            "",
            markdown(cells, ["method", "batch"] + groups + ["step wall s"]),
            ""]


def precision(prec: pd.DataFrame | None, n_eval, probe_n) -> list[str]:
    """### Metric precision (``metric_precision.csv`` summarised); nothing without it."""
    if prec is None or not len(prec):
        return []
    return ["### Metric precision: how many samples the evaluation needs", "",
            "Each posterior metric between two *independent exact* samples of the same posterior: the value a "
            "perfect model would get (the finite-sample floor) and its spread over repeats and labels, with "
            "the seconds per call. A threshold read off a metric (W2 <= 0.10 for C1, W2 <= 0.15 for the "
            "time to quality) needs a floor well below it; more samples than that cost time and buy nothing. "
            f"This configuration evaluates on n_eval = {n_eval if n_eval is not None else T.NA} samples per "
            f"label and probes W2 during training on probe_n = {probe_n if probe_n is not None else T.NA}.",
            "",
            markdown([[r.metric, str(int(r.n)), f"{r.floor_mean:.4f} ± {r.floor_sd:.4f}", f"{r.seconds:.3f}"]
                        for r in prec.itertuples(index=False)],
                       ["metric", "n per set", "floor (mean ± sd)", "seconds per call"]),
            "",
            "CSV: [tables/metric_precision.csv](tables/metric_precision.csv).",
            ""]
