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


def study_lines(summary, recipes, figure: str | None) -> list[str]:
    """The studies' description, the expected-best figure (``figure``: its path relative to the
    markdown, or None), the per-study table and the best recipes: the body shared by the report's
    section and the published folder's README (``published_readme``)."""
    from ...registry import method_label, method_order
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
    lines = ["One Optuna study per task and method (`flowbench.tuning`), the same budget for each: the "
             "method's recipe (trial 0), then random draws from the search space its file declares (README "
             "\"Tuning\"), then TPE with median pruning. Every trial trains on the task's own schedule and is "
             "scored by the validation W2 (validation conditions and draws the test never uses); a trial that "
             "diverges or is no better than ignoring the condition counts as unstable at that useless level. "
             f"{done} trials over {len(recipes['studies'])} studies "
             f"({', '.join(str(p) for p in sorted(planned))} planned per study).", ""]
    if figure is not None:
        lines += [f"![expected best validation W2 after k random trials]({figure})", "",
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


def section(ctx: ReportContext) -> list[str]:
    if not ctx.tuning:
        return []
    return ["## How much tuning each method needs", "",
            *study_lines(ctx.tuning["summary"], ctx.tuning["recipes"],
                         TUNING_FIGURE if ctx.tuning.get("figure") is not None else None)]


def cost_rows(trials) -> list[list[str]]:
    """Per task and method, the trials' own training time (the ``seconds`` each trial recorded: wall
    seconds of a one-thread job), in CPU-minutes, with the task totals and the grand total."""
    import pandas as pd
    from ...registry import method_label, method_order
    t = trials.assign(seconds=pd.to_numeric(trials["seconds"], errors="coerce").fillna(0.0))
    g = t.groupby(["task", "method"])["seconds"].sum()
    tasks = sorted(t["task"].unique())
    methods = method_order(t["method"].unique())
    rows = []
    for m in methods:
        cells = [f"{g[(task, m)] / 60:.0f}" if (task, m) in g.index else "-" for task in tasks]
        rows.append([method_label(m), *cells, f"{g.xs(m, level='method').sum() / 60:.0f}"])
    rows.append(["all", *[f"{g.xs(task, level='task').sum() / 60:.0f}" for task in tasks],
                 f"{g.sum() / 60:.0f} ({g.sum() / 3600:.1f} h)"])
    return rows


def published_readme(trials, recipes, floors, figure: str | None = "expected_best.png") -> str:
    """The README of a published tuning folder (``flowbench.tuning.publish``): C10 with its verdict
    and rule, what the trials cost, and the studies' tables, all computed from ``trials`` and
    ``recipes`` (no number typed in), so the committed studies say what they found before any full
    run reads them."""
    from ..claims.tuning import claim_c10, study_summary
    summary = study_summary(trials, floors)
    c = claim_c10(trials, floors)
    tasks = sorted(trials["task"].unique())
    lines = ["# The tuning studies", "",
             "Written by the workflow's `tuning_publish` rule from the Optuna journals under `studies/` "
             "(`snakemake --cores 2 --configfile config/config.yaml config/tuning.yaml --until tuning_all`); "
             "`trials.csv` and `tuned_recipes.json` beside it carry their integrity records, and the full "
             "config runs each study's best recipe as variant `tuned_<task>` at 5 seeds.", "",
             f"## {c.id}: {c.claim}", "", f"**Verdict: {c.verdict}.** {c.evidence}.", "", f"Rule: {c.rule}.", "",
             "k* measures how soon random search comes near a method's *own* best; read it beside the best "
             "values, which the table below gives per study.", "",
             "## What the trials cost", "",
             "Minutes of training per study: the sum of the trials' own timings (wall seconds of a "
             "one-thread job, on this project's 2-core machines, often beside another job; validation and "
             "start-up outside the trial are not counted).", "",
             markdown(cost_rows(trials), ["method", *tasks, "all"]), "",
             "## The studies", "", *study_lines(summary, recipes, figure)]
    return "\n".join(lines).rstrip() + "\n"
