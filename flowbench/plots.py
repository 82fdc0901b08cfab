"""Figures from results/ alone (matplotlib + seaborn). Every function writes PNGs and returns paths.

A panel whose run is absent from the config says so in the panel instead of failing, so the
smoke config (which runs few variants) still yields every figure.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from .config import iter_runs  # noqa: E402
from .tasks import make_task  # noqa: E402

PALETTE = "tab10"
DPI = 110


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    # no timestamps in the PNG metadata: same results, same bytes
    fig.savefig(path, dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return path


def _first_seed(config, task, method, variant):
    seeds = sorted(s for (t, m, v, s) in iter_runs(config, task) if m == method and v == variant)
    return seeds[0] if seeds else None


def _not_run(ax, text):
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=9, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def _posterior_panel(ax, task, npz_path: Path, title: str, lim: float):
    colors = sns.color_palette(PALETTE, task.n_labels)
    if not npz_path.exists():
        _not_run(ax, f"{title}\n(not in this config)")
        return
    d = np.load(npz_path)
    s = d["samples"]
    if not np.all(np.isfinite(s)):
        _not_run(ax, f"{title}\n(diverged)")
        return
    for k, lab in enumerate(d["condition_ids"]):
        pts = s[k][:600]
        ax.scatter(pts[:, 0], pts[:, 1], s=2, alpha=0.5, color=colors[int(lab)], rasterized=True)
    _mark_centres(ax, task)
    ax.set_title(title, fontsize=10)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")


def _mark_centres(ax, task):
    colors = sns.color_palette(PALETTE, task.n_labels)
    for c, lab in zip(task.centres, task.mode_labels):
        ax.scatter([c[0]], [c[1]], marker="x", s=50, color="black", linewidths=2.2)
        ax.scatter([c[0]], [c[1]], marker="x", s=40, color=colors[int(lab)], linewidths=1.2)


def fig5_1(config, task_name, task_dir: Path, out: Path) -> Path:
    task = make_task(config["tasks"][task_name])
    lim = np.abs(task.centres).max() + 4 * task.std
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.4))
    seed = _first_seed(config, task_name, "ours", "paper")
    colors = sns.color_palette(PALETTE, task.n_labels)
    if seed is None:
        _not_run(axes[0], "ours/paper not in this config")
        _not_run(axes[1], "ours/paper not in this config")
    else:
        run = task_dir / "ours" / "paper" / f"seed{seed}"
        p = np.load(run / "predictions.npz")
        ok = np.all(np.isfinite(p["y_hat"]), axis=1)
        pred = np.where(ok, np.argmax(np.nan_to_num(p["y_hat"]), axis=1), -1)
        acc = float((pred == np.argmax(p["y"], axis=1)).mean())
        axes[0].scatter(p["x"][ok, 0], p["x"][ok, 1], s=2, c=[colors[int(k)] for k in pred[ok]],
                        rasterized=True)
        axes[0].set_title(f"forward: predicted label of test points (acc {acc:.3f})", fontsize=10)
        axes[0].set_xlim(-lim, lim)
        axes[0].set_ylim(-lim, lim)
        axes[0].set_aspect("equal")
        _posterior_panel(axes[1], task, run / "posterior_samples.npz",
                         "inverse: posterior samples given each label", lim)
    fig.suptitle(f"Fig. 5.1 ({task_name}, ours/paper, seed {seed}); colour = label, x = true mode centres",
                 fontsize=10)
    return _save(fig, out)


def fig5_2(config, task_name, task_dir: Path, out: Path) -> Path:
    task = make_task(config["tasks"][task_name])
    lim = np.abs(task.centres).max() + 4 * task.std
    variants = [v for v in ("ramp_fast", "ramp_slow", "no_ramp", "ramp_linear")
                if _first_seed(config, task_name, "inn", v) is not None]
    panels = [("full", "INN: full losses, tuned weights"),
              ("forward_only", "INN: forward losses only"),
              (variants[0] if variants else "ramp_fast", "INN: changed ramp ({})")]
    fig, axes = plt.subplots(1, 4, figsize=(16, 4.3))
    seed = _first_seed(config, task_name, "ours", "paper")
    _posterior_panel(axes[0], task, task_dir / "ours" / "paper" / f"seed{seed}" / "posterior_samples.npz",
                     "ours (paper recipe)", lim)
    for ax, (v, title) in zip(axes[1:], panels):
        s = _first_seed(config, task_name, "inn", v)
        _posterior_panel(ax, task, task_dir / "inn" / v / f"seed{s}" / "posterior_samples.npz",
                         title.format(v), lim)
    fig.suptitle(f"Fig. 5.2 ({task_name}): posterior samples, first seed of each run", fontsize=10)
    return _save(fig, out)


def w2_comparison(metrics: pd.DataFrame, task_name, out: Path, threshold: float = 0.1) -> Path:
    d = metrics[(metrics.metric == "w2") & (metrics.condition.astype(str) != "")].copy()
    fig, ax = plt.subplots(figsize=(11, 4.6))
    if d.empty:
        _not_run(ax, "no W2 values (all runs diverged or none configured)")
    else:
        d["run"] = d["method"] + "/" + d["variant"]
        # conditions in their natural order (numeric ids as numbers: "2" before "10")
        ids = sorted(d["condition"].astype(str).unique(), key=lambda c: (not c.isdigit(), int(c) if c.isdigit() else 0, c))
        d["label"] = pd.Categorical(d["condition"].astype(str), categories=ids, ordered=True)
        order = sorted(d["run"].unique(), key=lambda r: (not r.startswith("ours"), r))
        # seaborn divides the dodge width by the number of hue levels minus one: no dodge for one run
        sns.pointplot(data=d, x="label", y="value", hue="run", hue_order=order, errorbar=("ci", 95),
                      dodge=0.5 if len(order) > 1 else False, linestyle="none", markers="o", palette=PALETTE, ax=ax, n_boot=1000, seed=0)
        ax.axhline(threshold, color="0.3", ls=":", lw=1)
        ax.text(ax.get_xlim()[1], threshold, f" {threshold}", va="center", fontsize=8, color="0.3")
        ax.set_yscale("log")
        ax.set_ylabel("W2 to the exact posterior (log scale)")
        ax.set_xlabel("evaluation condition")
        ax.legend(fontsize=8, ncol=2, loc="upper left", bbox_to_anchor=(1.02, 1))
    ax.set_title(f"{task_name}: W2 per condition, mean and 95% CI over seeds (lower is better)", fontsize=10)
    return _save(fig, out)


def _load_logs(config, task_name, task_dir):
    frames = []
    for (t, m, v, s) in iter_runs(config, task_name):
        f = task_dir / m / v / f"seed{s}" / "train_log.csv"
        if f.exists():
            df = pd.read_csv(f)
            df["method"], df["variant"], df["seed"] = m, v, s
            df["run"] = f"{m}/{v}"
            frames.append(df)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def training_curves(config, task_name, task_dir: Path, out: Path) -> Path:
    logs = _load_logs(config, task_name, task_dir)
    methods = sorted(logs["method"].unique()) if not logs.empty else []
    fig, axes = plt.subplots(1, max(len(methods), 1), figsize=(5 * max(len(methods), 1), 3.8), squeeze=False)
    for ax, m in zip(axes[0], methods):
        d = logs[logs.method == m]
        sns.lineplot(data=d, x="step", y="loss", hue="run", errorbar=None, ax=ax, palette=PALETTE, lw=1)
        loss = d["loss"].to_numpy(dtype=float)
        loss = loss[np.isfinite(loss)]
        if len(loss) and loss.min() > 0 and loss.max() / loss.min() > 100:
            ax.set_yscale("log")  # a loss that spans decades (the INN's ramped MMD sum)
        ax.set_title(f"{m}: training loss (mean over seeds)", fontsize=10)
        ax.legend(fontsize=7)
    if not methods:
        _not_run(axes[0][0], "no training logs")
    return _save(fig, out)


def w2_vs_time(config, task_name, task_dir: Path, out: Path, threshold: float = 0.15) -> Path:
    logs = _load_logs(config, task_name, task_dir)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    d = logs.dropna(subset=["probe_w2"]) if "probe_w2" in logs else pd.DataFrame()
    if logs.empty or "probe_w2" not in logs:
        _not_run(ax, "no W2 probes (train.probe_every is 0)")
    elif d.empty:
        _not_run(ax, "no finite W2 probe (every probed run diverged)")
    else:
        sns.lineplot(data=d, x="seconds", y="probe_w2", hue="run", units="seed", estimator=None,
                     palette=PALETTE, ax=ax, lw=1, marker="o", markersize=3)
        ax.axhline(threshold, color="0.3", ls=":", lw=1)
        ax.set_yscale("log")
        ax.set_xlabel("training wall-clock seconds (probes excluded)")
        ax.set_ylabel("mean W2 over labels (probe)")
        ax.legend(fontsize=7)
    ax.set_title(f"{task_name}: time to quality (one line per seed)", fontsize=10)
    return _save(fig, out)


COMMON_FIGURES = {"w2_comparison", "training_curves", "w2_vs_time"}


def draw_figure(config, task_name, name: str, task_dir: Path, out: Path) -> Path:
    """Figure ``name`` of task ``task_name`` from its results folder ``task_dir``: a common figure
    (any task), else one of the task kind's own (``Task.make_figure``)."""
    task_dir, out = Path(task_dir), Path(out)
    if name == "w2_comparison":
        metrics = pd.read_csv(task_dir / "metrics.csv", dtype={"condition": str}, keep_default_na=False,
                              na_values={"value": ["", "nan", "NaN"]})
        return w2_comparison(metrics, task_name, out)
    if name == "training_curves":
        return training_curves(config, task_name, task_dir, out)
    if name == "w2_vs_time":
        return w2_vs_time(config, task_name, task_dir, out)
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
    ours = [c for c in piv.columns if c.startswith("ours")]
    if ours:
        for c in piv.columns:
            if c != ours[0]:
                axes[1].plot(piv.index, piv[ours[0]] / piv[c], marker="o", label=f"{ours[0]} / {c}")
        axes[1].axhline(1.0, color="0.5", lw=0.8)
        axes[1].axhline(0.5, color="0.5", lw=0.8, ls=":")
        axes[1].set_xscale("log")
        axes[1].legend(fontsize=8)
    axes[1].set_title("time ratio (below 1: ours is faster)", fontsize=10)
    return _save(fig, Path(out))


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
    return _save(fig, Path(out))
