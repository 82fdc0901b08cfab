"""The interface every method answers (ours and the baselines), and the method registry.

A leaf module (it imports only torch): the training loop, the pipeline, the image stage and the
plots call only these methods and never branch on which method they hold:

- ``loss(x, y, step) -> (scalar tensor, dict of named float parts)``
- ``sample_posterior(y, n) -> x``: ``y [K, y_dim]`` conditions, returns ``[K, n, x_dim]``
- ``predict(x) -> y_hat [N, y_dim]``: the forward process as a predictor (label tasks: scores whose
  argmax is the label; continuous tasks: the predicted y); NotImplementedError where there is none
- ``log_prob(x, y) -> [N]``: the conditional log-density, where the method has one
- ``generate(conditions, noise) -> x``: ``conditions [M, y_dim]``, ``noise [M, noise_dim]`` (the
  parts ``noise_dims``, drawn N(0, I) in that order); deterministic given the noise, so a figure
  can hold the noise fixed while the condition changes (Xiao et al. 2019, Fig. 5.4)
- ``noise_of(x, conditions) -> noise``: the inverse of ``generate`` (what the forward process
  assigns to x), for the test that the noise carries no information on y
- ``min_dim(x_dim, y_dim)``: the least flow ``dim`` the method accepts (checked with the config)

A new method is one module of this package: a ``ConditionalMethod`` subclass with
``@register_method``.

Shared pieces live here: Gaussian log-density, noisy padding, optimiser construction, the plain
MLP of the generative baselines, the per-sample memory estimates the config's size check uses.
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

    def _device(self) -> torch.device:
        """The device the method's parameters live on."""
        return next(self.parameters()).device

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

    @property
    def noise_dims(self) -> tuple[int, ...]:
        """The parts of the noise ``generate`` takes per sample, in the order they are drawn."""
        raise NotImplementedError(f"{self.name} has no generator from given noise")

    @property
    def noise_dim(self) -> int:
        return sum(self.noise_dims)

    def generate(self, conditions: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{self.name} has no generator from given noise")

    def noise_of(self, x: torch.Tensor, conditions: torch.Tensor) -> torch.Tensor:
        """The inverse of ``generate``: the noise ``[N, noise_dim]`` that the forward process assigns
        to ``x`` under its condition. If the method models p(x | y) with noise independent of y, a
        classifier cannot predict y from it (Xiao et al. 2019, Sec. 4: z independent of y)."""
        raise NotImplementedError(f"{self.name} has no forward map to its noise")

    @classmethod
    def min_dim(cls, x_dim: int, y_dim: int, x_name: str = "x_dim", y_name: str = "y_dim") -> tuple[int, str]:
        """The least ``dim`` the method accepts for these dimensions, and why (every flow needs
        dim >= 2 to split in halves)."""
        return max(x_dim, 2), f"{x_name} {x_dim}"

    @classmethod
    def train_memory_terms(cls, params: dict, batch: int) -> list[tuple[int, str]]:
        """Bytes of the method's own large training arrays at batch size ``batch`` beyond the
        flow's activations (for the config's memory check), with a description each."""
        return []

    @classmethod
    def train_bytes_per_sample(cls, params: dict) -> tuple[int, str]:
        """Bytes per training sample of the activations autograd keeps for backward (for the
        config's memory check: a lower bound), and what they are. The default is a coupling
        flow's: two couplings per paper block, each keeping its subnet's hidden layers and its
        input (float32)."""
        p = params
        return (4 * 2 * p["blocks"] * (max(p["subnet_layers"] - 1, 1) * p["width"] + p["dim"]),
                "the flow's activations kept for backward")

    @classmethod
    def sample_bytes_per_sample(cls, params: dict) -> tuple[int, str]:
        """Bytes per sample of drawing (or mapping) samples without gradients: the input and output
        of the widest layer (float32); and what the samples pass through."""
        return 4 * 2 * max(params["width"], params["dim"]), "the flow"


def mlp(in_features: int, out_features: int, width: int, layers: int,
        activation: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    """``layers`` Linear layers (in -> width -> ... -> width -> out) with ``activation`` between
    them, none after the last: the networks of the generative baselines (cvae, cgan, cfm)."""
    if layers < 1:
        raise ValueError(f"an MLP needs at least 1 Linear layer, got {layers}")
    dims = [in_features] + [width] * (layers - 1) + [out_features]
    mods: list[nn.Module] = []
    for i in range(layers):
        mods.append(nn.Linear(dims[i], dims[i + 1]))
        if i < layers - 1:
            mods.append(activation())
    return nn.Sequential(*mods)


def n_parameters(module: nn.Module) -> int:
    """Number of trainable scalars of ``module`` (the parameter counts the baselines quote)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


METHODS: dict[str, type] = {}


def register_method(cls):
    """Class decorator: make ``cls`` the method of config name ``cls.name``."""
    if cls.name in METHODS and METHODS[cls.name] is not cls:
        raise ValueError(f"method {cls.name!r} registered twice")
    METHODS[cls.name] = cls
    return cls
