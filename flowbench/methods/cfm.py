"""Conditional flow matching (Lipman, Chen, Ben-Hamu, Nickel & Le 2023, "Flow matching for
generative modeling"): a continuous normalising flow whose velocity field v(x_t, t, y) is regressed
on the velocity of a fixed probability path, one loss, no ODE solve in training.

- path (Lipman et al. Sec. 4.1, Example II, the optimal-transport conditional path): from
  x0 ~ N(0, I) at t = 0 to a data point x1 at t = 1,
      x_t = (1 - (1 - sigma_min) t) x0 + t x1,   u_t = x1 - (1 - sigma_min) x0,
  with t ~ U[0, 1]; ``sigma_min`` (default 1e-4) is the path's width at the data end;
- loss (their Sec. 3.2, the conditional flow matching objective): E ||v(x_t, t, y) - u_t||^2, summed
  over the x dimensions, mean over the batch. The condition y is one more input of the velocity
  network (an MLP on [x_t, t, y], SiLU activations: a smooth field for the ODE solver), so one
  network learns the whole family p(x | y); y is treated as a plain vector, label or continuous;
- sampling (``generate``, ``sample_posterior``): x0 ~ N(0, I), integrate dx/dt = v(x, t, y) from
  t = 0 to 1 with ``torchdiffeq.odeint`` (Chen et al. 2018); ``noise_of`` integrates the same ODE
  from t = 1 back to 0, so ``noise_of`` and ``generate`` are inverse maps up to the solver's error;
- ``log_prob``: the instantaneous change of variables (Chen et al. 2018, Theorem 1; Lipman et al.
  Sec. 2), log p_1(x) = log N(x0; 0, I) - int_0^1 tr(dv/dx)(x_t, t, y) dt, integrated backwards
  jointly with x_t. The trace is exact (one backward pass per x dimension), affordable for the
  low-dimensional tasks here. It is the density of the discretised flow up to the solver's error.

Solver: ``solver`` (default ``rk4``) with ``steps`` equal steps on [0, 1] (default 20, i.e. 80
evaluations of the network) for the fixed-grid methods (euler, midpoint, rk4); the adaptive ones
(dopri5, bosh3, adaptive_heun) use ``rtol`` and ``atol`` instead. A fixed grid is the default
because its cost is known and the same for every run, condition and stage of training (an adaptive
solver's number of evaluations depends on the field it meets and can blow up on a half-trained
one); the optimal-transport paths are close to straight, so a fourth-order method on 20 steps
leaves an error far below the metrics' sampling noise (measured on a model trained 200 iterations
on gmm_some, against dopri5 at tolerance 1e-7: mean |dx| 2e-6, max 4e-5; 10 steps 6e-6 / 3e-4).

No forward predictor. Default size (``PARAMS``; a fair budget: the task's
iterations and batch size, as ours): one MLP of 6 Linear layers of width 512 (SiLU). Parameters:
1,057,794 on the 2-d mixture (x 2-d, y one-hot 8-d) and 1,067,018 on gaussian_linear (x, y 10-d),
against ours' 4,333,728 and 4,456,768: the same order, a quarter of ours. A training step passes the
batch once through one network, about 0.2 of ours' step at batch 1600 on one CPU thread (measured
side by side: cfm 0.12 s, ours 0.61 s on a loaded machine). The network is kept at this size for
sampling, not training: every sample costs 80 network evaluations (rk4, 20 steps), so 8 x 2000
posterior samples take ~30 s on that loaded thread (ours: 1.7 s). ``describe()`` states the count.
"""
from __future__ import annotations

import torch
from torch import nn

from ..params import Param, Space, with_defaults
from .base import (
    GENERATIVE_PARAMS,
    LR_SPACE,
    MLP_SPACE,
    ConditionalMethod,
    mlp,
    n_parameters,
    register_method,
    std_normal_log_prob,
)

FIXED_GRID_SOLVERS = ("euler", "midpoint", "rk4")
ADAPTIVE_SOLVERS = ("dopri5", "bosh3", "adaptive_heun")


class _Field(nn.Module):
    """dx/dt = v(x, t, y) at fixed conditions y, in torchdiffeq's ``func(t, state)`` form."""

    def __init__(self, net: nn.Module, y: torch.Tensor):
        super().__init__()
        self.net, self.y = net, y

    def forward(self, t, x):
        return self.net(torch.cat([x, t.expand(x.shape[0], 1), self.y], dim=1))


class _FieldWithTrace(nn.Module):
    """The state (x, l) with dx/dt = v(x, t, y) and dl/dt = tr(dv/dx): the exact trace, one
    backward pass per x dimension."""

    def __init__(self, net: nn.Module, y: torch.Tensor):
        super().__init__()
        self.field = _Field(net, y)

    def forward(self, t, state):
        x, _ = state
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            v = self.field(t, x)
            tr = torch.zeros(x.shape[0], device=x.device, dtype=x.dtype)
            for i in range(x.shape[1]):
                (g,) = torch.autograd.grad(v[:, i].sum(), x, retain_graph=i + 1 < x.shape[1])
                tr = tr + g[:, i]
        return v.detach(), tr


@register_method
class ConditionalFlowMatching(ConditionalMethod):
    name = "cfm"
    label = "CFM"
    order = 5
    summary = "conditional flow matching (Lipman et al. 2023, arXiv:2210.02747)"
    PARAMS = with_defaults({
        **GENERATIVE_PARAMS,
        "sigma_min": Param("number", "width of the OT path at the data end", minimum=0,
                           exclusive_maximum=1),
        "solver": Param(None, "torchdiffeq ODE solver", enum=("euler", "midpoint", "rk4", "dopri5",
                                                               "bosh3", "adaptive_heun")),
        "steps": Param("integer", "equal steps on [0, 1] of the fixed-grid solvers", minimum=1),
        "rtol": Param("number", "relative tolerance of the adaptive solvers", exclusive_minimum=0),
        "atol": Param("number", "absolute tolerance of the adaptive solvers", exclusive_minimum=0),
    }, {"width": 512, "layers": 6, "sigma_min": 1e-4, "solver": "rk4", "steps": 20, "rtol": 1e-5,
        "atol": 1e-5})
    #: tuning: the velocity network, the learning rate and the path's noise at the data end
    SEARCH_SPACE = {**MLP_SPACE, **LR_SPACE,
                    "sigma_min": Space("float", 1e-4, 0.1, log=True,
                                       source="rule: Lipman et al.'s 1e-4 (arXiv:2210.02747) to 0.1")}
    fixed_noise = "ODE start x0"

    @classmethod
    def min_dim(cls, x_dim, y_dim, x_name="x_dim", y_name="y_dim"):
        return 0, "cfm has no flow dim (its velocity network is width x layers)"

    @classmethod
    def train_bytes_per_sample(cls, params):
        p = cls.resolve(params)
        return 4 * 2 * (p["layers"] - 1) * p["width"], "the velocity network's activations kept for backward"

    @classmethod
    def sample_bytes_per_sample(cls, params):
        return 4 * 2 * cls.resolve(params)["width"], "the ODE of the velocity network"

    def __init__(self, x_dim, y_dim, params, total_steps=1, seed=0, label_prior=None,
                 conditions="label"):
        super().__init__(x_dim, y_dim, params, total_steps, conditions)
        p = self.params
        width, layers = int(p["width"]), int(p["layers"])
        self.sigma_min = float(p["sigma_min"])
        self.solver = p["solver"]
        self.steps = int(p["steps"])
        self.rtol, self.atol = float(p["rtol"]), float(p["atol"])
        for key, bad in (("width", width < 1), ("layers", layers < 2), ("steps", self.steps < 1),
                         ("sigma_min", not 0.0 <= self.sigma_min < 1.0),
                         ("rtol", not self.rtol > 0), ("atol", not self.atol > 0)):
            if bad:
                raise ValueError(f"cfm: invalid {key}={p[key]!r} (width, steps >= 1; layers >= 2; "
                                 f"0 <= sigma_min < 1; rtol, atol > 0)")
        if self.solver not in FIXED_GRID_SOLVERS + ADAPTIVE_SOLVERS:
            raise ValueError(f"cfm: solver must be one of {list(FIXED_GRID_SOLVERS + ADAPTIVE_SOLVERS)}, "
                             f"got {self.solver!r}")
        gen_state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        try:
            self.velocity = mlp(x_dim + 1 + y_dim, x_dim, width, layers, activation=nn.SiLU)
        finally:
            torch.random.set_rng_state(gen_state)

    def describe(self) -> str:
        return (f"cfm: velocity MLP of {self.params['layers']} x {self.params['width']}, "
                f"{n_parameters(self)} parameters; solver {self.solver}"
                + (f" with {self.steps} steps" if self.solver in FIXED_GRID_SOLVERS else ""))

    # -- training --------------------------------------------------------------------
    # several seeds train as one batched ensemble (flowbench.ensemble): the step's noise given
    ensemble_ready = True

    def draw_step_noise(self, x, generator, step=0):
        """The path's source draws x0 ~ N(0, I), then its times t ~ U(0, 1), as ``loss`` draws them."""
        x0 = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return {"x0": x0, "t": torch.rand(x.shape[0], 1, generator=generator, device=x.device, dtype=x.dtype)}

    def loss_terms(self, x, y, step, noise):
        """Conditional flow matching on the optimal-transport path (Lipman et al. Sec. 3.2, 4.1)."""
        x0, t = noise["x0"], noise["t"]
        xt = (1 - (1 - self.sigma_min) * t) * x0 + t * x
        target = x - (1 - self.sigma_min) * x0
        v = self.velocity(torch.cat([xt, t, y], dim=1))
        return (v - target).pow(2).sum(1).mean(), {}

    def loss(self, x, y, step):
        return self.loss_terms(x, y, step, self.draw_step_noise(x, None, step))

    # -- the ODE ---------------------------------------------------------------------
    def _times(self, t0: float, t1: float, like: torch.Tensor) -> torch.Tensor:
        n = self.steps + 1 if self.solver in FIXED_GRID_SOLVERS else 2
        return torch.linspace(t0, t1, n, device=like.device, dtype=like.dtype)

    def _odeint(self, func, state, t0, t1):
        # imported here: torchdiffeq pulls in scipy.integrate (~0.7 s), which a job that only
        # validates the config or trains another method never needs
        from torchdiffeq import odeint

        like = state[0] if isinstance(state, tuple) else state
        out = odeint(func, state, self._times(t0, t1, like), method=self.solver,
                     rtol=self.rtol, atol=self.atol)
        return tuple(o[-1] for o in out) if isinstance(out, tuple) else out[-1]

    @torch.no_grad()
    def integrate(self, x, conditions, t0: float = 0.0, t1: float = 1.0):
        """The ODE's map from time t0 to t1 (forward: noise -> data)."""
        return self._odeint(_Field(self.velocity, conditions), x, t0, t1)

    @property
    def noise_dims(self):
        return (self.x_dim,)

    @torch.no_grad()
    def generate(self, conditions, noise):
        """x = phi_1(x0) for noise = x0: the ODE from t = 0 to 1."""
        dev = self._device()
        return self.integrate(noise.to(dev), conditions.to(dev), 0.0, 1.0)

    @torch.no_grad()
    def noise_of(self, x, conditions):
        """x0 = phi_1^{-1}(x): the ODE from t = 1 back to 0."""
        dev = self._device()
        return self.integrate(x.to(dev), conditions.to(dev), 1.0, 0.0)

    @torch.no_grad()
    def sample_posterior(self, y, n):
        y = torch.as_tensor(y, dtype=torch.float32, device=self._device())
        return torch.stack([self.generate(yk.expand(n, -1), torch.randn(n, self.x_dim, device=y.device))
                            for yk in y])

    @torch.no_grad()
    def log_prob(self, x, y):
        """log p_1(x | y) by the instantaneous change of variables, integrated from t = 1 to 0."""
        dev = self._device()
        x, y = x.to(dev), y.to(dev)
        zeros = torch.zeros(x.shape[0], device=dev, dtype=x.dtype)
        x0, int_tr = self._odeint(_FieldWithTrace(self.velocity, y), (x, zeros), 1.0, 0.0)
        # int_tr = l(0) = -int_0^1 tr(dv/dx) dt, since l(1) = 0 and dl/dt = tr
        return std_normal_log_prob(x0) + int_tr

