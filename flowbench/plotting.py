"""The figure helpers every figure module shares: the non-interactive backend, the palette, a
reproducible PNG writer and the "not run" panel.

A leaf module: it imports matplotlib, seaborn and pandas, nothing of the project, so that the
tasks' own figures (``flowbench.tasks``) and the generic ones (``flowbench.plots``) can both use it.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

PALETTE = "tab10"
DPI = 110

__all__ = ["DPI", "PALETTE", "not_run", "plt", "read_task_metrics", "save_figure"]


def save_figure(fig, path: Path) -> Path:
    """Write ``fig`` as a PNG at ``path`` (folders made) and close it; no timestamp in the PNG
    metadata, so the same results give the same bytes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return path


def not_run(ax, text: str) -> None:
    """A blank panel that says why it is blank (a run absent from the config, a diverged run)."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=9, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def read_task_metrics(task_dir: Path) -> pd.DataFrame:
    """A task's ``metrics.csv`` (conditions as text, "nan" values as NaN)."""
    from .records import read_csv
    return read_csv(Path(task_dir) / "metrics.csv", dtype={"condition": str}, keep_default_na=False,
                    na_values={"value": ["", "nan", "NaN"]})
