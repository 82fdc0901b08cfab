"""The README's opening: title and summary, the claims table, the per-task mixture claims, the
diverged runs."""
from __future__ import annotations

import pandas as pd

from ... import tables as T
from ..claims import COMMON_RULE, TASK_CLAIMS, verdict_counts
from ..context import ReportContext
from ..markdown import markdown
from ..today import answer, standing, standing_sentence

_PRETTY = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}
# seeds per run below which the summary says the verdicts are not tests (the full config runs 5
# wherever a verdict tests a difference)
TEST_SEEDS = 5


def _diverged_runs(n: int) -> str:
    """'no run diverged' / '1 run diverged' / 'n runs diverged' (after a list of seeds, a bare
    '0 diverged' read as 'seed 0 diverged')."""
    return "no run diverged" if n == 0 else f"{n} run{'s' if n != 1 else ''} diverged"


def summary(ctx: ReportContext) -> list[str]:
    r = ctx.run_table
    tasks = ctx.tasks
    seeds = sorted(set(r["seed"].tolist()))
    beyond = [t for t in tasks if not (ctx.records.get(t) or {}).get("paper_claims")]
    ran_images = " and ".join(_PRETTY.get(x.dataset, x.dataset) for x in ctx.table1.itertuples(index=False)
                              if any(getattr(x, f"{m}_n_seeds") > 0 for m in T.IMAGE_METHODS))
    text = (
        "This report measures the claims of the paper's single-likelihood conditional flow (\"ours\") "
        "against the four-loss MMD INN of Ardizzone et al. (2018) and the conditional INN (2019) on the "
        "8-mode Gaussian mixture inverse problem" + (f" and on {ran_images}" if ran_images else "")
        + (", and beyond the paper on " + ", ".join(f"`{t}`" for t in beyond) if beyond else "")
        + f". It was rendered from `results/` alone, produced with {ctx.config_name} (config digest "
        f"`{ctx.digest}`): "
        f"{len(r)} runs over {len(tasks)} task{'s' if len(tasks) != 1 else ''} "
        f"({', '.join(tasks) if tasks else 'none'}), seeds {', '.join(map(str, seeds)) if seeds else 'none'}; "
        f"{_diverged_runs(int(r['diverged'].sum()) if len(r) else 0)}. "
        f"Verdicts on the {len(ctx.claims)} claims: {verdict_counts(ctx.claims)}. Every posterior distance is "
        "measured against samples of the exact posterior" + (
            " (on the practical inverse problems, against a rejection-ABC reference whose own quality "
            "the task's section gives)" if any((ctx.records.get(t) or {}).get("practical") for t in tasks)
            else "") + ".")
    if any("smoke" in str(f) for f in ctx.configfiles):
        text += (" This is a smoke run (tiny networks, a few iterations): it checks the plumbing, "
                 "and its verdicts say nothing about the paper.")
    elif len(r) and (most := int(r.groupby(["task", "method", "variant"]).size().max())) < TEST_SEEDS:
        text += (f" Every run here has at most {most} seed{'s' if most != 1 else ''}: a verdict that tests "
                 f"a difference between runs needs at least {TEST_SEEDS} (config/config.yaml runs them), so "
                 "read these verdicts as a description of these runs, not as tests.")
    return ["# Replication report: Xiao, Yan & Amit (2019), "
            "\"A Method to Model Conditional Distributions with Normalizing Flows\"", "", text, ""]


def worth_using(ctx: ReportContext) -> list[str]:
    """## Is the paper's flow worth using today? Ours against the best other method per task
    (``flowbench.report.today``), and the generated images' accuracy per data set."""
    standings = []
    for t in ctx.tasks:
        s = standing(t, ctx.summaries.get(t), ctx.metrics, (ctx.records.get(t) or {}).get("recipes"),
                     ctx.costs[t])
        if s is not None:
            standings.append(s)
    tuned = tuned_standings(ctx)
    if not standings and ctx.generation.empty:
        return []
    lines = ["## Is the paper's flow worth using today?", "",
             "Ours at its recipe against the best other method at its recipe on each task (the ranking "
             "tables of \"Results per task\"), by the ratio of geometric means of W2 over seeds with its 95% "
             "Welch interval on the log scale: *best* when the runner-up is worse beyond the interval, "
             "*behind* when the leader is better beyond it, *not separated* when the interval contains 1.", ""]
    lines += [f"- {standing_sentence(s)}" for s in standings]
    g = ctx.generation
    if len(g) and "generated_accuracy_mean" in g:
        for ds, gd in g.groupby("dataset", sort=False):
            cells = [f"{m} {T.fmt_pm(r.generated_accuracy_mean, r.generated_accuracy_ci95, '.3f')}"
                     for m, r in ((r.method, r) for r in gd.itertuples(index=False))
                     if r.generated_accuracy_n > 0]
            if cells:
                lines.append(f"- {_PRETTY.get(ds, ds)} latents, generated images classified by the independent "
                             f"CNN (accuracy, mean ± 95% CI over seeds): " + "; ".join(cells) + ".")
    lines += ["", answer(standings), ""]
    if tuned:
        lines += ["At the tuned recipes (the best recipe of each method's equal-budget Optuna study on the "
                  "task, run at its own seeds on the test conditions: \"How much tuning each method needs\"), "
                  "by the same rule, among the methods tuned there:", ""]
        lines += [f"- {standing_sentence(st)}{need}" for st, need in tuned]
        lines += ["", answer([st for st, _ in tuned]), ""]
    return lines


def tuned_standings(ctx: ReportContext) -> list:
    """[(standing at the tuned recipes, the tuning each needed)] of every task with runs of ours's
    tuned recipe (variant ``tuned_<task>``) beside another method's: the ranking of the methods'
    ``tuned_<task>`` runs alone."""
    out = []
    for t in ctx.tasks:
        summary = ctx.summaries.get(t)
        if summary is None or summary.empty:
            continue
        v = f"tuned_{t}"
        sub = summary[summary["variant"] == v]
        if T.OURS not in set(sub["method"]) or sub["method"].nunique() < 2:
            continue
        st = standing(t, sub, ctx.metrics, {m: v for m in sub["method"].unique()}, ctx.costs[t])
        if st is None:
            continue
        need = ""
        tsum = (ctx.tuning or {}).get("summary")
        if tsum is not None and len(tsum):
            k = tsum[tsum["task"] == t].set_index("method")["k_near_best"]
            other = st.other.split("/")[0]
            if T.OURS in k.index and other in k.index:
                need = (f" Tuning needed (random trials to near the study's best, k*): ours {_k(k[T.OURS])}, "
                        f"{other} {_k(k[other])}.")
        out.append((st, need))
    return out


def _k(k) -> str:
    return "n/a" if k is None or (isinstance(k, float) and k != k) else str(int(k))


def claims(ctx: ReportContext) -> list[str]:
    lines = ["## Claims", "",
             markdown([[c.id, c.claim, c.evidence, f"**{c.verdict}**", c.stability or "-", c.rule]
                         for c in ctx.claims],
                        ["#", "claim (paper)", "measured evidence", "verdict", "stable (leave one seed out)",
                         "rule for the verdict"]),
             "",
             f"{COMMON_RULE} r: ratio of geometric means of W2 over seeds, with the 95% Welch interval "
             "of the difference of mean log W2; p: one-sided Welch t-test on log W2 (H1: the first run's "
             "W2 is larger); Holm p: corrected by Holm's method over the variants a claim takes. The "
             "floor: W2 between two independent exact samples of the same size. Table: "
             "[tables/claims.csv](tables/claims.csv).",
             ""]
    return lines + claims_by_task(ctx.by_task, ctx.tasks, ctx.claim_task)


def claims_by_task(by_task: pd.DataFrame, tasks, claim_task: str) -> list[str]:
    """The mixture claims on every task they apply to; nothing when that is only ``claim_task``."""
    by_task = by_task[by_task["id"].isin(TASK_CLAIMS)]          # C9's rows are in the claims table
    tasks = [t for t in tasks if t in set(by_task["task"])]   # the tasks the mixture claims apply to
    others = [t for t in tasks if t != claim_task]
    if not others:
        return []
    verdicts = by_task.set_index(["id", "task"])["verdict"]   # every task has every claim
    rows = [[cid] + [f"**{verdicts[cid, t]}**" for t in tasks] for cid in TASK_CLAIMS]
    lines = ["### The Gaussian-mixture claims on every label map", "",
             f"The verdicts above use task `{claim_task}`, the paper's setting. The same rules for "
             f"{', '.join(TASK_CLAIMS)} on each task (the W2 of a task is measured against its own exact "
             "posterior, a mixture where several modes share a label); 'not tested' where a run a claim "
             "needs was not run on that task. Table: [tables/claims_by_task.csv](tables/claims_by_task.csv).",
             "",
             markdown(rows, ["#"] + [f"verdict on `{t}`" for t in tasks]),
             ""]
    for t in others:
        lines += [f"Evidence on `{t}`:", ""]
        lines += [f"- {c.id} ({c.verdict}): {c.evidence}"
                  for c in by_task[by_task["task"] == t].itertuples(index=False)]
        lines.append("")
    return lines


def diverged(ctx: ReportContext) -> list[str]:
    d, n_runs = ctx.diverged, len(ctx.run_table)
    lines = ["## Diverged runs", ""]
    if d.empty:
        lines.append(f"None of the {n_runs} runs diverged (non-finite loss).")
    else:
        lines += [f"{len(d)} of {n_runs} runs stopped on a non-finite loss. They are excluded from every "
                  "W2 mean and counted in the 'diverged' column below. Table: [tables/diverged.csv](tables/diverged.csv).",
                  "",
                  markdown([[x.task, f"{x.method}/{x.variant}", str(x.seed), T.fmt(x.diverged_step, ".0f"),
                               T.fmt(x.last_finite_loss, ".4g")] for x in d.itertuples(index=False)],
                             ["task", "run", "seed", "diverged at step", "last finite loss"])]
    blown = T.blown_up_runs(ctx.metrics)
    lines += ["", "### Blown-up runs", ""]
    if blown.empty:
        lines.append(f"No run that finished put {T.BLOWUP_FRACTION:.0%} or more of its draws on any condition far "
                     "outside the reference (beyond one reference range past its min or max; runs scored before "
                     "this was recorded have no `far_outside` row).")
    else:
        lines += [f"{len(blown)} runs finished but put {T.BLOWUP_FRACTION:.0%} or more of their draws on some "
                  "condition far outside the reference (beyond one reference range past its min or max): "
                  "unstable, whatever their mean W2 says; C5 counts their variants as sensitive.",
                  "",
                  markdown([[x.task, f"{x.method}/{x.variant}", str(x.seed), T.fmt(x.far_outside, ".3f")]
                            for x in blown.itertuples(index=False)],
                           ["task", "run", "seed", "largest share far outside"])]
    return lines + [""]
