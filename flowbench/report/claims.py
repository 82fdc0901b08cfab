"""The paper's claims as data, and the rules that give each its verdict.

``CLAIM_SPECS`` holds, for each claim, its id, the paper's words (with the figure or section of
Xiao, Yan & Amit 2019 it comes from), the runs it needs and the rule for its verdict; the claims
tables (``tables/claims.csv``, ``tables/claims_by_task.csv``) and the README's claims table both
read the claim and the rule from there, through the ``Claim`` each verdict function returns.

``claim_c1`` ... ``claim_c8`` take the tidy metrics (``task, method, variant, seed, condition,
metric, value``; see ``flowbench.tables``) and return a ``Claim`` with the measured evidence and
the verdict (one of ``VERDICTS``). Every W2 is the per-seed mean of W2 over labels, averaged over
seeds, diverged runs excluded (they are listed and counted instead).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .. import tables as T
from ..captions import W2_THRESHOLD_TIME

REPRODUCED, PARTLY, NOT_REPRODUCED, NOT_TESTED = "reproduced", "partly", "not reproduced", "not tested"
VERDICTS = (REPRODUCED, PARTLY, NOT_REPRODUCED, NOT_TESTED)

CLAIM_TASK = "gmm"          # the paper's setting: every mode its own label


@dataclass(frozen=True)
class ClaimSpec:
    """One claim of the paper: ``claim`` in the paper's words, ``needs`` the runs (or stage) its
    verdict reads, ``rule`` how the verdict follows from them."""
    id: str
    claim: str
    needs: tuple[str, ...]
    rule: str


CLAIM_SPECS = (
    ClaimSpec(
        "C1", "Ours recovers the GMM posterior almost exactly (Fig. 5.1).",
        ("ours/paper",),
        "reproduced if W2(ours/paper) <= 0.10 and accuracy >= 0.99; partly if W2 <= 0.20; "
        "else not reproduced"),
    ClaimSpec(
        "C2", "The four-loss INN with all losses and tuned weights matches ours (Fig. 5.2 left).",
        ("inn/full", "ours/paper"),
        "r = W2(inn/full) / W2(ours/paper): reproduced if r <= 1.5; partly if r <= 3; "
        "else not reproduced"),
    ClaimSpec(
        "C3", "The INN is significantly worse with forward losses only (Fig. 5.2 middle).",
        ("inn/forward_only", "inn/full"),
        "r = W2(inn/forward_only) / W2(inn/full), p = one-sided Welch t-test on per-seed W2: "
        "reproduced if r >= 1.5 and p < 0.05; partly if r >= 1.5 but p >= 0.05 or < 2 seeds; "
        "else not reproduced"),
    ClaimSpec(
        "C4", "The INN is significantly worse with a changed ramp of the backward-loss weight (Fig. 5.2 right).",
        ("inn/ramp_*", "inn/no_ramp", "inn/full"),
        "C3's rule for each changed ramp (inn variants ramp_*, no_ramp) vs inn/full: reproduced "
        "if any variant meets it; partly if any has r >= 1.5; else not reproduced"),
    ClaimSpec(
        "C5", "Ours needs no hyper-parameter tuning (Sec. 5.1).",
        ("ours/* (variants other than paper)", "ours/paper"),
        "a variant of ours other than paper (eps_*, pad_*, ...) passes if W2 <= 0.15 and "
        "W2 <= 2 x W2(ours/paper) (all seeds diverged: fails): reproduced if all pass; "
        "partly if at least half pass; else not reproduced"),
    ClaimSpec(
        "C6", "Ours trains faster: one loss, gradients evaluated once (Sec. 3).",
        ("ours/paper", "inn/full", "results/benchmark/step_costs.csv (optional)"),
        "r = s/iteration(ours/paper) / s/iteration(inn/full): from the performance benchmark "
        "(results/benchmark/step_costs.csv, one process, one method at a time) at batch 1600 "
        "(else its largest batch measured for both) when it was run, else from the workflow's "
        "training runs on task gmm (jobs side by side): reproduced if r <= 0.5; partly if r < 1; "
        "else not reproduced"),
    ClaimSpec(
        "C7", "The forward process classifies: Table 1, MNIST 0.984, Fashion-MNIST 0.901.",
        ("images: ours accuracy on mnist", "images: ours accuracy on fashion-mnist"),
        "per dataset: reproduced if mean accuracy >= paper - 0.01; partly if >= paper - 0.03; "
        "else not reproduced; overall the worse dataset, at most partly if one was not run"),
    ClaimSpec(
        "C8", "z is independent of y: a fixed z keeps its style across labels (Fig. 5.4).",
        ("images: ours style_follows_label and style_consistency per dataset",),
        "per dataset, ours: style_follows_label = with z held fixed and y varied over the ten "
        "labels, the fraction of decoded images the independent CNN assigns to the y they were "
        "generated with (mean over seeds): reproduced if >= 0.9; partly if >= 0.7; else not "
        "reproduced; overall the worse dataset. style_consistency (pixel correlation of images "
        "sharing z minus that of images of different z; > 0 when z carries a shared style) is "
        "shown as supporting evidence"),
)
SPECS = {s.id: s for s in CLAIM_SPECS}
CLAIMS = {s.id: s.claim for s in CLAIM_SPECS}     # views of CLAIM_SPECS, by id
RULES = {s.id: s.rule for s in CLAIM_SPECS}
COMMON_RULE = ("Every claim is 'not tested' when a run it needs is absent or all its seeds "
               "diverged. W2 = mean over seeds of the per-seed mean W2 over labels, task 'gmm', "
               "diverged runs excluded.")


@dataclass(frozen=True)
class Claim:
    id: str
    claim: str
    evidence: str
    verdict: str
    rule: str

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r} not in {VERDICTS}")


def verdict(cid: str, evidence: str, v: str) -> Claim:
    """The ``Claim`` of ``cid``: its words and rule from ``CLAIM_SPECS``, with this evidence and verdict."""
    spec = SPECS[cid]
    return Claim(cid, spec.claim, evidence, v, spec.rule)


# ----------------------------------------------------------------------------------------------
# building blocks on the tidy metrics
# ----------------------------------------------------------------------------------------------
def seed_w2(metrics: pd.DataFrame, method: str, variant: str, task: str = CLAIM_TASK) -> np.ndarray:
    """Per-seed mean W2 over labels (diverged runs excluded), sorted by seed."""
    return T.per_seed(metrics, task, method, variant, "w2").to_numpy(dtype=float)


def run_stats(metrics: pd.DataFrame, method: str, variant: str, task: str = CLAIM_TASK) -> dict:
    """W2 mean / CI / n, runs, diverged count and accuracy of one (method, variant)."""
    r = T.runs(metrics, task)
    rr = r[(r["method"] == method) & (r["variant"] == variant)]
    w2 = seed_w2(metrics, method, variant, task)
    mean, half, n = T.mean_ci(w2.tolist())
    acc = T.mean_ci(T.per_seed(metrics, task, method, variant, "accuracy").tolist())[0]
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
        res = stats.ttest_ind(a, b, equal_var=False, alternative="greater")
    p = float(res.pvalue)
    return p if math.isfinite(p) else None


def n_of(n: int, word: str) -> str:
    """``1 seed``, ``2 seeds``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def finite(x) -> bool:
    return x is not None and math.isfinite(float(x))


def _describe(name: str, s: dict, spec: str = ".3f") -> str:
    txt = f"W2({name}) = {T.fmt_pm(s['w2'], s['w2_ci'], spec)} ({n_of(s['n'], 'seed')}"
    if s["diverged"]:
        txt += f"; {s['diverged']} of {s['runs']} diverged, excluded"
    return txt + ")"


def _all_diverged(runs: int) -> str:
    return "its only run diverged" if runs == 1 else f"all {runs} runs diverged"


def _absent(name: str, s: dict) -> str:
    if s["runs"] == 0:
        return f"{name} not run"
    return f"{name}: {_all_diverged(s['runs'])}"


def significantly_worse(metrics: pd.DataFrame, worse: tuple[str, str], better: tuple[str, str],
                        task: str = CLAIM_TASK, ratio_min: float = 1.5, alpha: float = 0.05) -> dict:
    """Ratio W2(worse)/W2(better), one-sided Welch p, and the C3-style verdict for one pair."""
    a = run_stats(metrics, *worse, task=task)
    b = run_stats(metrics, *better, task=task)
    out = {"worse": a, "better": b, "ratio": float("nan"), "p": None, "verdict": NOT_TESTED}
    if a["n"] == 0 or b["n"] == 0 or not b["w2"] > 0:
        return out
    out["ratio"] = a["w2"] / b["w2"]
    out["p"] = welch_greater(a["seeds"], b["seeds"])
    # supplementary, not part of the verdict rule: the same test on log W2, which suits a positive,
    # heavy-tailed distance (one exploded seed inflates the raw-scale variance)
    if np.all(np.asarray(a["seeds"]) > 0) and np.all(np.asarray(b["seeds"]) > 0):
        out["p_log"] = welch_greater(np.log(a["seeds"]), np.log(b["seeds"]))
    if out["ratio"] >= ratio_min and out["p"] is not None and out["p"] < alpha:
        out["verdict"] = REPRODUCED
    elif out["ratio"] >= ratio_min:
        out["verdict"] = PARTLY
    else:
        out["verdict"] = NOT_REPRODUCED
    return out


# ----------------------------------------------------------------------------------------------
# the Gaussian-mixture claims (Sec. 5.1, Fig. 5.1, Fig. 5.2)
# ----------------------------------------------------------------------------------------------
def claim_c1(metrics: pd.DataFrame, task: str = CLAIM_TASK) -> Claim:
    s = run_stats(metrics, "ours", "paper", task)
    if s["n"] == 0:
        return verdict("C1", _absent("ours/paper", s), NOT_TESTED)
    ev = f"{_describe('ours/paper', s)}; accuracy {T.fmt(s['accuracy'], '.4f')}"
    if s["w2"] <= 0.10 and finite(s["accuracy"]) and s["accuracy"] >= 0.99:
        v = REPRODUCED
    elif s["w2"] <= 0.20:
        v = PARTLY
    else:
        v = NOT_REPRODUCED
    return verdict("C1", ev, v)


def claim_c2(metrics: pd.DataFrame, task: str = CLAIM_TASK) -> Claim:
    inn = run_stats(metrics, "inn", "full", task)
    ours = run_stats(metrics, "ours", "paper", task)
    if inn["n"] == 0 or ours["n"] == 0 or not ours["w2"] > 0:
        missing = "; ".join(_absent(n, s) for n, s in (("inn/full", inn), ("ours/paper", ours)) if s["n"] == 0)
        return verdict("C2", missing or "W2(ours/paper) is 0", NOT_TESTED)
    r = inn["w2"] / ours["w2"]
    ev = f"{_describe('inn/full', inn)} vs {_describe('ours/paper', ours)}: r = {r:.2f}"
    return verdict("C2", ev, REPRODUCED if r <= 1.5 else PARTLY if r <= 3 else NOT_REPRODUCED)


def _pair_evidence(name: str, res: dict) -> str:
    return (f"{_describe(name, res['worse'])} vs {_describe('inn/full', res['better'])}: "
            f"r = {T.fmt(res['ratio'], '.2f')}, p = {T.fmt_p(res['p'])}{_p_log(res)}")


def _p_log(res: dict) -> str:
    p = res.get("p_log")
    return "" if p is None else f" (supplementary, not in the rule: p on log W2 = {T.fmt_p(p)})"


def claim_c3(metrics: pd.DataFrame, task: str = CLAIM_TASK) -> Claim:
    res = significantly_worse(metrics, ("inn", "forward_only"), ("inn", "full"), task)
    if res["verdict"] == NOT_TESTED:
        missing = "; ".join(_absent(n, s) for n, s in (("inn/forward_only", res["worse"]),
                                                        ("inn/full", res["better"])) if s["n"] == 0)
        return verdict("C3", missing or "W2(inn/full) is 0", NOT_TESTED)
    return verdict("C3", _pair_evidence("inn/forward_only", res), res["verdict"])


def changed_ramp_variants(metrics: pd.DataFrame, task: str = CLAIM_TASK) -> list[str]:
    v = metrics[(metrics["task"] == task) & (metrics["method"] == "inn")]["variant"].unique()
    return sorted(x for x in v if x.startswith("ramp_") or x == "no_ramp")


def claim_c4(metrics: pd.DataFrame, task: str = CLAIM_TASK) -> Claim:
    variants = changed_ramp_variants(metrics, task)
    if not variants:
        return verdict("C4", "no changed-ramp INN variant run", NOT_TESTED)
    results = {v: significantly_worse(metrics, ("inn", v), ("inn", "full"), task) for v in variants}
    parts = []
    for v in variants:
        res = results[v]
        if res["verdict"] == NOT_TESTED:
            if res["worse"]["n"] == 0:
                why = "not run" if res["worse"]["runs"] == 0 else _all_diverged(res["worse"]["runs"])
            else:
                why = _absent("inn/full", res["better"])
            parts.append(f"inn/{v}: not tested ({why})")
        else:
            parts.append(f"inn/{v}: r = {T.fmt(res['ratio'], '.2f')}, p = {T.fmt_p(res['p'])}{_p_log(res)}, "
                         f"W2 {T.fmt(res['worse']['w2'])} ({n_of(res['worse']['n'], 'seed')})")
    tested = [res for res in results.values() if res["verdict"] != NOT_TESTED]
    if not tested:
        v = NOT_TESTED
    elif any(res["verdict"] == REPRODUCED for res in tested):
        v = REPRODUCED
    elif any(res["verdict"] == PARTLY for res in tested):
        v = PARTLY
    else:
        v = NOT_REPRODUCED
    full = tested[0]["better"] if tested else None
    head = f"vs {_describe('inn/full', full)}: " if full else ""
    return verdict("C4", head + "; ".join(parts), v)


def claim_c5(metrics: pd.DataFrame, task: str = CLAIM_TASK) -> Claim:
    variants = sorted(v for v in metrics[(metrics["task"] == task) & (metrics["method"] == "ours")]["variant"].unique()
                      if v != "paper")
    if not variants:
        return verdict("C5", "no variant of ours other than paper run", NOT_TESTED)
    paper = run_stats(metrics, "ours", "paper", task)
    if paper["n"] == 0:
        return verdict("C5", _absent("ours/paper", paper), NOT_TESTED)
    passed, parts = 0, []
    for v in variants:
        s = run_stats(metrics, "ours", v, task)
        ok = s["n"] > 0 and s["w2"] <= 0.15 and s["w2"] <= 2 * paper["w2"]
        passed += ok
        if s["n"] == 0:
            parts.append(f"{v}: {_all_diverged(s['runs'])} (fail)")
        else:
            div = f", {s['diverged']} diverged" if s["diverged"] else ""
            parts.append(f"{v}: {T.fmt(s['w2'])} ({n_of(s['n'], 'seed')}{div}; "
                         f"{'pass' if ok else 'fail'})")
    n = len(variants)
    ev = (f"{passed} of {n} variants pass; W2(ours/paper) = {T.fmt(paper['w2'])}; " + "; ".join(parts))
    return verdict("C5", ev, REPRODUCED if passed == n else PARTLY if 2 * passed >= n else NOT_REPRODUCED)


# ----------------------------------------------------------------------------------------------
# speed (Sec. 3)
# ----------------------------------------------------------------------------------------------
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


def _no_speed(metrics: pd.DataFrame, task: str, run: str) -> str:
    """Why ``run`` ('method/variant') has no speed: not run, or every run diverged (a diverged run's
    seconds per iteration time the steps before it stopped, not the method)."""
    method, variant = run.split("/")
    n = len(T.per_seed(metrics, task, method, variant, "diverged"))
    return f"{run} not run" if n == 0 else f"{run}: {_all_diverged(n)}, no speed measured"


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


def claim_c6(metrics: pd.DataFrame, task: str = CLAIM_TASK, ttt: pd.DataFrame | None = None,
             costs: pd.DataFrame | None = None) -> Claim:
    """Speed: the benchmark's ratio (a controlled comparison) when ``costs`` (step_costs.csv) has
    ours/paper and inn/full, else the ratio of the workflow's training runs, which ran side by side."""
    ours, n_o = _spi(metrics, "ours", "paper", task)
    inn, n_i = _spi(metrics, "inn", "full", task)
    wf = ours / inn if n_o and n_i and inn > 0 else None
    bench = bench_ratio(costs)
    parts = []
    if bench is not None:
        note = "" if bench["batch_size"] == T.BENCH_PRIMARY_BATCH else \
            f" (batch {T.BENCH_PRIMARY_BATCH} not measured: the largest batch measured for both)"
        parts.append(f"benchmark, one process, one method at a time, batch {bench['batch_size']}{note}: "
                     f"ours/paper {bench['ours']:.4f} s/iteration, inn/full {bench['inn']:.4f}: "
                     f"r = {bench['ratio']:.2f}")
    if wf is not None:
        parts.append(f"workflow runs on {task} (jobs side by side, noisier): ours/paper {ours:.4f} "
                     f"({n_of(n_o, 'run')}), inn/full {inn:.4f} ({n_of(n_i, 'run')}): r = {wf:.2f}")
    else:
        missing = "; ".join(_no_speed(metrics, task, name) for name, n
                            in (("ours/paper", n_o), ("inn/full", n_i)) if n == 0)
        parts.append(f"workflow runs on {task}: " + (missing or "s/iteration(inn/full) is 0"))
    if bench is None:
        parts.append("the performance benchmark (`snakemake benchmark`) was not run"
                     if costs is None else "the performance benchmark lacks ours/paper or inn/full")
    times = [t for t in (_ttt_text(ttt, "ours", "paper", task), _ttt_text(ttt, "inn", "full", task)) if t]
    if times:
        parts.append(f"time to probe W2 <= {W2_THRESHOLD_TIME:.2f}: " + "; ".join(times))
    r = bench["ratio"] if bench is not None else wf
    if r is None:
        return verdict("C6", "; ".join(parts), NOT_TESTED)
    return verdict("C6", "; ".join(parts), REPRODUCED if r <= 0.5 else PARTLY if r < 1 else NOT_REPRODUCED)


# ----------------------------------------------------------------------------------------------
# the image claims (Table 1, Fig. 5.4)
# ----------------------------------------------------------------------------------------------
_ORDER = {REPRODUCED: 0, PARTLY: 1, NOT_REPRODUCED: 2}


def _worst(verdicts: list[str]) -> str:
    return max(verdicts, key=lambda v: _ORDER[v])


def _diverged_note(images, ds, method) -> str:
    div, n = T.image_diverged(images, ds, method)
    return f"; {div} of {n} diverged, excluded" if div else ""


def claim_c7(images: pd.DataFrame | None) -> Claim:
    t1 = T.table1(images)
    verdicts, parts, missing = [], [], []
    for r in t1.itertuples(index=False):
        if r.ours_n_seeds == 0:
            missing.append(r.dataset)
            continue
        mean = r.ours_accuracy_mean
        v = (REPRODUCED if mean >= r.paper_accuracy - 0.01 - 1e-12
             else PARTLY if mean >= r.paper_accuracy - 0.03 - 1e-12 else NOT_REPRODUCED)
        verdicts.append(v)
        parts.append(f"{r.dataset}: {T.fmt_pm(mean, r.ours_accuracy_ci95, '.4f')} "
                     f"({n_of(r.ours_n_seeds, 'seed')}{_diverged_note(images, r.dataset, 'ours')}) "
                     f"vs paper {r.paper_accuracy:.3f} ({v})")
    if not verdicts:
        return verdict("C7", "image stage not run (no results/images/metrics.csv accuracy of ours)", NOT_TESTED)
    v = _worst(verdicts)
    if missing:
        parts.append(", ".join(missing) + " not run")
        if v == REPRODUCED:
            v = PARTLY
    return verdict("C7", "; ".join(parts), v)


def claim_c8(images: pd.DataFrame | None) -> Claim:
    """Fig. 5.4 of ours: ``style_follows_label`` decides; ``style_consistency`` supports."""
    datasets = [ds for ds in T.image_datasets_of(images)
                if not images[(images["task"] == ds) & (images["method"] == "ours")
                              & (images["metric"] == "style_follows_label")].empty]
    if not datasets:
        return verdict("C8", "image stage not run (no style_follows_label metric of ours)", NOT_TESTED)
    verdicts, parts = [], []
    for ds in datasets:
        mean, half, n = T.mean_ci(T.image_seed_values(images, ds, "ours", "style_follows_label"))
        div = _diverged_note(images, ds, "ours")
        if n == 0:
            parts.append(f"{ds}: no finite style_follows_label{div}")
            continue
        v = REPRODUCED if mean >= 0.9 else PARTLY if mean >= 0.7 else NOT_REPRODUCED
        verdicts.append(v)
        cm, ch, cn = T.mean_ci(T.image_seed_values(images, ds, "ours", "style_consistency"))
        parts.append(f"{ds}: style_follows_label {T.fmt_pm(mean, half)} ({n_of(n, 'seed')}{div}; {v}), "
                     f"style_consistency {T.fmt_pm(cm, ch, '.3f')}")
    missing = [ds for ds in T.PAPER_TABLE1 if ds not in datasets]
    if missing:
        parts.append(", ".join(missing) + " not run")
    if not verdicts:
        return verdict("C8", "; ".join(parts), NOT_TESTED)
    return verdict("C8", "; ".join(parts), _worst(verdicts))


# ----------------------------------------------------------------------------------------------
# all claims, and the mixture claims per task
# ----------------------------------------------------------------------------------------------
def evaluate_claims(metrics: pd.DataFrame, images: pd.DataFrame | None = None,
                    ttt: pd.DataFrame | None = None, task: str = CLAIM_TASK,
                    costs: pd.DataFrame | None = None) -> list[Claim]:
    """All eight claims, in order (``costs``: the benchmark's step_costs.csv, if it was run)."""
    return [claim_c1(metrics, task), claim_c2(metrics, task), claim_c3(metrics, task),
            claim_c4(metrics, task), claim_c5(metrics, task), claim_c6(metrics, task, ttt, costs),
            claim_c7(images), claim_c8(images)]


CLAIM_COLUMNS = ["id", "claim", "evidence", "verdict", "rule"]


def claims_frame(claims: list[Claim]) -> pd.DataFrame:
    return pd.DataFrame([asdict(c) for c in claims], columns=CLAIM_COLUMNS)


# the Gaussian-mixture claims whose runs every GMM task can hold (C5 needs ours' variants, C6 the
# benchmark, C7 and C8 the images): evaluated per task, so the multi-modal label map is checked too
TASK_CLAIMS = ("C1", "C2", "C3", "C4")
_CLAIM_FN = {"C1": claim_c1, "C2": claim_c2, "C3": claim_c3, "C4": claim_c4}


def claims_by_task(metrics: pd.DataFrame, tasks) -> pd.DataFrame:
    """C1-C4 under their declared rules on each task (one row per task and claim); ``tasks``: the
    tasks the paper's mixture claims apply to (``paper_claims`` in their task record)."""
    rows = [{"task": t, **asdict(_CLAIM_FN[cid](metrics, t))} for t in tasks for cid in TASK_CLAIMS]
    return pd.DataFrame(rows, columns=["task"] + CLAIM_COLUMNS)


def verdict_counts(claims: list[Claim]) -> str:
    """``3 reproduced, 1 partly, 0 not reproduced, 4 not tested``."""
    counts = {v: sum(c.verdict == v for c in claims) for v in VERDICTS}
    return ", ".join(f"{counts[v]} {v}" for v in VERDICTS)
