"""The README's sections, in order: each a small function of the ``ReportContext`` returning its
Markdown lines (``readme`` joins them with ``\\n``)."""
from __future__ import annotations

from ..context import ReportContext
from . import claims, cost, images, produced, sbibm, tasks, tuning

SECTIONS = (
    claims.summary,            # title and one paragraph: what was measured, verdict counts
    claims.worth_using,        # ## Is the paper's flow worth using today? (ours against the best)
    claims.claims,             # ## Claims (and the mixture claims on every label map)
    claims.diverged,           # ## Diverged runs
    tasks.results,             # ## Results per task
    tasks.figures,             # ## Figures per task
    images.table1,             # ## Table 1 (the paper's Table 1, extended)
    images.generated,          # ## Generated images (Fig. 5.3, Fig. 5.4)
    images.epoch_curves,       # ## Accuracy against auto-encoder epochs (when run)
    cost.cost_of_training,     # ## Cost of training (the optional benchmark)
    tuning.section,            # ## How much tuning each method needs (the tuning studies, when run)
    sbibm.section,             # ## Against sbibm (C2ST against the budget, the published NPE), when run
    produced.recipes,          # ## Recipes and their sources
    produced.how_produced,     # ## How it was produced (provenance)
)


def readme(ctx: ReportContext) -> str:
    """The whole ``README.md``."""
    return "\n".join(line for section in SECTIONS for line in section(ctx))
