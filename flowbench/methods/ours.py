"""The single-likelihood conditional flow of Xiao, Yan & Amit (2019), Eq. (5) and (6).

The flow f maps the padded input [x, x0] (``dim`` features) to [z, c] with z of ``dim - y_dim``
features and c of ``y_dim``. With c = y + v, v ~ N(0, eps^2 I), independent of z ~ N(0, I):

    log p([x, x0] | y) = log N(z; 0, I) + log N(c - y; 0, eps^2 I) + log |det df/d[x, x0]|

One loss (its negative mean), no weights to tune. Sampling: z ~ N(0, I), c ~ N(y, eps^2 I),
x = f^{-1}([z, c])[:, :x_dim]. Forward prediction: argmax of c.
"""
from __future__ import annotations

import torch

from ..coupling import build_flow
from ..params import NO_DEFAULT, Param, Space
from .base import (FLOW_PARAMS, FLOW_SPACE, IMAGE_FLOW_DEFAULTS, LR_SPACE, ConditionalMethod, register_method,
                   std_normal_log_prob)


@register_method
class LikelihoodFlow(ConditionalMethod):
    name = "ours"
    label = "ours"
    long_label = "ours (forward process)"
    order = 0
    role = "paper"
    summary = "the single-likelihood conditional flow of Xiao, Yan & Amit (2019), Eq. (5), (6)"
    PARAMS = {**FLOW_PARAMS,
              "pad_noise": FLOW_PARAMS["pad_noise"].replace(required=True, default=NO_DEFAULT),
              "eps": Param("number", "std of y~ around y (Eq. 4)", exclusive_minimum=0, required=True)}
    #: tuning: the flow's size, the learning rate, and the two settings of Eq. 4-6
    SEARCH_SPACE = {**FLOW_SPACE, **LR_SPACE,
                    "eps": Space("float", 0.01, 0.3, log=True,
                                 source="rule: a decade either side of the paper's 0.1 (Sec. 5.1), "
                                        "capped at 0.3 (the eps values compared on arm)"),
                    "pad_noise": Space("float", 0.005, 0.2, log=True,
                                       source="rule: a decade either side of the paper's 0.05")}
    #: the image stage (Sec. 5.2): u (20) + 10 padding -> [z (20), y~ (10)]
    image_defaults = {**IMAGE_FLOW_DEFAULTS, "dim": 30, "eps": 0.1, "pad_noise": 0.05}
    image_variant = "paper"
    fixed_noise = "z"
    #: trained by the likelihood of y~ ~ N(y, eps^2 I), ours converges to a reparametrised
    #: smoothed target, not the posterior (flowbench.eps_split, Xiao, Yan & Amit 2019, Eq. 5-6)
    smoothed_limit = ("eps", "reparametrised")

    @classmethod
    def min_dim(cls, x_dim, y_dim, x_name="x_dim", y_name="y_dim"):
        return max(x_dim, y_dim + 1, 2), (f"max({x_name} {x_dim}, {y_name} {y_dim} + 1): the "
                                          f"output [z, y~] keeps at least one z dimension")

    def __init__(self, x_dim, y_dim, params, total_steps=1, seed=0, label_prior=None,
                 conditions="label"):
        super().__init__(x_dim, y_dim, params, total_steps, conditions)
        if self.dim < max(x_dim, y_dim + 1):
            raise ValueError(f"ours: dim={self.dim} must be at least max(x_dim={x_dim}, "
                             f"y_dim+1={y_dim + 1}) so that z has at least one dimension")
        self.eps = float(self.params["eps"])
        if self.eps <= 0:
            raise ValueError(f"ours: eps must be > 0, got {self.eps}")
        self.z_dim = self.dim - y_dim
        self.flow = build_flow(self.dim, self.params["blocks"], self.params["subnet_layers"], self.params["width"],
                               self.params["clamp"], self.params.get("init_scale"), seed=seed)

    def _log_prob_parts(self, x, y, pad_noise=None):
        out, logdet = self.flow(self.pad(x, pad_noise))
        z, c = out[:, : self.z_dim], out[:, self.z_dim:]
        return std_normal_log_prob(z), std_normal_log_prob(c - y, self.eps), logdet

    def log_prob(self, x, y):
        """log p([x, x0] | y) of Eq. (6), one value per row (x0 drawn by ``pad``)."""
        lz, ly, ld = self._log_prob_parts(x, y)
        return lz + ly + ld

    ensemble_ready = True

    def draw_step_noise(self, x, generator, step=0):
        """The padding's standard-normal draws (none without padding)."""
        rows, n_pad = self._pad_shape(x)
        if n_pad <= 0:
            return {}
        return {"pad": torch.randn(rows, n_pad, generator=generator, device=x.device, dtype=x.dtype)}

    def loss_terms(self, x, y, step, noise):
        lz, ly, ld = self._log_prob_parts(x, y, noise.get("pad"))
        nll = -(lz + ly + ld).mean()
        return nll, {"nll_z": -lz.mean().detach(), "nll_y": -ly.mean().detach(), "logdet": ld.mean().detach()}

    def loss(self, x, y, step):
        nll, parts = self.loss_terms(x, y, step, {})
        return nll, {k: float(v) for k, v in parts.items()}

    @torch.no_grad()
    def sample_posterior(self, y, n):
        y = torch.as_tensor(y, dtype=torch.float32, device=self._device())
        out = []
        for yk in y:
            z = torch.randn(n, self.z_dim, device=y.device)
            c = yk.expand(n, -1) + self.eps * torch.randn(n, self.y_dim, device=y.device)
            x, _ = self.flow.inverse(torch.cat([z, c], dim=1))
            out.append(x[:, : self.x_dim])
        return torch.stack(out)

    @property
    def noise_dims(self):
        """z ~ N(0, I) and v ~ N(0, I), with y~ = y + eps v."""
        return (self.z_dim, self.y_dim)

    @torch.no_grad()
    def generate(self, conditions, noise):
        """x = f^{-1}([z, y + eps v])[:, :x_dim] for noise = [z, v]."""
        dev = self._device()
        y, noise = conditions.to(dev), noise.to(dev)
        z, v = noise[:, : self.z_dim], noise[:, self.z_dim:]
        x, _ = self.flow.inverse(torch.cat([z, y + self.eps * v], dim=1))
        return x[:, : self.x_dim]

    @torch.no_grad()
    def noise_of(self, x, conditions):
        """[z, v] with f([x, x0]) = [z, y + eps v] (x0 the noisy padding)."""
        dev = self._device()
        out, _ = self.flow(self.pad(x.to(dev)))
        return torch.cat([out[:, : self.z_dim], (out[:, self.z_dim:] - conditions.to(dev)) / self.eps], 1)

    @torch.no_grad()
    def predict(self, x):
        out, _ = self.flow(self.pad(x))
        return out[:, self.z_dim:]
