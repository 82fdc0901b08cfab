"""The calibration of a task with known true x (``Task.calibration_set``): the figure of the
expected coverage of central credible intervals, shared by every task kind with a calibration
set (the simulator tasks of Kruse et al. 2021 and sbibm's)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..figure_data import read_figure_data


class CalibratedTask:
    """Mixin of a task with ``calibration_n_obs`` / ``calibration_n_samples`` and a
    ``calibration_curves`` own figure (list it in ``own_figures``)."""

    #: the common own figure of these tasks (a subclass lists it in ``own_figures``)
    calibration_caption = (
        "Calibration: expected coverage of each method's central credible intervals against their "
        "level, one panel per coordinate of x (and their mean), mean over seeds; each curve comes "
        "from the calibration observations with known true x (no reference needed). The dashed "
        "diagonal is perfect calibration, the grey band its 95% binomial spread for this many "
        "observations. Above the diagonal: intervals too wide (under-confident); below: too "
        "narrow (over-confident).")

    def _runs(self, config: dict, task_name: str) -> dict:
        from ..recipes import iter_runs
        runs: dict = {}
        for (_, m, v, s) in iter_runs(config, task_name):
            runs.setdefault((m, v), []).append(s)
        return runs

    def make_figure(self, name: str, config: dict, task_name: str, task_dir: Path, out: Path) -> Path:
        """The calibration curves; the rest as ``Task.make_figure`` (a subclass draws its own
        picture first and defers here)."""
        if name == "calibration_curves":
            return self.calibration_figure(config, task_name, task_dir, out)
        return super().make_figure(name, config, task_name, task_dir, out)

    def calibration_figure(self, config: dict, task_name: str, task_dir: Path, out: Path) -> Path:
        import matplotlib.pyplot as plt

        from .. import metrics as M
        from ..plotting import not_run, save_figure
        runs = self._runs(config, task_name)
        lev = np.asarray(M.COVERAGE_LEVELS)
        curves = {}
        for (m, v), seeds in sorted(runs.items()):
            covs = []
            for s in seeds:   # each run's coverage curve, from its figure data (flowbench.figure_data)
                d = read_figure_data(Path(task_dir) / m / v / f"seed{s}")
                if d is not None and "coverage" in d:
                    covs.append(d["coverage"])
            if covs:
                curves[f"{m}/{v}"] = np.mean(covs, axis=0)        # [L, d]
        names = [f"x{j + 1}" for j in range(self.x_dim)] + ["mean over x"]
        fig, axes = plt.subplots(1, len(names), figsize=(2.9 * len(names), 3.2), squeeze=False)
        band = 1.96 * np.sqrt(lev * (1 - lev) / max(self.calibration_n_obs, 1))
        for j, ax in enumerate(axes[0]):
            ax.fill_between(lev, lev - band, lev + band, color="0.85", lw=0)
            ax.plot([0, 1], [0, 1], ls="--", color="0.4", lw=1)
            for i, (name, c) in enumerate(curves.items()):
                y = c[:, j] if j < self.x_dim else c.mean(axis=1)
                ax.plot(lev, y, marker="o", ms=2.5, lw=1.2, color=f"C{i % 10}", label=name)
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
            ax.set_aspect("equal")
            ax.set_title(names[j], fontsize=9)
            ax.set_xlabel("credible level", fontsize=8)
            if j == 0:
                ax.set_ylabel("coverage", fontsize=8)
            ax.tick_params(labelsize=7)
        if not curves:
            not_run(axes[0][0], "no calibration samples")
        else:
            axes[0][-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.03, 1))
        fig.suptitle(f"{task_name}: calibration of the central credible intervals "
                     f"({self.calibration_n_obs} observations, mean over seeds)", fontsize=10)
        return save_figure(fig, Path(out))
