"""Results and figures per task."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ... import tables as T
from ...captions import figure_caption
from ...tables import W2_THRESHOLD_TIME
from ..context import ReportContext
from ..markdown import markdown, summary_markdown
from .common import figure_block


def results(ctx: ReportContext) -> list[str]:
    lines = ["## Results per task", "",
             "W2: per-seed mean over labels of the exact 2-Wasserstein distance to the exact posterior, then "
             "mean ± 95% t-interval half-width over the non-diverged seeds. C2ST: classifier two-sample test "
             "accuracy, mean over labels and seeds (0.5 = indistinguishable). Accuracy: the forward process "
             "as a label predictor on the test set (cINN: Bayes' rule). s / iteration: training wall-clock per "
             "iteration, mean over the non-diverged runs. The paper gives no numbers for the Gaussian mixture "
             "(its results are pictures), so there is no paper column here.",
             ""]
    for t in ctx.tasks:
        lines += task_results(t, ctx)
    return lines


def task_results(t: str, ctx: ReportContext) -> list[str]:
    """``### <task>``: its description, summary table and time to quality."""
    lines = [f"### {t}", ""]
    desc = task_description(t, ctx.records.get(t), ctx.runs)
    if desc:
        lines += [desc, ""]
    lines += [summary_markdown(ctx.summaries[t]) if len(ctx.summaries[t]) else "No runs.", ""]
    lines += floor_lines(t, ctx.floors)
    lines += reference_lines(ctx.records.get(t))
    lines += convergence_lines(t, ctx.metrics, ctx.runs)
    lines += eps_split_lines(t, (ctx.eps_split or {}).get(t))
    lines += ranking_lines(t, ctx)
    lines += ceiling_lines(t, ctx)
    lines += ours_variant_lines(t, ctx)
    ttt = ctx.ttt_summary
    g = ttt[ttt["task"] == t] if len(ttt) else ttt
    thr, thr_text = ctx.thresholds.get(t, (W2_THRESHOLD_TIME, f"{W2_THRESHOLD_TIME:.2f}"))
    if len(g) and "best_probe_w2" in g and np.isfinite(g["best_probe_w2"].to_numpy(dtype=float)).any():
        lines += [f"Time to a probe W2 <= {T.fmt(thr)} ({thr_text}; training seconds of the first probe at "
                  "or below it; from the training logs):",
                  "",
                  markdown([[f"{x.method}/{x.variant}", f"{x.reached}/{x.runs}",
                               T.fmt(x.mean_seconds, ".2f", "not reached"), T.fmt(x.best_probe_w2)]
                              for x in g.itertuples(index=False)],
                             ["run", "seeds reaching it", "mean seconds (reached)", "best probe W2"]),
                  ""]
    return lines + [f"CSV: [tables/summary_{t}.csv](tables/summary_{t}.csv), "
                    "[tables/time_to_w2.csv](tables/time_to_w2.csv).", ""]


def reference_lines(record: dict | None) -> list[str]:
    """The quality of a simulation task's rejection-ABC reference (its record's ``reference``):
    per condition the acceptance radius, the reference's own re-simulation error, and how far it
    moves when the pool is 10x smaller, against the W2 between two disjoint halves of it."""
    ref = (record or {}).get("reference")
    if not ref or not ref.get("per_condition"):
        return []
    rows = [[cid, T.fmt(q.get("radius"), ".4g"), T.fmt(q.get("resim_error"), ".4g"),
             T.fmt(q.get("radius_small_pool"), ".4g"), T.fmt(q.get("w2_full_vs_small_pool")),
             T.fmt(q.get("w2_split_floor"))]
            for cid, q in sorted(ref["per_condition"].items())]
    return [f"Reference posterior: rejection ABC, the {ref.get('keep')} prior draws nearest each observation "
            f"out of a pool of {ref.get('pool'):,} (Kruse et al. 2021 keep 4,000 of 10^8). A reference is "
            "close to exact where its acceptance radius and re-simulation error are small and a 10x smaller "
            "pool moves it no more than the W2 between two disjoint halves of it (the last two columns, at "
            f"n = {ref.get('n_quality')}); where it moves more, distances to it carry the reference's own error.",
            "",
            markdown(rows, ["condition", "acceptance radius", "re-simulation error of the reference",
                            "radius, 10x smaller pool", "W2 full vs 10x smaller pool", "W2 between halves"]),
            ""]


def convergence_lines(t: str, metrics: pd.DataFrame | None, runs: pd.DataFrame | None) -> list[str]:
    """Where each early-stopped run stopped: per (method, variant) the seeds that stopped before
    the cap, the median step kept (its lowest validation W2) and the cap (``runs.csv``'s
    iterations); nothing for a task trained with a fixed budget."""
    if metrics is None or metrics.empty:
        return []
    m = metrics[(metrics["task"] == t) & metrics["metric"].isin(["best_step", "stopped_early"])]
    if m.empty:
        return []
    caps = {}
    if runs is not None and len(runs):
        r = runs[runs["task"] == t]
        caps = {(a, b): int(pd.to_numeric(g["iterations"]).max()) for (a, b), g in r.groupby(["method", "variant"])}
    rows = []
    for (meth, var), g in sorted(m.groupby(["method", "variant"]), key=lambda kv: (T.method_key(kv[0][0]), T.variant_key(kv[0][1]))):
        best = g[g["metric"] == "best_step"]["value"].astype(float)
        stopped = g[g["metric"] == "stopped_early"]["value"].astype(float)
        cap = caps.get((meth, var))
        rows.append([f"{meth}/{var}", f"{int(stopped.sum())}/{len(stopped)}", T.fmt(float(np.median(best)), ".0f"),
                     f"{int(best.min())}-{int(best.max())}", f"{cap:,}" if cap else T.NA])
    return ["Convergence (early stopping on validation data the test never uses): the seeds that stopped "
            "before the cap because the validation distance stopped improving (W2 at validation conditions; "
            "on an sbibm task, whose only references are the test's, the energy score at held-out "
            "simulations), and the training step whose parameters were kept (the lowest validation "
            "distance). A run kept at the cap was still improving: its method may not have converged "
            "within the budget. Methods that train themselves (sbi's NPE and FMPE: their library's own "
            "early stopping on its validation loss, counted in epochs) are not listed.", "",
            markdown(rows, ["run", "seeds stopped before the cap", "median step kept", "steps kept (range)", "cap"]),
            ""]


def ranking_lines(t: str, ctx: ReportContext) -> list[str]:
    """Every method once, at its recipe on this task, ranked by the geometric mean of W2 over
    seeds; where at least two methods ran."""
    summary = ctx.summaries.get(t)
    if summary is None or summary["method"].nunique() < 2:
        return []
    rank = T.ranking_table(summary, (ctx.records.get(t) or {}).get("recipes"))
    cols = list(summary.columns)
    shown = cols[cols.index("c2st_mean") + 1:cols.index("seconds_per_iteration")]
    costs = ctx.costs[t].set_index(["method", "variant"])

    def cost(r, col, spec):
        key = (r["method"], r["variant"])
        return T.fmt(costs.loc[key, col], spec) if key in costs.index else T.NA

    rows = [[str(r["rank"]), f"{r['method']}/{r['variant']}", f"{r['w2_n']}/{r['seeds']}", T.fmt(r["w2_gm"]),
             T.fmt_pm(r["w2_mean"], r["w2_ci95"]), T.fmt(r["w2_over_floor"], ".2f"), T.fmt(r["c2st_mean"]),
             *[T.fmt(r[c], ".4f") for c in shown], T.fmt(r["seconds_per_iteration"], ".4f"),
             cost(r, "n_parameters", ",.0f"), cost(r, "sample_seconds_per_1000", ".4f")]
            for _, r in rank.iterrows()]
    return ["Ranking of the methods, each at its recipe on this task (the first variant the task's runs "
            "list for it), by the geometric mean of W2 over seeds (lower is better; a method whose runs "
            "all diverged ranks last). Rank differences within the CIs are not significant. Parameters: as "
            "the run recorded them (the cGAN's include its critic). Sampling: the evaluation's wall-clock per "
            "1,000 posterior samples, on the device and threads the runs trained on.", "",
            markdown(rows, ["rank", "method (recipe)", "finite seeds / seeds", "W2 geometric mean",
                            "W2 mean ± 95% CI", "W2 / floor", "C2ST", *shown, "s / iteration", "parameters",
                            "sampling s / 1,000 samples"]), ""]


def ceiling_lines(t: str, ctx: ReportContext) -> list[str]:
    """The method's ceiling (issue: separate the method from the recipe's budget): every run
    trained for more iterations than the task's common budget, beside its method's recipe on the
    task, both against the floor; and, where two methods have one, their ratio at the recipes and
    at the ceilings. Shown, not tested (the ceiling runs have one seed in the full config)."""
    summary = ctx.summaries.get(t)
    common, its = _budgets(ctx.runs, t)
    if summary is None or summary.empty or its.empty:
        return []
    recipes = (ctx.records.get(t) or {}).get("recipes") or {}
    by = summary.set_index(["method", "variant"])
    rows, pairs = [], {}
    for (m, v), n_it in sorted(its.items(), key=lambda kv: (kv[0][0] != T.OURS, kv[0])):   # ours first
        rv = recipes.get(m)
        if n_it <= common or (m, v) not in by.index or rv is None or (m, rv) not in by.index or rv == v:
            continue
        c, b = by.loc[(m, v)], by.loc[(m, rv)]
        ratio = c["w2_gm"] / b["w2_gm"] if b["w2_gm"] > 0 else float("nan")
        rows.append([f"{m}/{v}", f"{n_it:,}", str(int(c["w2_n"])), T.fmt(c["w2_gm"]), T.fmt(c["w2_over_floor"], ".2f"),
                     f"{m}/{rv}", f"{int(its.get((m, rv), common)):,}", str(int(b["w2_n"])), T.fmt(b["w2_gm"]),
                     T.fmt(b["w2_over_floor"], ".2f"), T.fmt(ratio, ".2f")])
        pairs.setdefault(m, (c["w2_gm"], b["w2_gm"], f"{m}/{v}", f"{m}/{rv}"))
    if not rows:
        return []
    lines = ["The method's ceiling, beyond the recipe: each run trained for more iterations than the task's "
             f"{common:,} (with its own schedule, as its variant says), beside its method's recipe on this task. "
             "Seeds as given; with one seed this is shown, not tested.", "",
             markdown(rows, ["run", "iterations", "seeds", "W2 geometric mean", "W2 / floor", "recipe",
                             "recipe iterations", "recipe seeds", "recipe W2", "recipe W2 / floor",
                             "ceiling / recipe"]), ""]
    o = pairs.get(T.OURS)
    for p in ([] if o is None else [q for k, q in pairs.items() if k != T.OURS]):   # each other method against ours
        lines += [f"{p[2]} / {o[2]} (W2) = {T.fmt(p[0] / o[0], '.2f')} at the ceilings, against "
                  f"{p[3]} / {o[3]} = {T.fmt(p[1] / o[1], '.2f')} at the recipes.", ""]
    return lines


def ours_variant_lines(t: str, ctx: ReportContext) -> list[str]:
    """Ours's other variants on a task the paper's claims do not cover (there C5 tests them),
    each against ours's recipe on the task by C5's sensitivity rule (log-scale Welch, Holm over
    the variants): e.g. eps on ``gaussian_linear``, where eps models the noise of y given x."""
    from ..claims import ALPHA, RATIO_MIN, REPRODUCED, family_test, finite, holm_ratio_text
    record = ctx.records.get(t) or {}
    recipe = (record.get("recipes") or {}).get(T.OURS)
    if record.get("paper_claims", True) or recipe is None or ctx.metrics is None or ctx.metrics.empty:
        return []
    m = ctx.metrics[(ctx.metrics["task"] == t) & (ctx.metrics["method"] == T.OURS)]
    common, its = _budgets(ctx.runs, t)
    longer = {v for (meth, v), n in its.items() if meth == T.OURS and n > common}
    variants = sorted(v for v in m["variant"].unique() if v != recipe and v not in longer)
    if not variants:
        return []
    res = family_test(m, t, T.OURS, recipe, variants)
    parts = []
    for v, r in res.items():
        if not r["tested"]:
            parts.append(f"ours/{v}: not tested (a side has no finite seed)")
            continue
        word = ("worse (sensitive)" if r["verdict"] == REPRODUCED          # C3's rule with Holm's p
                else "better beyond the interval" if finite(r["ci"][1]) and r["ci"][1] < 1 else "not separated")
        parts.append(f"ours/{v}: W2 {T.fmt(r['a']['gm'])} ({r['a']['n']} seeds), {holm_ratio_text(r)}: {word}")
    base_gm = next(iter(res.values()))["b"]["gm"]
    return [f"Ours's other variants on this task against its recipe ours/{recipe} (W2 {T.fmt(base_gm)}; "
            "C5's rule: r = ratio of geometric means of W2, 95% Welch interval on log W2, one-sided Holm p for "
            f"'worse'; sensitive if r >= {RATIO_MIN:g} with Holm p < {ALPHA:g}): " + "; ".join(parts) + ".", ""]


def floor_lines(t: str, floors: pd.DataFrame) -> list[str]:
    """The task's noise floors: what a perfect sampler scores at each size the task scores at."""
    f = floors[floors["task"] == t] if len(floors) else floors
    if f.empty:
        return ["No noise floor computed for this task (rule `noise_floor`).", ""]
    parts = []
    for metric, g in f.groupby("metric", sort=True):
        parts.append(f"{metric} " + ", ".join(f"{T.fmt(x.floor_mean)} ± {T.fmt(x.floor_sd)} at n = {int(x.n)}"
                                              for x in g.sort_values("n", ascending=False).itertuples(index=False)))
    return ["Noise floor (the same metric between two independent exact samples of the same size, one drawn "
            "as a perfect sampler draws, the other as the reference is; mean ± sd over conditions and "
            "repeats; a perfect sampler scores about this): " + "; ".join(parts)
            + ". Table: [tables/noise_floor.csv](tables/noise_floor.csv).", ""]


def _most_common(values: pd.Series) -> int:
    """The most common value (ties: the smallest): a task's common budget among its runs."""
    return int(values.astype(int).value_counts().sort_index().idxmax())


def _budgets(runs: pd.DataFrame | None, task: str) -> tuple[int, pd.Series]:
    """The task's common number of iterations and each (method, variant)'s (from ``runs.csv``);
    (0, empty) where the runs recorded none."""
    if runs is None or runs.empty or "iterations" not in runs:
        return 0, pd.Series(dtype=int)
    r = runs[runs["task"] == task].dropna(subset=["iterations"])
    if r.empty:
        return 0, pd.Series(dtype=int)
    return _most_common(r["iterations"]), r.groupby(["method", "variant"])["iterations"].max().astype(int)


def _used(runs: pd.DataFrame, task: str, key: str) -> str:
    """The value of ``key`` the runs of ``task`` used: one value, or the most common one with the
    runs that used another named after it (e.g. ``400 (1600: ours/paper_4x_cosine)``)."""
    r = runs[runs["task"] == task] if len(runs) and key in runs else pd.DataFrame()
    r = r.dropna(subset=[key]) if len(r) else r
    if r.empty:
        return "?"
    values = r[key].astype(int)
    common = _most_common(values)
    others = r[values != common]
    if others.empty:
        return str(common)
    per = others.groupby(key)[["method", "variant"]].apply(
        lambda g: ", ".join(sorted({f"{m}/{v}" for m, v in zip(g["method"], g["variant"])})))
    return f"{common} (" + "; ".join(f"{int(k)}: {names}" for k, names in per.items()) + ")"


def task_description(task: str, record: dict | None, runs: pd.DataFrame | None = None) -> str:
    """The task's own description (its task record) and the training sizes its runs used (from
    ``runs.csv``: what each run recorded, not what the config says now)."""
    if not record:
        return ""
    runs = runs if runs is not None else pd.DataFrame()
    description = record.get("description", "").strip()
    if description and not description.endswith("."):
        description += "."
    return (f"{description} {_used(runs, task, 'iterations')} iterations of "
            f"batch {_used(runs, task, 'batch_size')}; {_used(runs, task, 'n_eval')} posterior samples per "
            f"evaluation condition against as many reference ones (as recorded by the runs).")


def figures(ctx: ReportContext) -> list[str]:
    lines = ["## Figures per task", ""]
    for t in ctx.tasks:
        names = ctx.records.get(t, {}).get("figures", [])
        lines += figure_block(t, names, ctx.figures.get(t, []), {n: figure_caption(n) for n in names},
                              f"figures/{t}")
    return lines


#: the smoothed targets' names in the report (flowbench.eps_split.TARGET_KINDS)
TARGET_NAMES = {"reparametrised": "reparametrised (ours)", "transport": "transported (INN)"}


def eps_split_lines(t: str, split: pd.DataFrame | None) -> list[str]:
    """What smoothing costs on task ``t`` (``flowbench.eps_split.task_split``): per run (ours at
    its eps, the INN at its y noise) and condition, W2(target, reference) (the bias the smoothing
    builds in), W2(model, target) (what training leaves, mean over seeds) and W2(model,
    reference), beside the target's own floor."""
    if split is None or not len(split):
        return []
    rows = []
    for (m, v, eps, kind, cid), g in split.groupby(["method", "variant", "eps", "target", "condition"], sort=True):
        q = {name: gg["value"].astype(float) for name, gg in g.groupby("quantity")}

        def one(name):
            return float(q[name].iloc[0]) if name in q and len(q[name]) else float("nan")

        def mean(name):
            return f"{q[name].mean():.3g} ({len(q[name])} seeds)" if name in q and len(q[name]) else "-"
        resolved = one("distinct") >= 0.9
        rows.append([f"{m}/{v}", f"{eps:g}", TARGET_NAMES.get(kind, kind), cid, f"{one('bias'):.3g}",
                     mean("training"), mean("total"), f"{one('floor'):.3g}",
                     "yes" if resolved else f"no ({one('distinct'):.0%} distinct of {one('pool_draws'):,.0f} draws)"])
    rows.sort(key=lambda r: (r[2] != TARGET_NAMES["reparametrised"], float(r[1]), r[3], r[0]))
    return [f"What smoothing costs on `{t}`: each run's samples split at the smoothed target its training "
            "converges to (README \"What eps costs\"): ours at its eps (y~ ~ N(y*, eps^2) mapped back by the "
            "reparametrisation its likelihood learns), the INN at its y noise (y~ ~ N(y*, y_noise^2) mapped back by "
            "the transport from y's law to its smoothing, which its MMD terms ask for), then the exact fibre. bias = W2(target, reference), what the smoothing costs after perfect training; "
            "training = W2(model, target), what training leaves; total = W2(model, reference); floor = W2 between "
            "two target draws. A target whose nearest prior draws are mostly repeated (\"resolved: no\") hit its "
            f"pool cap and reads high. Table: [tables/eps_split_{t}.csv](tables/eps_split_{t}.csv).", "",
            markdown(rows, ["run", "width", "target", "condition", "bias", "training", "total", "target floor",
                            "target resolved"]), ""]
