"""The 8-mode Gaussian mixture inverse problem (Ardizzone et al. 2018; Xiao et al. 2019 Sec. 5.1).

x in R^2 is drawn from an equal-weight mixture of isotropic Gaussians (std ``std``) on the vertices
of a regular polygon; y is the one-hot label of its mode under a *label map* that may merge modes
(``all``: one label per mode; ``some``: [0,0,0,0,1,1,2,3], so p(x | y=0) is a 4-mode mixture).
The exact posterior p(x | y=k) is the equal-weight mixture of the modes that carry label k.

All geometry comes from the config; nothing here is specific to 8 modes. Conditions are class
labels (one-hot y); the evaluation conditions are the L labels, condition ids "0".."L-1".
torch is imported where tensors are made, so that checking a config needs none.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..params import Param, resolved
from .base import REFERENCE_SEED, TASK_PARAMS, VALIDATION_SEED, Task, register_task

LABEL_MAPS = {
    "all": None,  # identity
    "some": [0, 0, 0, 0, 1, 1, 2, 3],
    "none": "zeros",
}


def polygon_centres(n: int, radius: float, phase_deg: float = 22.5) -> np.ndarray:
    """Vertices of a regular n-gon; with n=8, radius 2.6131 and phase 22.5 deg these are the
    original INN code's centres (+-2.4142, +-1), (+-1, +-2.4142)."""
    ang = np.deg2rad(phase_deg) + 2 * np.pi * np.arange(n) / n
    return radius * np.stack([np.cos(ang), np.sin(ang)], axis=1)


def resolve_label_map(labels, n_modes: int) -> np.ndarray:
    """Label of each mode, as an int array of length n_modes, labels 0..L-1 all used."""
    if isinstance(labels, str):
        if labels not in LABEL_MAPS:
            raise ValueError(f"unknown label map {labels!r}; allowed: {sorted(LABEL_MAPS)} "
                             "or an explicit list of one label per mode")
        spec = LABEL_MAPS[labels]
        if spec is None:
            out = np.arange(n_modes)
        elif spec == "zeros":
            out = np.zeros(n_modes, dtype=int)
        else:
            if len(spec) != n_modes:
                raise ValueError(f"label map {labels!r} is defined for {len(spec)} modes, "
                                 f"the task has {n_modes}")
            out = np.asarray(spec)
    else:
        out = np.asarray(labels, dtype=int)
        if out.shape != (n_modes,):
            raise ValueError(f"label map must list one label per mode ({n_modes}), got {list(labels)}")
    uniq = np.unique(out)
    if uniq.min() < 0 or not np.array_equal(uniq, np.arange(len(uniq))):
        raise ValueError(f"labels must be 0..L-1 with every label used, got {out.tolist()}")
    return out.astype(int)


def config_mode_labels(where: str, task: dict) -> list[int]:
    """The label of each mode of a (schema-valid) Gaussian-mixture task; ConfigError naming the
    key when the modes or the labels do not fit together. ``where``: the task's key path."""
    m = task["modes"]
    has_n, has_c = m.get("n") is not None, m.get("centres") is not None
    if not has_n and not has_c:
        raise ConfigError(f"config key '{where}.modes': give either 'n' (with 'radius') or 'centres'")
    if has_c:
        for extra in ("radius", "phase_deg"):
            if m.get(extra) is not None:
                raise ConfigError(f"config key '{where}.modes.{extra}': has no effect when 'centres' "
                                  f"is given (the centres are used as listed); remove it (null in a "
                                  f"file merged over another), or remove 'centres' to place 'n' "
                                  f"modes on a regular polygon")
        n_modes = len(m["centres"])
        if has_n and m["n"] != n_modes:
            raise ConfigError(f"config key '{where}.modes.n': n is {m['n']} but 'centres' lists "
                              f"{n_modes} centres; drop 'n' (null in a file merged over another) or "
                              f"make them agree")
    else:
        if m.get("radius") is None:
            raise ConfigError(f"config key '{where}.modes': 'n' needs 'radius' (modes on a regular "
                              f"polygon of that radius); or give 'centres' instead")
        n_modes = m["n"]
    labels = task["labels"]
    if isinstance(labels, str):
        spec = LABEL_MAPS[labels]
        if spec is None:
            out = list(range(n_modes))
        elif spec == "zeros":
            out = [0] * n_modes
        else:
            if len(spec) != n_modes:
                raise ConfigError(f"config key '{where}.labels': {labels!r} ({spec}) is defined for "
                                  f"{len(spec)} modes, the task has {n_modes}; give an explicit list "
                                  f"of one label per mode")
            out = list(spec)
    else:
        out = [int(k) for k in labels]
        if len(out) != n_modes:
            raise ConfigError(f"config key '{where}.labels': lists {len(out)} labels but the task has "
                              f"{n_modes} modes; give one label per mode")
    used = set(out)
    missing = [k for k in range(len(used)) if k not in used]  # labels are >= 0 (schema)
    if missing:
        raise ConfigError(f"config key '{where}.labels': labels must be 0..L-1 with every label "
                          f"used; {missing} unused in {out}")
    return out


@register_task
@dataclass
class GaussianMixtureTask(Task):
    kind = "gmm"
    conditions = "label"
    own_figures = ("fig5_1", "fig5_2", "posteriors")
    figure_points = 600   # the posterior panels' draws per label (_scatter_posterior)

    def figure_arrays(self, predictions: dict) -> dict:
        """Fig. 5.1's forward panel: the test points, their predicted label (-1 where the model's
        output is not finite) and their true label."""
        y_hat = predictions["y_hat"]
        ok = np.all(np.isfinite(y_hat), axis=1)
        return {"test_x": predictions["x"],
                "predicted_label": np.where(ok, np.argmax(np.nan_to_num(y_hat), axis=1), -1).astype(np.int16),
                "true_label": np.argmax(predictions["y"], axis=1).astype(np.int16)}
    figure_captions = {
        "fig5_1": "Fig. 5.1, ours (paper recipe, first seed). Left: the forward process as a "
                  "classifier, test points coloured by their predicted label; look for one clean "
                  "colour region per mode (accuracy in the panel title). Right: posterior samples "
                  "x ~ p(x | y) for each label; each colour should sit on its own mode (crosses), as a "
                  "round blob of the modes' std, with no samples between modes.",
        "fig5_2": "Fig. 5.2, posterior samples (first seed of each run): ours, then the four-loss INN "
                  "with full losses and tuned weights, with forward losses only, and with a changed "
                  "ramp of the backward-loss weight. Look for samples leaking between modes, smeared "
                  "or missing modes: the paper shows the INN matching ours only in the full, tuned "
                  "panel.",
        "posteriors": "Posterior samples given each label for every method at its recipe (first seed; "
                      "600 per label), beside samples of the exact posterior, with the seed's mean W2 "
                      "over labels in each title: the baselines (cVAE, cGAN, flow matching) and the cINN "
                      "as well as ours and the INN. Look for missing or extra modes (the cGAN's typical "
                      "failure), samples between modes and blobs wider than the exact ones. All panels share "
                      "one frame; a red note counts the drawn samples that fall outside it.",
    }
    paper_claims = True   # the paper states its mixture claims (C1-C4) on this task
    description = ("the paper's 2-d Gaussian mixture (Xiao, Yan & Amit 2019, Sec. 5.1): modes on a "
                   "regular polygon (or explicit centres), each with a label; exact posterior")
    PARAMS = {
        "kind": TASK_PARAMS["kind"],
        "modes": Param("object", "either n modes on a regular polygon (n, radius, optional "
                       "phase_deg) or explicit centres (n, if also given, must equal their count); "
                       "null means \"not set\", so that a config file merged over another can drop "
                       "a key of the other", required=True, fields={
                           "std": Param("number", "std of every mode", exclusive_minimum=0,
                                        required=True),
                           "n": Param(("integer", "null"), "number of modes", minimum=1,
                                      maximum=10000, maximum_reason=(
                                          "a sanity bound: the task keeps arrays over the modes "
                                          "(centres, label map, a density term per mode and test "
                                          "point), and 'all' gives one label and so one flow "
                                          "dimension per mode")),
                           "radius": Param(("number", "null"), "radius of the polygon",
                                           exclusive_minimum=0),
                           "phase_deg": Param(("number", "null"), "angle of the first mode",
                                              default=22.5, filled=False),
                           "centres": Param(("array", "null"), "explicit [x, y] centres",
                                            min_items=1, items={"type": "array",
                                                                "items": {"type": "number"},
                                                                "minItems": 2, "maxItems": 2})}),
        "labels": Param(None, "all: one label per mode; some / none; or an explicit label per mode",
                        required=True, schema={"oneOf": [
                            {"enum": ["all", "some", "none"]},
                            {"type": "array", "items": {"type": "integer", "minimum": 0},
                             "minItems": 1}]}),
        **{k: v for k, v in TASK_PARAMS.items() if k != "kind"},
    }
    headline = True
    forward_metric_names = ("accuracy",)
    summary_metrics = ("mode_weight_tv", "w2_within_modes")

    centres: np.ndarray          # [n_modes, 2]
    std: float
    mode_labels: np.ndarray      # [n_modes] label of each mode
    n_test: int = TASK_PARAMS["n_test"].default
    n_eval: int = TASK_PARAMS["n_eval"].default  # exact posterior samples per label for the metrics
    name: str = "gmm"

    @classmethod
    def config_dims(cls, where: str, cfg: dict) -> tuple[int, int]:
        """(x_dim 2, number of labels); ConfigError naming the key when modes and labels do not fit.
        ``null`` entries of ``modes`` mean "not set" (a config merged over another drops a key)."""
        cfg["modes"] = {k: v for k, v in cfg["modes"].items() if v is not None}
        return 2, len(set(config_mode_labels(where, cfg)))

    @classmethod
    def from_config(cls, cfg: dict) -> "GaussianMixtureTask":
        cfg = resolved(cls.PARAMS, cfg)
        m = cfg["modes"]
        if m.get("centres") is not None:
            centres = np.asarray(m["centres"], dtype=float)
            if centres.ndim != 2 or centres.shape[1] != 2:
                raise ValueError(f"modes.centres must be a list of [x, y] pairs, got shape {centres.shape}")
        else:
            centres = polygon_centres(int(m["n"]), float(m["radius"]), float(m["phase_deg"]))
        labels = resolve_label_map(cfg["labels"], len(centres))
        return cls(centres=centres, std=float(m["std"]), mode_labels=labels,
                   n_test=int(cfg["n_test"]), n_eval=int(cfg["n_eval"]),
                   name=cfg.get("name", "gmm"))

    # --- shapes ---------------------------------------------------------------
    @property
    def x_dim(self) -> int:
        return 2

    @property
    def n_modes(self) -> int:
        return len(self.centres)

    @property
    def n_labels(self) -> int:
        return int(self.mode_labels.max()) + 1

    @property
    def y_dim(self) -> int:
        return self.n_labels

    @property
    def label_prior(self) -> np.ndarray:
        """p(y=k): the fraction of modes carrying label k."""
        return np.bincount(self.mode_labels, minlength=self.n_labels) / self.n_modes

    def one_hot(self, labels):
        import torch
        labels = torch.as_tensor(labels, dtype=torch.long)
        return torch.nn.functional.one_hot(labels, self.n_labels).float()

    # --- sampling ---------------------------------------------------------------
    def _sample_modes(self, modes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self.centres[modes] + self.std * rng.standard_normal((len(modes), 2))

    def sample(self, n: int, rng: np.random.Generator):
        """n joint draws: x [n, 2] float32 and integer labels [n]."""
        modes = rng.integers(0, self.n_modes, size=n)
        x = self._sample_modes(modes, rng)
        return x.astype(np.float32), self.mode_labels[modes]

    def sample_batch(self, n: int, rng: np.random.Generator):
        """A training batch as tensors: x [n, 2], one-hot y [n, L]."""
        import torch
        x, lab = self.sample(n, rng)
        return torch.from_numpy(x), self.one_hot(lab)

    def test_set(self, seed: int = 12345):
        """The fixed test set (the same for every method and seed): x [n_test, 2], one-hot y."""
        x, lab = self.sample(self.n_test, np.random.default_rng(seed))
        return x, np.eye(self.n_labels, dtype=np.float32)[lab]

    # --- the task protocol ----------------------------------------------------------------
    def evaluation_conditions(self) -> tuple[list[str], np.ndarray]:
        """One condition per label: ids "0".."L-1", one-hot y [L, L]."""
        return [str(k) for k in range(self.n_labels)], np.eye(self.n_labels, dtype=np.float32)

    @classmethod
    def validation_requirement(cls, where: str, cfg: dict) -> str | None:
        return None   # the labels themselves, with exact draws of their own

    def validation_conditions(self) -> tuple[list[str], np.ndarray]:
        """The labels (a label task has no other conditions); their validation draws are
        independent of the test's (``validation_reference``)."""
        return self.evaluation_conditions()

    def validation_reference(self, k: int, n: int) -> np.ndarray:
        """n exact draws of p(x | y = label k) from the validation stream (not the test's draw)."""
        return self.reference_posterior(k, n, np.random.default_rng([VALIDATION_SEED, k]))

    def reference_posterior(self, k: int, n: int, rng: np.random.Generator | None = None) -> np.ndarray:
        """n exact draws of p(x | y = label k), seeded by the label alone unless ``rng`` is given.
        Stratified: each mode of the label gets its exact share of the n samples (the remainder
        to modes drawn at random), so a reference never carries a random mode imbalance of its
        own; a label of one mode draws exactly as ``sample_posterior``."""
        rng = rng if rng is not None else np.random.default_rng(REFERENCE_SEED + 7919 * k)
        modes = self.modes_of(k)
        if len(modes) == 1:
            return self.sample_posterior(k, n, rng)
        counts = np.full(len(modes), n // len(modes))
        counts[rng.choice(len(modes), size=n % len(modes), replace=False)] += 1
        pick = rng.permutation(np.repeat(modes, counts))
        return self._sample_modes(pick, rng).astype(np.float32)

    def perfect_sample(self, k: int, n: int, rng: np.random.Generator) -> np.ndarray:
        """Independent draws of the label's mixture (random counts per mode), as a perfect
        sampler gives them: against the stratified reference this costs the random mode
        imbalance of one sample, which the floor must include (on a label of 4 modes 2-5
        units apart, W2 0.19 at n = 2000, against 0.04 between two stratified draws)."""
        return self.sample_posterior(k, n, rng)

    def modes_of(self, label: int) -> np.ndarray:
        if not 0 <= label < self.n_labels:
            raise ValueError(f"label {label} out of range 0..{self.n_labels - 1}")
        return np.flatnonzero(self.mode_labels == label)

    def nearest_mode(self, x: np.ndarray) -> np.ndarray:
        """Index of the nearest mode centre of each row of ``x [n, 2]``."""
        return np.argmin(((x[:, None, :] - self.centres[None]) ** 2).sum(-1), axis=1)

    def posterior_extra_metrics(self, k: int, samples: np.ndarray, reference: np.ndarray) -> dict[str, float]:
        """Multi-modal posteriors measured as such, each sample assigned to its nearest mode:

        - ``mode_weight_tv``: total variation between the model's mode proportions and the exact
          ones (equal over the label's modes, zero elsewhere); 0 = right weights, 1 = all mass
          on wrong modes. A dropped mode or mass leaking to another label's mode raises it.
        - ``w2_within_modes``: W2 between model and reference samples of each of the label's modes,
          averaged with the exact weights over the modes where the model put at least 2 samples
          (NaN when it put 2 on none): the shape of each mode, whatever the weights.
        """
        from ..metrics import w2
        modes = self.modes_of(k)
        assigned = self.nearest_mode(np.asarray(samples, dtype=float))
        p_model = np.bincount(assigned, minlength=self.n_modes) / len(assigned)
        p_true = np.zeros(self.n_modes)
        p_true[modes] = 1.0 / len(modes)
        tv = 0.5 * float(np.abs(p_model - p_true).sum())
        ref_assigned = self.nearest_mode(np.asarray(reference, dtype=float))
        vals, weights = [], []
        for m in modes:
            a, b = samples[assigned == m], reference[ref_assigned == m]
            if len(a) >= 2 and len(b) >= 2:
                vals.append(w2(a, b))
                weights.append(1.0)
        within = float(np.average(vals, weights=weights)) if vals else float("nan")
        return {"mode_weight_tv": tv, "w2_within_modes": within}

    def forward_metrics(self, y_hat: np.ndarray, y: np.ndarray) -> dict[str, float]:
        """Accuracy of the forward predictor: argmax of its scores against the true label."""
        return {"accuracy": float(np.mean(np.argmax(y_hat, 1) == np.argmax(y, 1)))}

    def describe(self) -> str:
        return (f"Kind `gmm`: {self.n_modes} Gaussian modes (std {self.std:g}), labels "
                f"{self.mode_labels.tolist()}" + (" (each mode its own label, the paper's setting)"
                                                   if self.n_labels == self.n_modes else
                                                   ": several modes share a label, multi-modal posteriors"))

    def make_figure(self, name: str, config: dict, task_name: str, task_dir: Path, out: Path) -> Path:
        return {"fig5_1": fig5_1, "fig5_2": fig5_2,
                "posteriors": posteriors_by_method}[name](config, task_name, task_dir, out)

    def sample_posterior(self, label: int, n: int, rng: np.random.Generator) -> np.ndarray:
        """n exact draws of p(x | y=label): the equal mixture of the modes with that label."""
        if not 0 <= label < self.n_labels:
            raise ValueError(f"label {label} out of range 0..{self.n_labels - 1}")
        modes = np.flatnonzero(self.mode_labels == label)
        pick = modes[rng.integers(0, len(modes), size=n)]
        return self._sample_modes(pick, rng).astype(np.float32)

    def posterior_moments(self, label: int):
        """Exact mean [2] and covariance [2, 2] of p(x | y=label)."""
        c = self.centres[self.mode_labels == label]
        mean = c.mean(0)
        cov = self.std ** 2 * np.eye(2) + (c - mean).T @ (c - mean) / len(c)
        return mean, cov

    def log_prob_joint(self, x: np.ndarray) -> np.ndarray:
        """log p(x) of the mixture, for reference plots."""
        d2 = ((x[:, None, :] - self.centres[None]) ** 2).sum(-1)
        logc = -d2 / (2 * self.std ** 2) - math.log(2 * math.pi * self.std ** 2)
        return np.logaddexp.reduce(logc, axis=1) - math.log(self.n_modes)


# ---- figures: Fig. 5.1, 5.2 of Xiao, Yan & Amit (2019, Sec. 5.1), every method's posterior; the
# runs drawn: the paper's method (role ``paper``) at its recipe, the INN (``paper_baseline``)
FIG5_PAPER_VARIANT = "paper"
FIG5_2_PANELS = (("full", "INN: full losses, tuned weights"),
                 ("forward_only", "INN: forward losses only"))
FIG5_2_RAMP_VARIANTS = ("ramp_fast", "ramp_slow", "no_ramp", "ramp_linear")


def _palette(n: int):
    import seaborn as sns
    from ..plotting import PALETTE
    return sns.color_palette(PALETTE, n)


def _posterior_panel(ax, task, rundir: Path, title: str, lim: float):
    """The first-seed run in ``rundir``'s samples, from its figure data (flowbench.figure_data)."""
    from ..figure_data import read_figure_data
    from ..plotting import not_run
    d = read_figure_data(rundir)
    if d is None:
        not_run(ax, f"{title}\n(not in this config)")
        return
    _scatter_posterior(ax, task, d["samples"], d["condition_ids"], title, lim)


def _frame(task) -> float:
    """Half-width of the square frame of every posterior panel: the modes plus 4 standard deviations."""
    return float(np.abs(task.centres).max() + 4 * task.std)


def _scatter_posterior(ax, task, samples, condition_ids, title: str, lim: float, n: int = 600):
    """Samples [conditions, n, 2] coloured by their label, the true mode centres marked."""
    from ..plotting import not_run
    colors = _palette(task.n_labels)
    if not np.all(np.isfinite(samples)):
        not_run(ax, f"{title}\n(diverged)")
        return
    shown = samples[:, :n]
    for k, lab in enumerate(condition_ids):
        pts = shown[k]
        ax.scatter(pts[:, 0], pts[:, 1], s=2, alpha=0.5, color=colors[int(lab)], rasterized=True)
    _mark_centres(ax, task)
    outside = int(np.any(np.abs(shown) > lim, axis=-1).sum())
    if outside:   # a shifted or exploded sampler must not look clean because the frame cuts it
        ax.text(0.02, 0.02, f"{outside} of {shown.shape[0] * shown.shape[1]} samples outside the frame",
                transform=ax.transAxes,
                fontsize=8, ha="left", va="bottom", color="crimson",
                bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="none", alpha=0.8))
    ax.set_title(title, fontsize=10)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")


def _mark_centres(ax, task):
    colors = _palette(task.n_labels)
    for c, lab in zip(task.centres, task.mode_labels):
        ax.scatter([c[0]], [c[1]], marker="x", s=50, color="black", linewidths=2.2)
        ax.scatter([c[0]], [c[1]], marker="x", s=40, color=colors[int(lab)], linewidths=1.2)


def fig5_1(config, task_name, task_dir: Path, out: Path) -> Path:
    """Fig. 5.1: the paper's method as a classifier (left) and its posterior samples (right)."""
    from ..methods import method_with_role
    from ..plotting import not_run, plt, save_figure
    from ..recipes import first_seed
    task = GaussianMixtureTask.from_config(config["tasks"][task_name])
    lim = _frame(task)
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.4))
    paper, variant = method_with_role("paper"), FIG5_PAPER_VARIANT
    run_name = f"{paper}/{variant}"
    seed = first_seed(config, task_name, paper, variant)
    colors = _palette(task.n_labels)
    if seed is None:
        not_run(axes[0], f"{run_name} not in this config")
        not_run(axes[1], f"{run_name} not in this config")
    else:
        run = task_dir / paper / variant / f"seed{seed}"
        from ..figure_data import read_figure_data
        p = read_figure_data(run)
        pred = p["predicted_label"]
        ok = pred >= 0
        acc = float((pred == p["true_label"]).mean())
        axes[0].scatter(p["test_x"][ok, 0], p["test_x"][ok, 1], s=2, c=[colors[int(k)] for k in pred[ok]],
                        rasterized=True)
        axes[0].set_title(f"forward: predicted label of test points (acc {acc:.3f})", fontsize=10)
        axes[0].set_xlim(-lim, lim)
        axes[0].set_ylim(-lim, lim)
        axes[0].set_aspect("equal")
        _posterior_panel(axes[1], task, run,
                         "inverse: posterior samples given each label", lim)
    fig.suptitle(f"Fig. 5.1 ({task_name}, {run_name}, seed {seed}); colour = label, x = true mode centres",
                 fontsize=10)
    return save_figure(fig, out)


def fig5_2(config, task_name, task_dir: Path, out: Path) -> Path:
    """Fig. 5.2: posterior samples of the paper's method beside the INN's three settings."""
    from ..methods import method_with_role
    from ..plotting import plt, save_figure
    from ..recipes import first_seed
    task = GaussianMixtureTask.from_config(config["tasks"][task_name])
    lim = _frame(task)
    paper, inn = method_with_role("paper"), method_with_role("paper_baseline")
    variants = [v for v in FIG5_2_RAMP_VARIANTS if first_seed(config, task_name, inn, v) is not None]
    panels = [*FIG5_2_PANELS,
              (variants[0] if variants else FIG5_2_RAMP_VARIANTS[0], "INN: changed ramp ({})")]
    fig, axes = plt.subplots(1, 4, figsize=(16, 4.3))
    seed = first_seed(config, task_name, paper, FIG5_PAPER_VARIANT)
    _posterior_panel(axes[0], task, task_dir / paper / FIG5_PAPER_VARIANT / f"seed{seed}",
                     f"{paper} (paper recipe)", lim)
    for ax, (v, title) in zip(axes[1:], panels):
        s = first_seed(config, task_name, inn, v)
        _posterior_panel(ax, task, task_dir / inn / v / f"seed{s}", title.format(v), lim)
    fig.suptitle(f"Fig. 5.2 ({task_name}): posterior samples, first seed of each run", fontsize=10)
    return save_figure(fig, out)


def posteriors_by_method(config, task_name, task_dir: Path, out: Path, n: int = 600) -> Path:
    """The exact posterior beside every method at its recipe (first seed), one panel each, with the
    seed's mean W2 over labels in the title: the baselines' samples, not only ours' and the INN's."""
    from ..methods import method_order
    from ..plotting import plt, read_task_metrics, save_figure
    from ..recipes import first_seed, task_recipes
    task = GaussianMixtureTask.from_config(config["tasks"][task_name])
    lim = _frame(task)
    recipes = task_recipes(config, task_name)
    methods = method_order(recipes)
    metrics = read_task_metrics(task_dir) if (Path(task_dir) / "metrics.csv").exists() else pd.DataFrame()
    panels = 1 + len(methods)
    cols = min(panels, 4)
    rows = -(-panels // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.7 * rows), squeeze=False, layout="constrained")
    flat = axes.ravel()
    rng = np.random.default_rng(0)
    exact = np.stack([task.sample_posterior(k, n, rng) for k in range(task.n_labels)])
    _scatter_posterior(flat[0], task, exact, np.arange(task.n_labels), "exact posterior", lim, n)
    for ax, m in zip(flat[1:], methods):
        v = recipes[m]
        seed = first_seed(config, task_name, m, v)
        title = f"{m}/{v}"
        if len(metrics):
            w = metrics[(metrics["method"] == m) & (metrics["variant"] == v) & (metrics["seed"] == seed)
                        & (metrics["metric"] == "w2") & (metrics["condition"] != "")]["value"]
            if len(w) and np.all(np.isfinite(w)):
                title += f" (W2 {w.mean():.3f})"
        _posterior_panel(ax, task, Path(task_dir) / m / v / f"seed{seed}", title, lim)
    for ax in flat[panels:]:
        ax.axis("off")
    fig.suptitle(f"{task_name}: posterior samples given each label, every method at its recipe (first seed); "
                 "colour = label, x = true mode centres", fontsize=10)
    return save_figure(fig, out)
