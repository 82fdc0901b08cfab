"""Figures from results/ alone (matplotlib + seaborn). Every function writes PNGs and returns paths.

A panel whose run is absent from the config says so in the panel instead of failing, so the
smoke config (which runs few variants) still yields every figure.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import seaborn as sns

from . import tables as T
from .tables import TIME_FLOOR_MULTIPLE, W2_THRESHOLD_TIME
from .plotting import PALETTE, not_run, plt, read_task_metrics, save_figure
from .records import read_csv
from .recipes import first_seed, iter_runs, task_recipes
from .registry import method_order, method_with_role
from .tasks import make_task, task_class


def _method_order(methods) -> list[str]:
    """The report's order of methods (the registry's ``order``: ours, the INN, the cINN, the
    baselines)."""
    return method_order(methods)


def _recipe_first(variants, recipe: str | None) -> list[str]:
    """A method's variants, its recipe first, then alphabetically."""
    return sorted(variants, key=lambda v: (v != recipe, v))


def _is_recipe(df: pd.DataFrame, recipes: dict[str, str]) -> pd.Series:
    """Rows (with ``method`` and ``variant``) of each method's recipe."""
    return df["variant"] == df["method"].map(recipes)


def _method_colours(methods) -> dict[str, tuple]:
    """One colour per method, the same in every figure of a task (variants share their method's)."""
    order = _method_order(methods)
    return dict(zip(order, sns.color_palette(PALETTE, max(len(order), 1))))


def _run_order(runs, recipes: dict[str, str] | None) -> list[str]:
    """``method/variant`` names grouped by method (``_method_order``), each method's recipe first."""
    recipes = recipes or {}
    by_method: dict[str, list[str]] = {}
    for r in runs:
        m, v = r.split("/", 1)
        by_method.setdefault(m, []).append(v)
    return [f"{m}/{v}" for m in _method_order(by_method) for v in _recipe_first(by_method[m], recipes.get(m))]


def task_floor(floors: pd.DataFrame | None, task: str, n: int | None = None) -> tuple[float, int | None]:
    """(mean W2 floor of ``task``, n) at sample size ``n`` (the largest the floor has when None):
    ``report.stats.floor_mean`` with the size it used; (nan, None) without a floor."""
    from .report.stats import floor_mean
    w2 = floors[(floors["task"] == task) & (floors["metric"] == "w2")] if floors is not None and len(floors) else None
    if w2 is None or w2.empty:
        return float("nan"), None
    n = int(w2["n"].max()) if n is None else int(n)
    f = floor_mean(w2, task, "w2", n)
    return (f, n) if np.isfinite(f) else (f, None)


def _geo_ci(values: np.ndarray) -> tuple[float, float, float]:
    """Geometric mean of positive ``values`` and its 95% t-interval (``tables.mean_ci`` of the logs)."""
    mean, half, _ = T.mean_ci(np.log(values))
    half = half if np.isfinite(half) else 0.0
    return float(np.exp(mean)), float(np.exp(mean - half)), float(np.exp(mean + half))


def _floor_lines(ax, floor: float, n, vertical: bool, multiple: float = TIME_FLOOR_MULTIPLE) -> list:
    """The floor (solid) and ``multiple`` x the floor (dotted); returns their legend handles."""
    if not np.isfinite(floor):
        return []
    line = ax.axvline if vertical else ax.axhline
    return [line(floor, color="0.35", lw=1.2, label=f"noise floor: two exact samples, n = {n}"),
            line(multiple * floor, color="0.35", lw=1, ls=":", label=f"{multiple:g} x the floor")]


def _log_ticks(axis) -> None:
    """Ticks at 1, 2, 5 x 10^k labelled as plain numbers (a W2 axis spans a few decades at most)."""
    axis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def _x_range(values: np.ndarray, floor: float, span: float = 100.0) -> tuple[float, float]:
    """The W2 axis: from below the smallest value (or the floor) to the largest, at most ``span`` x
    the floor (larger values are drawn at the edge with their number)."""
    lo = min(float(values.min()) if len(values) else np.inf, floor if np.isfinite(floor) else np.inf)
    hi = float(values.max()) if len(values) else np.nan
    if not np.isfinite(lo):
        return 1e-3, 1.0
    hi = hi if np.isfinite(hi) else lo * 10
    if np.isfinite(floor):
        hi = min(hi, span * floor)
    return lo / 1.6, max(hi * 1.6, lo * 10)


def w2_comparison(metrics: pd.DataFrame, task_name, out: Path, floors: pd.DataFrame | None = None,
                  recipes: dict[str, str] | None = None) -> Path:
    """Left: every run's W2 per seed (mean over the evaluation conditions), its geometric mean over
    seeds and 95% t-interval on the log scale (the statistics the claims use), against the noise
    floor and 3x the floor. Right: W2 per condition of each method at its recipe (``recipes``,
    {method: variant}; default: every method's first variant alphabetically)."""
    d = metrics[(metrics.metric == "w2") & (metrics.condition.astype(str) != "")].copy()
    if d.empty:
        fig, ax = plt.subplots(figsize=(8, 3))
        not_run(ax, "no W2 values (none configured)")
        ax.set_title(f"{task_name}: W2 to the reference posterior", fontsize=10)
        return save_figure(fig, out)
    d["run"] = d["method"] + "/" + d["variant"]
    floor, n = task_floor(floors, task_name)
    colours = _method_colours(d["method"].unique())
    recipes = dict(recipes or {})
    for m in d["method"].unique():
        recipes.setdefault(m, sorted(d.loc[d["method"] == m, "variant"].unique())[0])
    order = _run_order(d["run"].unique(), recipes)
    per_seed = d.groupby(["run", "seed"])["value"].mean()   # NaN when any condition is NaN (diverged)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13, max(3.8, 1.4 + 0.32 * len(order))),
                                  gridspec_kw={"width_ratios": [1.25, 1]}, layout="constrained")
    rng = np.random.default_rng(0)
    finite_all = per_seed[np.isfinite(per_seed) & (per_seed > 0)].to_numpy(dtype=float)
    lo_edge, hi_edge = _x_range(finite_all, floor)
    for i, run in enumerate(order):
        v = per_seed.loc[run].to_numpy(dtype=float)
        ok = np.isfinite(v) & (v > 0)
        c = colours[run.split("/", 1)[0]]
        inside = ok & (v <= hi_edge)
        ax.scatter(v[inside], i + rng.uniform(-0.15, 0.15, inside.sum()), s=14, color=c, alpha=0.55, lw=0)
        beyond = ok & (v > hi_edge)   # seeds off the scale: small arrows at the edge
        ax.scatter(np.full(beyond.sum(), hi_edge), i + rng.uniform(-0.15, 0.15, beyond.sum()), marker=">",
                   s=14, color=c, alpha=0.55, lw=0, clip_on=False)
        if ok.any():
            g, lo, hi = _geo_ci(v[ok])
            ax.plot([max(lo, lo_edge), min(hi, hi_edge)], [i, i], color=c, lw=2)
            if g <= hi_edge:
                ax.scatter([g], [i], marker="D", s=38, color=c, edgecolor="black", lw=0.8, zorder=3)
            else:   # off the scale (a blown-up inverse): an arrow at the edge and the number
                ax.scatter([hi_edge], [i], marker=">", s=50, color=c, edgecolor="black", lw=0.8, zorder=3,
                           clip_on=False)
                ax.text(hi_edge / 1.15, i - 0.25, f"{g:.3g}", ha="right", va="bottom", fontsize=7.5, color="0.2")
        if (~ok).any():
            ax.text(hi_edge / 1.15, i + 0.3, f"{int((~ok).sum())} diverged", ha="right", va="center",
                    fontsize=7.5, color="firebrick")
    ax.set_xlim(lo_edge, hi_edge)
    ax.set_yticks(range(len(order)))
    ax.set_yticklabels([f"{r} (recipe)" if r.split("/", 1)[1] == recipes.get(r.split("/", 1)[0]) else r
                        for r in order], fontsize=8)
    ax.set_ylim(len(order) - 0.5, -0.5)
    ax.set_xscale("log")
    handles = _floor_lines(ax, floor, n, vertical=True)   # explained in the right panel's legend
    _log_ticks(ax.xaxis)
    ax.set_xlabel("W2 per seed (mean over conditions); diamond: geometric mean, bar: its 95% CI")
    ax.grid(axis="x", which="major", color="0.9")
    # right: per condition, the recipes only
    r = d[_is_recipe(d, recipes)].copy()
    ids = sorted(r["condition"].astype(str).unique(),
                 key=lambda c: (not c.isdigit(), int(c) if c.isdigit() else 0, c))
    r["label"] = pd.Categorical(r["condition"].astype(str), categories=ids, ordered=True)
    rec_order = [f"{m}/{recipes[m]}" for m in _method_order(r["method"].unique())]
    r["run"] = pd.Categorical(r["run"], categories=rec_order, ordered=True)
    r = r[np.isfinite(r["value"]) & (r["value"] > 0)]
    if r.empty:
        not_run(ax2, "no finite W2 for the recipes")
        if handles:
            ax2.legend(handles=handles, fontsize=7.5, loc="upper left")
    else:
        g = r.groupby(["run", "label"], observed=True)["value"].apply(lambda v: float(np.exp(np.log(v).mean())))
        for run, series in g.groupby(level=0, observed=True):
            xs = [ids.index(str(lab)) for lab in series.index.get_level_values(1)]
            ax2.plot(xs, series.to_numpy(), marker="o", ms=4, lw=1, color=colours[str(run).split("/", 1)[0]],
                     label=str(run))
        ax2.set_xticks(range(len(ids)))
        ax2.set_xticklabels(ids, fontsize=8, rotation=0 if len(ids) <= 12 else 90)
        ax2.set_yscale("log")
        _log_ticks(ax2.yaxis)
        _floor_lines(ax2, floor, n, vertical=False)
        ax2.set_xlabel("evaluation condition")
        ax2.set_ylabel("W2, geometric mean over seeds")
        ax2.legend(fontsize=7.5, loc="upper left", bbox_to_anchor=(1.02, 1))
        ax2.set_title("each method at its recipe, per condition", fontsize=9)
    fig.suptitle(f"{task_name}: W2 to the reference posterior (log scale, lower is better)", fontsize=10)
    return save_figure(fig, out)


def _load_logs(config, task_name, task_dir):
    frames = []
    for (t, m, v, s) in iter_runs(config, task_name):
        f = task_dir / m / v / f"seed{s}" / "train_log.csv"
        if f.exists():
            df = read_csv(f)
            df["method"], df["variant"], df["seed"] = m, v, s
            df["run"] = f"{m}/{v}"
            frames.append(df)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def training_curves(config, task_name, task_dir: Path, out: Path, settle: float = 0.1) -> Path:
    """Training loss against step, one panel per method (ours first), one line per variant (mean
    over seeds). The y axis covers the steps after the first ``settle`` fraction of each panel's
    run, so the initial transient does not flatten the curve; a loss that spans decades is on a log
    scale."""
    logs = _load_logs(config, task_name, task_dir)
    methods = _method_order(logs["method"].unique()) if not logs.empty else []
    n = max(len(methods), 1)
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.7 * rows), squeeze=False, layout="constrained")
    flat = axes.ravel()
    for ax, m in zip(flat, methods):
        d = logs[logs.method == m]
        hue_order = sorted(d["run"].unique())
        sns.lineplot(data=d, x="step", y="loss", hue="run", hue_order=hue_order, errorbar=None, ax=ax,
                     palette=PALETTE, lw=1)
        late = d[d["step"] >= settle * d["step"].max()]["loss"].to_numpy(dtype=float)
        late = late[np.isfinite(late)]
        if len(late):
            lo, hi = float(late.min()), float(late.max())
            if lo > 0 and hi / lo > 100:
                ax.set_yscale("log")  # a loss that spans decades (the INN's ramped MMD sum)
                ax.set_ylim(lo / 1.5, hi * 1.5)
            else:
                pad = 0.05 * (hi - lo) if hi > lo else max(abs(hi), 1.0) * 0.05
                ax.set_ylim(lo - pad, hi + pad)
        ax.set_title(f"{m}: training loss (mean over seeds)", fontsize=10)
        ax.legend(fontsize=7, ncol=2 if len(hue_order) > 5 else 1)
    if not methods:
        not_run(flat[0], "no training logs")
    for ax in flat[max(len(methods), 1):]:
        ax.axis("off")
    fig.suptitle(f"{task_name}: training loss; y axis from {settle:.0%} of each run's steps on", fontsize=10)
    return save_figure(fig, out)


def w2_vs_time(config, task_name, task_dir: Path, out: Path, floors: pd.DataFrame | None = None,
               threshold: float | None = None, multiple: float = TIME_FLOOR_MULTIPLE) -> Path:
    """Probe W2 against training seconds, one line per seed: first panel every method at its recipe,
    then one panel per method with its variants. The dotted line: ``multiple`` x the floor at the
    probe's sample size (the report's time-to-quality threshold), else ``threshold``."""
    logs = _load_logs(config, task_name, task_dir)
    d = logs.dropna(subset=["probe_w2"]) if "probe_w2" in logs else pd.DataFrame()
    if logs.empty or "probe_w2" not in logs or d.empty:
        fig, ax = plt.subplots(figsize=(7, 4.2))
        not_run(ax, "no W2 probes (train.probe_every is 0)" if logs.empty or "probe_w2" not in logs
                 else "no finite W2 probe (every probed run diverged)")
        ax.set_title(f"{task_name}: time to quality (one line per seed)", fontsize=10)
        return save_figure(fig, out)
    probe_n = (config["tasks"][task_name].get("train") or {}).get("probe_n")
    floor, n = task_floor(floors, task_name, probe_n)
    if threshold is None:
        threshold = multiple * floor if np.isfinite(floor) else W2_THRESHOLD_TIME
    recipes = task_recipes(config, task_name)
    colours = _method_colours(d["method"].unique())
    # a panel of variants only for the methods with more than one
    methods = [m for m in _method_order(d["method"].unique()) if d.loc[d["method"] == m, "variant"].nunique() > 1]
    panels = 1 + len(methods)
    cols = min(panels, 3)
    rows = -(-panels // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.9 * rows), squeeze=False, sharex=True,
                             sharey=True, layout="constrained")
    flat = axes.ravel()
    rec = d[_is_recipe(d, recipes)]
    for m in _method_order(rec["method"].unique()):
        run = f"{m}/{recipes[m]}"
        for k, (_, g) in enumerate(rec[rec["run"] == run].groupby("seed")):
            flat[0].plot(g["seconds"], g["probe_w2"], color=colours[m], lw=1, alpha=0.8, label=run if k == 0 else None)
    flat[0].set_title("each method at its recipe", fontsize=9)
    flat[0].legend(fontsize=7)
    for ax, m in zip(flat[1:], methods):
        dm = d[d["method"] == m]
        variants = _recipe_first(dm["variant"].unique(), recipes.get(m))
        pal = dict(zip(variants, sns.color_palette(PALETTE, max(len(variants), 1))))
        for v in variants:
            for k, (_, g) in enumerate(dm[dm["variant"] == v].groupby("seed")):
                ax.plot(g["seconds"], g["probe_w2"], color=pal[v], lw=1, alpha=0.8,
                        label=(f"{v} (recipe)" if v == recipes.get(m) else v) if k == 0 else None)
        ax.set_title(f"{m}: its variants", fontsize=9)
        ax.legend(fontsize=7, ncol=2 if len(variants) > 5 else 1)
    for ax in flat[panels:]:
        ax.axis("off")
    w = d["probe_w2"].to_numpy(dtype=float)
    w = w[np.isfinite(w) & (w > 0)]
    bottom = min(float(w.min()), floor if np.isfinite(floor) else np.inf, threshold) / 1.5
    top = min(float(w.max()), 100 * threshold) * 1.5
    for ax in flat[:panels]:
        ax.axhline(threshold, color="0.3", ls=":", lw=1)
        ax.set_yscale("log")
        ax.set_ylim(bottom, top)
        ax.grid(color="0.93")
    for ax in axes[-1]:
        ax.set_xlabel("training wall-clock seconds (probes excluded)")
    for ax in axes[:, 0]:
        ax.set_ylabel("probe W2, mean over conditions")
    where = f"{multiple:g} x floor at n = {n}" if np.isfinite(floor) and threshold == multiple * floor else "fixed"
    clipped = "; axis cut at 100x the threshold" if float(w.max()) > 100 * threshold else ""
    fig.suptitle(f"{task_name}: time to quality, one line per seed (dotted: {threshold:.3g}, {where}{clipped})",
                 fontsize=10)
    return save_figure(fig, out)


def _read_floors(task_dir: Path) -> pd.DataFrame | None:
    """The task's noise floor (``noise_floor.csv`` beside its metrics), or None."""
    f = Path(task_dir) / "noise_floor.csv"
    return read_csv(f, dtype={"condition": str}) if f.exists() else None


def validation_curves(config, task_name, task_dir: Path, out: Path) -> Path:
    """The early-stopping curves: validation distance against step, one panel per method, one thin
    line per seed coloured by variant, the kept step (the lowest value) as a dot, the cap dotted."""
    logs = _load_logs(config, task_name, task_dir)
    d = logs.dropna(subset=["val_w2"]) if "val_w2" in logs else pd.DataFrame()
    label = task_class(config["tasks"][task_name]["kind"]).validation_label
    if d.empty:
        fig, ax = plt.subplots(figsize=(7, 4.2))
        not_run(ax, "no validation checks (no early stopping, or methods that train themselves)")
        ax.set_title(f"{task_name}: {label} during training", fontsize=10)
        return save_figure(fig, out)
    methods = _method_order(d["method"].unique())
    cols = min(len(methods), 3)
    rows = -(-len(methods) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.6 * rows), squeeze=False, layout="constrained")
    flat = axes.ravel()
    cap = int((config["tasks"][task_name].get("train") or {}).get("iterations", 0))
    for ax, m in zip(flat, methods):
        dm = d[d["method"] == m]
        variants = sorted(dm["variant"].unique())
        colours = dict(zip(variants, sns.color_palette(PALETTE, len(variants))))
        labelled = set()
        for (v, seed), g in dm.groupby(["variant", "seed"]):
            g = g.sort_values("step")
            steps, vals = g["step"].to_numpy() + 1, g["val_w2"].to_numpy(dtype=float)
            ax.plot(steps, vals, lw=0.9, alpha=0.8, color=colours[v], label=None if v in labelled else f"{m}/{v}")
            labelled.add(v)
            if np.isfinite(vals).any():
                k = int(np.nanargmin(vals))
                ax.plot(steps[k], vals[k], "o", ms=4, color=colours[v])
        if cap:
            ax.axvline(cap, ls=":", color="0.5", lw=1)
        finite = dm["val_w2"].to_numpy(dtype=float)
        finite = finite[np.isfinite(finite) & (finite > 0)]
        if len(finite) and finite.max() / finite.min() > 10:
            ax.set_yscale("log")
        ax.set_xlabel("training step")
        ax.set_ylabel(label, fontsize=8)
        ax.set_title(m, fontsize=10)
        ax.legend(fontsize=7)
    for ax in flat[len(methods):]:
        ax.axis("off")
    fig.suptitle(f"{task_name}: {label} at each check (dot: the kept step; dotted: the cap)", fontsize=10)
    return save_figure(fig, out)


COMMON_FIGURES = {"w2_comparison", "training_curves", "w2_vs_time", "validation_curves"}


def draw_figure(config, task_name, name: str, task_dir: Path, out: Path) -> Path:
    """Figure ``name`` of task ``task_name`` from its results folder ``task_dir``: a common figure
    (any task), else one of the task kind's own (``Task.make_figure``)."""
    task_dir, out = Path(task_dir), Path(out)
    if name == "w2_comparison":
        return w2_comparison(read_task_metrics(task_dir), task_name, out, _read_floors(task_dir), task_recipes(config, task_name))
    if name == "training_curves":
        return training_curves(config, task_name, task_dir, out)
    if name == "w2_vs_time":
        return w2_vs_time(config, task_name, task_dir, out, _read_floors(task_dir))
    if name == "validation_curves":
        return validation_curves(config, task_name, task_dir, out)
    return make_task(config["tasks"][task_name]).make_figure(name, config, task_name, task_dir, out)


def scaling_figure(costs: pd.DataFrame, out) -> Path:
    """Seconds per iteration vs batch size, log-log, with slope-1 and slope-2 guides."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    sns.lineplot(data=costs, x="batch_size", y="seconds_per_iteration", hue="method", marker="o",
                 ax=axes[0], palette=PALETTE)
    axes[0].set_xscale("log")
    axes[0].set_yscale("log")
    b = np.array(sorted(costs.batch_size.unique()), dtype=float)
    if len(b) > 1:
        y0 = costs[costs.batch_size == b[0]].seconds_per_iteration.min()
        axes[0].plot(b, y0 * b / b[0], ls=":", color="0.5", lw=1, label="slope 1 (linear)")
        axes[0].plot(b, y0 * (b / b[0]) ** 2, ls="--", color="0.7", lw=1, label="slope 2 (quadratic)")
    axes[0].legend(fontsize=8)
    axes[0].set_title("seconds per training iteration", fontsize=10)
    piv = costs.pivot(index="batch_size", columns="method", values="seconds_per_iteration")
    paper = method_with_role("paper")
    ours = [c for c in piv.columns if c.split("/", 1)[0] == paper]
    if ours:
        for c in piv.columns:
            if c != ours[0]:
                axes[1].plot(piv.index, piv[ours[0]] / piv[c], marker="o", label=f"{ours[0]} / {c}")
        axes[1].axhline(1.0, color="0.5", lw=0.8)
        axes[1].axhline(0.5, color="0.5", lw=0.8, ls=":")
        axes[1].set_xscale("log")
        axes[1].legend(fontsize=8)
    axes[1].set_title("time ratio (below 1: ours is faster)", fontsize=10)
    return save_figure(fig, Path(out))


def epoch_curve_figure(curve: pd.DataFrame, out, paper_accuracy: float | None = None,
                       main_epochs: int | None = None) -> Path:
    """Test accuracy (latent classifier, ours) and reconstruction error against auto-encoder epochs."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    ds = ", ".join(sorted(curve["dataset"].unique()))
    ax = axes[0]
    ax.plot(curve.epoch, curve.latent_classifier_accuracy, marker="o", label="latent classifier (MLP)")
    ours = curve.dropna(subset=["ours_accuracy"])
    if not ours.empty:
        ax.plot(ours.epoch, ours.ours_accuracy, marker="s", ls="", ms=8, label="ours (forward process)")
    if paper_accuracy is not None:
        ax.axhline(paper_accuracy, color="0.4", ls="--", lw=1, label=f"paper: ours {paper_accuracy}")
    if main_epochs is not None:
        ax.axvline(main_epochs, color="0.7", ls=":", lw=1, label=f"main stage: {main_epochs} epochs")
    ax.set_xlabel("auto-encoder epochs")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"{ds}: accuracy on the latents vs auto-encoder training", fontsize=10)
    ax.legend(fontsize=8)
    axes[1].plot(curve.epoch, curve.test_reconstruction_mse, marker="o", color="C2")
    axes[1].set_xlabel("auto-encoder epochs")
    axes[1].set_ylabel("summed squared pixel error per test image")
    axes[1].set_title("test reconstruction error", fontsize=10)
    return save_figure(fig, Path(out))


def expected_best_figure(trials: pd.DataFrame, floors: dict, out) -> Path:
    """How much tuning each method needs (Dodge et al. 2019, arXiv:1909.03004): per tuned task, the
    expected best validation W2 after k random trials (mean and +-1 sd of the best of k draws with
    replacement from the method's random trials), the recipe's own value at k = 0 (a marker) and
    each study's best (recipe, random and TPE trials; a short line at the right). Log scale; the
    band's foot is clipped at the best random trial (the least the best of k can be); the task's
    validation floor dashed."""
    from .methods import method_label
    from .report.claims.tuning import expected_best
    tasks = sorted(trials["task"].unique())
    fig, axes = plt.subplots(1, max(len(tasks), 1), figsize=(4.6 * max(len(tasks), 1), 3.8), squeeze=False)
    colours = _method_colours(trials["method"].unique())
    for ax, task in zip(axes[0], tasks):
        g = trials[trials["task"] == task]
        k_max = 1
        for m in _method_order(g["method"].unique()):
            gm = g[g["method"] == m]
            rnd = gm[gm["phase"] == "random"]["value"].to_numpy(float)
            c = colours[m]
            if len(rnd):
                curve = expected_best(rnd)
                k_max = max(k_max, len(curve))
                ax.plot(curve["k"], curve["mean"], color=c, label=method_label(m), lw=1.8)
                # the band's foot at the best random trial: the best of k draws never lies below it
                # (a mean - sd below it would only stretch the log axis)
                ax.fill_between(curve["k"], np.maximum(curve["mean"] - curve["sd"], rnd.min()),
                                curve["mean"] + curve["sd"], color=c, alpha=0.15, lw=0)
            rec = gm[gm["phase"] == "recipe"]["value"]
            if len(rec):
                ax.plot([0], [float(rec.iloc[0])], marker="o", color=c, ms=6, ls="none")
            ok = gm[(gm["state"] == "complete") & ~gm["unstable"].astype(bool)]["value"]
            if len(ok):
                ax.plot([k_max + 0.3, k_max + 0.9], [ok.min()] * 2, color=c, lw=2.5)
        if np.isfinite(floors.get(task, np.nan)):
            ax.axhline(floors[task], color="0.4", ls="--", lw=1, label="validation floor")
        ax.set_yscale("log")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.set_xlabel("random trials k (0: the recipe; right: the study's best)")
        ax.set_title(task)
    axes[0][0].set_ylabel("expected best validation W2")
    axes[0][0].legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return save_figure(fig, Path(out))


def sbibm_budget_figure(by_seed: pd.DataFrame, published: pd.DataFrame, out,
                        at_size: pd.DataFrame | None = None) -> Path:
    """C2ST against the simulation budget, as sbibm's Fig. 2 (Lueckmann et al. 2021,
    arXiv:2101.04653): one panel per sbibm task, one line per method and variant (the mean over
    seeds of each run's mean over observations; bars: the seeds' min and max; dots: each seed),
    sbibm's published NPE dashed (the mean over its 10 observations), and ``at_size`` (the
    compared NPE runs scored at sbibm's own 10,000 draws, ``c2st_by_seed`` rows) as black circles,
    the points to read against the dashed line. 0.5 is indistinguishable from the reference, 1.0
    fully separable."""
    from .methods import method_label
    names = sorted(by_seed["sbibm_task"].unique()) if len(by_seed) else []
    n = max(len(names), 1)
    fig, axes = plt.subplots(1, n, figsize=(3.6 * n, 3.6), squeeze=False, sharey=True)
    runs = by_seed[["method", "variant"]].drop_duplicates().itertuples(index=False) if len(by_seed) else []
    pairs = {(r.method, r.variant) for r in runs}
    order = _method_order({m for m, _ in pairs})
    keys = sorted(pairs, key=lambda mv: (order.index(mv[0]), mv[1]))
    colours = dict(zip(keys, sns.color_palette(PALETTE, max(len(keys), 1))))
    for ax, name in zip(axes[0], names):
        g = by_seed[by_seed["sbibm_task"] == name]
        for key in keys:
            gk = g[(g["method"] == key[0]) & (g["variant"] == key[1])]
            if gk.empty:
                continue
            s = gk.groupby("budget")["c2st"].agg(["mean", "min", "max"]).sort_index()
            label = method_label(key[0]) + ("" if key[1] == "default" else f" ({key[1]})")
            ax.errorbar(s.index, s["mean"], yerr=[s["mean"] - s["min"], s["max"] - s["mean"]], color=colours[key],
                        marker="o", ms=4, lw=1.5, capsize=2, label=label)
            ax.scatter(gk["budget"], gk["c2st"], color=colours[key], s=6, alpha=0.5, lw=0)
        p = published[published["sbibm_task"] == name].sort_values("budget")
        if len(p):
            ax.plot(p["budget"], p["c2st_mean"], color="black", ls="--", marker="x", lw=1.2,
                    label="NPE, published (sbibm)")
        a = at_size[at_size["sbibm_task"] == name] if at_size is not None else ()
        if len(a):
            sa = a.groupby("budget")["c2st"].mean().sort_index()
            ax.plot(sa.index, sa.values, ls="none", marker="o", ms=7, mfc="none", mec="black", mew=1.3,
                    label="NPE (sbibm), here, at sbibm's 10,000 draws")
        ax.set_xscale("log")
        ax.set_ylim(0.45, 1.02)
        ax.axhline(0.5, color="0.6", lw=0.8, ls=":")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("simulations")
    if not names:
        not_run(axes[0][0], "no sbibm task was scored by C2ST")
    axes[0][0].set_ylabel("C2ST (sbibm's; 0.5 = perfect)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    for ax in axes[0][1:]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    if handles:
        fig.legend(handles, labels, fontsize=7, loc="lower center", ncol=min(len(labels), 4),
                   bbox_to_anchor=(0.5, -0.02))
    fig.tight_layout(rect=(0, 0.08 + 0.03 * (len(labels) // 4), 1, 1))
    return save_figure(fig, Path(out))
