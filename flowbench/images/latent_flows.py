"""The flows on the auto-encoder's latents (paper Sec. 5.2), trained on the *detached* latents (two
stages, as GLF's stopped gradient makes them in effect; Xiao, Yan & Amit 2019b, arXiv 1905.10485)
with the project's methods and training loop:

- ours: ``make_method("ours", x_dim=20, y_dim=10)``, ``[u (20), x0 (10)] -> [z (20), y~ (10)]``;
  generation decodes ``f^{-1}([z, y + eps v])``; classification is the argmax of ``y~``
  (``method.predict``), the paper's Table 1.
- cINN: ``make_method("cinn", x_dim=20, y_dim=10)`` conditioned on the one-hot label; it
  classifies by Bayes' rule (``method.predict``).
- the generative baselines, where the config has their sections: the conditional VAE (Sohn, Lee &
  Yan 2015, NeurIPS), the conditional WGAN-GP (Gulrajani et al. 2017, arXiv 1704.00028) and
  conditional flow matching (Lipman et al. 2023, arXiv 2210.02747),
  ``make_method(name, x_dim=20, y_dim=10)`` on the one-hot label. They generate
  (``method.generate``) but have no forward predictor (``predict`` raises NotImplementedError):
  Table 1 has no accuracy of theirs. The same loop, epochs and batch size as ours give them the
  same number of samples seen.
"""
from __future__ import annotations

import numpy as np
import torch

from ..config import digest
from ..methods import make_method
from ..training import train
from .inputs import batches, default_log, one_hot
from .names import FLOWS, N_CLASSES, VARIANT

# keys of a flow's config section that steer training, not the method itself
TRAIN_KEYS = ("epochs", "batch_size", "log_every")


class LatentTask:
    """Training batches over a fixed latent array, in the shape ``flowbench.training.train`` wants.

    ``sample_batch(n, rng) -> (x float32 [n, d], one-hot y [n, 10])``: consecutive calls walk a
    random permutation (drawn from ``rng``) in order, so ``steps_per_epoch(n)`` calls are one
    epoch without repeats; a batch larger than the data is drawn with replacement.
    """

    def __init__(self, x: np.ndarray, labels: np.ndarray, n_labels: int = N_CLASSES):
        x = np.asarray(x, dtype=np.float32)
        labels = np.asarray(labels, dtype=np.int64)
        if x.ndim != 2 or len(x) != len(labels) or len(x) == 0:
            raise ValueError(f"LatentTask: need x [N, d] and labels [N], got {x.shape}, {labels.shape}")
        self.x = torch.from_numpy(x)
        self.labels = labels
        self.y = one_hot(labels, n_labels)
        self.n, self.x_dim = x.shape
        self.y_dim = self.n_labels = n_labels
        self.label_prior = np.bincount(labels, minlength=n_labels) / len(labels)
        self._perm: torch.Tensor | None = None
        self._pos = 0

    def steps_per_epoch(self, batch_size: int) -> int:
        return max(self.n // batch_size, 1)

    def sample_batch(self, n: int, rng: np.random.Generator):
        if n > self.n:
            idx = torch.from_numpy(rng.integers(0, self.n, n))
        else:
            if self._perm is None or self._pos + n > self.n:
                self._perm = torch.from_numpy(rng.permutation(self.n))
                self._pos = 0
            idx = self._perm[self._pos:self._pos + n]
            self._pos += n
        return self.x[idx], self.y[idx]


def flow_params(section: dict) -> dict:
    """A flow's method hyper-parameters: its config section without the training keys."""
    return {k: v for k, v in section.items() if k not in TRAIN_KEYS}


def flow_identity(method: str, dataset: str, params: dict, x_dim: int) -> dict:
    """What identifies a trained image flow (method, variant, data set, hyper-parameters and their
    digest, dimensions): the record its checkpoint is checked against."""
    return {"method": method, "variant": VARIANT[method], "dataset": dataset, "params": params,
            "x_dim": int(x_dim), "y_dim": N_CLASSES, "params_digest": digest(params)}


def build_flow_method(method: str, section: dict, x_dim: int, seed: int, label_prior=None,
                      total_steps: int = 1):
    """An untrained image flow: ``make_method(method)`` on latents of ``x_dim`` features and the
    10 classes, with the section's hyper-parameters; a ValueError for a method not in ``FLOWS``."""
    if method not in FLOWS:
        raise ValueError(f"unknown image flow {method!r}; allowed: {list(FLOWS)}")
    return make_method(method, x_dim=x_dim, y_dim=N_CLASSES, params=flow_params(section),
                       total_steps=total_steps, seed=seed, label_prior=label_prior)


def train_flow(method: str, section: dict, x: np.ndarray, labels: np.ndarray, seed: int,
               device=None, log=None):
    """Train ``method`` on standardised latents ``x [N, d]`` with the project's training loop.

    ``section``: the method's hyper-parameters plus ``epochs`` and ``batch_size``. Returns
    ``(model, TrainResult, iterations)``.
    """
    log = log or default_log
    task = LatentTask(x, labels)
    bs = int(section["batch_size"])
    spe = task.steps_per_epoch(bs)
    iterations = int(section["epochs"]) * spe
    model = build_flow_method(method, section, task.x_dim, seed, label_prior=task.label_prior,
                              total_steps=iterations)
    log(f"{method}: {task.n} latents of dim {task.x_dim}, {section['epochs']} epochs x {spe} "
        f"iterations of batch {bs}, {sum(p.numel() for p in model.parameters())} parameters")
    res = train(model, task, iterations, bs, seed, device, log_every=section.get("log_every") or spe,
                log=log)
    return model, res, iterations


def flow_accuracy(model, x: np.ndarray, labels: np.ndarray, device, seed: int) -> float:
    """Forward-process accuracy of an image flow on latents ``x`` (argmax of ``model.predict``,
    under ``torch.manual_seed(seed)``); NaN when any score is non-finite. NotImplementedError
    (from ``predict``) when the method has no forward predictor."""
    torch.manual_seed(seed)
    xt = torch.from_numpy(np.asarray(x, dtype=np.float32))
    with torch.no_grad():
        scores = torch.cat([model.predict(xt[s].to(device)).cpu() for s in batches(len(xt), 2000)])
    if not torch.isfinite(scores).all():
        return float("nan")
    return float((scores.argmax(1).numpy() == np.asarray(labels)).mean())
