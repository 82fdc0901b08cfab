"""Neural posterior estimation as the ``sbi`` library does it (sbi 0.27, Tejero-Cantero et al. 2020;
``sbi.inference.NPE``: Papamakarios & Murray 2016, Greenberg et al. 2019), a peer the suite's own
flows are measured against.

The estimator is sbi's ``posterior_nn`` (default: a masked autoregressive flow of 5 transforms with
50 hidden units, parameters and data z-scored from the training data), trained **by sbi's own
loop** (``NPE.train``: Adam at lr 5e-4, batches of 200, gradient norm clipped at 5, 10% of the
simulations held out, stopped after 20 epochs without a better validation loss, the best kept):
the method trains itself (``trains_itself``) on a fixed set of simulations
(``Task.training_set``: the task's simulation budget where it has one, e.g. sbibm's; else
``simulations`` fresh joint draws), not on the task's iterations and batches. Sampled as sbi's
posterior does by default: draws outside a bounded prior's support (the task's ``x_support``,
e.g. sbibm's uniform priors) are rejected (``reject_outside_prior``).

``loss`` (the negative log-density of sbi's estimator, its single-round NPE loss) and
``log_prob`` make it a method like any other for the contract tests; ``sample_posterior(y [K,
y_dim], n) -> [K, n, x_dim]``. No forward predictor, no image stage.
"""
from __future__ import annotations

import torch

from ..params import Param, Space, with_defaults
from .base import SBI_LOOP_PARAMS, SbiTrainedMethod, register_method

_DEFAULTS = {"density_estimator": "maf", "hidden_features": 50, "num_transforms": 5}


@register_method
class SbiNPE(SbiTrainedMethod):
    name = "npe"
    label = "NPE (sbi)"
    order = 7
    summary = "neural posterior estimation as sbi 0.27 does it (its estimator, defaults and training loop)"
    fixed_noise = "the flow's noise"
    image_flow = False   # stated here: the torch-free registry reads each method file's own attributes
    INFERENCE = "NPE"
    PARAMS = with_defaults({
        "density_estimator": Param("string", "sbi's posterior_nn model", enum=["maf", "nsf", "mdn", "made"]),
        "hidden_features": Param("integer", "hidden units of each transform", minimum=1),
        "num_transforms": Param("integer", "flow transforms", minimum=1),
        **{k: p.replace(filled=True) for k, p in SBI_LOOP_PARAMS.items()},
    }, _DEFAULTS)
    #: tuning: the flow's size and sbi's learning rate (sbi's own defaults are the recipe)
    SEARCH_SPACE = {
        "lr": Space("float", 1e-4, 3e-3, log=True,
                    source="rule: one decade below to three times Adam's default 1e-3 (Kingma & Ba 2015), every method"),
        "hidden_features": Space("choice", choices=(25, 50, 100, 200), source="rule: half to 4x sbi's default 50"),
        "num_transforms": Space("int", 2, 10, source="rule: from 2 to twice sbi's default 5"),
    }

    @classmethod
    def train_bytes_per_sample(cls, params):
        p = cls.resolve(params)
        return 4 * 2 * p["num_transforms"] * p["hidden_features"] * 2, "the MADEs' activations kept for backward"

    def _builder(self):
        from sbi.neural_nets import posterior_nn
        p = self.params
        return posterior_nn(model=p["density_estimator"], hidden_features=int(p["hidden_features"]),
                            num_transforms=int(p["num_transforms"]))

    def loss(self, x, y, step: int):
        nll = self.net.loss(x, condition=y).mean()
        return nll, {"nll": float(nll.detach())}

    def log_prob(self, x, y):
        return self.net.log_prob(x.unsqueeze(0), condition=y).squeeze(0)

    exact_density = True

    def _draw(self, y, n: int):
        with torch.no_grad():
            s = self.net.sample(torch.Size([int(n)]), condition=y)   # [n, K, x_dim]
        return s.permute(1, 0, 2).contiguous()
