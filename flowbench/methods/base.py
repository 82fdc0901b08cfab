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
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from ..params import Param, Space, merged, resolved

LOG_2PI = math.log(2 * math.pi)

# ------------------------------------------------------------------ declared parameter groups
#: Adam and the learning-rate schedule, shared by every method (``filled=False``: the code's
#: defaults; the generative baselines' declarations write them into the config)
OPTIMISER_PARAMS = {
    "lr": Param("number", "Adam learning rate", default=1e-3, filled=False, exclusive_minimum=0),
    "betas": Param("array", "Adam betas", default=[0.9, 0.999], filled=False,
                   items=Param("number", minimum=0, exclusive_maximum=1), min_items=2, max_items=2),
    "adam_eps": Param("number", "Adam epsilon", default=1e-8, filled=False, exclusive_minimum=0),
    "weight_decay": Param("number", "Adam L2 weight decay", default=0.0, filled=False, minimum=0),
    "grad_clamp": Param(("number", "null"), "element-wise gradient clamp (null: none)",
                        default=None, filled=False, exclusive_minimum=0),
    "lr_schedule": Param(None, "constant, or cosine decay to lr * lr_final_factor",
                         default="constant", filled=False, enum=("constant", "cosine")),
    "lr_final_factor": Param("number", "the cosine schedule's final lr over lr", default=0.01,
                             filled=False, exclusive_minimum=0, maximum=1),
}
#: the training budget of a variant beyond the task's (the ceiling runs that separate a method from
#: the recipe's budget); the image stage sets its budget in epochs instead
BUDGET_PARAMS = {
    "iterations_factor": Param("integer", "trains this variant for this many times the task's "
                               "train.iterations", default=1, filled=False, minimum=1, maximum=100),
}
#: the coupling flows' keys (ours, inn, cinn): Real NVP blocks of two affine couplings and a
#: permutation (Dinh et al. 2017, arXiv:1605.08803), inputs padded with noise to ``dim``
FLOW_PARAMS = {
    "dim": Param(None, "the flow's width: x padded with noise to dim features (auto: the least the "
                       "task's dimensions allow, the method's min_dim)", required=True,
                 schema={"oneOf": [{"type": "integer", "minimum": 2}, {"const": "auto"}]}),
    "blocks": Param("integer", "paper blocks (two couplings and a permutation each)", minimum=1,
                    required=True),
    "subnet_layers": Param("integer", "Linear layers of each coupling's subnet", minimum=2,
                           required=True),
    "width": Param("integer", "hidden units of each subnet layer", minimum=1, required=True),
    "clamp": Param("number", "soft clamp of the log-scales", exclusive_minimum=0, required=True),
    "init_scale": Param(("number", "null"), "std of the subnets' initial weights (null: torch's)",
                        default=None, filled=False, exclusive_minimum=0),
    "pad_noise": Param("number", "std of the noise in the padding dimensions", minimum=0,
                       default=0.0, filled=False),
    "pad_resample": Param(None, "per_sample: fresh padding noise per sample; per_iteration: one "
                          "vector per batch", default="per_sample", filled=False,
                          enum=("per_sample", "per_iteration")),
    **OPTIMISER_PARAMS,
    **BUDGET_PARAMS,
}
#: the generative baselines' networks (cvae, cgan, cfm): MLPs of ``layers`` x ``width``
GENERATIVE_PARAMS = merged(
    {"width": Param("integer", "units of every hidden layer", minimum=1),
     "layers": Param("integer", "Linear layers of each MLP (2: one hidden layer)", minimum=2)},
    {k: p.replace(filled=True) for k, p in OPTIMISER_PARAMS.items()},
    {k: p.replace(filled=True) for k, p in BUDGET_PARAMS.items()},
)
#: the image stage's defaults of the coupling flows (ours, cinn) on the auto-encoder's latents
#: (Xiao et al. 2019, Sec. 5.2); each adds its own dim and padding
IMAGE_FLOW_DEFAULTS = {"blocks": 4, "subnet_layers": 3, "width": 64, "clamp": 2.0, "init_scale": None,
                       "pad_resample": "per_sample", "lr": 1e-3, "betas": [0.8, 0.9],
                       "adam_eps": 1e-6, "weight_decay": 2e-5, "grad_clamp": None,
                       "lr_schedule": "constant", "lr_final_factor": 0.01, "epochs": 40,
                       "batch_size": 256, "log_every": None}
#: the image stage's training keys (Xiao et al. 2019, Sec. 5.2): epochs over the latents
IMAGE_TRAINING_PARAMS = {
    "epochs": Param("integer", "passes over the training latents", minimum=1, default=40),
    "batch_size": Param("integer", "latents per step", minimum=1, default=256),
    "log_every": Param(("integer", "null"), "iterations between progress lines (null: once per "
                       "epoch)", minimum=1, default=None),
}


# ------------------------------------------------------------------ shared tuning search spaces
# Every method's tuning space (``SEARCH_SPACE``, {dotted key: Space}) is built from these groups
# and its own settings, fixed before any tuning result (the rules in each Space's source).
_LR_RULE = "rule: one decade below to three times Adam's default 1e-3 (Kingma & Ba 2015), every method"
#: the learning rate of every method but the cGAN's (whose recipe's 1e-4 sits at that range's end)
LR_SPACE = {"lr": Space("float", 1e-4, 3e-3, log=True, source=_LR_RULE)}
#: the coupling flows' size (ours, inn, cinn): the paper's flow has 8 blocks of 3 x 512 (Sec. 5.1)
FLOW_SPACE = {
    "blocks": Space("int", 2, 8, source="rule: from 2 to the paper's 8 blocks (Sec. 5.1)"),
    "subnet_layers": Space("int", 2, 3, source="rule: the original INN code's 2 to the paper's 3"),
    "width": Space("choice", choices=(64, 128, 256, 512),
                   source="rule: powers of two up to the paper's 512 (Sec. 5.1)"),
}
#: the generative baselines' MLPs (cvae, cgan, cfm)
MLP_SPACE = {
    "width": Space("choice", choices=(64, 128, 256, 512),
                   source="rule: powers of two up to the baselines' default 512"),
    "layers": Space("int", 2, 6, source="rule: one hidden layer to the deepest default (CFM's 6)"),
}


def std_normal_log_prob(z: torch.Tensor, std: float = 1.0) -> torch.Tensor:
    """Sum over the last dim of log N(z; 0, std^2 I)."""
    d = z.shape[-1]
    return -0.5 * (z / std).pow(2).sum(-1) - d * (0.5 * LOG_2PI + math.log(std))


class ConditionalMethod(nn.Module):
    """Base class. Subclasses set ``self.flow`` and implement ``loss``/``sample_posterior``.

    Class metadata (the registry's view of a method; nothing outside ``flowbench.methods``
    lists methods by name): ``name`` (config name), ``label`` (display name), ``order`` (report
    and colour order), ``role`` (``paper``: the seed paper's method, every comparison is set
    against it; ``paper_baseline``: the INN the paper compares with; ``baseline``), ``summary``
    (one line with the paper), ``PARAMS`` (the declared keys, :class:`flowbench.params.Param`),
    ``SEARCH_SPACE`` (what tuning may change, :class:`flowbench.params.Space`),
    ``image_defaults`` (the image stage's defaults where every image run trains it, ``None``:
    trained on the latents only when its ``images`` section is written; ``image_flow=False``: not
    an image method), ``image_variant`` (the variant name of its image rows) and
    ``fixed_noise`` (what Fig. 5.4 holds fixed along a row: the noise ``generate`` takes).
    """

    name = "base"
    label = "base"
    long_label = None          # the label in the image stage's tables (None: ``label``)
    order = 100
    role = "baseline"
    summary = ""
    PARAMS: ClassVar[dict] = {}
    #: the tuning search space ({dotted key: flowbench.params.Space}); every key a declared one
    SEARCH_SPACE: ClassVar[dict] = {}
    image_flow = True
    #: a method that trains itself (``fit(task, seed, device, log) -> TrainResult``: sbi's
    #: estimators with the library's own loop) instead of the suite's loop over ``loss``
    trains_itself = False
    image_defaults: ClassVar[dict | None] = None
    image_variant = "default"
    fixed_noise = "the generator's noise"

    @classmethod
    def resolve(cls, params: dict | None) -> dict:
        """``params`` with every declared default filled in: what the method reads."""
        return resolved(cls.PARAMS, params)

    @classmethod
    def has(cls, capability: str) -> bool:
        """Whether the method implements ``capability``: ``log_prob`` (a density), ``predict`` (a
        forward predictor), ``noise_of`` (the inverse of ``generate``) or ``generate``."""
        if capability not in ("log_prob", "predict", "noise_of", "generate"):
            raise ValueError(f"unknown capability {capability!r}")
        return getattr(cls, capability) is not getattr(ConditionalMethod, capability)

    def __init__(self, x_dim: int, y_dim: int, params: dict, total_steps: int = 1,
                 conditions: str = "label"):
        super().__init__()
        if conditions not in ("label", "continuous"):
            raise ValueError(f"conditions must be 'label' or 'continuous', got {conditions!r}")
        self.x_dim, self.y_dim = int(x_dim), int(y_dim)
        self.conditions = conditions
        params = self.resolve(params)
        self.params = params
        self.total_steps = int(total_steps)
        self.pad_noise = float(params.get("pad_noise", 0.0))
        self.pad_mode = params.get("pad_resample", "per_sample")

    # -- padding -----------------------------------------------------------------
    @property
    def dim(self) -> int:
        return int(self.params.get("dim", self.x_dim))

    def _pad_shape(self, x: torch.Tensor) -> tuple[int, int]:
        rows = 1 if self.pad_mode == "per_iteration" else x.shape[0]
        return rows, self.dim - x.shape[1]

    def pad(self, x: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        """[x, x0] with x0 the noisy zero padding of ``dim - x_dim`` dims.

        ``pad_resample: per_sample`` draws independent noise for every sample of every batch;
        ``per_iteration`` draws one noise vector per call, shared by the whole batch (the paper's
        "zero padding with fixed noise in each iteration"). ``noise``: the standard-normal draws
        to use (``draw_step_noise``) instead of drawing them from torch's generator.
        """
        rows, n_pad = self._pad_shape(x)
        if n_pad <= 0:
            return x
        if noise is None:
            noise = torch.randn(rows, n_pad, device=x.device, dtype=x.dtype)
        noise = self.pad_noise * noise
        return torch.cat([x, noise.expand(x.shape[0], n_pad)], dim=1)

    # -- the limit its training converges to (flowbench.eps_split) ------------------------------
    #: where training with a smoothing width converges to a smoothed target rather than the
    #: posterior, (the parameter that holds the width, the target's kind): ``"reparametrised"``
    #: (ours: the likelihood of y~ ~ N(y, eps^2), y~ reparametrised by phi) or ``"transport"`` (the
    #: INN: phi the transport map from y's law to its smoothing); None where no limit is stated
    smoothed_limit: ClassVar[tuple | None] = None

    # -- one training step's randomness, given (flowbench.ensemble) ----------------------------
    #: whether ``draw_step_noise`` and ``loss_terms`` are implemented: several seeds of the
    #: method can then train as one batched ensemble (flowbench.ensemble.train_ensemble)
    ensemble_ready: ClassVar[bool] = False

    def draw_step_noise(self, x: torch.Tensor, generator: torch.Generator | None, step: int = 0) -> dict:
        """The random tensors one ``loss`` call at batch ``x`` and ``step`` draws, drawn from
        ``generator`` (None: torch's global generator) in the order and shapes ``loss`` draws them."""
        raise NotImplementedError(f"{self.name} does not give its training step's noise")

    def loss_terms(self, x: torch.Tensor, y: torch.Tensor, step: int, noise: dict):
        """``loss`` with its random tensors given (``draw_step_noise``), its parts as tensors
        (``loss`` turns them into floats): ``(loss, {part: 0-d tensor})``."""
        raise NotImplementedError(f"{self.name} does not give its loss from given noise")

    def _device(self) -> torch.device:
        """The device the method's parameters live on."""
        return next(self.parameters()).device

    # -- optimiser -----------------------------------------------------------------
    def make_optimizer(self) -> torch.optim.Optimizer:
        p = self.params
        return torch.optim.Adam(self.parameters(), lr=float(p["lr"]), betas=tuple(p["betas"]),
                                eps=float(p["adam_eps"]), weight_decay=float(p["weight_decay"]))

    @property
    def grad_clamp(self) -> float | None:
        g = self.params.get("grad_clamp")
        return None if g is None else float(g)

    # -- interface -----------------------------------------------------------------
    def loss(self, x, y, step: int):
        raise NotImplementedError

    @property
    def schedule_steps(self) -> int:
        """The steps over which the method's loss changes by a schedule of its own (the INN's
        ramp, the cVAE's KL warm-up): early stopping does not stop a run before them, so a
        stopped run has trained on the method's whole objective. 0: no schedule."""
        return 0

    def sample_posterior(self, y: torch.Tensor, n: int) -> torch.Tensor:
        raise NotImplementedError

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{self.name} has no forward process")

    def log_prob(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{self.name} has no tractable log-density")

    @property
    def exact_density(self) -> bool:
        """Whether ``log_prob(x, y)`` is the model's exact log q(x | y) on x itself: then the
        calibration rows add the coverage of highest-density regions (``metrics.hpd_rows``). False
        for a density on a padded x (the padding's draw enters it), an estimate (the cVAE's
        importance sampling) or one computed by an ODE's trace (CFM, FMPE)."""
        return False

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


# ------------------------------------------------------------------ sbi's estimators as peers
#: the keys of sbi's own training loop (``NPE.train`` / ``FMPE.train``, sbi 0.27) and its defaults
SBI_LOOP_PARAMS = {
    "lr": Param("number", "sbi's learning_rate", exclusive_minimum=0, default=5e-4),
    "training_batch_size": Param("integer", "sbi's training_batch_size", minimum=1, default=200),
    "validation_fraction": Param("number", "share of the simulations sbi holds out", exclusive_minimum=0,
                                 exclusive_maximum=1, default=0.1),
    "stop_after_epochs": Param("integer", "sbi's patience in epochs", minimum=1, default=20),
    "max_num_epochs": Param("integer", "sbi's cap on epochs", minimum=1, default=100000),
    "clip_max_norm": Param(("number", "null"), "sbi's gradient norm clip", exclusive_minimum=0, default=5.0),
    "simulations": Param("integer", "joint draws trained on where the task has no simulation budget",
                         minimum=10, default=100000),
    "reject_outside_prior": Param("boolean", "reject draws outside a bounded prior's support, as sbi's "
                                  "posteriors do by default (Task.x_support)", default=True),
}

#: a posterior whose draws fall inside the prior's box less often than this is refused, not sampled
#: for ever (sbi warns and keeps drawing)
MIN_ACCEPTANCE = 1e-3


def draw_within_box(draw, y: torch.Tensor, n: int, low: torch.Tensor, high: torch.Tensor, name: str = "") -> torch.Tensor:
    """``[K, n, x_dim]`` draws of ``draw(y [K', y_dim], m) -> [K', m, x_dim]`` that lie in the box
    ``low <= x <= high`` (sbi's leakage correction: rejection from the posterior estimator until
    each condition has ``n``, Greenberg et al. 2019, arXiv:1905.07488, Sec. 3). Raises when a
    condition's acceptance falls below ``MIN_ACCEPTANCE`` after ``1 / MIN_ACCEPTANCE`` rounds."""
    n = int(n)
    low, high = low.to(y.device), high.to(y.device)
    kept = [[] for _ in range(len(y))]
    got, rounds = [0] * len(y), 0
    need = list(range(len(y)))
    while need:
        s = draw(y[need], n)
        inside = ((s >= low) & (s <= high)).all(-1)
        for i, k in enumerate(need):
            kept[k].append(s[i][inside[i]])
            got[k] += int(inside[i].sum())
        rounds += 1
        need = [k for k in need if got[k] < n]
        if need and rounds >= round(1 / MIN_ACCEPTANCE):
            k = need[0]
            raise RuntimeError(f"{name}: only {got[k] / (rounds * n):.2g} of the posterior's draws at condition {k} "
                               f"fell inside the prior's support after {rounds * n} draws (below {MIN_ACCEPTANCE:g}); "
                               f"set reject_outside_prior: false to sample it without the correction")
    return torch.stack([torch.cat(kk)[:n] for kk in kept])


class SbiTrainedMethod(ConditionalMethod):
    """Base of sbi's estimators as peer methods (``npe``, ``fmpe``): the estimator a subclass's
    ``_builder`` makes, trained by sbi's own loop (``fit``: the subclass's ``INFERENCE`` class of
    ``sbi.inference``, passed the builder as ``ESTIMATOR_KEYWORD``) on the task's training set
    (``Task.training_set``), not by the suite's loop over ``loss``. A subclass states its own
    ``image_flow = False`` (the torch-free registry reads each method file's attributes)."""

    trains_itself = True
    INFERENCE = ""
    ESTIMATOR_KEYWORD = "density_estimator"
    support = None   # (low, high) of a bounded prior, in the task's units (set_support)

    @classmethod
    def min_dim(cls, x_dim, y_dim, x_name="x_dim", y_name="y_dim"):
        return 0, f"{cls.name} has no flow dim (sbi's estimator acts on x itself)"

    @classmethod
    def sample_bytes_per_sample(cls, params):
        return 4 * 2 * cls.resolve(params)["hidden_features"], "sbi's estimator"

    def __init__(self, x_dim, y_dim, params, total_steps=1, seed=0, label_prior=None, conditions="label"):
        super().__init__(x_dim, y_dim, params, total_steps, conditions)
        g = torch.Generator().manual_seed(int(seed))
        # built on standard-normal stand-ins (z-scoring buffers of the right shapes); ``fit``
        # replaces it by the estimator sbi trains, of the same structure
        with torch.random.fork_rng():
            torch.manual_seed(int(seed))
            self.net = self._builder()(torch.randn(64, x_dim, generator=g), torch.randn(64, y_dim, generator=g))

    def _builder(self):
        raise NotImplementedError

    def set_support(self, support) -> None:
        """The task's ``x_support()`` (None: an unbounded prior): with ``reject_outside_prior``
        (sbi's default), ``sample_posterior`` keeps only draws inside that box, as sbi's
        ``DirectPosterior`` and ``VectorFieldPosterior`` do with a bounded prior."""
        if support is None or not self.params.get("reject_outside_prior", True):
            self.support = None
            return
        low, high = (torch.as_tensor(np.asarray(b, np.float64), dtype=torch.float32) for b in support)
        if low.shape != (self.x_dim,) or high.shape != (self.x_dim,) or not bool((low < high).all()):
            raise ValueError(f"{self.name}: the prior's support must be two [{self.x_dim}] bounds with low < high, "
                             f"got {tuple(low.shape)}, {tuple(high.shape)}")
        self.support = (low, high)

    def _draw(self, y: torch.Tensor, n: int) -> torch.Tensor:
        """``[K, n, x_dim]`` draws of the estimator at conditions ``y [K, y_dim]``, uncorrected."""
        raise NotImplementedError

    def sample_posterior(self, y, n: int):
        if self.support is None:
            return self._draw(y, n)
        return draw_within_box(self._draw, y, n, *self.support, name=self.name)

    def make_optimizer(self):
        return torch.optim.Adam(self.parameters(), lr=float(self.params["lr"]))

    @property
    def grad_clamp(self):
        return None

    def fit(self, task, seed: int, device=None, log=None):
        """Train with sbi's ``INFERENCE`` on the task's training set; returns a
        ``flowbench.training.TrainResult`` with one row per epoch (``loss``: sbi's training loss,
        ``val_loss``: its validation loss). sbi keeps the epoch of its best validation loss, which
        is not the suite's validation W2, so it is logged, not recorded as ``best_val_w2``."""
        import time

        import numpy as np
        import sbi.inference

        from ..training import TrainResult
        log = log or (lambda m: None)
        p = self.params
        rng = np.random.default_rng(int(seed))
        torch.manual_seed(int(seed))
        x, y = task.training_set(int(p["simulations"]), rng)
        x, y = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.float32)
        dev = str(device) if device is not None else "cpu"
        inference = getattr(sbi.inference, self.INFERENCE)(
            prior=None, device=dev, show_progress_bars=False, **{self.ESTIMATOR_KEYWORD: self._builder()})
        inference.append_simulations(x, y)
        t0 = time.perf_counter()
        self.net = inference.train(training_batch_size=int(p["training_batch_size"]), learning_rate=float(p["lr"]),
                                   validation_fraction=float(p["validation_fraction"]),
                                   stop_after_epochs=int(p["stop_after_epochs"]),
                                   max_num_epochs=int(p["max_num_epochs"]), clip_max_norm=p["clip_max_norm"],
                                   show_train_summary=False)
        seconds = time.perf_counter() - t0
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
        res.stopped_early = len(train_loss) < int(p["max_num_epochs"])
        best = int(np.argmin(val_loss)) + 1 if len(val_loss) else None
        log(f"{self.name}: sbi trained {len(train_loss)} epochs on {len(x)} simulations in {seconds:.1f} s; best "
            f"validation loss {summary.get('best_validation_loss')} at epoch {best}")
        self.eval()
        return res
