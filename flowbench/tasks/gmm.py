"""The 8-mode Gaussian mixture inverse problem (Ardizzone et al. 2018; Xiao et al. 2019 Sec. 5.1).

x in R^2 is drawn from an equal-weight mixture of isotropic Gaussians (std ``std``) on the vertices
of a regular polygon; y is the one-hot label of its mode under a *label map* that may merge modes
(``all``: one label per mode; ``some``: [0,0,0,0,1,1,2,3], so p(x | y=0) is a 4-mode mixture).
The exact posterior p(x | y=k) is the equal-weight mixture of the modes that carry label k.

All geometry comes from the config; nothing here is specific to 8 modes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

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


@dataclass
class GaussianMixtureTask:
    centres: np.ndarray          # [n_modes, 2]
    std: float
    mode_labels: np.ndarray      # [n_modes] label of each mode
    n_test: int = 2000
    n_eval: int = 2000           # exact posterior samples per label for the metrics
    name: str = "gmm"

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

    def one_hot(self, labels) -> torch.Tensor:
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
        x, lab = self.sample(n, rng)
        return torch.from_numpy(x), self.one_hot(lab)

    def test_set(self, seed: int = 12345):
        """The fixed test set (the same for every method and seed): x [n_test, 2], labels."""
        return self.sample(self.n_test, np.random.default_rng(seed))

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
