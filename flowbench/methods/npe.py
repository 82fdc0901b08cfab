"""Neural posterior estimation as the ``sbi`` library does it (sbi 0.27, Tejero-Cantero et al. 2020;
``sbi.inference.NPE``: Papamakarios & Murray 2016, Greenberg et al. 2019), a peer the suite's own
flows are measured against.

The estimator is sbi's ``posterior_nn`` (default: a masked autoregressive flow of 5 transforms with
50 hidden units, parameters and data z-scored from the training data), trained **by sbi's own
loop** (``NPE.train``: Adam at lr 5e-4, batches of 200, gradient norm clipped at 5, 10% of the
simulations held out, stopped after 20 epochs without a better validation loss, the best kept):
the method trains itself (``trains_itself``) on a fixed set of simulations
(``Task.training_set``: the task's simulation budget where it has one, e.g. sbibm's; else
``simulations`` fresh joint draws), not on the task's iterations and batches. sbi's NPE would
also correct the posterior's leakage outside a bounded prior by rejection; the suite's tasks give
no prior object, so the estimator is sampled directly.

``loss`` (the negative log-density of sbi's estimator, its single-round NPE loss) and
``log_prob`` make it a method like any other for the contract tests; ``sample_posterior(y [K,
y_dim], n) -> [K, n, x_dim]``. No forward predictor, no image stage.
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch

from ..params import Param, Space, with_defaults
from .base import ConditionalMethod, register_method

_DEFAULTS = {"density_estimator": "maf", "hidden_features": 50, "num_transforms": 5, "lr": 5e-4,
             "training_batch_size": 200, "validation_fraction": 0.1, "stop_after_epochs": 20,
             "max_num_epochs": 100000, "clip_max_norm": 5.0, "simulations": 100000}


@register_method
class SbiNPE(ConditionalMethod):
    name = "npe"
    label = "NPE (sbi)"
    order = 7
    summary = "neural posterior estimation as sbi 0.27 does it (its estimator, defaults and training loop)"
    fixed_noise = "the flow's noise"
    image_flow = False
    #: trained by ``fit`` (sbi's loop on a fixed set of simulations), not by the suite's loop
    trains_itself = True
    PARAMS = with_defaults({
        "density_estimator": Param("string", "sbi's posterior_nn model", enum=["maf", "nsf", "mdn", "made"]),
        "hidden_features": Param("integer", "hidden units of each transform", minimum=1),
        "num_transforms": Param("integer", "flow transforms", minimum=1),
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
    #: tuning: the flow's size and sbi's learning rate (sbi's own defaults are the recipe)
    SEARCH_SPACE = {
        "lr": Space("float", 1e-4, 3e-3, log=True,
                    source="rule: one decade below to three times Adam's default 1e-3 (Kingma & Ba 2015), every method"),
        "hidden_features": Space("choice", choices=(25, 50, 100, 200), source="rule: half to 4x sbi's default 50"),
        "num_transforms": Space("int", 2, 10, source="rule: from 2 to twice sbi's default 5"),
    }

    @classmethod
    def min_dim(cls, x_dim, y_dim, x_name="x_dim", y_name="y_dim"):
        return 0, "npe has no flow dim (sbi's flow maps x itself)"

    @classmethod
    def train_bytes_per_sample(cls, params):
        p = cls.resolve(params)
        return 4 * 2 * p["num_transforms"] * p["hidden_features"] * 2, "the MADEs' activations kept for backward"

    @classmethod
    def sample_bytes_per_sample(cls, params):
        return 4 * 2 * cls.resolve(params)["hidden_features"], "the flow"

    def __init__(self, x_dim, y_dim, params, total_steps=1, seed=0, label_prior=None, conditions="label"):
        super().__init__(x_dim, y_dim, params, total_steps, conditions)
        g = torch.Generator().manual_seed(int(seed))
        # built on standard-normal stand-ins (z-scoring buffers of the right shapes); ``fit``
        # replaces it by the estimator sbi trains, of the same structure
        with torch.random.fork_rng():
            torch.manual_seed(int(seed))
            self.net = self._builder()(torch.randn(64, x_dim, generator=g), torch.randn(64, y_dim, generator=g))

    def _builder(self):
        from sbi.neural_nets import posterior_nn
        p = self.params
        return posterior_nn(model=p["density_estimator"], hidden_features=int(p["hidden_features"]),
                            num_transforms=int(p["num_transforms"]))

    # -- the suite's interface -------------------------------------------------------------------
    def make_optimizer(self):
        return torch.optim.Adam(self.parameters(), lr=float(self.params["lr"]))

    @property
    def grad_clamp(self):
        return None

    def loss(self, x, y, step: int):
        nll = self.net.loss(x, condition=y).mean()
        return nll, {"nll": float(nll.detach())}

    def log_prob(self, x, y):
        return self.net.log_prob(x.unsqueeze(0), condition=y).squeeze(0)

    def sample_posterior(self, y, n: int):
        with torch.no_grad():
            s = self.net.sample(torch.Size([int(n)]), condition=y)   # [n, K, x_dim]
        return s.permute(1, 0, 2).contiguous()

    # -- sbi's own training loop --------------------------------------------------------------------
    def fit(self, task, seed: int, device=None, log=None):
        """Train with ``sbi.inference.NPE`` on the task's training set; returns a
        ``flowbench.training.TrainResult`` with one row per epoch (``loss``: sbi's training loss,
        ``val_loss``: its validation loss), ``best_step`` the epoch sbi kept."""
        from sbi.inference import NPE

        from ..training import TrainResult
        log = log or (lambda m: None)
        p = self.params
        rng = np.random.default_rng(int(seed))
        torch.manual_seed(int(seed))
        x, y = task.training_set(int(p["simulations"]), rng)
        x, y = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.float32)
        dev = str(device) if device is not None else "cpu"
        inference = NPE(prior=None, density_estimator=self._builder(), device=dev, show_progress_bars=False)
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
        # sbi keeps the epoch of its best validation loss (a log-density, not the suite's
        # validation W2, so it is logged per epoch as val_loss and not recorded as best_val_w2)
        res.stopped_early = len(train_loss) < int(p["max_num_epochs"])
        best = int(np.argmin(val_loss)) + 1 if len(val_loss) else None
        log(f"npe: sbi trained {len(train_loss)} epochs on {len(x)} simulations in {seconds:.1f} s; best "
            f"validation loss {summary.get('best_validation_loss')} at epoch {best}")
        self.eval()
        return res
