"""One interface for every method (ours and the baselines).

The training loop, the metrics and the plots never branch on which method they hold:

- ``loss(x, y, step) -> (scalar tensor, dict of named float parts)``
- ``sample_posterior(y, n) -> x``: ``y [K, y_dim]`` conditions, returns ``[K, n, x_dim]``
- ``predict(x) -> y_hat [N, y_dim]``: the forward process as a predictor (label tasks: scores whose
  argmax is the label; continuous tasks: the predicted y); NotImplementedError where there is none
- ``log_prob(x, y) -> [N]``: the conditional log-density, where the method has one

Shared pieces live here: Gaussian log-density, noisy padding, optimiser construction.
"""
from __future__ import annotations

import math

import torch
from torch import nn

LOG_2PI = math.log(2 * math.pi)


def std_normal_log_prob(z: torch.Tensor, std: float = 1.0) -> torch.Tensor:
    """Sum over the last dim of log N(z; 0, std^2 I)."""
    d = z.shape[-1]
    return -0.5 * (z / std).pow(2).sum(-1) - d * (0.5 * LOG_2PI + math.log(std))


class ConditionalMethod(nn.Module):
    """Base class. Subclasses set ``self.flow`` and implement ``loss``/``sample_posterior``."""

    name = "base"

    def __init__(self, x_dim: int, y_dim: int, params: dict, total_steps: int = 1,
                 conditions: str = "label"):
        super().__init__()
        if conditions not in ("label", "continuous"):
            raise ValueError(f"conditions must be 'label' or 'continuous', got {conditions!r}")
        self.x_dim, self.y_dim = int(x_dim), int(y_dim)
        self.conditions = conditions
        self.params = dict(params)
        self.total_steps = int(total_steps)
        self.pad_noise = float(params.get("pad_noise", 0.0))
        self.pad_mode = params.get("pad_resample", "per_sample")

    # -- padding -----------------------------------------------------------------
    @property
    def dim(self) -> int:
        return int(self.params.get("dim", self.x_dim))

    def pad(self, x: torch.Tensor) -> torch.Tensor:
        """[x, x0] with x0 the noisy zero padding of ``dim - x_dim`` dims.

        ``pad_resample: per_sample`` draws independent noise for every sample of every batch;
        ``per_iteration`` draws one noise vector per call, shared by the whole batch (the paper's
        "zero padding with fixed noise in each iteration").
        """
        n_pad = self.dim - x.shape[1]
        if n_pad <= 0:
            return x
        rows = 1 if self.pad_mode == "per_iteration" else x.shape[0]
        noise = self.pad_noise * torch.randn(rows, n_pad, device=x.device, dtype=x.dtype)
        return torch.cat([x, noise.expand(x.shape[0], n_pad)], dim=1)

    # -- optimiser -----------------------------------------------------------------
    def make_optimizer(self) -> torch.optim.Optimizer:
        p = self.params
        return torch.optim.Adam(self.parameters(), lr=float(p.get("lr", 1e-3)),
                                betas=tuple(p.get("betas", (0.9, 0.999))),
                                eps=float(p.get("adam_eps", 1e-8)),
                                weight_decay=float(p.get("weight_decay", 0.0)))

    @property
    def grad_clamp(self) -> float | None:
        g = self.params.get("grad_clamp")
        return None if g is None else float(g)

    # -- interface -----------------------------------------------------------------
    def loss(self, x, y, step: int):
        raise NotImplementedError

    def sample_posterior(self, y: torch.Tensor, n: int) -> torch.Tensor:
        raise NotImplementedError

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{self.name} has no forward process")

    def log_prob(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{self.name} has no tractable log-density")


def method_registry() -> dict:
    from baselines.cinn import ConditionalINN
    from baselines.inn import FourLossINN
    from ours.likelihood_flow import LikelihoodFlow
    return {"ours": LikelihoodFlow, "inn": FourLossINN, "cinn": ConditionalINN}


def make_method(name: str, x_dim: int, y_dim: int, params: dict, total_steps: int = 1,
                seed: int = 0, label_prior=None, conditions: str = "label") -> ConditionalMethod:
    """``conditions``: the task's kind of condition, ``label`` (one-hot y, prior ``label_prior``)
    or ``continuous``."""
    reg = method_registry()
    if name not in reg:
        raise ValueError(f"unknown method {name!r}; allowed: {sorted(reg)}")
    return reg[name](x_dim=x_dim, y_dim=y_dim, params=params, total_steps=total_steps,
                     seed=seed, label_prior=label_prior, conditions=conditions)
