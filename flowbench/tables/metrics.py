"""Tidy metric rows: loading, run and per-seed statistics, the summary and ranking tables.

The tidy metrics are a frame of shape ``(R, 7)``, one row per value, with the columns
``METRIC_COLUMNS``: ``task, method, variant, seed, condition, metric, value``. ``condition`` is the
empty string for whole-run metrics (accuracy, seconds_per_iteration, train_seconds, final_loss,
diverged, diverged_step) and the label for per-label posterior metrics (w2, sliced_w2, mmd, c2st).

Conventions used everywhere in the report:

- the per-seed statistic of a posterior metric is its mean over labels for that run;
- a run with ``diverged == 1`` is excluded from every quality mean and counted instead;
- a summary over seeds is the mean and the half-width of a two-sided 95% Student-t interval
  (``t_{0.975, n-1} * sd / sqrt(n)``; undefined for fewer than two seeds).

The methods are ordered as the report shows them: ours (Xiao, Yan & Amit 2019, arXiv 1911.02052),
the four-loss INN (Ardizzone et al. 2018, arXiv 1808.04730), the conditional INN (Ardizzone et al.
2019, arXiv 1907.02392), then the generative baselines. Every function sorts its output, so the
same metrics give the same tables, row for row.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..registry import method_order, method_with_role

#: the tidy columns. Defined here, not in flowbench.io, which imports torch for its checkpoints:
#: the tables and the report need no torch. flowbench.io imports them from here (a test in
#: tests/test_report.py checks that they agree).
METRIC_COLUMNS = ["task", "method", "variant", "seed", "condition", "metric", "value"]

RUN_KEYS = ["task", "method", "variant", "seed"]
METHOD_ORDER = tuple(method_order())     # the registry's report order
DEFAULT_VARIANTS = ("paper", "full", "default")
OURS = method_with_role("paper")   # the paper's method: the report sets every other method against it


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


#: a run blew up where at least this share of its draws, on some condition, lies far outside the
#: reference's range (``flowbench.metrics.far_outside``: beyond one range past its min or max)
BLOWUP_FRACTION = 0.01


def blown_up_runs(metrics: pd.DataFrame) -> pd.DataFrame:
    """The runs that did not diverge but blew up: task, method, variant, seed and
    ``far_outside`` (the largest share of draws far outside the reference over the conditions),
    for every run with ``far_outside >= BLOWUP_FRACTION`` on some condition."""
    cols = RUN_KEYS + ["far_outside"]
    far = metrics[metrics["metric"] == "far_outside"]
    if far.empty:
        return pd.DataFrame(columns=cols)
    worst = far.groupby(RUN_KEYS, observed=True)["value"].max().reset_index().rename(columns={"value": "far_outside"})
    worst = worst[worst["far_outside"].astype(float) >= BLOWUP_FRACTION]
    return worst[cols].sort_values(RUN_KEYS, kind="stable").reset_index(drop=True)


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
    from scipy import stats  # here: scipy.stats costs ~0.4 s to import, and most readers never call this

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

