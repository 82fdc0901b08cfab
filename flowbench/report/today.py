"""Is the paper's flow worth using today? The measured answer of the report's summary.

Per task with at least two methods, ours (at its recipe) is compared with the best other method
(at its recipe, ranked by the geometric mean of W2 over seeds, ``tables.ranking_table``): the
ratio of geometric means of W2 with its 95% Welch interval on the log scale
(``stats.log_ratio_test``), so the rule is the one every claim uses, and the costs beside it.

The rule (``position``):

- ``best``: ours ranks first and the runner-up's W2 is larger than ours's beyond the interval
  (the interval of runner-up / ours lies above 1);
- ``tied``: the interval of the ratio between ours and the method next to it in the ranking
  contains 1 (ranked first or not, the data do not separate the two);
- ``behind``: another method ranks first and the interval of ours / best lies above 1.

Fewer than two finite seeds on either side give no interval and the position ``undecided``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import tables as T
from .stats import log_ratio_test


@dataclass
class TaskStanding:
    task: str
    n_methods: int
    rank: int                 # ours's rank by W2 geometric mean (1 = best)
    ours: str                 # "ours/<recipe>"
    other: str                # the method compared with: the leader, or the runner-up when ours leads
    ratio: float              # W2 geometric mean of the worse of the two over the better one (>= 1)
    ci: tuple[float, float]
    position: str             # best | tied | behind | undecided
    ours_spi: float           # seconds per training iteration
    other_spi: float
    ours_sample: float        # sampling seconds per 1,000 samples
    other_sample: float


def _seeds(metrics: pd.DataFrame, task: str, method: str, variant: str) -> np.ndarray:
    w = T.per_seed(metrics, task, method, variant, "w2").to_numpy(dtype=float)
    return w[np.isfinite(w) & (w > 0)]


def standing(task: str, summary: pd.DataFrame, metrics: pd.DataFrame, recipes: dict | None = None,
             costs: pd.DataFrame | None = None) -> TaskStanding | None:
    """Ours against the best other method on ``task`` (None without ours or a second method)."""
    if summary is None or summary.empty or T.OURS not in set(summary["method"]) or summary["method"].nunique() < 2:
        return None
    rank = T.ranking_table(summary, recipes)
    ours_row = rank[rank["method"] == T.OURS].iloc[0]
    others = rank[rank["method"] != T.OURS]
    r = int(ours_row["rank"])
    other_row = others.iloc[0]   # the leader, or the runner-up when ours leads
    a = _seeds(metrics, task, T.OURS, ours_row["variant"])
    b = _seeds(metrics, task, other_row["method"], other_row["variant"])
    worse, better = (a, b) if r > 1 else (b, a)
    test = log_ratio_test(worse, better)
    lo, hi = test["ci"]
    if not (math.isfinite(lo) and math.isfinite(hi)):
        position = "undecided"
    elif lo > 1.0:
        position = "behind" if r > 1 else "best"
    else:
        position = "tied"

    def cost(row, col):
        if costs is None or costs.empty:
            return float("nan")
        c = costs[(costs["method"] == row["method"]) & (costs["variant"] == row["variant"])]
        return float(c[col].iloc[0]) if len(c) else float("nan")

    return TaskStanding(task=task, n_methods=len(rank), rank=r, ours=f"{T.OURS}/{ours_row['variant']}",
                        other=f"{other_row['method']}/{other_row['variant']}", ratio=float(test["ratio"]),
                        ci=(float(lo), float(hi)), position=position,
                        ours_spi=float(ours_row["seconds_per_iteration"]),
                        other_spi=float(other_row["seconds_per_iteration"]),
                        ours_sample=cost(ours_row, "sample_seconds_per_1000"),
                        other_sample=cost(other_row, "sample_seconds_per_1000"))


def _x(v: float) -> str:
    return "n/a" if not math.isfinite(v) else (f"{v:.3g}" if v < 100 else f"{v:,.0f}")


def standing_sentence(s: TaskStanding) -> str:
    ci = f"95% CI {_x(s.ci[0])}-{_x(s.ci[1])}"
    if s.position == "best":
        head = f"ours ranks 1st of {s.n_methods}; the runner-up {s.other} has {_x(s.ratio)}x its W2 ({ci})"
    elif s.position == "behind":
        head = (f"ours ranks {s.rank} of {s.n_methods}, behind {s.other}, whose W2 is 1/{_x(s.ratio)} of "
                f"ours's ({ci})")
    elif s.position == "tied":
        head = (f"ours ranks {s.rank} of {s.n_methods}, not separated from {s.other} (W2 ratio {_x(s.ratio)}, "
                f"{ci} contains 1)")
    else:
        head = f"ours ranks {s.rank} of {s.n_methods}; too few finite seeds to compare it with {s.other}"
    cost = ""
    if math.isfinite(s.ours_spi) and math.isfinite(s.other_spi) and s.other_spi > 0:
        cost = f"; a training step of ours costs {_x(s.ours_spi / s.other_spi)}x one of {s.other}"
        if math.isfinite(s.ours_sample) and math.isfinite(s.other_sample) and s.other_sample > 0:
            cost += f", its sampling {_x(s.ours_sample / s.other_sample)}x"
    return f"`{s.task}`: {head}{cost}."


def answer(standings: list[TaskStanding]) -> str:
    """The one-paragraph verdict over tasks (counts of best / not separated / behind, the leaders)."""
    if not standings:
        return "No task ran ours beside another method, so there is no answer here."
    best = [s.task for s in standings if s.position == "best"]
    tied = [s.task for s in standings if s.position == "tied"]
    behind = [s for s in standings if s.position == "behind"]
    undecided = [s.task for s in standings if s.position == "undecided"]
    text = (f"Over {len(standings)} task{'s' if len(standings) != 1 else ''}, ours is the best method on {len(best)}"
            + (f" ({', '.join(best)})" if best else "")
            + f", not separated from the best on {len(tied)}" + (f" ({', '.join(tied)})" if tied else "")
            + f" and behind on {len(behind)}"
            + (" (" + ", ".join(f"{s.task}: {s.other}" for s in behind) + ")" if behind else "")
            + (f"; {len(undecided)} {'has' if len(undecided) == 1 else 'have'} too few seeds to decide ({', '.join(undecided)})" if undecided else "")
            + ".")
    decided = len(standings) - len(undecided)
    leaders = sorted({s.other.split("/")[0] for s in behind})
    if decided == 0:
        return text + " So the data give no answer."
    if not behind:
        return text + (" The paper's flow is worth using on these tasks: no method sampled the posterior "
                       "better beyond the seeds' spread.")
    if len(behind) == decided:
        return text + (f" On every decided task another method ({', '.join(leaders)}) samples the posterior "
                       "better; what the paper's flow keeps is an exact one-pass density and, where the "
                       "condition is a label, its forward predictor.")
    not_behind = ", ".join(best + tied)
    one = len(leaders) == 1
    return text + (f" Where ours is not behind ({not_behind}), no method sampled the posterior better beyond "
                   "the seeds' spread (a wide spread, as of an unstable recipe, separates little); where "
                   f"{', '.join(leaders)} {'leads' if one else 'lead'} "
                   f"({', '.join(s.task for s in behind)}), "
                   f"{'it is the better sampler' if one else 'they are the better samplers'}.")
