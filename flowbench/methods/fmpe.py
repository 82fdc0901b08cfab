"""Flow matching posterior estimation as the ``sbi`` library does it (sbi 0.27, Tejero-Cantero et
al. 2020; ``sbi.inference.FMPE``: Wildberger, Dax et al. 2023, arXiv:2305.17161), a peer of the
suite's own conditional flow matching (``cfm``).

The estimator is sbi's ``posterior_flow_nn`` (default: a vector-field MLP of 5 layers of 100 units
with a sinusoidal time embedding, parameters and data z-scored from the training data), trained
**by sbi's own loop** (``FMPE.train``: Adam at lr 5e-4, batches of 200, gradient norm clipped at
5, 10% of the simulations held out, stopped after 20 epochs without a better validation loss, the
best kept) and sampled by sbi's ``VectorFieldPosterior`` integrating the probability-flow ODE:
the method trains itself (``trains_itself``) on a fixed set of simulations
(``Task.training_set``: the task's simulation budget where it has one, e.g. sbibm's; else
``simulations`` fresh joint draws), not on the task's iterations and batches. sbi's posterior is
given a broad N(0, 10^2 I) in the standardised units (the tasks pass no prior object); draws
outside a bounded prior's support (the task's ``x_support``) are rejected by the suite, as sbi's
``reject_outside_prior`` default does (``reject_outside_prior``).

``loss`` (sbi's flow-matching loss at random times) makes it a method like any other for the
contract tests; ``sample_posterior(y [K, y_dim], n) -> [K, n, x_dim]``. No density (sbi computes
one by the ODE's trace, not used here), no forward predictor, no image stage.
"""
from __future__ import annotations

import torch

from ..params import Param, Space, with_defaults
from .base import SBI_LOOP_PARAMS, SbiTrainedMethod, register_method

_DEFAULTS = {"density_estimator": "mlp", "hidden_features": 100, "num_layers": 5}


@register_method
class SbiFMPE(SbiTrainedMethod):
    name = "fmpe"
    label = "FMPE (sbi)"
    order = 8
    summary = "flow matching posterior estimation as sbi 0.27 does it (its estimator, defaults and training loop)"
    fixed_noise = "the ODE's start"
    image_flow = False   # stated here: the torch-free registry reads each method file's own attributes
    INFERENCE, ESTIMATOR_KEYWORD = "FMPE", "vf_estimator"
    PARAMS = with_defaults({
        "density_estimator": Param("string", "sbi's vector-field network", enum=["mlp", "ada_mlp"]),
        "hidden_features": Param("integer", "hidden units of each layer", minimum=1),
        "num_layers": Param("integer", "layers of the vector-field network", minimum=1),
        **{k: p.replace(filled=True) for k, p in SBI_LOOP_PARAMS.items()},
    }, _DEFAULTS)
    #: tuning: the network's size and sbi's learning rate (sbi's own defaults are the recipe)
    SEARCH_SPACE = {
        "lr": Space("float", 1e-4, 3e-3, log=True,
                    source="rule: one decade below to three times Adam's default 1e-3 (Kingma & Ba 2015), every method"),
        "hidden_features": Space("choice", choices=(50, 100, 200, 400), source="rule: half to 4x sbi's default 100"),
        "num_layers": Space("int", 2, 10, source="rule: from 2 to twice sbi's default 5"),
    }

    @classmethod
    def train_bytes_per_sample(cls, params):
        p = cls.resolve(params)
        return 4 * 2 * p["num_layers"] * p["hidden_features"], "the vector field's activations kept for backward"

    def _builder(self):
        from sbi.neural_nets import posterior_flow_nn
        p = self.params
        return posterior_flow_nn(model=p["density_estimator"], hidden_features=int(p["hidden_features"]),
                                 num_layers=int(p["num_layers"]))

    def loss(self, x, y, step: int):
        fm = self.net.loss(x, condition=y).mean()
        return fm, {"flow_matching": float(fm.detach())}

    def _draw(self, y, n: int):
        """sbi's VectorFieldPosterior, the probability-flow ODE, every condition in one batched
        solve (``sample_batched``): one condition at a time, the solver's fixed cost per call made
        500 calibration conditions x 200 draws take 834 s on two_moons against 16 s for 10 x 2,000
        evaluation draws."""
        from sbi.inference.posteriors.vector_field_posterior import VectorFieldPosterior
        dev = y.device
        broad = torch.distributions.Independent(
            torch.distributions.Normal(torch.zeros(self.x_dim, device=dev), 10 * torch.ones(self.x_dim, device=dev)), 1)
        post = VectorFieldPosterior(self.net, prior=broad, device=dev, enable_transform=False, sample_with="ode")
        with torch.no_grad():
            s = post.sample_batched((int(n),), x=y, show_progress_bars=False, reject_outside_prior=False,
                                    max_sampling_batch_size=max(1, 100_000 // max(len(y), 1)))
        return s.reshape(int(n), len(y), self.x_dim).permute(1, 0, 2).contiguous()
