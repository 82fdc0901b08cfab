"""The core every claim family shares: the verdicts, the spec of a claim and the runs it names,
the ``Claim`` a verdict function returns, the headline task, and the statistics on tidy metrics.

Every W2 here is the per-seed mean of W2 over labels (``flowbench.tables.per_seed``), diverged
runs excluded; ``gm_stats`` and ``compare`` put them on the log scale (geometric means over seeds,
``flowbench.report.stats.log_ratio_test``), as Xiao, Yan & Amit 2019 (arXiv 1911.02052) compare
its flow with the INN of Ardizzone et al. on W2 in Sec. 5.1.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ... import tables as T
from ...tasks import TASK_KINDS
from ..stats import log_ratio_test

REPRODUCED, PARTLY, NOT_REPRODUCED, NOT_TESTED = "reproduced", "partly", "not reproduced", "not tested"
VERDICTS = (REPRODUCED, PARTLY, NOT_REPRODUCED, NOT_TESTED)


def headline_task() -> str:
    """The kind of the one registered task class marked ``headline`` (``flowbench.tasks.base.Task``):
    the paper's setting, every mode its own label, on which C1-C8 are judged by default."""
    kinds = [kind for kind, cls in TASK_KINDS.items() if getattr(cls, "headline", False)]
    if len(kinds) != 1:
        raise RuntimeError(f"exactly one task class must set headline = True; found {kinds or 'none'}")
    return kinds[0]


CLAIM_TASK = headline_task()


@dataclass(frozen=True)
class Run:
    """One (method, variant) a claim reads, shown as ``method/variant``. ``variant`` is None where
    the claim finds the variants itself (C9: ours's recipe in the task's record, every INN variant
    run) or where the metrics name the method alone (the image stage, C7 and C8)."""
    method: str
    variant: str | None = None

    def __str__(self) -> str:
        return self.method if self.variant is None else f"{self.method}/{self.variant}"

    def __iter__(self):
        """``(method, variant)``, so a ``Run`` stands wherever a pair does (``compare``)."""
        return iter((self.method, self.variant))


@dataclass(frozen=True)
class Family:
    """Variants of ``method`` named by a prefix in ``prefixes``, each set against ``base`` (the
    method's recipe); ``extreme``: variants shown beside the family, outside the verdict."""
    method: str
    base: str
    prefixes: tuple[str, ...]
    extreme: tuple[str, ...] = ()

    @property
    def recipe(self) -> Run:
        return Run(self.method, self.base)

    def variant_names(self, metrics: pd.DataFrame, task: str) -> list[str]:
        """The family's variants run on ``task``, sorted (the base excluded)."""
        names = metrics[(metrics["task"] == task) & (metrics["method"] == self.method)]["variant"].unique()
        return sorted(v for v in names if v != self.base and v.startswith(self.prefixes))

    def pattern(self) -> str:
        """``eps_*, pad_*``: the family's prefixes as the rules write them."""
        return ", ".join(f"{p}*" for p in self.prefixes)


@dataclass(frozen=True)
class ClaimSpec:
    """One claim of the paper: ``claim`` in the paper's words, ``needs`` the runs (or stage) its
    verdict reads, ``rule`` how the verdict follows from them. The verdict code reads the methods
    and variants from here: ``run`` the run the claim judges, ``against`` the run it is set
    against, ``families`` the variant families it tests (C4, C4b, C5)."""
    id: str
    claim: str
    needs: tuple[str, ...]
    rule: str
    run: Run | None = None
    against: Run | None = None
    families: tuple[Family, ...] = ()


#: the W2 the comparisons of C2-C5 and C9 read, in the words of their rules
GM_RULE = ("W2 = geometric mean over seeds of the per-seed mean W2 over labels (diverged seeds "
           "excluded); r = ratio of two such means with a 95% Welch interval on the difference of mean "
           "log W2, p = one-sided Welch t-test on log W2")


@dataclass(frozen=True)
class Claim:
    id: str
    claim: str
    evidence: str
    verdict: str
    rule: str
    stability: str = ""     # leave-one-seed-out: "agree/total", "" where no run has 2 seeds

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r} not in {VERDICTS}")


def verdict(spec: ClaimSpec, evidence: str, v: str, stable: str = "") -> Claim:
    """The ``Claim`` of ``spec``: its words and rule, with this evidence, verdict and
    leave-one-seed-out stability."""
    return Claim(spec.id, spec.claim, evidence, v, spec.rule, stable)


_ORDER = {REPRODUCED: 0, PARTLY: 1, NOT_REPRODUCED: 2}


def worst(verdicts: list[str]) -> str:
    """The worst of tested verdicts (reproduced < partly < not reproduced)."""
    return max(verdicts, key=lambda v: _ORDER[v])


# ----------------------------------------------------------------------------------------------
# building blocks on the tidy metrics
# ----------------------------------------------------------------------------------------------
def seed_w2(metrics: pd.DataFrame, method: str, variant: str, task: str = CLAIM_TASK) -> np.ndarray:
    """Per-seed mean W2 over labels (diverged runs excluded), sorted by seed."""
    return T.per_seed(metrics, task, method, variant, "w2").to_numpy(dtype=float)


def run_stats(metrics: pd.DataFrame, method: str, variant: str, task: str = CLAIM_TASK) -> dict:
    """W2 mean / CI / n, runs, diverged count and accuracy of one (method, variant).

    The same numbers as ``T.runs``, ``seed_w2`` and ``T.per_seed`` give on this run's rows, read
    in one pass over its arrays: the claims' stability check recomputes this hundreds of times
    (tests/test_claims.py checks the two agree)."""
    own = metrics[(metrics["task"] == task) & (metrics["method"] == method) & (metrics["variant"] == variant)]
    seed = own["seed"].to_numpy()
    metric = own["metric"].to_numpy()
    value = own["value"].to_numpy(dtype=float)
    whole = own["condition"].to_numpy() == ""
    # a run's divergence as T.runs reads it: its whole-run 'diverged' row >= 0.5
    bad = np.unique(seed[whole & (metric == "diverged") & (value >= 0.5)])
    ok = ~np.isin(seed, bad)

    def per_seed(name: str) -> np.ndarray:
        sel = ok & (metric == name)
        if not sel.any():
            return np.array([], dtype=float)
        keys, inv = np.unique(seed[sel], return_inverse=True)
        return np.bincount(inv, weights=value[sel]) / np.bincount(inv)   # sorted by seed

    w2 = per_seed("w2")
    mean, half, n = T.mean_ci(w2.tolist())
    acc = T.mean_ci(per_seed("accuracy").tolist())[0]
    return {"w2": mean, "w2_ci": half, "n": n, "seeds": w2, "runs": int(len(np.unique(seed))),
            "diverged": int(len(bad)), "accuracy": acc}


def _run_stats_by_tables(metrics: pd.DataFrame, method: str, variant: str, task: str = CLAIM_TASK) -> dict:
    """``run_stats`` through the tables' general functions (its reference in the tests)."""
    own = metrics[(metrics["task"] == task) & (metrics["method"] == method) & (metrics["variant"] == variant)]
    rr = T.runs(own, task)
    w2 = seed_w2(own, method, variant, task)
    mean, half, n = T.mean_ci(w2.tolist())
    acc = T.mean_ci(T.per_seed(own, task, method, variant, "accuracy").tolist())[0]
    return {"w2": mean, "w2_ci": half, "n": n, "seeds": w2, "runs": int(len(rr)),
            "diverged": int(rr["diverged"].sum()), "accuracy": acc}


def welch_greater(a, b) -> float | None:
    """One-sided Welch t-test p-value for mean(a) > mean(b); None with < 2 values in either group
    or when the statistic is undefined (both groups constant)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if len(a) < 2 or len(b) < 2:
        return None
    if np.ptp(a) == 0 and np.ptp(b) == 0:
        return None
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        from scipy import stats  # here: ~0.4 s to import; the workflow's DAG reads this package

        res = stats.ttest_ind(a, b, equal_var=False, alternative="greater")
    p = float(res.pvalue)
    return p if math.isfinite(p) else None


def n_of(n: int, word: str) -> str:
    """``1 seed``, ``2 seeds``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def finite(x) -> bool:
    return x is not None and math.isfinite(float(x))


BLOWUP_FRACTION = T.BLOWUP_FRACTION   # a blown-up run's share of draws far outside the reference


def unstable_seeds(metrics: pd.DataFrame, method: str, task: str = CLAIM_TASK) -> dict:
    """{variant: (diverged seeds, blown-up seeds)} of ``method``'s variants on ``task``: a
    blown-up seed did not diverge, but on some condition at least ``BLOWUP_FRACTION`` of its
    draws lie far outside the reference's range. Runs scored before ``far_outside`` was recorded
    count as not blown up. (One selection for all variants: C5's stability reruns this often.)"""
    own = metrics[(metrics["task"] == task) & (metrics["method"] == method)
                  & metrics["metric"].isin(("diverged", "far_outside"))]
    # a run's divergence as T.runs reads it: its whole-run 'diverged' row >= 0.5
    div = own[(own["metric"] == "diverged") & (own["condition"] == "") & (own["value"].astype(float) >= 0.5)]
    blown = T.blown_up_runs(own)
    out: dict = {}
    for variant in set(div["variant"].astype(str)) | set(blown["variant"].astype(str)):
        d = sorted({int(x) for x in div.loc[div["variant"] == variant, "seed"]})
        b = sorted({int(x) for x in blown.loc[blown["variant"] == variant, "seed"]} - set(d))
        out[variant] = (d, b)
    return out


def instability_text(diverged: list, blown: list, runs: int) -> str:
    """``2 of 5 seeds unstable (seed 3 diverged; seeds 0, 4 blew up: >= 1% of draws far outside
    the reference)``."""
    parts = []
    if diverged:
        parts.append(f"seed{'s' if len(diverged) > 1 else ''} {', '.join(map(str, diverged))} diverged")
    if blown:
        parts.append(f"seed{'s' if len(blown) > 1 else ''} {', '.join(map(str, blown))} blew up: "
                     f">= {BLOWUP_FRACTION:.0%} of draws far outside the reference")
    return f"{len(diverged) + len(blown)} of {runs} seeds unstable ({'; '.join(parts)})"


def all_diverged(runs: int) -> str:
    return "its only run diverged" if runs == 1 else f"all {runs} runs diverged"


def absent(name, s: dict) -> str:
    """Why run ``name`` has no W2: not run, or every run diverged."""
    if s["runs"] == 0:
        return f"{name} not run"
    return f"{name}: {all_diverged(s['runs'])}"


def gm_stats(metrics: pd.DataFrame, method: str, variant: str, task: str = CLAIM_TASK) -> dict:
    """``run_stats`` plus the geometric mean W2 over seeds (``gm``)."""
    s = run_stats(metrics, method, variant, task)
    w = np.asarray(s["seeds"], dtype=float)
    s["gm"] = float(np.exp(np.log(w).mean())) if len(w) and np.all(w > 0) else float("nan")
    return s


def gm_describe(name, s: dict) -> str:
    """``W2(name) = 0.08 (3 seeds; 1 of 4 diverged, excluded)``."""
    txt = f"W2({name}) = {T.fmt(s['gm'])} ({n_of(s['n'], 'seed')}"
    if s["diverged"]:
        txt += f"; {s['diverged']} of {s['runs']} diverged, excluded"
    return txt + ")"


def compare(metrics: pd.DataFrame, a: tuple[str, str], b: tuple[str, str],
            task: str = CLAIM_TASK, b_stats: dict | None = None) -> dict:
    """Run ``a`` against run ``b`` (pairs or ``Run``) on the log scale: their stats and
    ``log_ratio_test``. ``b_stats``: ``gm_stats`` of ``b`` already computed on ``metrics`` (a
    family compares every variant against one base)."""
    sa = gm_stats(metrics, *a, task=task)
    sb = b_stats if b_stats is not None else gm_stats(metrics, *b, task=task)
    out = {"a": sa, "b": sb, **log_ratio_test(sa["seeds"], sb["seeds"])}
    out["tested"] = sa["n"] > 0 and sb["n"] > 0 and finite(out["ratio"])
    return out


def ratio_text(res: dict, p_key: str = "p") -> str:
    """``r = 1.29 [95% CI 0.90, 1.80], p = 0.04`` of a ``compare`` result."""
    lo, hi = res["ci"]
    ci = f" [95% CI {lo:.2f}, {hi:.2f}]" if finite(lo) else ""
    p = f", p = {T.fmt_p(res[p_key])}" if p_key in res else ""
    return f"r = {T.fmt(res['ratio'], '.2f')}{ci}{p}"


def holm_ratio_text(res: dict) -> str:
    """``ratio_text`` with the Holm-corrected p of a family test."""
    return ratio_text(res, "p_holm").replace(", p =", ", Holm p =")


def drop_seed(metrics: pd.DataFrame, task: str, method: str, variant: str, seed: int) -> pd.DataFrame:
    m = metrics
    return m[~((m["task"] == task) & (m["method"] == method) & (m["variant"] == variant) & (m["seed"] == seed))]


def stability(decide, metrics: pd.DataFrame, task: str, runs) -> str:
    """``agree/total``: ``decide(metrics)`` recomputed with each seed of each of ``runs``
    ((method, variant) pairs) left out in turn; '' when no run has two seeds."""
    full = decide(metrics)
    agree = total = 0
    for method, variant in runs:
        seeds = T.per_seed(metrics, task, method, variant, "w2").index.tolist()
        if len(seeds) < 2:
            continue
        for sd in seeds:
            total += 1
            agree += decide(drop_seed(metrics, task, method, variant, sd)) == full
    return f"{agree}/{total}" if total else ""
