"""The conditional INN of Ardizzone et al. (2019): the condition is concatenated to every
coupling subnet's input; trained by maximum likelihood of z = f(x; y) under N(0, I).

Posterior sampling inverts z ~ N(0, I) under the condition. It has no forward "predict the label"
path, so it classifies by Bayes' rule: argmax_k log p(x | y=k) + log p(y=k).
"""
from __future__ import annotations

import numpy as np
import torch

from ..coupling import build_flow
from ..params import Param, Space
from .base import (FLOW_PARAMS, FLOW_SPACE, IMAGE_FLOW_DEFAULTS, LR_SPACE, ConditionalMethod, register_method,
                   std_normal_log_prob)


@register_method
class ConditionalINN(ConditionalMethod):
    name = "cinn"
    label = "cINN"
    long_label = "cINN (Bayes' rule)"
    order = 2
    summary = "the conditional INN of Ardizzone et al. (2019), arXiv:1907.02392"
    PARAMS = {**FLOW_PARAMS,
              "cond_noise": Param("number", "std of the noise added to the condition in training",
                                  minimum=0, default=0.0, filled=False)}
    #: tuning: the flow's size, the learning rate and the condition's training noise
    SEARCH_SPACE = {**FLOW_SPACE, **LR_SPACE,
                    "cond_noise": Space("float", 0.0, 0.1,
                                        source="rule: none to a tenth of a standardised unit")}
    #: the image stage (Sec. 5.2): the latent (no padding), conditioned on the one-hot label
    image_defaults = {**IMAGE_FLOW_DEFAULTS, "dim": 20, "pad_noise": 0.0, "cond_noise": 0.0}
    fixed_noise = "z"

    @classmethod
    def min_dim(cls, x_dim, y_dim, x_name="x_dim", y_name="y_dim"):
        return max(x_dim, 2), f"{x_name} {x_dim}: the flow maps x itself, the label is its condition"

    def __init__(self, x_dim, y_dim, params, total_steps=1, seed=0, label_prior=None,
                 conditions="label"):
        super().__init__(x_dim, y_dim, params, total_steps, conditions)
        if self.dim < x_dim:
            raise ValueError(f"cinn: dim={self.dim} must be at least x_dim={x_dim}")
        prior = np.full(y_dim, 1.0 / y_dim) if label_prior is None else np.asarray(label_prior, float)
        self.register_buffer("log_prior", torch.log(torch.as_tensor(prior, dtype=torch.float32)))
        self.cond_noise = float(self.params["cond_noise"])
        self.flow = build_flow(self.dim, self.params["blocks"], self.params["subnet_layers"], self.params["width"],
                               self.params["clamp"], self.params.get("init_scale"), context_dim=y_dim, seed=seed)

    def log_prob(self, x, y):
        z, logdet = self.flow(self.pad(x), context=y)
        return std_normal_log_prob(z) + logdet

    @property
    def exact_density(self):
        return self.dim == self.x_dim   # no padding: z = f(x; y) is a bijection of x itself

    # several seeds train as one batched ensemble (flowbench.ensemble): the step's noise given
    ensemble_ready = True

    def draw_step_noise(self, x, generator, step=0):
        """The condition's training noise (with ``cond_noise``), then the padding's draws, in the
        order ``loss`` draws them."""
        out = {}
        if self.cond_noise > 0:
            out["cond"] = torch.randn(x.shape[0], self.y_dim, generator=generator, device=x.device, dtype=x.dtype)
        rows, n_pad = self._pad_shape(x)
        if n_pad > 0:
            out["pad"] = torch.randn(rows, n_pad, generator=generator, device=x.device, dtype=x.dtype)
        return out

    def loss_terms(self, x, y, step, noise):
        if self.cond_noise > 0:
            y = y + self.cond_noise * noise["cond"]
        z, logdet = self.flow(self.pad(x, noise.get("pad")), context=y)
        return -(std_normal_log_prob(z) + logdet).mean(), {}

    def loss(self, x, y, step):
        return self.loss_terms(x, y, step, self.draw_step_noise(x, None, step))

    @torch.no_grad()
    def sample_posterior(self, y, n):
        dev = self._device()
        y = torch.as_tensor(y, dtype=torch.float32, device=dev)
        out = []
        for yk in y:
            z = torch.randn(n, self.dim, device=dev)
            x, _ = self.flow.inverse(z, context=yk.expand(n, -1))
            out.append(x[:, : self.x_dim])
        return torch.stack(out)

    @property
    def noise_dims(self):
        return (self.dim,)

    @torch.no_grad()
    def generate(self, conditions, noise):
        """x = f^{-1}(z; y)[:, :x_dim] for noise = z."""
        dev = self._device()
        x, _ = self.flow.inverse(noise.to(dev), context=conditions.to(dev))
        return x[:, : self.x_dim]

    @torch.no_grad()
    def noise_of(self, x, conditions):
        """z = f(x; y)."""
        dev = self._device()
        z, _ = self.flow(self.pad(x.to(dev)), context=conditions.to(dev))
        return z

    @torch.no_grad()
    def predict(self, x):
        """Log-posterior scores log p(x | k) + log p(k) for every label k: [N, y_dim]."""
        if self.conditions != "label":
            raise NotImplementedError("cinn has no forward predictor for continuous conditions "
                                      "(Bayes' rule needs a finite set of labels)")
        xp = self.pad(x)  # one padding draw shared by every label hypothesis
        eye = torch.eye(self.y_dim, device=x.device)
        cols = []
        for k in range(self.y_dim):
            z, logdet = self.flow(xp, context=eye[k].expand(x.shape[0], -1))
            cols.append(std_normal_log_prob(z) + logdet + self.log_prior[k])
        return torch.stack(cols, dim=1)
