"""One source for the captions of the task figures: the report's Markdown and Snakemake's HTML
report (workflow/report/figure.rst renders the rule's ``caption`` parameter) both read them here.

The common figures' captions are below; a task kind's own figures carry theirs in the task class
(``figure_captions``), so a new task is still one file. Needs no torch.
"""
from __future__ import annotations

W2_THRESHOLD_TIME = 0.15    # time-to-quality threshold on the probe W2 (claim C6)

COMMON_CAPTIONS = {
    "w2_comparison": "W2 distance to the exact posterior at each evaluation condition, mean and 95% CI "
                     "over seeds (log scale; dotted line at 0.1). Lower is better: compare ours/paper "
                     "with inn/full and the ablations condition by condition.",
    "training_curves": "Training loss against iteration, one panel per method (mean over seeds). Ours "
                       "has one loss (the negative log-likelihood); the INN's weighted sum contains the "
                       "ramped backward MMD, so it can rise while the ramp grows. Compare shapes and "
                       "stability, not levels across methods.",
    "w2_vs_time": f"Mean W2 over the evaluation conditions from the periodic probe against training "
                  f"wall-clock seconds (probe time excluded), one line per seed; the dotted line is the "
                  f"{W2_THRESHOLD_TIME} threshold of the time-to-quality evidence in claim C6. Lines "
                  f"further left reach a given quality sooner.",
}


def figure_caption(name: str) -> str:
    """The caption of figure ``name``: a common figure's, else the task kind's that draws it."""
    if name in COMMON_CAPTIONS:
        return COMMON_CAPTIONS[name]
    from .tasks import TASK_KINDS
    for cls in TASK_KINDS.values():
        if name in getattr(cls, "figure_captions", {}):
            return cls.figure_captions[name]
    return ""
