"""## Against sbibm: the tasks of sbibm (Lueckmann et al. 2021, arXiv:2101.04653) at their
simulation budgets, C2ST against the budget for every method, and sbi's NPE run by this suite
against sbibm's published NPE (``flowbench.sbibm_published``: a harness that cannot reproduce a
published number is not trusted with the others)."""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ...sbibm_published import (C2ST_METRIC, C2ST_TOLERANCE, PUBLISHED_C2ST, PUBLISHED_VARIANTS, Z_MAX,
                                c2st_by_budget, c2st_by_seed, published_comparison, sbibm_tasks)
from ..context import ReportContext
from ..markdown import markdown

#: where the report puts the figure (a side file of the render rule, drawn by `sbibm_figure`)
SBIBM_FIGURE = "figures/sbibm/c2st_vs_budget.png"
SBIBM_TABLES = ("tables/sbibm_c2st.csv", "tables/sbibm_published_npe.csv")


def build(metrics: pd.DataFrame, records: dict, results_dir: Path) -> dict | None:
    """The section's numbers from the tasks' metrics and records; None without sbibm tasks."""
    if not sbibm_tasks(records):
        return None
    by_seed = c2st_by_seed(metrics, records)
    fig = Path(results_dir) / "sbibm" / "c2st_vs_budget.png"
    return {"by_seed": by_seed, "by_budget": c2st_by_budget(by_seed),
            "published": published_comparison(metrics, records), "figure": fig if fig.exists() else None}


def _f(x, fmt="{:.3f}") -> str:
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else fmt.format(x)


def section(ctx: ReportContext) -> list[str]:
    s = ctx.sbibm
    if not s:
        return []
    from ...registry import method_label
    lines = ["## Against sbibm", "",
             "The tasks of sbibm (Lueckmann et al. 2021) with their shipped reference posteriors (10 observations, "
             "10,000 draws each), each method trained on a fixed set of simulations (the budget) and scored by "
             "sbibm's C2ST (its classifier, z-scoring and 5 folds, in the suite's implementation; 0.5: the model's "
             "draws cannot be told from the reference's). The sections per task below give W2 and the floors "
             "beside it.", ""]
    if s.get("figure") is not None:
        lines += [f"![C2ST against the simulation budget]({SBIBM_FIGURE})", "",
                  "C2ST against the simulation budget per sbibm task: per method the mean over seeds of each run's "
                  "mean over the observations (bars: the seeds' range), sbibm's published NPE dashed, and circles: the "
                  "suite's NPE (sbibm's recipe) scored at sbibm's own 10,000 draws, the points to read against the "
                  "dashed line.", ""]
    bb = s["by_budget"]
    if len(bb):
        rows = [[r.sbibm_task, f"{int(r.budget):,}", method_label(r.method), r.variant, str(int(r.seeds)),
                 _f(r.c2st_mean), _f(r.c2st_sd)] for r in bb.itertuples(index=False)]
        lines += [markdown(rows, ["sbibm task", "simulations", "method", "variant", "seeds", "C2ST", "sd over seeds"]),
                  ""]
    pub = s["published"]
    lines += ["### The suite's NPE against sbibm's published NPE", "",
              f"sbi's NPE in this suite (variant `{PUBLISHED_VARIANTS[0]}`: sbibm's recipe, a neural spline flow with "
              "50 hidden units and batches of 10,000; else sbi's defaults) against sbibm's published runs "
              "(`sbi-benchmark/results`, `main_paper.csv`; flowbench/data/README.md), paired by observation: "
              f"reproduced where the mean difference is within {Z_MAX:g} standard errors (the spread over the "
              f"observations) or within {C2ST_TOLERANCE} C2ST. sbibm scores 10,000 draws per side; a classifier "
              "trained on fewer draws separates less, so the same model reads lower at the suite's "
              f"{_n_eval(ctx)}: the compared runs (the seeds the task's `published` key names) also draw 10,000 "
              f"and are compared at that size (`{PUBLISHED_C2ST}`); a row at `{C2ST_METRIC}` is at n_eval.", ""]
    if pub.empty:
        lines += ["No NPE run on an sbibm task with a published number.", ""]
    else:
        rows = [[r.sbibm_task, f"{int(r.budget):,}", r.variant, f"`{r.metric}`", str(int(r.seeds)), str(int(r.n)),
                 _f(r.ours), _f(r.published), _f(r.diff, "{:+.3f}"), _f(r.z, "{:+.1f}"), r.verdict]
                for r in pub.itertuples(index=False)]
        lines += [markdown(rows, ["sbibm task", "simulations", "variant", "scored as", "seeds", "observations",
                                  "C2ST (here)", "C2ST (published)", "difference", "z", "verdict"]), ""]
    return lines


def _n_eval(ctx: ReportContext) -> str:
    n = sorted({int(r["sbibm"]["n_eval"]) for r in ctx.records.values() if isinstance(r, dict) and r.get("sbibm")})
    return "/".join(f"{x:,}" for x in n) or "-"
