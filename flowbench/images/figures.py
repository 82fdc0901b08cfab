"""The image stage's figures: Fig. 5.3 (samples conditioned on the label, one row per class) and
Fig. 5.4 (one fixed z per row, the ten labels across) of the paper (Sec. 5.2), for ours, the cINN
and each generative baseline the run trained, drawn from the grids in ``samples.npz``. No torch;
matplotlib is imported when drawing.

The figure names come from :data:`flowbench.images.names.IMAGE_FIGURES`, the list the rules and the
report use too.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .names import CLASS_NAMES, FIGURE_SOURCES, FIXED_NOISE, IMAGE_FIGURES, N_CLASSES

__all__ = ["FIGURES", "IMAGE_FIGURES", "fig5_3", "fig5_4", "image_figures"]


def _mosaic(grid: np.ndarray, gap: int = 2) -> np.ndarray:
    """``[R, C, 28, 28]`` -> one ``[R*(28+gap)-gap, C*(28+gap)-gap]`` image (gaps white)."""
    r, c, h, w = grid.shape
    out = np.full((r * (h + gap) - gap, c * (w + gap) - gap), 255 if grid.dtype == np.uint8 else 1.0,
                  dtype=grid.dtype)
    for i in range(r):
        for j in range(c):
            out[i * (h + gap):i * (h + gap) + h, j * (w + gap):j * (w + gap) + w] = grid[i, j]
    return out


def _image_figure(grid: np.ndarray, out: Path, title: str, row_labels=None, col_labels=None) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = np.asarray(grid)
    r, c = grid.shape[:2]
    h = 30 * r  # pixels per row incl. gap
    w = 30 * c
    fig, ax = plt.subplots(figsize=(max(w / 55, 4), h / 55 + 0.6))
    ax.imshow(_mosaic(grid), cmap="gray", vmin=0,
              vmax=255 if grid.dtype == np.uint8 else 1.0, interpolation="nearest")
    ax.set_xticks([] if col_labels is None else [j * 30 + 14 for j in range(c)])
    ax.set_yticks([] if row_labels is None else [i * 30 + 14 for i in range(r)])
    if col_labels is not None:
        ax.set_xticklabels(col_labels, fontsize=7, rotation=45 if max(map(len, col_labels)) > 2 else 0)
        ax.xaxis.tick_top()
    if row_labels is not None:
        ax.set_yticklabels(row_labels, fontsize=7)
    for s in ax.spines.values():
        s.set_visible(False)
    ax.set_title(title, fontsize=9, pad=(22 if col_labels is not None else 6))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return out


def fig5_3(grid: np.ndarray, out, dataset: str = "mnist", method: str = "ours") -> Path:
    """Fig. 5.3: ``grid [10, n, 28, 28]``, one row per class."""
    names = CLASS_NAMES.get(dataset, [str(k) for k in range(N_CLASSES)])
    return _image_figure(grid, out, f"{dataset}: {method}, samples conditioned on the label "
                         f"(one row per class)", row_labels=names[: len(grid)])


def fig5_4(grid: np.ndarray, out, dataset: str = "mnist", method: str = "ours") -> Path:
    """Fig. 5.4: ``grid [R, 10, 28, 28]``, one row per fixed z (the method's ``generate`` noise:
    ``FIXED_NOISE``), the ten labels across."""
    names = CLASS_NAMES.get(dataset, [str(k) for k in range(N_CLASSES)])
    fixed = FIXED_NOISE.get(method, "z")
    return _image_figure(grid, out, f"{dataset}: {method}, fixed {fixed} per row, label varied across",
                         col_labels=names[: grid.shape[1]])


_PANELS = {"fig5_3": fig5_3, "fig5_4": fig5_4}
#: figure name -> (flow, drawing function), in the order of ``IMAGE_FIGURES``
FIGURES = {name: (method, _PANELS[panel]) for name, (method, panel) in FIGURE_SOURCES.items()}


def image_figures(samples_npz, dataset: str, outdir) -> list[Path]:
    """The figures of one data set from one ``samples.npz`` (grids ``<flow>_<panel>``): those of
    every flow whose grids it holds (the flows the run trained), in ``IMAGE_FIGURES`` order."""
    from ..records import read_npz
    d = read_npz(samples_npz)
    made = []
    for name in IMAGE_FIGURES:
        method, panel = FIGURE_SOURCES[name]
        if f"{method}_{panel}" not in d:
            continue
        made.append(_PANELS[panel](d[f"{method}_{panel}"], Path(outdir) / f"{name}.png", dataset, method))
    return made
