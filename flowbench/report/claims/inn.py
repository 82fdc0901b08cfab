"""The claims that set ours against the four-loss INN of Ardizzone et al. (2018) on the Gaussian
mixture (Xiao, Yan & Amit 2019, arXiv 1911.02052): the tuned INN matches ours (C2, C2b; Fig. 5.2
left), its ablations are worse (C3: forward losses only, Fig. 5.2 middle; C4: a changed ramp of
the backward-loss weight, Fig. 5.2 right; C4b: another backward-loss weight, Sec. 2.2) and ours,
unlike the INN, needs no tuning (C5, Sec. 5.1).

"Worse" (C3's rule, ``worse_verdict``) means a ratio of geometric-mean W2 of at least
``RATIO_MIN`` with a one-sided Welch p on log W2 below ``ALPHA``; a family of variants is tested
with Holm's correction (``family_test``). C9 (``practical``) applies the same thresholds.
"""
from __future__ import annotations

from dataclasses import replace

import pandas as pd

from ... import tables as T
from ..stats import holm
from .core import (BLOWUP_FRACTION, CLAIM_TASK, GM_RULE, NOT_REPRODUCED, NOT_TESTED, PARTLY, REPRODUCED,
                   Claim, ClaimSpec, Family, Run, absent, all_diverged, compare, finite, gm_describe,
                   gm_stats, holm_ratio_text, instability_text, n_of, ratio_text, stability,
                   unstable_seeds, verdict)

RATIO_MIN = 1.5                          # "worse" means at least this ratio of geometric means
ALPHA = 0.05
C2_PARTLY = 3.0                          # C2: the INN within this ratio of ours is "partly"

_OURS, _INN = Run("ours", "paper"), Run("inn", "full")
_RAMPS = Family("inn", "full", ("ramp_",), extreme=("no_ramp",))
_WEIGHTS = Family("inn", "full", ("wx_",))
#: C5's variant families: ours's hyper-parameters of Eq. 4-6 (a learning-rate schedule is not one),
#: the INN's loss weights and ramp
_SENSITIVITY = (Family("ours", "paper", ("eps_", "pad_")), Family("inn", "full", ("ramp_", "no_ramp", "wx_")))

SPEC_C2 = ClaimSpec(
    "C2", "The four-loss INN with all losses and tuned weights matches ours (Fig. 5.2 left).",
    (str(_INN), str(_OURS)),
    f"{GM_RULE}. r = W2({_INN}) / W2({_OURS}): reproduced if r <= {RATIO_MIN:g}; partly if "
    f"r <= {C2_PARTLY:g}; else not reproduced",
    run=_INN, against=_OURS)
SPEC_C2b = ClaimSpec(
    "C2b", "As C2, with the original code's INN network (16 dims, one hidden layer).",
    ("inn/orig16_full", str(_OURS)),
    f"C2's rule with inn/orig16_full in place of {_INN}",
    run=Run("inn", "orig16_full"), against=_OURS)
SPEC_C3 = ClaimSpec(
    "C3", "The INN is significantly worse with forward losses only (Fig. 5.2 middle).",
    ("inn/forward_only", str(_INN)),
    f"{GM_RULE}. r = W2(inn/forward_only) / W2({_INN}): reproduced if r >= {RATIO_MIN:g} and "
    f"p < {ALPHA:g}; partly if r >= {RATIO_MIN:g} but p >= {ALPHA:g} or < 2 seeds; else not "
    f"reproduced",
    run=Run("inn", "forward_only"), against=_INN)
SPEC_C4 = ClaimSpec(
    "C4", "The INN is significantly worse with a changed ramp of the backward-loss weight (Fig. 5.2 right).",
    ("inn/ramp_*", str(_INN)),
    f"C3's test for each changed ramp speed or shape (inn/ramp_*) against {_INN}, p corrected "
    f"by Holm's method over those variants: reproduced if any has r >= {RATIO_MIN:g} and Holm p "
    f"< {ALPHA:g}; partly if any has r >= {RATIO_MIN:g}; else not reproduced. inn/no_ramp (the "
    f"full weight from step 0) is shown as the extreme, outside the verdict",
    families=(_RAMPS,))
SPEC_C4b = ClaimSpec(
    "C4b", "The INN is sensitive to its backward-loss weight (Sec. 2.2: hand-tuned loss weights).",
    ("inn/wx_*", str(_INN)),
    "C4's rule over the variants with another backward-loss weight (inn/wx_*)",
    families=(_WEIGHTS,))
SPEC_C5 = ClaimSpec(
    "C5", "Ours needs no hyper-parameter tuning (Sec. 5.1), unlike the INN.",
    ("ours/eps_*, ours/pad_*", "inn/ramp_*, inn/no_ramp, inn/wx_*", str(_OURS), str(_INN)),
    f"the same sensitivity rule for both methods: a variant is sensitive if r = W2(variant) / "
    f"W2(its method's recipe) >= {RATIO_MIN:g} with Holm p < {ALPHA:g} within its method, or if it "
    f"is unstable: any of its seeds diverged or blew up (>= {BLOWUP_FRACTION:.0%} of its draws on some "
    f"condition beyond one reference range past the reference's min or max); variants of ours: eps_*, pad_* (hyper-parameters of Eq. 4-6; a learning"
    f"-rate schedule is not one); of the INN: its loss weights and ramp. s = fraction of a "
    f"method's testable variants that are sensitive: reproduced if s(ours) = 0 < s(inn); partly "
    f"if s(ours) < s(inn), or both 0, or the INN's variants are absent and s(ours) = 0; else not "
    f"reproduced",
    families=_SENSITIVITY)

#: C5's families as {method: (its recipe, the prefixes of its variants)}
SENSITIVITY_FAMILIES = {f.method: (f.base, f.prefixes) for f in SPEC_C5.families}


def worse_verdict(ratio: float, p) -> str:
    """C3's rule: reproduced if ratio >= RATIO_MIN and p < ALPHA; partly if the ratio alone."""
    if not finite(ratio):
        return NOT_TESTED
    if ratio >= RATIO_MIN and p is not None and p < ALPHA:
        return REPRODUCED
    return PARTLY if ratio >= RATIO_MIN else NOT_REPRODUCED


# ----------------------------------------------------------------------------------------------
# C2, C2b: the tuned INN matches ours
# ----------------------------------------------------------------------------------------------
def _c2(metrics, task, spec):
    run, against = spec.run, spec.against
    res = compare(metrics, run, against, task)
    if not res["tested"]:
        missing = "; ".join(absent(n, st) for n, st in ((run, res["a"]), (against, res["b"]))
                            if st["n"] == 0)
        return missing or "W2 is 0", NOT_TESTED
    r = res["ratio"]
    ev = f"{gm_describe(run, res['a'])} vs {gm_describe(against, res['b'])}: {ratio_text(res, 'none')}"
    eps = 1e-9   # the ratio of geometric means carries rounding from exp(log)
    return ev, REPRODUCED if r <= RATIO_MIN + eps else PARTLY if r <= C2_PARTLY + eps else NOT_REPRODUCED


def claim_c2(metrics: pd.DataFrame, task: str = CLAIM_TASK, inn_variant: str | None = None,
             cid: str = "C2") -> Claim:
    """C2 (or ``cid``, C2b) on ``task``; ``inn_variant`` in place of its spec's INN variant."""
    spec = {"C2": SPEC_C2, "C2b": SPEC_C2b}[cid]
    if inn_variant is not None:
        spec = replace(spec, run=replace(spec.run, variant=inn_variant))
    metrics = metrics[metrics["task"] == task]   # the claim reads one task: filter once
    ev, v = _c2(metrics, task, spec)
    st = stability(lambda m: _c2(m, task, spec)[1], metrics, task,
                   [tuple(spec.run), tuple(spec.against)])
    return verdict(spec, ev, v, st)


def claim_c2b(metrics: pd.DataFrame, task: str = CLAIM_TASK) -> Claim:
    return claim_c2(metrics, task, cid="C2b")


# ----------------------------------------------------------------------------------------------
# C3: forward losses only
# ----------------------------------------------------------------------------------------------
def _c3(metrics, task):
    run, against = SPEC_C3.run, SPEC_C3.against
    res = compare(metrics, run, against, task)
    if not res["tested"]:
        missing = "; ".join(absent(n, st) for n, st in ((run, res["a"]), (against, res["b"])) if st["n"] == 0)
        return missing or f"W2({against}) is 0", NOT_TESTED
    ev = f"{gm_describe(run, res['a'])} vs {gm_describe(against, res['b'])}: {ratio_text(res)}"
    return ev, worse_verdict(res["ratio"], res["p"])


def claim_c3(metrics: pd.DataFrame, task: str = CLAIM_TASK) -> Claim:
    metrics = metrics[metrics["task"] == task]   # the claim reads one task: filter once
    ev, v = _c3(metrics, task)
    st = stability(lambda m: _c3(m, task)[1], metrics, task, [tuple(SPEC_C3.run), tuple(SPEC_C3.against)])
    return verdict(SPEC_C3, ev, v, st)


# ----------------------------------------------------------------------------------------------
# C4, C4b: the INN's ramp and backward-loss weight, with Holm's correction over the family
# ----------------------------------------------------------------------------------------------
_INN_FAMILIES = {"ramp": _RAMPS, "weight": _WEIGHTS}


def inn_variants(metrics: pd.DataFrame, task: str, kind: str) -> list[str]:
    """INN variants of a family run on ``task``: ``ramp`` (C4's, ramp_*: speed or shape),
    ``weight`` (C4b's, wx_*)."""
    return _INN_FAMILIES[kind].variant_names(metrics, task)


def changed_ramp_variants(metrics: pd.DataFrame, task: str = CLAIM_TASK) -> list[str]:
    return inn_variants(metrics, task, "ramp")


def family_test(metrics: pd.DataFrame, task: str, method: str, base: str, variants) -> dict:
    """Each variant against ``base`` on the log scale, p corrected by Holm over the family."""
    base_stats = gm_stats(metrics, method, base, task)   # read by every comparison: once
    res = {v: compare(metrics, (method, v), (method, base), task, b_stats=base_stats) for v in variants}
    adj = holm({v: r["p"] for v, r in res.items() if r["tested"]})
    for v, r in res.items():
        r["p_holm"] = adj.get(v)
        r["verdict"] = worse_verdict(r["ratio"], r["p_holm"]) if r["tested"] else NOT_TESTED
    return res


def _family_claim(metrics, task, fam: Family, variants, extreme=()):
    if not variants:
        return None, NOT_TESTED
    res = family_test(metrics, task, fam.method, fam.base, list(variants) + list(extreme))
    members = {v: res[v] for v in variants}
    parts = []
    for v, r in res.items():
        label = f"{fam.method}/{v}" + (" (the extreme: full weight from step 0; not in the verdict)"
                                       if v in extreme else "")
        if not r["tested"]:
            why = ("not run" if r["a"]["runs"] == 0 else all_diverged(r["a"]["runs"])) if r["a"]["n"] == 0 \
                else absent(fam.recipe, r["b"])
            parts.append(f"{label}: not tested ({why})")
        else:
            parts.append(f"{label}: {holm_ratio_text(r)}, "
                         f"W2 {T.fmt(r['a']['gm'])} ({n_of(r['a']['n'], 'seed')})")
    tested = [r for r in members.values() if r["tested"]]
    if not tested:
        v = NOT_TESTED
    elif any(r["verdict"] == REPRODUCED for r in tested):
        v = REPRODUCED
    elif any(r["verdict"] == PARTLY for r in tested):
        v = PARTLY
    else:
        v = NOT_REPRODUCED
    head = f"vs {gm_describe(fam.recipe, tested[0]['b'])}: " if tested else ""
    return head + "; ".join(parts), v


def _family_verdict(spec: ClaimSpec, metrics: pd.DataFrame, task: str, none_run: str) -> Claim:
    """C4 or C4b: ``spec``'s one family on ``task``; ``none_run`` the evidence when none of it ran."""
    metrics = metrics[metrics["task"] == task]   # the claim reads one task: filter once
    fam = spec.families[0]
    variants = fam.variant_names(metrics, task)
    run = set(metrics[(metrics["task"] == task) & (metrics["method"] == fam.method)]["variant"])
    extreme = [v for v in fam.extreme if v in run]
    if not variants:
        return verdict(spec, none_run, NOT_TESTED)
    ev, v = _family_claim(metrics, task, fam, variants, extreme)
    st = stability(lambda m: _family_claim(m, task, fam, variants)[1], metrics, task,
                   [(fam.method, x) for x in variants] + [tuple(fam.recipe)])
    return verdict(spec, ev, v, st)


def claim_c4(metrics: pd.DataFrame, task: str = CLAIM_TASK) -> Claim:
    fam = SPEC_C4.families[0]
    return _family_verdict(SPEC_C4, metrics, task,
                           f"no changed-ramp INN variant ({fam.method}/{fam.pattern()}) run")


def claim_c4b(metrics: pd.DataFrame, task: str = CLAIM_TASK) -> Claim:
    fam = SPEC_C4b.families[0]
    return _family_verdict(SPEC_C4b, metrics, task,
                           f"no INN variant with another backward-loss weight ({fam.method}/{fam.pattern()}) run")


# ----------------------------------------------------------------------------------------------
# C5: the same sensitivity rule for ours's and the INN's hyper-parameters
# ----------------------------------------------------------------------------------------------
def _family_of(method: str) -> Family:
    return {f.method: f for f in SPEC_C5.families}[method]


def sensitivity(metrics: pd.DataFrame, task: str, method: str) -> dict:
    """The sensitivity rule of C5 on one method's hyper-parameter variants: {variants, sensitive,
    testable, parts (evidence)}."""
    fam = _family_of(method)
    variants = fam.variant_names(metrics, task)
    res = family_test(metrics, task, method, fam.base, variants)
    sensitive, testable, parts = [], [], []
    unstable = unstable_seeds(metrics, method, task)
    for v, r in res.items():
        diverged, blown = unstable.get(v, ([], []))
        if r["a"]["n"] == 0 and r["a"]["runs"] > 0:           # every seed diverged: sensitive
            testable.append(v)
            sensitive.append(v)
            parts.append(f"{method}/{v}: {all_diverged(r['a']['runs'])} (sensitive)")
        elif diverged or blown:   # unstable: a spread too wide for the log-scale test to read
            testable.append(v)
            sensitive.append(v)
            parts.append(f"{method}/{v}: {instability_text(diverged, blown, r['a']['runs'])}"
                         + (f", {holm_ratio_text(r)}" if r["tested"] and r["p_holm"] is not None else "")
                         + " (unstable: sensitive)")
        elif r["tested"] and r["p_holm"] is not None:
            testable.append(v)
            hit = r["verdict"] == REPRODUCED          # family_test applied C3's rule with Holm's p
            sensitive += [v] if hit else []
            parts.append(f"{method}/{v}: {holm_ratio_text(r)}"
                         f"{' (sensitive)' if hit else ''}")
        elif r["tested"]:
            parts.append(f"{method}/{v}: r = {T.fmt(r['ratio'], '.2f')} (< 2 seeds: untestable)")
    base = next(iter(res.values()))["b"] if res else gm_stats(metrics, method, fam.base, task)
    return {"variants": variants, "sensitive": sensitive, "testable": testable, "parts": parts,
            "base": base}


def _c5(metrics, task):
    fo, fi = SPEC_C5.families
    ours, inn = sensitivity(metrics, task, fo.method), sensitivity(metrics, task, fi.method)
    if ours["base"]["n"] == 0:
        return absent(fo.recipe, ours["base"]), NOT_TESTED
    if not ours["testable"]:
        why = f"no variant of {fo.method} ({fo.pattern()}) run" if not ours["variants"] else \
            f"no variant of {fo.method} with >= 2 seeds on both sides"
        return why, NOT_TESTED
    so = len(ours["sensitive"]) / len(ours["testable"])
    si = len(inn["sensitive"]) / len(inn["testable"]) if inn["testable"] else None
    ev = (f"{fo.method}: {len(ours['sensitive'])} of {len(ours['testable'])} variants sensitive "
          f"(vs {gm_describe(fo.recipe, ours['base'])}): " + "; ".join(ours["parts"]))
    if si is None:
        ev += f"; {fi.method}: no testable variant of its weights or ramp"
        return ev, PARTLY if so == 0 else NOT_REPRODUCED
    ev += (f"; {fi.method}: {len(inn['sensitive'])} of {len(inn['testable'])} sensitive (vs "
           f"{gm_describe(fi.recipe, inn['base'])}): " + "; ".join(inn["parts"]))
    if so == 0 and si > 0:
        return ev, REPRODUCED
    if so < si or (so == 0 and si == 0):
        return ev, PARTLY
    return ev, NOT_REPRODUCED


def claim_c5(metrics: pd.DataFrame, task: str = CLAIM_TASK) -> Claim:
    metrics = metrics[metrics["task"] == task]   # the claim reads one task: filter once
    ev, v = _c5(metrics, task)
    fams = SPEC_C5.families
    runs = [tuple(f.recipe) for f in fams] + [
        (f.method, x) for f in fams
        for x in metrics[(metrics["task"] == task) & (metrics["method"] == f.method)]["variant"].unique()]
    st = stability(lambda m: _c5(m, task)[1], metrics, task, sorted(set(runs))) if v != NOT_TESTED else ""
    return verdict(SPEC_C5, ev, v, st)
