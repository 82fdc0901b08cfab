"""## How much tuning each method needs: the equal-budget Optuna studies (``flowbench.tuning``),
the expected best validation W2 after k random trials (Dodge et al. 2019, arXiv:1909.03004) and
each study's best recipe."""
from __future__ import annotations

import json
import math

from ..context import ReportContext
from ..markdown import markdown

#: where the report puts the expected-best figure (a side file of the render rule)
TUNING_FIGURE = "figures/tuning/expected_best.png"


def _num(x, fmt="{:.3g}") -> str:
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else fmt.format(x)


def section(ctx: ReportContext) -> list[str]:
    if not ctx.tuning:
        return []
    from ...registry import method_label, method_order
    summary, recipes = ctx.tuning["summary"], ctx.tuning["recipes"]
    order = {m: i for i, m in enumerate(method_order(summary["method"].unique()))}
    rows = []
    for _, r in sorted(summary.iterrows(), key=lambda kv: (kv[1]["task"], order[kv[1]["method"]])):
        k = r["k_near_best"]
        k_text = "-" if k is None or (isinstance(k, float) and math.isnan(k)) else (
            f"> {int(r['random'])}" if int(k) > int(r["random"]) else str(int(k)))
        rows.append([r["task"], method_label(r["method"]), f"{int(r['trials'])}",
                     f"{int(r['unstable_random'])}/{int(r['random'])}", _num(r["recipe_value"]),
                     _num(r["best_value"]), r["best_phase"], k_text, _num(r["recipe_regret"], "{:.2f}")])
    planned = {s["planned_trials"] for s in recipes["studies"]}
    done = sum(s["trials"] for s in recipes["studies"])
    lines = ["## How much tuning each method needs", "",
             "One Optuna study per task and method (`flowbench.tuning`), the same budget for each: the "
             "method's recipe (trial 0), then random draws from the search space its file declares (README "
             "\"Tuning\"), then TPE with median pruning. Every trial trains on the task's own schedule and is "
             "scored by the validation W2 (validation conditions and draws the test never uses); a trial that "
             "diverges or is no better than ignoring the condition counts as unstable at that useless level. "
             f"{done} trials over {len(recipes['studies'])} studies "
             f"({', '.join(str(p) for p in sorted(planned))} planned per study).", ""]
    if ctx.tuning.get("figure") is not None:
        lines += [f"![expected best validation W2 after k random trials]({TUNING_FIGURE})", "",
                  "Expected best validation W2 after k random trials (Dodge et al. 2019; band: +-1 sd), the "
                  "recipe at k = 0 (dot), the study's best (bar at the right), the validation floor (dashed).", ""]
    lines += [markdown(rows, ["task", "method", "trials", "unstable random", "recipe W2", "best W2",
                              "best from", "k* (random trials to near best)", "recipe / best"]), "",
              "k*: the least k whose expected best is within the validation floor of the study's best (C10's "
              "statistic). The best recipe of each study (the draws it changed from the method's recipe):", ""]
    best_rows = []
    for s in sorted(recipes["studies"], key=lambda s: (s["task"], order.get(s["method"], 99))):
        b = s.get("best")
        best_rows.append([s["task"], method_label(s["method"]), s["recipe_variant"],
                          "-" if b is None else f"{b['trial']} ({b['phase']})",
                          "-" if b is None else _num(b["value"]),
                          "-" if b is None else "`" + json.dumps(b["draw"], sort_keys=True) + "`",
                          s["study_digest"]])
    lines += [markdown(best_rows, ["task", "method", "from recipe", "best trial", "validation W2", "draw",
                                   "study digest"]), ""]
    return lines
