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

from ..config import ConfigError
from .base import REFERENCE_SEED, Task, register_task

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
    headline = True
    forward_metric_names = ("accuracy",)
    summary_metrics = ("mode_weight_tv", "w2_within_modes")

    centres: np.ndarray          # [n_modes, 2]
    std: float
    mode_labels: np.ndarray      # [n_modes] label of each mode
    n_test: int = 2000
    n_eval: int = 2000           # exact posterior samples per label for the metrics
    name: str = "gmm"

    @classmethod
    def config_dims(cls, where: str, cfg: dict) -> tuple[int, int]:
        """(x_dim 2, number of labels); ConfigError naming the key when modes and labels do not fit.
        ``null`` entries of ``modes`` mean "not set" (a config merged over another drops a key)."""
        cfg["modes"] = {k: v for k, v in cfg["modes"].items() if v is not None}
        return 2, len(set(config_mode_labels(where, cfg)))

    @classmethod
    def from_config(cls, cfg: dict) -> "GaussianMixtureTask":
        m = cfg["modes"]
        if m.get("centres") is not None:
            centres = np.asarray(m["centres"], dtype=float)
            if centres.ndim != 2 or centres.shape[1] != 2:
                raise ValueError(f"modes.centres must be a list of [x, y] pairs, got shape {centres.shape}")
        else:
            centres = polygon_centres(int(m["n"]), float(m["radius"]), float(m.get("phase_deg", 22.5)))
        labels = resolve_label_map(cfg["labels"], len(centres))
        return cls(centres=centres, std=float(m["std"]), mode_labels=labels,
                   n_test=int(cfg.get("n_test", 2000)), n_eval=int(cfg.get("n_eval", 2000)),
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
        from .. import plots
        return {"fig5_1": plots.fig5_1, "fig5_2": plots.fig5_2,
                "posteriors": plots.posteriors_by_method}[name](config, task_name, task_dir, out)

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
