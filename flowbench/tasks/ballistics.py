"""Inverse ballistics with drag: Kruse, Ardizzone, Rother & Köthe (2021), "Benchmarking
Invertible Architectures on Inverse Problems", Sec. 3.2 (task ``ballistics``).

Physical parameters x = (x1, x2, x3, x4): launch position x1 ~ N(0, 0.5^2), launch height
x2 ~ N(1.5, 0.5^2) clipped at 0, angle x3 ~ U[0.1 pi/2, 0.9 pi/2], speed x4 ~ Poisson(15). With
g = 9.81, drag k = 0.25, mass m = 0.2, vx = x4 cos x3, vy = x4 sin x3 and E(t) = exp(-k t / m) - 1
the trajectory is

    X(t) = x1 - (vx m / k) E(t),   Y(t) = x2 - (m / k^2) ((g m + vy k) E(t) + g t k),

and the observation y (1-d) is X at the landing time t*: the root of Y after the peak. For
g m + vy k > 0 (every prior draw) Y is concave with Y(0) = x2 >= 0, so the root after the peak
t_peak = (m / k) log(1 + vy k / (g m)) is unique; it is found by safeguarded Newton iteration in
a bracket [t_peak, t_hi] (t_hi doubled until Y(t_hi) < 0; bisection whenever a Newton step leaves
the bracket), vectorised in numpy, to |Y(t*)| <= 1e-11 m (``landing_time``). The forward model
clips a sampled height at 0 as the prior does, so it is defined for any x a model may sample.

**Root against the authors' grid.** The authors read y off 1,500 times in [0, 6] s: the X of the
last grid time before Y changes sign after the peak (``landing_x_grid``). On 200,000 prior draws
(seed 0) that grid value is always short of the root: by 0.0029 m on average (rms 0.0045 m,
at most 0.031 m; no prior draw lands after 6 s), 0.09% of y's prior-predictive spread (3.12 m), but
about 10 times the acceptance radius of the 4,000-of-10^8 rejection reference (2.8e-4 m on average
over 10 observations, measured): a reference built on the grid rule would sit off the exact
posterior by more than its own tolerance, so the root is used.

**Integer speed: uniform dequantisation.** x4 is an integer. The task's fourth coordinate is the
dequantised speed s = x4 + u, u ~ U[0, 1) independent of everything, and the forward model uses
floor(s): y depends on the integer speed only, exactly as in the original problem. So the
training data, the ABC reference (whose prior pool draws s the same way) and the re-simulation of
a model's samples (floor of the sampled s) all treat x4 alike; the posterior of s is the discrete
posterior of x4 spread uniformly over [x4, x4 + 1), a density the flows can model.

**Units.** The methods see standardised coordinates: x_task = (x - MU_X) / SD_X with the prior's
nominal means and standard deviations (x1: 0, 0.5; x2: 1.5, 0.5; x3: pi/4, 0.4 pi / sqrt(12);
s: 15.5, sqrt(15 + 1/12)) and y_task = (y - 6.78) / 3.12 (the prior predictive's mean and
standard deviation, measured once on 10^6 draws); the speed would otherwise dominate every
distance and the INN's fixed-width MMD kernels. Posterior distances (W2, MMD, C2ST) are in these
standardised x units; the ABC distances, the acceptance radius, the re-simulation error and the
forward metric y_rmse are in metres.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from .base import register_task
from .inverse import SimulatorTask

G, K_DRAG, MASS = 9.81, 0.25, 0.2
ANGLE_LOW, ANGLE_HIGH = 0.1 * math.pi / 2, 0.9 * math.pi / 2
SPEED_MEAN = 15.0
MU_X = np.array([0.0, 1.5, math.pi / 4, SPEED_MEAN + 0.5])
SD_X = np.array([0.5, 0.5, (ANGLE_HIGH - ANGLE_LOW) / math.sqrt(12), math.sqrt(SPEED_MEAN + 1 / 12)])
MU_Y, SD_Y = 6.78, 3.12
GRID = np.linspace(0.0, 6.0, 1500)      # the authors' time grid


def _height(t, y0, vy):
    e = np.expm1(-K_DRAG * t / MASS)
    return y0 - (MASS / K_DRAG ** 2) * ((G * MASS + vy * K_DRAG) * e + G * t * K_DRAG)


def _height_rate(t, vy):
    return ((G * MASS + vy * K_DRAG) * np.exp(-K_DRAG * t / MASS) - G * MASS) / K_DRAG


def trajectory(x1, x2, angle, speed, t):
    """X(t), Y(t) (physical parameters, broadcast against t)."""
    vx, vy = speed * np.cos(angle), speed * np.sin(angle)
    e = np.expm1(-K_DRAG * t / MASS)
    return x1 - (vx * MASS / K_DRAG) * e, _height(t, x2, vy)


def peak_time(vy):
    return np.where(vy > 0, (MASS / K_DRAG) * np.log1p(np.maximum(vy, 0.0) * K_DRAG / (G * MASS)), 0.0)


def landing_time(x2, vy, tol: float = 1e-11, max_iter: int = 100):
    """The root of Y after the peak (module docstring): safeguarded Newton in a bracket."""
    y0 = np.maximum(np.asarray(x2, dtype=np.float64), 0.0)
    vy = np.asarray(vy, dtype=np.float64)
    lo = peak_time(vy)
    hi = lo + 1.0
    for _ in range(200):
        up = _height(hi, y0, vy) >= 0
        if not up.any():
            break
        hi = np.where(up, lo + 2.0 * (hi - lo), hi)
    t = hi.copy()
    idx = np.arange(len(t))
    for _ in range(max_iter):
        if not len(idx):
            break
        ti, y0i, vyi, loi, hii = t[idx], y0[idx], vy[idx], lo[idx], hi[idx]
        with np.errstate(divide="ignore", invalid="ignore"):
            tn = ti - _height(ti, y0i, vyi) / _height_rate(ti, vyi)
        tn = np.where((tn >= loi) & (tn <= hii), tn, 0.5 * (loi + hii))
        fn = _height(tn, y0i, vyi)
        below = fn < 0
        hi[idx] = np.where(below, tn, hii)
        lo[idx] = np.where(below, loi, tn)
        t[idx] = tn
        idx = idx[~((np.abs(tn - ti) <= 1e-12) | (np.abs(fn) <= tol))]
    return t


def landing_x(x_phys: np.ndarray) -> np.ndarray:
    """y = X(t*) for physical parameters [n, 4] with an integer (or already floored) speed."""
    x1, x2, angle, speed = (np.asarray(x_phys, dtype=np.float64)[:, j] for j in range(4))
    x2 = np.maximum(x2, 0.0)
    vx, vy = speed * np.cos(angle), speed * np.sin(angle)
    t = landing_time(x2, vy)
    return x1 - (vx * MASS / K_DRAG) * np.expm1(-K_DRAG * t / MASS)


def landing_x_grid(x_phys: np.ndarray) -> np.ndarray:
    """The authors' grid reading of y (for comparison only): X at the last of 1,500 grid times in
    [0, 6] s before Y changes sign after the peak; NaN when it does not within the grid."""
    x1, x2, angle, speed = (np.asarray(x_phys, dtype=np.float64)[:, j, None] for j in range(4))
    xt, yt = trajectory(x1, x2, angle, speed, GRID[None, :])
    rows = np.arange(len(xt))
    peak = np.argmax(yt, axis=1)
    after = np.where(xt < xt[rows, peak][:, None], 0.1, yt)
    flip = np.diff(np.signbit(after), axis=1)
    i = np.argmax(flip, axis=1)
    return np.where(flip.any(axis=1), xt[rows, i], np.nan)


def to_physical(x: np.ndarray) -> np.ndarray:
    """Task coordinates -> (x1, x2, angle, dequantised speed s)."""
    return np.asarray(x, dtype=np.float64) * SD_X + MU_X


def to_task(x_phys: np.ndarray) -> np.ndarray:
    return (np.asarray(x_phys, dtype=np.float64) - MU_X) / SD_X


@register_task
@dataclass
class BallisticsTask(SimulatorTask):
    kind = "ballistics"
    own_figures = ("trajectories", "calibration_curves")
    figure_points = 100   # the sampled trajectories drawn
    y_scale = SD_Y
    figure_captions: ClassVar[dict[str, str]] = {
        "trajectories": "Sampled trajectories at the first observation (the first seed of each run; "
                        "the reference first): each line a launch from (x1, x2) at angle x3 with the "
                        "integer speed floor(x4), drawn until it lands; the dots on the ground are "
                        "the landing points, the red line the observed landing position y*. Look for "
                        "the spread of launches of the reference and landing points on the red line "
                        "(the title gives the mean re-simulation error in metres).",
        "calibration_curves": SimulatorTask.calibration_caption,
    }


    description = ("Kruse et al. (2021, arXiv:2101.10763) inverse ballistics with drag: x = (launch "
                   "x, launch height, angle, speed ~ Poisson(15), dequantised), y = the landing "
                   "position; x and y standardised by fixed constants; n_obs observations from the "
                   "prior predictive; reference by rejection ABC")

    x_dim = 4
    y_dim = 1

    @classmethod
    def from_config(cls, cfg: dict) -> BallisticsTask:
        return cls(**cls._common_fields(cfg))

    def prior_physical(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """(x1, x2, angle, s) with s = Poisson(15) + U[0, 1) (module docstring)."""
        x1 = rng.normal(0.0, 0.5, n)
        x2 = np.maximum(rng.normal(1.5, 0.5, n), 0.0)
        angle = rng.uniform(ANGLE_LOW, ANGLE_HIGH, n)
        s = rng.poisson(SPEED_MEAN, n) + rng.random(n)
        return np.stack([x1, x2, angle, s], axis=1)

    def prior_sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return to_task(self.prior_physical(n, rng))

    def forward(self, x: np.ndarray) -> np.ndarray:
        p = to_physical(x)
        p[:, 3] = np.floor(p[:, 3])
        return ((landing_x(p) - MU_Y) / SD_Y)[:, None]

    def describe(self) -> str:
        return ("Kind `ballistics` (Kruse et al. 2021, inverse ballistics with drag): x = (launch x, "
                "launch height, angle, speed ~ Poisson(15)), y = the landing position (the root of "
                "the height after the peak, not the authors' 1,500-point grid); the speed is "
                "dequantised (s = x4 + u, the simulator uses floor(s)); x and y standardised by fixed "
                f"constants; {self.n_obs} observations from the prior predictive; reference: the "
                f"{self.keep} nearest of {self.pool:,} prior draws (rejection ABC); re-simulation "
                "error (metres) and calibration beside the distances; forward metric y_rmse (metres, "
                "floor 0).")

    # --- figures ----------------------------------------------------------------------------
    def make_figure(self, name: str, config: dict, task_name: str, task_dir: Path, out: Path) -> Path:
        if name != "trajectories":
            return super().make_figure(name, config, task_name, task_dir, out)
        import matplotlib.pyplot as plt
        from matplotlib.collections import LineCollection

        from ..plotting import not_run, save_figure
        ids, ys, _ = self._observations
        k = 0
        target = MU_Y + SD_Y * float(ys[k][0])
        panels = self._panel_runs(config, task_name, task_dir, k)
        cols = min(len(panels), 4)
        rows = -(-len(panels) // cols)
        fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.0 * rows), squeeze=False)
        for ax in axes.ravel()[len(panels):]:
            ax.axis("off")
        ref_lines = None
        for ax, (title, s, why) in zip(axes.ravel(), panels):
            if s is None:
                not_run(ax, f"{title}\n({why})")
                continue
            p = to_physical(np.asarray(s, dtype=np.float64)[:100])
            p[:, 3] = np.floor(p[:, 3])
            p[:, 1] = np.maximum(p[:, 1], 0.0)
            vy = p[:, 3] * np.sin(p[:, 2])
            t_land = landing_time(p[:, 1], vy)
            t = np.linspace(0.0, 1.0, 80)[None, :] * t_land[:, None]
            xt, yt = trajectory(p[:, :1], p[:, 1:2], p[:, 2:3], p[:, 3:4], t)
            lines = np.stack([xt, yt], axis=-1)
            ref_lines = lines if ref_lines is None else ref_lines
            err = np.abs(xt[:, -1] - target).mean()
            ax.axhline(0.0, color="0.5", lw=0.8)
            ax.axvline(target, color="red", lw=1.0, alpha=0.7)
            ax.add_collection(LineCollection(lines, colors="C0", linewidths=0.7, alpha=0.15))
            ax.scatter(p[:, 0], p[:, 1], s=3, color="0.2", alpha=0.4)
            ax.scatter(xt[:, -1], np.zeros(len(xt)), s=6, facecolor="white", edgecolor="C1", lw=0.7, zorder=4)
            ax.set_title(f"{title}\nre-simulation error {err:.3f} m", fontsize=8)
            ax.tick_params(labelsize=7)
        if ref_lines is not None:
            xmin = min(ref_lines[..., 0].min(), target) - 1.0
            xmax = max(ref_lines[..., 0].max(), target) + 1.0
            ymax = ref_lines[..., 1].max() + 0.5
            for ax in axes.ravel()[:len(panels)]:
                ax.set_xlim(xmin, xmax)
                ax.set_ylim(-0.3, ymax)
        fig.suptitle(f"{task_name}: 100 sampled trajectories at observation {ids[k]} "
                     f"(landing at {target:.2f} m)", fontsize=10)
        fig.tight_layout()
        return save_figure(fig, Path(out))
