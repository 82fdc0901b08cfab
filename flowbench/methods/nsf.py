"""The conditional neural spline flow (Durkan, Bekasov, Murray & Papamakarios 2019, "Neural Spline
Flows", arXiv:1906.04487) of the ``zuko`` library (Rozet et al., https://github.com/probabilists/zuko),
the default density estimator of amortized posterior estimation in ``sbi`` (Tejero-Cantero et al.
2020): ``transforms`` autoregressive monotonic rational-quadratic spline transforms of ``bins``
bins, each conditioned on y through a MADE of ``hidden_features``, over a standard normal base.

Trained by maximum likelihood, the loss is ``-mean log p(x | y)``: one loss, as ours. The
hyper-parameters are zuko's defaults (3 transforms, hidden layers (64, 64), 8 bins) and Adam's
(lr 1e-3); the training budget is the task's (iterations, batch size), as every method's.

- ``sample_posterior(y [K, y_dim], n) -> [K, n, x_dim]``: z ~ N(0, I) through the inverse;
- ``log_prob(x [N, x_dim], y [N, y_dim]) -> [N]``: exact;
- ``generate(conditions [M, y_dim], noise [M, x_dim]) -> x [M, x_dim]``, ``noise_of`` its inverse.

No forward predictor.
"""
from __future__ import annotations

import torch
import zuko

from ..params import Param, Space, with_defaults
from .base import BUDGET_PARAMS, LR_SPACE, OPTIMISER_PARAMS, ConditionalMethod, register_method


@register_method
class NeuralSplineFlow(ConditionalMethod):
    name = "nsf"
    label = "NSF"
    order = 6
    summary = "conditional neural spline flow (Durkan et al. 2019, arXiv:1906.04487) of zuko"
    fixed_noise = "z"
    PARAMS = with_defaults({
        "transforms": Param("integer", "autoregressive spline transforms", minimum=1),
        "hidden_features": Param("array", "hidden units of each transform's MADE",
                                 items=Param("integer", minimum=1), min_items=1),
        "bins": Param("integer", "bins of each rational-quadratic spline", minimum=2),
        **{k: p.replace(filled=True) for k, p in OPTIMISER_PARAMS.items()},
        **{k: p.replace(filled=True) for k, p in BUDGET_PARAMS.items()},
    }, {"transforms": 3, "hidden_features": [64, 64], "bins": 8})
    #: tuning: the transforms, their MADEs, the spline's bins and the learning rate
    SEARCH_SPACE = {**LR_SPACE,
                    "transforms": Space("int", 1, 6, source="rule: 1 to twice zuko's default 3"),
                    "hidden_features": Space("choice", choices=([64, 64], [128, 128], [256, 256]),
                                             source="rule: zuko's default [64, 64] to 4x as wide"),
                    "bins": Space("int", 4, 16, source="rule: half to twice zuko's default 8")}

    @classmethod
    def min_dim(cls, x_dim, y_dim, x_name="x_dim", y_name="y_dim"):
        return 0, "nsf has no flow dim (it maps x itself)"

    @classmethod
    def train_bytes_per_sample(cls, params):
        p = cls.resolve(params)
        return (4 * 2 * p["transforms"] * (sum(p["hidden_features"]) + 3 * p["bins"]),
                "the MADEs' activations kept for backward")

    @classmethod
    def sample_bytes_per_sample(cls, params):
        return 4 * 2 * max(cls.resolve(params)["hidden_features"]), "the flow"

    def __init__(self, x_dim, y_dim, params, total_steps=1, seed=0, label_prior=None,
                 conditions="label"):
        super().__init__(x_dim, y_dim, params, total_steps, conditions)
        p = self.params
        state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        try:
            self.flow = zuko.flows.NSF(x_dim, y_dim, bins=int(p["bins"]),
                                       transforms=int(p["transforms"]),
                                       hidden_features=tuple(int(h) for h in p["hidden_features"]))
        finally:
            torch.random.set_rng_state(state)

    def log_prob(self, x, y):
        return self.flow(y).log_prob(x)

    exact_density = True

    def loss(self, x, y, step):
        nll = -self.log_prob(x, y).mean()
        return nll, {"nll": float(nll.detach())}

    @property
    def noise_dims(self):
        return (self.x_dim,)

    @torch.no_grad()
    def generate(self, conditions, noise):
        return self.flow.transform(conditions).inv(noise)

    @torch.no_grad()
    def noise_of(self, x, conditions):
        return self.flow.transform(conditions)(x)

    @torch.no_grad()
    def sample_posterior(self, y, n):
        y = torch.as_tensor(y, dtype=torch.float32, device=self._device())
        return torch.stack([self.generate(yk.expand(n, -1),
                                          torch.randn(n, self.x_dim, device=y.device)) for yk in y])

    def describe(self) -> str:
        n = sum(q.numel() for q in self.parameters() if q.requires_grad)
        return (f"nsf: {self.params['transforms']} spline transforms of {self.params['bins']} bins, "
                f"MADE hidden {list(self.params['hidden_features'])}, {n:,} parameters")
