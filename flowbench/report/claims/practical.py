"""C9, the suite's own claim beyond Xiao, Yan & Amit 2019 (arXiv 1911.02052), whose Sec. 6 leaves
practical inverse problems to future work: on the practical inverse problems of Kruse et al.
(2021), ours is at least as good as the four-loss INN. The thresholds are C3's (``inn``)."""
from __future__ import annotations

import pandas as pd

from ... import tables as T
from ..stats import holm
from .core import (GM_RULE, NOT_REPRODUCED, NOT_TESTED, PARTLY, REPRODUCED, Claim, ClaimSpec, Run, absent,
                   compare, finite, gm_describe, holm_ratio_text, stability, verdict, worst)
from .inn import ALPHA, RATIO_MIN

_OURS, _INN = Run("ours"), Run("inn")    # ours's recipe on the task, and every INN variant run on it

SPEC_C9 = ClaimSpec(
    "C9", "The suite's own claim, beyond the paper (its Sec. 6 leaves practical inverse problems to "
          "future work): on a practical inverse problem (Kruse et al. 2021: inverse kinematics `arm`, "
          "inverse ballistics `ballistics`), ours is at least as good as the four-loss INN.",
    (f"{_OURS}/<recipe>, {_INN}/<each variant> on every task marked practical",),
    f"{GM_RULE.replace('over labels', 'over observations')}, against the task's rejection-ABC reference. "
    f"Per task and INN variant (both networks), r = W2(ours recipe) / W2(inn variant), p one-sided for "
    f"'ours is worse', Holm-corrected over the task's INN variants: not reproduced if some r >= "
    f"{RATIO_MIN:g} with Holm p < {ALPHA:g} (the INN significantly better); reproduced if every r <= 1, "
    f"or r < {RATIO_MIN:g} with Holm p >= {ALPHA:g} (not materially and not significantly worse); else "
    f"partly. Verdict per task; overall the worse task; not tested where ours or every INN variant is "
    f"absent or diverged. Ours's other variants on the task are shown under the same rule, outside "
    f"the verdict",
    run=_OURS, against=_INN)


def at_least_as_good_verdict(ratio: float, p_holm) -> str:
    """C9's rule for one comparison, r = W2(ours) / W2(other) and the Holm-corrected one-sided p of
    "ours is worse": not reproduced if r >= RATIO_MIN and p < ALPHA; reproduced if r <= 1, or r <
    RATIO_MIN and p >= ALPHA (or undefined); else partly."""
    if not finite(ratio):
        return NOT_TESTED
    significant = p_holm is not None and p_holm < ALPHA
    if ratio >= RATIO_MIN and significant:
        return NOT_REPRODUCED
    if ratio <= 1.0 or (ratio < RATIO_MIN and not significant):
        return REPRODUCED
    return PARTLY


def _c9_task(metrics: pd.DataFrame, task: str, ours_variant: str | None, inn_variants) -> tuple[str, str]:
    """(evidence without the task's name, verdict) of ``ours_variant`` against every INN variant."""
    ours, inn = SPEC_C9.run.method, SPEC_C9.against.method
    if ours_variant is None:
        return f"{ours} not run", NOT_TESTED
    if not inn_variants:
        return "the INN not run", NOT_TESTED
    res = {v: compare(metrics, (ours, ours_variant), (inn, v), task) for v in inn_variants}
    adj = holm({v: r["p"] for v, r in res.items() if r["tested"]})
    parts, verdicts = [], []
    for v, r in res.items():
        if not r["tested"]:
            missing = r["a"] if r["a"]["n"] == 0 else r["b"]
            name = f"{ours}/{ours_variant}" if r["a"]["n"] == 0 else f"{inn}/{v}"
            parts.append(f"vs {inn}/{v}: not tested ({absent(name, missing)})")
            continue
        r["p_holm"] = adj.get(v)
        vv = at_least_as_good_verdict(r["ratio"], r["p_holm"])
        verdicts.append(vv)
        parts.append(f"vs {gm_describe(f'{inn}/{v}', r['b'])}: {holm_ratio_text(r)} "
                     f"({vv})")
    if not verdicts:
        return "; ".join(parts), NOT_TESTED
    head = gm_describe(f"{ours}/{ours_variant}", next(iter(res.values()))["a"])
    return head + "; " + "; ".join(parts), worst(verdicts)


def practical_tasks(records: dict | None) -> list[str]:
    """The tasks C9 reads: those whose record marks them a practical inverse problem."""
    return sorted(t for t, r in (records or {}).items() if (r or {}).get("practical"))


def _c9_runs(metrics: pd.DataFrame, task: str, record: dict) -> tuple[str | None, list[str]]:
    """Ours's recipe on ``task`` (its record's ``recipes``) and every INN variant run on it."""
    ours, inn = SPEC_C9.run.method, SPEC_C9.against.method
    m = metrics[metrics["task"] == task]
    have = set(m[m["method"] == ours]["variant"])
    want = (record.get("recipes") or {}).get(ours)
    ours_variant = want if want in have else (sorted(have, key=T.variant_key)[0] if have else None)
    return ours_variant, sorted(set(m[m["method"] == inn]["variant"]), key=T.variant_key)


def claim_c9_task(metrics: pd.DataFrame, task: str, record: dict) -> Claim:
    """C9 on one task, decided on ours's recipe. Ours's other variants on the task are shown after
    it under the same rule, marked as outside the verdict: a variant added after the data were seen
    (``ours/inverse_eps_0.01``, the recipe before the paper's eps was the rule) may inform the reader but never decides."""
    ours, inn = SPEC_C9.run.method, SPEC_C9.against.method
    metrics = metrics[metrics["task"] == task]
    ours_variant, inns = _c9_runs(metrics, task, record)
    body, v = _c9_task(metrics, task, ours_variant, inns)
    ev = f"{task}: {body}"
    runs = ([(ours, ours_variant)] if ours_variant else []) + [(inn, x) for x in inns]
    st = stability(lambda mm: _c9_task(mm, task, ours_variant, inns)[1], metrics, task, runs)
    others = sorted(set(metrics[metrics["method"] == ours]["variant"]) - {ours_variant}, key=T.variant_key)
    shown = [f"{text} (would be {vv})" for text, vv in (_c9_task(metrics, task, o, inns) for o in others)
             if vv != NOT_TESTED]
    if shown:
        ev += "; beside the recipe, not in the verdict: " + "; ".join(shown)
    return verdict(SPEC_C9, ev, v, st)


def claim_c9(metrics: pd.DataFrame, records: dict | None) -> Claim:
    """C9 over every practical task: the per-task evidence, overall the worse task."""
    tasks = practical_tasks(records)
    if not tasks:
        return verdict(SPEC_C9, "no practical inverse problem (arm, ballistics) run", NOT_TESTED)
    per = [claim_c9_task(metrics, t, records[t]) for t in tasks]
    tested = [c.verdict for c in per if c.verdict != NOT_TESTED]
    ev = " | ".join(f"{c.evidence} [{c.verdict}; stability {c.stability or 'n/a'}]" for c in per)
    return verdict(SPEC_C9, ev, worst(tested) if tested else NOT_TESTED)
