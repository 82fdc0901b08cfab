"""Inverse kinematics of a planar arm on a vertical rail: Kruse, Ardizzone, Rother & Köthe (2021),
"Benchmarking Invertible Architectures on Inverse Problems", Sec. 3.1 (task ``arm``).

x = (x1, x2, x3, x4) in R^4 with prior N(0, diag(0.25^2, 0.5^2, 0.5^2, 0.5^2)): x1 is the height
of the arm's base on a vertical rail at horizontal position 0; the three segments have lengths
l = (0.5, 0.5, 1.0) and absolute angles phi1 = x2, phi2 = x2 + x3, phi3 = x2 + x3 + x4. The
observation is the end effector

    y = (sum_i l_i cos phi_i, x1 + sum_i l_i sin phi_i)   (all angles 0: y = (2.0, x1)).

y is a deterministic function of x, so p(x | y*) lives on a 2-d manifold of R^4; its reference is
rejection ABC (``flowbench.tasks.inverse``), which thickens the manifold by the acceptance radius
(reported in task.json). The observations are ``n_obs`` draws of the prior predictive with a fixed
seed (ids "0".."K-1") and, with ``ystar`` (default), the authors' example y* = (1.5, 0) (id
"ystar"). Units are the arm's own (the segment lengths); x and y enter the methods unscaled.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from .base import register_task
from ..params import Param, resolved
from .inverse import SimulatorTask
from .simulator_params import simulation_params

PRIOR_STD = np.array([0.25, 0.5, 0.5, 0.5])
LENGTHS = np.array([0.5, 0.5, 1.0])
YSTAR = np.array([1.5, 0.0])


def joints(x: np.ndarray) -> np.ndarray:
    """Positions of the base and the three segment ends: [n, 4, 2] (the last is y)."""
    x = np.asarray(x, dtype=np.float64)
    phi = np.cumsum(x[:, 1:4], axis=1)                                 # [n, 3] absolute angles
    steps = LENGTHS[None, :, None] * np.stack([np.cos(phi), np.sin(phi)], axis=-1)   # [n, 3, 2]
    base = np.stack([np.zeros(len(x)), x[:, 0]], axis=-1)[:, None, :]  # [n, 1, 2]
    pts = base + np.concatenate([np.zeros((len(x), 1, 2)), np.cumsum(steps, axis=1)], axis=1)
    return pts


def end_effector(x: np.ndarray) -> np.ndarray:
    """y = f(x) [n, 2] (module docstring)."""
    x = np.asarray(x, dtype=np.float64)
    phi = np.cumsum(x[:, 1:4], axis=1)
    return np.stack([np.cos(phi) @ LENGTHS, x[:, 0] + np.sin(phi) @ LENGTHS], axis=1)


@register_task
@dataclass
class ArmTask(SimulatorTask):
    kind = "arm"
    own_figures = ("arm_configurations", "calibration_curves")
    figure_points = 150   # the sampled arm configurations drawn
    figure_captions: ClassVar[dict[str, str]] = {
        "arm_configurations": "Sampled arm configurations at y* = (1.5, 0) (the first seed of each "
                              "run; the reference first), drawn over each other: the grey vertical "
                              "line is the rail, each arm a polyline from its base on the rail "
                              "through its two joints to the end effector (dots), the red cross the "
                              "target y*. Look for the same spread of configurations as the "
                              "reference and end effectors that meet the target (the panel title "
                              "gives the mean re-simulation error).",
        "calibration_curves": SimulatorTask.calibration_caption,
    }

    description = ("Kruse et al. (2021, arXiv:2101.10763) inverse kinematics: x = (rail height, "
                   "three joint angles) ~ N(0, diag(0.25^2, 0.5^2, 0.5^2, 0.5^2)), y = the end "
                   "effector of segments (0.5, 0.5, 1.0); n_obs observations from the prior "
                   "predictive (and y* = (1.5, 0) with ystar); reference by rejection ABC")
    PARAMS = simulation_params(ystar=Param(
        "boolean", "also score at the authors' y* = (1.5, 0) (condition id ystar)", default=True))
    ystar: bool = PARAMS["ystar"].default

    x_dim = 4
    y_dim = 2

    @classmethod
    def from_config(cls, cfg: dict) -> ArmTask:
        return cls(ystar=bool(resolved(cls.PARAMS, cfg)["ystar"]), **cls._common_fields(cfg))

    def prior_sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.standard_normal((n, 4)) * PRIOR_STD

    def forward(self, x: np.ndarray) -> np.ndarray:
        return end_effector(x)

    def extra_conditions(self):
        return [("ystar", YSTAR)] if self.ystar else []

    def describe(self) -> str:
        return ("Kind `arm` (Kruse et al. 2021, inverse kinematics): x = (rail height, three joint "
                "angles) ~ N(0, diag(0.25², 0.5², 0.5², 0.5²)), segments (0.5, 0.5, 1.0), y = the end "
                f"effector (deterministic); {self.n_obs} observations from the prior predictive"
                + (" and y* = (1.5, 0)" if self.ystar else "")
                + f"; reference: the {self.keep} nearest of {self.pool:,} prior draws (rejection "
                "ABC); re-simulation error and calibration beside the distances; forward metric "
                "y_rmse (floor 0).")

    # --- figures ----------------------------------------------------------------------------
    def make_figure(self, name: str, config: dict, task_name: str, task_dir: Path, out: Path) -> Path:
        if name != "arm_configurations":
            return super().make_figure(name, config, task_name, task_dir, out)
        import matplotlib.pyplot as plt
        from matplotlib.collections import LineCollection

        from ..plotting import not_run, save_figure
        ids, ys, _ = self._observations
        k = ids.index("ystar") if "ystar" in ids else 0
        panels = self._panel_runs(config, task_name, task_dir, k)
        cols = min(len(panels), 4)
        rows = -(-len(panels) // cols)
        fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 3.3 * rows), squeeze=False)
        for ax in axes.ravel()[len(panels):]:
            ax.axis("off")
        for ax, (title, s, why) in zip(axes.ravel(), panels):
            if s is None:
                not_run(ax, f"{title}\n({why})")
                continue
            s = np.asarray(s, dtype=np.float64)[:150]
            pts = joints(s)
            err = self.distance(pts[:, -1], ys[k]).mean()
            ax.axvline(0.0, color="0.6", lw=2.5, zorder=0)
            ax.add_collection(LineCollection(pts, colors="C0", linewidths=0.8, alpha=0.12))
            ax.scatter(pts[:, 1:3, 0].ravel(), pts[:, 1:3, 1].ravel(), s=1.5, color="C0", alpha=0.25)
            ax.scatter(pts[:, 0, 0], pts[:, 0, 1], s=4, color="0.2", alpha=0.4)
            ax.scatter(pts[:, -1, 0], pts[:, -1, 1], s=3, color="C1", alpha=0.5)
            ax.scatter([ys[k][0]], [ys[k][1]], marker="x", s=70, color="red", linewidths=2, zorder=5)
            ax.set_xlim(-0.6, 2.3)
            ax.set_ylim(-1.45, 1.45)
            ax.set_aspect("equal")
            ax.tick_params(labelsize=7)
            ax.set_title(f"{title}\nre-simulation error {err:.3f}", fontsize=8)
        fig.suptitle(f"{task_name}: 150 sampled arm configurations at observation {ids[k]} "
                     f"(y = ({ys[k][0]:.2f}, {ys[k][1]:.2f}))", fontsize=10)
        fig.tight_layout()
        return save_figure(fig, Path(out))
