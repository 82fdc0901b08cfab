"""Markdown tables (tabulate): the only Markdown rendering of the project lives in this package."""
from __future__ import annotations

import pandas as pd
from tabulate import tabulate

from ..tables import fmt, fmt_pm


def markdown(rows, headers, align=None) -> str:
    """A GitHub-Markdown table of pre-formatted strings (no number re-parsing)."""
    rows = [[("" if c is None else str(c)).replace("|", "\\|").replace("\n", " ") for c in r] for r in rows]
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True,
                    colalign=align)


def summary_markdown(table: pd.DataFrame) -> str:
    """The summary table in Markdown; its forward-metric columns are those between ``c2st_mean``
    and ``seconds_per_iteration``."""
    cols = list(table.columns)
    forward = cols[cols.index("c2st_mean") + 1:cols.index("seconds_per_iteration")]
    rows = [[f"{r['method']}/{r['variant']}", str(r["seeds"]), str(r["diverged"]),
             fmt_pm(r["w2_mean"], r["w2_ci95"]), fmt(r.get("w2_gm")), fmt(r.get("w2_over_floor"), ".2f"),
             fmt(r["c2st_mean"]), *[fmt(r[f], ".4f") for f in forward],
             fmt(r["seconds_per_iteration"], ".4f")]
            for _, r in table.iterrows()]
    return markdown(rows, ["run (method/variant)", "seeds", "diverged", "W2 mean ± 95% CI",
                           "W2 geometric mean", "W2 / floor", "C2ST", *forward, "s / iteration"])
