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
``simulations`` fresh joint draws), not on the task's iterations and batches. The suite's tasks
give no prior object: the posterior is given a broad N(0, 10^2 I) in the standardised units and
never rejects samples outside it.

``loss`` (sbi's flow-matching loss at random times) makes it a method like any other for the
contract tests; ``sample_posterior(y [K, y_dim], n) -> [K, n, x_dim]``. No density (sbi computes
one by the ODE's trace, not used here), no forward predictor, no image stage.
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch

from ..params import Param, Space, with_defaults
from .base import ConditionalMethod, register_method

_DEFAULTS = {"density_estimator": "mlp", "hidden_features": 100, "num_layers": 5, "lr": 5e-4,
             "training_batch_size": 200, "validation_fraction": 0.1, "stop_after_epochs": 20,
             "max_num_epochs": 100000, "clip_max_norm": 5.0, "simulations": 100000}


@register_method
class SbiFMPE(ConditionalMethod):
    name = "fmpe"
    label = "FMPE (sbi)"
    order = 8
    summary = "flow matching posterior estimation as sbi 0.27 does it (its estimator, defaults and training loop)"
    fixed_noise = "the ODE's start"
    image_flow = False
    #: trained by ``fit`` (sbi's loop on a fixed set of simulations), not by the suite's loop
    trains_itself = True
    PARAMS = with_defaults({
        "density_estimator": Param("string", "sbi's vector-field network", enum=["mlp", "ada_mlp"]),
        "hidden_features": Param("integer", "hidden units of each layer", minimum=1),
        "num_layers": Param("integer", "layers of the vector-field network", minimum=1),
        "lr": Param("number", "sbi's learning_rate", exclusive_minimum=0),
        "training_batch_size": Param("integer", "sbi's training_batch_size", minimum=1),
        "validation_fraction": Param("number", "share of the simulations sbi holds out",
                                     exclusive_minimum=0, exclusive_maximum=1),
        "stop_after_epochs": Param("integer", "sbi's patience in epochs", minimum=1),
        "max_num_epochs": Param("integer", "sbi's cap on epochs", minimum=1),
        "clip_max_norm": Param(("number", "null"), "sbi's gradient norm clip", exclusive_minimum=0),
        "simulations": Param("integer", "joint draws trained on where the task has no simulation budget",
                             minimum=10),
    }, _DEFAULTS)
    #: tuning: the network's size and sbi's learning rate (sbi's own defaults are the recipe)
    SEARCH_SPACE = {
        "lr": Space("float", 1e-4, 3e-3, log=True,
                    source="rule: one decade below to three times Adam's default 1e-3 (Kingma & Ba 2015), every method"),
        "hidden_features": Space("choice", choices=(50, 100, 200, 400), source="rule: half to 4x sbi's default 100"),
        "num_layers": Space("int", 2, 10, source="rule: from 2 to twice sbi's default 5"),
    }

    @classmethod
    def min_dim(cls, x_dim, y_dim, x_name="x_dim", y_name="y_dim"):
        return 0, "fmpe has no flow dim (its vector field acts on x itself)"

    @classmethod
    def train_bytes_per_sample(cls, params):
        p = cls.resolve(params)
        return 4 * 2 * p["num_layers"] * p["hidden_features"], "the vector field's activations kept for backward"

    @classmethod
    def sample_bytes_per_sample(cls, params):
        return 4 * 2 * cls.resolve(params)["hidden_features"], "the vector field (per ODE step)"

    def __init__(self, x_dim, y_dim, params, total_steps=1, seed=0, label_prior=None, conditions="label"):
        super().__init__(x_dim, y_dim, params, total_steps, conditions)
        g = torch.Generator().manual_seed(int(seed))
        # built on standard-normal stand-ins (z-scoring buffers of the right shapes); ``fit``
        # replaces it by the estimator sbi trains, of the same structure
        with torch.random.fork_rng():
            torch.manual_seed(int(seed))
            self.net = self._builder()(torch.randn(64, x_dim, generator=g), torch.randn(64, y_dim, generator=g))

    def _builder(self):
        from sbi.neural_nets import posterior_flow_nn
        p = self.params
        return posterior_flow_nn(model=p["density_estimator"], hidden_features=int(p["hidden_features"]),
                                 num_layers=int(p["num_layers"]))

    # -- the suite's interface -------------------------------------------------------------------
    def make_optimizer(self):
        return torch.optim.Adam(self.parameters(), lr=float(self.params["lr"]))

    @property
    def grad_clamp(self):
        return None

    def loss(self, x, y, step: int):
        fm = self.net.loss(x, condition=y).mean()
        return fm, {"flow_matching": float(fm.detach())}

    def sample_posterior(self, y, n: int):
        """sbi's VectorFieldPosterior, the probability-flow ODE, one condition at a time."""
        from sbi.inference.posteriors.vector_field_posterior import VectorFieldPosterior
        dev = y.device
        broad = torch.distributions.Independent(
            torch.distributions.Normal(torch.zeros(self.x_dim, device=dev), 10 * torch.ones(self.x_dim, device=dev)), 1)
        post = VectorFieldPosterior(self.net, prior=broad, device=dev, enable_transform=False, sample_with="ode")
        with torch.no_grad():
            out = [post.sample((int(n),), x=y[k:k + 1], show_progress_bars=False, reject_outside_prior=False)
                   for k in range(len(y))]
        return torch.stack(out)

    # -- sbi's own training loop --------------------------------------------------------------------
    def fit(self, task, seed: int, device=None, log=None):
        """Train with ``sbi.inference.FMPE`` on the task's training set; returns a
        ``flowbench.training.TrainResult`` with one row per epoch (``loss``: sbi's training loss,
        ``val_loss``: its validation loss), ``best_step`` the epoch sbi kept."""
        from sbi.inference import FMPE

        from ..training import TrainResult
        log = log or (lambda m: None)
        p = self.params
        rng = np.random.default_rng(int(seed))
        torch.manual_seed(int(seed))
        x, y = task.training_set(int(p["simulations"]), rng)
        x, y = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.float32)
        dev = str(device) if device is not None else "cpu"
        inference = FMPE(prior=None, vf_estimator=self._builder(), device=dev, show_progress_bars=False)
        inference.append_simulations(x, y)
        t0 = time.perf_counter()
        net = inference.train(training_batch_size=int(p["training_batch_size"]), learning_rate=float(p["lr"]),
                              validation_fraction=float(p["validation_fraction"]),
                              stop_after_epochs=int(p["stop_after_epochs"]), max_num_epochs=int(p["max_num_epochs"]),
                              clip_max_norm=p["clip_max_norm"], show_train_summary=False)
        seconds = time.perf_counter() - t0
        self.net = net
        summary = inference._summary
        train_loss, val_loss = summary["training_loss"], summary["validation_loss"]
        res = TrainResult()
        elapsed = np.cumsum(summary.get("epoch_durations_sec") or [seconds / max(len(train_loss), 1)] * len(train_loss))
        for e, (lt, lv) in enumerate(zip(train_loss, val_loss)):
            res.rows.append({"step": e, "loss": float(lt), "val_loss": float(lv), "seconds": float(elapsed[e])})
        res.seconds, res.steps_done = seconds, len(train_loss)
        finite = [v for v in train_loss if math.isfinite(v)]
        res.last_finite_loss = float(finite[-1]) if finite else None
        if len(finite) < len(train_loss):
            res.diverged, res.diverged_step = True, len(finite)
        # sbi keeps the epoch of its best validation loss (a flow-matching loss, not the suite's
        # validation W2, so it is logged per epoch as val_loss and not recorded as best_val_w2)
        res.stopped_early = len(train_loss) < int(p["max_num_epochs"])
        best = int(np.argmin(val_loss)) + 1 if len(val_loss) else None
        log(f"fmpe: sbi trained {len(train_loss)} epochs on {len(x)} simulations in {seconds:.1f} s; best "
            f"validation loss {summary.get('best_validation_loss')} at epoch {best}")
        self.eval()
        return res
