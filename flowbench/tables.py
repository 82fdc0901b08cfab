"""Tables from the tidy metrics (pandas in, pandas out); the report package renders them as Markdown.

The tidy metrics have one row per value: ``task, method, variant, seed, condition, metric, value``;
``condition`` is the empty string for whole-run metrics (accuracy, seconds_per_iteration,
train_seconds, final_loss, diverged, diverged_step) and the label for per-label posterior metrics
(w2, sliced_w2, mmd, c2st).

Conventions used everywhere in the report:
- the per-seed statistic of a posterior metric is its mean over labels for that run;
- a run with ``diverged == 1`` is excluded from every quality mean and counted instead;
- a summary over seeds is the mean and the half-width of a two-sided 95% Student-t interval
  (``t_{0.975, n-1} * sd / sqrt(n)``; undefined for fewer than two seeds).

Every function sorts its output, so the same metrics give the same tables, row for row.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from .images.names import DEFAULT_FLOWS, FLOWS, flow_figures

#: the tidy columns. Defined here, not imported from flowbench.io, which imports torch for its
#: checkpoints: the tables and the report need no torch. flowbench.io keeps the same list (a test
#: in tests/test_report.py checks that they agree).
METRIC_COLUMNS = ["task", "method", "variant", "seed", "condition", "metric", "value"]

RUN_KEYS = ["task", "method", "variant", "seed"]
METHOD_ORDER = ("ours", "inn", "cinn", "cvae", "cgan", "cfm")
DEFAULT_VARIANTS = ("paper", "full", "default")
NA = "n/a"


# ----------------------------------------------------------------------------------------------
# loading and ordering
# ----------------------------------------------------------------------------------------------
def load_metrics(path: str | Path) -> pd.DataFrame:
    """Read a tidy metrics CSV (condition kept as a string, empty for whole-run metrics)."""
    df = pd.read_csv(path, dtype={"task": str, "method": str, "variant": str, "condition": str,
                                  "metric": str},
                     keep_default_na=False, na_values={"value": ["", "nan", "NaN"]})
    return tidy(df)


def tidy(df: pd.DataFrame) -> pd.DataFrame:
    """Normalise column types of a tidy metrics frame (also for frames built in memory)."""
    missing = [c for c in METRIC_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"metrics table lacks column(s) {missing}; expected {METRIC_COLUMNS}")
    out = df[METRIC_COLUMNS].copy()
    for c in ("task", "method", "variant", "metric"):
        out[c] = out[c].astype(str)
    out["condition"] = out["condition"].fillna("").astype(str).str.strip()
    out["seed"] = out["seed"].astype(int)
    out["value"] = pd.to_numeric(out["value"], errors="coerce").astype(float)
    return out.reset_index(drop=True)


def empty_metrics() -> pd.DataFrame:
    return tidy(pd.DataFrame({c: pd.Series([], dtype=object) for c in METRIC_COLUMNS}))


def method_key(method: str) -> tuple:
    return (METHOD_ORDER.index(method) if method in METHOD_ORDER else len(METHOD_ORDER), method)


def variant_key(variant: str) -> tuple:
    return (0 if variant in DEFAULT_VARIANTS else 1, variant)


def sort_runs(df: pd.DataFrame, extra: tuple = ()) -> pd.DataFrame:
    """Sort rows by method (ours, inn, cinn, others), variant (default first), then ``extra``."""
    if df.empty:
        return df.reset_index(drop=True)
    keys = df.apply(lambda r: (method_key(r["method"]), variant_key(r["variant"]))
                    + tuple(r[c] for c in extra), axis=1)
    order = sorted(range(len(df)), key=lambda i: keys.iloc[i])
    return df.iloc[order].reset_index(drop=True)


# ----------------------------------------------------------------------------------------------
# per-run and per-seed statistics
# ----------------------------------------------------------------------------------------------
def runs(metrics: pd.DataFrame, task: str | None = None) -> pd.DataFrame:
    """One row per run: task, method, variant, seed, diverged (bool), diverged_step (float/NaN)."""
    m = metrics if task is None else metrics[metrics["task"] == task]
    base = m[RUN_KEYS].drop_duplicates()
    whole = m[m["condition"] == ""]
    div = whole[whole["metric"] == "diverged"].set_index(RUN_KEYS)["value"]
    step = whole[whole["metric"] == "diverged_step"].set_index(RUN_KEYS)["value"]
    out = base.set_index(RUN_KEYS)
    out["diverged"] = div.reindex(out.index).fillna(0.0).astype(float) >= 0.5
    out["diverged_step"] = step.reindex(out.index).astype(float)
    out = out.reset_index()
    return out.sort_values(RUN_KEYS, kind="stable").reset_index(drop=True)


def method_costs(run_rows: pd.DataFrame, metrics: pd.DataFrame, task: str) -> pd.DataFrame:
    """Per (method, variant) of ``task``: ``n_parameters`` (trainable and fixed, as the run
    recorded) and ``sample_seconds_per_1000``, the evaluation's sampling wall-clock per 1,000
    posterior samples (``sample_seconds`` of ``runs.csv`` over conditions x ``n_eval``, mean over
    the non-diverged seeds; it includes one forward pass over the test set where the method has a
    forward predictor). NaN where the runs did not record it."""
    cols = ["method", "variant", "n_parameters", "sample_seconds_per_1000"]
    if run_rows is None or run_rows.empty or "task" not in run_rows:
        return pd.DataFrame(columns=cols)
    r = run_rows[run_rows["task"] == task]
    m = metrics[(metrics["task"] == task) & (metrics["metric"] == "w2") & (metrics["condition"] != "")]
    n_cond = m.groupby(RUN_KEYS)["condition"].nunique()
    rows = []
    for (method, variant), g in r.groupby(["method", "variant"], sort=False):
        params = pd.to_numeric(g.get("n_parameters"), errors="coerce").dropna() if "n_parameters" in g else []
        per = []
        for x in g.itertuples(index=False):
            if bool(getattr(x, "diverged", False)) or "sample_seconds" not in g:
                continue
            k = n_cond.get((task, method, variant, int(x.seed)))
            secs, n_eval = float(getattr(x, "sample_seconds")), float(getattr(x, "n_eval"))
            if k and n_eval > 0 and math.isfinite(secs):
                per.append(1000.0 * secs / (k * n_eval))
        rows.append({"method": method, "variant": variant,
                     "n_parameters": float(np.median(params)) if len(params) else float("nan"),
                     "sample_seconds_per_1000": float(np.mean(per)) if per else float("nan")})
    return pd.DataFrame(rows, columns=cols)


def diverged_runs(metrics: pd.DataFrame) -> pd.DataFrame:
    """The diverged runs: task, method, variant, seed, diverged_step, last_finite_loss."""
    r = runs(metrics)
    r = r[r["diverged"]].copy()
    whole = metrics[(metrics["condition"] == "") & (metrics["metric"] == "last_finite_loss")]
    last = whole.set_index(RUN_KEYS)["value"]
    r["last_finite_loss"] = [float(last.get(tuple(k), np.nan)) for k in r[RUN_KEYS].itertuples(index=False)]
    cols = RUN_KEYS + ["diverged_step", "last_finite_loss"]
    return r[cols].sort_values(RUN_KEYS, kind="stable").reset_index(drop=True)


def per_seed(metrics: pd.DataFrame, task: str, method: str, variant: str, metric: str = "w2") -> pd.Series:
    """The per-seed statistic of ``metric`` for one (task, method, variant), diverged runs excluded
    (for every metric but ``train_seconds``, ``diverged`` and ``diverged_step``).

    Per-label metrics (condition = label) are averaged over labels; whole-run metrics are taken
    as they are. Indexed by seed, sorted.
    """
    m = metrics[(metrics["task"] == task) & (metrics["method"] == method)
                & (metrics["variant"] == variant) & (metrics["metric"] == metric)]
    # a diverged run's speed is that of the steps before it stopped (often one): not a speed of
    # the method; only its divergence record and the compute it spent are taken
    if metric not in ("train_seconds", "diverged", "diverged_step"):
        m = _finite_runs_of(metrics, m)
    if m.empty:
        return pd.Series([], dtype=float, name=metric)
    s = m.groupby("seed")["value"].mean().sort_index()
    s.name = metric
    return s.astype(float)


def _finite_runs_of(all_metrics: pd.DataFrame, m: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``m`` whose run did not diverge (divergence read from ``all_metrics``)."""
    if m.empty:
        return m
    a = all_metrics
    d = a[(a["metric"] == "diverged") & (a["condition"] == "") & a["task"].isin(m["task"].unique())
          & a["method"].isin(m["method"].unique()) & a["variant"].isin(m["variant"].unique())]
    bad = set(map(tuple, d.loc[d["value"].astype(float) >= 0.5, RUN_KEYS].itertuples(index=False)))
    if not bad:
        return m
    keep = [tuple(k) not in bad for k in m[RUN_KEYS].itertuples(index=False)]
    return m[keep]


def mean_ci(values) -> tuple[float, float, int]:
    """(mean, half-width of the 95% t-interval, n) of the finite values; NaN where undefined."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(float(x))], dtype=float)
    n = len(v)
    if n == 0:
        return float("nan"), float("nan"), 0
    mean = float(v.mean())
    if n < 2:
        return mean, float("nan"), n
    half = float(stats.t.ppf(0.975, n - 1) * v.std(ddof=1) / math.sqrt(n))
    return mean, half, n


def variants_of(metrics: pd.DataFrame, task: str) -> list[tuple[str, str]]:
    """The (method, variant) pairs of a task, in report order."""
    m = metrics[metrics["task"] == task][["method", "variant"]].drop_duplicates()
    return sorted(map(tuple, m.itertuples(index=False)), key=lambda mv: (method_key(mv[0]), variant_key(mv[1])))


def summary_table(metrics: pd.DataFrame, task: str, forward=("accuracy",),
                  w2_floor: float = float("nan"), extra=()) -> pd.DataFrame:
    """One row per (method, variant) of ``task``.

    Columns: task, method, variant, seeds (runs), diverged (count), w2_mean, w2_ci95, w2_n
    (non-diverged seeds), c2st_mean, one column per forward metric of the task (``forward``:
    accuracy for label tasks), seconds_per_iteration. Every column but the counts excludes
    diverged runs. ``w2_floor``: the task's W2 between two independent exact samples of the same
    size (the noise floor), given beside every W2 with ``w2_gm`` (geometric mean over seeds) and
    their ratio ``w2_over_floor``. ``extra``: the task's own per-condition numbers shown beside
    W2 (the mixture's mode-weight error and W2 within modes; the inverse problems' re-simulation
    and calibration errors), one column each: the mean over seeds of the per-seed mean over
    conditions.
    """
    forward, extra = list(forward), [e for e in extra if e not in ("w2", "c2st")]
    rows = []
    r = runs(metrics, task)
    for method, variant in variants_of(metrics, task):
        rr = r[(r["method"] == method) & (r["variant"] == variant)]
        w2, w2_ci, w2_n = mean_ci(per_seed(metrics, task, method, variant, "w2").tolist())
        c2st = mean_ci(per_seed(metrics, task, method, variant, "c2st").tolist())[0]
        fwd = {f: mean_ci(per_seed(metrics, task, method, variant, f).tolist())[0] for f in forward}
        ext = {e: mean_ci(per_seed(metrics, task, method, variant, e).tolist())[0] for e in extra}
        spi = mean_ci(per_seed(metrics, task, method, variant, "seconds_per_iteration").tolist())[0]
        w = per_seed(metrics, task, method, variant, "w2").to_numpy(dtype=float)
        gm = float(np.exp(np.log(w).mean())) if len(w) and np.all(w > 0) else float("nan")
        rows.append({"task": task, "method": method, "variant": variant, "seeds": int(len(rr)),
                     "diverged": int(rr["diverged"].sum()), "w2_mean": w2, "w2_ci95": w2_ci,
                     "w2_n": int(w2_n), "w2_gm": gm, "w2_floor": w2_floor,
                     "w2_over_floor": gm / w2_floor if w2_floor and w2_floor > 0 else float("nan"),
                     "c2st_mean": c2st, **ext, **fwd, "seconds_per_iteration": spi})
    cols = ["task", "method", "variant", "seeds", "diverged", "w2_mean", "w2_ci95", "w2_n", "w2_gm",
            "w2_floor", "w2_over_floor", "c2st_mean", *extra, *forward, "seconds_per_iteration"]
    return pd.DataFrame(rows, columns=cols)


def ranking_table(summary: pd.DataFrame, recipes: dict | None = None) -> pd.DataFrame:
    """Every method of a task once, at its recipe (``recipes``: method -> variant, the first
    variant the task's runs list for the method; without it the method's first variant in report
    order), ranked by the geometric mean of W2 over seeds (lower is better; a method whose runs
    all diverged ranks last). Columns: rank and the summary's columns."""
    if summary.empty:
        return summary.assign(rank=pd.Series([], dtype=int))
    recipes = recipes or {}
    picked = []
    for method, g in summary.groupby("method", sort=False):
        want = recipes.get(method)
        row = g[g["variant"] == want] if want is not None else g.iloc[:0]
        picked.append(row.iloc[0] if len(row) else g.iloc[0])
    out = pd.DataFrame(picked).reset_index(drop=True)
    gm = out["w2_gm"].astype(float).fillna(np.inf)
    out = out.assign(_gm=gm, _mk=[method_key(m) for m in out["method"]])
    out = out.sort_values(["_gm", "_mk"], kind="stable").drop(columns=["_gm", "_mk"]).reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out


# ----------------------------------------------------------------------------------------------
# training logs: time to a W2 threshold
# ----------------------------------------------------------------------------------------------
def time_to_threshold(log: pd.DataFrame, threshold: float = 0.15) -> float | None:
    """``seconds`` of the first log row whose ``probe_w2`` <= threshold; None if never reached."""
    if log is None or log.empty or "probe_w2" not in log or "seconds" not in log:
        return None
    w = pd.to_numeric(log["probe_w2"], errors="coerce")
    hit = log[(w <= threshold) & w.notna()]
    if hit.empty:
        return None
    if "step" in hit:
        hit = hit.sort_values("step", kind="stable")
    return float(hit["seconds"].iloc[0])


TTT_COLUMNS = ["task", "method", "variant", "seed", "has_log", "probes", "best_probe_w2", "reached",
               "seconds_to_threshold", "train_seconds", "threshold"]


def time_to_threshold_rows(metrics: pd.DataFrame) -> pd.DataFrame:
    """Time to quality per run from the rows evaluation wrote (``probe_count``,
    ``probe_best_w2``, ``probe_threshold``, ``seconds_to_probe_threshold``, ``train_seconds``):
    the columns of ``TTT_COLUMNS``; runs without probe rows (diverged, or no probing) are left out."""
    whole = metrics[metrics["condition"] == ""]
    wide = whole.pivot_table(index=RUN_KEYS, columns="metric", values="value", aggfunc="first")
    if "probe_count" not in wide:
        return pd.DataFrame(columns=TTT_COLUMNS)
    wide = wide[wide["probe_count"].notna()]
    get = lambda col: wide[col] if col in wide else pd.Series(float("nan"), index=wide.index)  # noqa: E731
    out = pd.DataFrame({"has_log": True, "probes": get("probe_count").astype(int),
                        "best_probe_w2": get("probe_best_w2").astype(float),
                        "reached": get("seconds_to_probe_threshold").notna(),
                        "seconds_to_threshold": get("seconds_to_probe_threshold").astype(float),
                        "train_seconds": get("train_seconds").astype(float),
                        "threshold": get("probe_threshold").astype(float)}, index=wide.index).reset_index()
    out["seed"] = out["seed"].astype(int)
    return sort_runs(out[TTT_COLUMNS], extra=("task", "seed")) if len(out) else pd.DataFrame(columns=TTT_COLUMNS)


def time_to_threshold_summary(ttt: pd.DataFrame) -> pd.DataFrame:
    """Per (task, method, variant): runs, reached (count), mean seconds over the runs that reached."""
    rows = []
    if not ttt.empty:
        for (task, method, variant), g in ttt.groupby(["task", "method", "variant"], sort=True):
            reached = g[g["reached"]]
            rows.append({"task": task, "method": method, "variant": variant, "runs": int(len(g)),
                         "reached": int(len(reached)),
                         "mean_seconds": float(reached["seconds_to_threshold"].mean()) if len(reached) else float("nan"),
                         "best_probe_w2": float(g["best_probe_w2"].min())})
    cols = ["task", "method", "variant", "runs", "reached", "mean_seconds", "best_probe_w2"]
    df = pd.DataFrame(rows, columns=cols)
    return sort_runs(df, extra=("task",)) if len(df) else df


# ----------------------------------------------------------------------------------------------
# Table 1 and generated images (the image stage), wall time (provenance)
# ----------------------------------------------------------------------------------------------
PAPER_TABLE1 = {"mnist": 0.984, "fashion-mnist": 0.901}
# the image stage's methods of every run, in report order, with what each accuracy measures
IMAGE_METHODS = ("ours", "cinn", "latent_classifier", "cnn")
#: the generative baselines on the latents (issue #16): in Table 1 (after the cINN) and the generated
#: images table only where they ran; no forward predictor, so no accuracy of theirs
IMAGE_BASELINES = tuple(f for f in FLOWS if f not in DEFAULT_FLOWS)
IMAGE_METHOD_LABELS = {"ours": "ours (forward process)", "cinn": "cINN (Bayes' rule)",
                       "cvae": "cVAE", "cgan": "cGAN (WGAN-GP)", "cfm": "CFM",
                       "latent_classifier": "latent classifier (same latents)",
                       "cnn": "CNN (real images)"}
#: every method the image stage can train on the latents, in report order
IMAGE_FLOWS = FLOWS
GENERATION_METRICS = ("generated_accuracy", "style_follows_label", "style_consistency", "z_label_accuracy")
#: Table 1's cell for a method that ran but has no forward process to classify with
NO_FORWARD_PREDICTOR = "no forward predictor"


def image_datasets_of(images: pd.DataFrame | None) -> list[str]:
    """The data sets of the image metrics: the paper's two first, then any other, sorted."""
    present = set() if images is None or images.empty else set(images["task"].unique())
    return [d for d in PAPER_TABLE1 if d in present] + sorted(present - set(PAPER_TABLE1))


def image_seed_values(images: pd.DataFrame | None, dataset: str, method: str, metric: str) -> list[float]:
    """Per-seed values of a whole-run image metric (sorted by seed), diverged runs excluded."""
    if images is None or images.empty:
        return []
    m = images[(images["task"] == dataset) & (images["method"] == method)
               & (images["metric"] == metric) & (images["condition"] == "")]
    m = _finite_runs_of(images, m)
    if m.empty:
        return []
    return m.groupby("seed")["value"].mean().sort_index().astype(float).tolist()


def image_diverged(images: pd.DataFrame | None, dataset: str, method: str) -> tuple[int, int]:
    """(diverged runs, runs) of one image method on one data set."""
    if images is None or images.empty:
        return 0, 0
    r = runs(images, dataset)
    r = r[r["method"] == method]
    return int(r["diverged"].sum()), int(len(r))


def image_baselines_of(images: pd.DataFrame | None) -> list[str]:
    """The generative baselines (``IMAGE_BASELINES``) with any row in the image metrics."""
    if images is None or images.empty:
        return []
    present = set(images["method"].unique())
    return [m for m in IMAGE_BASELINES if m in present]


def image_figure_names(images: pd.DataFrame | None) -> tuple[str, ...]:
    """The image figures of the flows that ran: ours' and the cINN's (every run of the stage
    draws them), and those of each baseline with image metrics."""
    return flow_figures((*DEFAULT_FLOWS, *image_baselines_of(images)))


def table1_methods(images: pd.DataFrame | None) -> list[str]:
    """Table 1's methods, in column order: ours, the cINN, the baselines that ran, the latent
    classifier and the CNN."""
    return [*DEFAULT_FLOWS, *image_baselines_of(images), "latent_classifier", "cnn"]


def image_has_forward(images: pd.DataFrame | None, method: str, dataset: str | None = None) -> bool:
    """False when ``method`` ran (has image metric rows; on ``dataset``, if given) but recorded no
    ``accuracy`` at all: a method without a forward predictor (the generative baselines). True
    otherwise (also when it did not run: that is "not run", not "no forward predictor")."""
    if images is None or images.empty:
        return True
    m = images[(images["method"] == method)
               & ((images["task"] == dataset) if dataset is not None else True)]
    return m.empty or bool((m["metric"] == "accuracy").any())


def table1(images: pd.DataFrame | None) -> pd.DataFrame:
    """Table 1, one row per data set of the paper: the paper's accuracy and, for each image method
    (``table1_methods``: ours, cinn, the generative baselines that ran, latent_classifier, cnn),
    the test accuracy as mean, 95% CI half-width and number of (non-diverged) seeds: columns
    ``<method>_accuracy_mean``, ``<method>_accuracy_ci95``, ``<method>_n_seeds``, and for a
    baseline ``<method>_forward_predictor`` (``image_has_forward``: False for the three, whose
    accuracy is then NaN / 0 seeds). NaN / 0 where not run."""
    methods = table1_methods(images)
    rows = []
    for ds in PAPER_TABLE1:
        row = {"dataset": ds, "paper_accuracy": PAPER_TABLE1[ds]}
        for method in methods:
            mean, half, n = mean_ci(image_seed_values(images, ds, method, "accuracy"))
            row.update({f"{method}_accuracy_mean": mean, f"{method}_accuracy_ci95": half,
                        f"{method}_n_seeds": n})
            if method in IMAGE_BASELINES:
                row[f"{method}_forward_predictor"] = image_has_forward(images, method, ds)
        rows.append(row)
    cols = ["dataset", "paper_accuracy"] + [
        f"{m}_{c}" for m in methods
        for c in ("accuracy_mean", "accuracy_ci95", "n_seeds")
        + (("forward_predictor",) if m in IMAGE_BASELINES else ())]
    return pd.DataFrame(rows, columns=cols)


def generation_table(images: pd.DataFrame | None) -> pd.DataFrame:
    """Generated-image metrics per (data set, flow): runs, diverged, and for each of
    ``GENERATION_METRICS`` the mean, 95% CI half-width and number of non-diverged seeds (NaN / 0
    where the flow has none: ``z_label_accuracy`` needs the method's ``noise_of``, which the cGAN
    lacks). Only data sets with image metrics, only flows (``IMAGE_FLOWS``) that ran there."""
    rows = []
    for ds in image_datasets_of(images):
        for method in IMAGE_FLOWS:
            div, n_runs = image_diverged(images, ds, method)
            if n_runs == 0:
                continue
            row = {"dataset": ds, "method": method, "runs": n_runs, "diverged": div}
            for metric in GENERATION_METRICS:
                mean, half, n = mean_ci(image_seed_values(images, ds, method, metric))
                row.update({f"{metric}_mean": mean, f"{metric}_ci95": half, f"{metric}_n": n})
            rows.append(row)
    cols = ["dataset", "method", "runs", "diverged"] + [f"{m}_{c}" for m in GENERATION_METRICS
                                                        for c in ("mean", "ci95", "n")]
    return pd.DataFrame(rows, columns=cols)


# ----------------------------------------------------------------------------------------------
# the performance benchmark (results/benchmark/, off the default path)
# ----------------------------------------------------------------------------------------------
OURS = "ours"   # the paper's method: the report sets every other method against it
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


# ----------------------------------------------------------------------------------------------
# formatting
# ----------------------------------------------------------------------------------------------
def fmt(x, spec: str = ".3f", na: str = NA) -> str:
    """Fixed-format a number; ``na`` for None / NaN / inf."""
    if x is None:
        return na
    try:
        xf = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(xf):
        return na
    return format(xf, spec)


def fmt_pm(mean, half, spec: str = ".3f") -> str:
    """``mean ± half`` (``mean`` alone where the interval is undefined)."""
    if mean is None or not math.isfinite(float(mean)):
        return NA
    if half is None or not math.isfinite(float(half)):
        return fmt(mean, spec)
    return f"{fmt(mean, spec)} ± {fmt(half, spec)}"


def fmt_p(p) -> str:
    if p is None or not math.isfinite(float(p)):
        return NA
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"


def csv_text(df: pd.DataFrame) -> str:
    """The deterministic CSV text of ``df`` (fixed float format, ``\\n`` line ends)."""
    return df.to_csv(index=False, lineterminator="\n", float_format="%.6g", na_rep="")


def write_csv(df: pd.DataFrame, path: str | Path) -> Path:
    """Deterministic CSV (``csv_text``) at ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(csv_text(df))
    return path
