"""What smoothing costs against what training leaves: the distance of a model's samples from the
reference split at the smoothed target it converges to (ours at a given eps; the four-loss INN
at a given y noise).

Xiao, Yan & Amit (2019, arXiv 1911.02052, Eq. 4-6) train an invertible map x -> (z, y~) by the
likelihood of z ~ N(0, I) and y~ ~ N(y, eps^2 I). With a deterministic forward model y = f(x) the
limit of that training is not the posterior but, under the assumptions stated in
``flowbench/eps_limit.py`` (y~ depends on x only through y, y~ = phi(f(x)) with phi invertible,
and z carries the exact conditional on each fibre), the *smoothed target*

    y~ ~ N(y*, eps^2 I),   y' = phi^{-1}(y~),   x ~ p(x | f(x) = y'),

phi the reparametrisation of y that maximises

    J(phi) = E_{y ~ p_f}[ -|phi(y) - y|^2 / (2 eps^2) + log |det D phi(y)| ].

The INN's y noise
-----------------
The four-loss INN (Ardizzone et al. 2018, arXiv:1808.04730, Sec. 3.3) maps [x, x0] -> [z, pad, y]
and trains it with L_y = w_y MSE(y_out, y + s n), L_z = w_z MMD([z_out, y_out], [N(0, I), y + s n]),
L_x = w_x MMD(f^{-1}([N(0, I), pad, y + s n]), x) and a reconstruction term; it samples the
posterior at y* as x = f^{-1}([z, pad, y* + s n]), z ~ N(0, I) (the original code's y noise s,
kept at sampling). Its two MMD terms ask for the same thing: that [z_out, y_out] be distributed as
N(0, I) x q_s, q_s = p_f * N(0, s^2 I), the law of the *noisy* y (L_x: feeding such inputs back
must give x's law). An exact bijection with y_out = f(x) cannot do that (y_out would have law
p_f); L_y, whose minimiser is y_out = f(x), weighs 3 against the MMD terms' 300 and 400 in the
original code. Assumptions: (A1) the MMD terms are met exactly: y_out = psi(f(x)) has law q_s and
z ~ N(0, I) is independent of it, the fibres carried exactly; (A2) among such psi, L_y
(= E|psi(y) - y|^2 + const.) picks the one nearest the identity: psi is the optimal-transport
(Brenier) map from p_f to q_s. The sampler then draws y~ ~ N(y*, s^2 I) and x from the exact
fibre at psi^{-1}(y~): the target above with phi = psi (``HeatFlowTransport``), a different map
from ours's. Linear-Gaussian closed form: ``flowbench.eps_limit.inn_limit_linear_gaussian``.
Checked by training (notes/inn_limit_linear.py: the project's INN, its `inverse` recipe's loss
weights, ramp and optimiser on x ~ N(0, I_2), y = x_1, y* = 1.5, 4,000 steps of batch 512, two
seeds): at s = 0.5 its x_1 mean is 1.331 and 1.311, variance 0.198 and 0.205; this limit gives
1.342 and 0.200, while the mixture of fibres at y* + s n (phi = id, what the sampler would give
if y_out = f(x)) gives 1.500 and 0.250, ours's limit 1.243 and 0.172, the ABC posterior 1.200 and
0.200. At s = 0.2: means 1.458 and 1.477 against the limit's 1.471 (fibres 1.500, ours 1.444),
variances 0.041 and 0.042 against 0.0385 (fibres 0.040, ours 0.037): the candidates are close there.

For a model's samples at y* and a reference posterior (rejection ABC), ``split`` reports

- ``bias``     = W2(target, reference): what eps costs even after perfect training;
- ``training`` = W2(model, target): what training leaves;
- ``total``    = W2(model, reference) (<= bias + training: W2 is a metric);
- ``floor``    = W2 between two independent target draws of the same size: what "zero" reads as;

all at the same sample size n (``flowbench.metrics.w2``, exact optimal transport).

Numerical approximations and their measured errors
--------------------------------------------------
**phi (``fit_reparametrisation``).** J is maximised over a family of invertible maps of R^d,
evaluated with its log-abs-det-Jacobian, built from zuko's monotone rational-quadratic spline
transform (``zuko.transforms.MonotonicRQSTransform``, Durkan et al. 2019, arXiv 1906.04032) and
torch: with T the coordinate-wise standardisation of the draws,

    phi = L o T^{-1} o (S_K o C_K) o ... o (S_1 o C_1) o T,

S_k an element-wise spline (``bins`` bins on [-5, 5] standard deviations, identity outside), C_k
(d >= 2 only) one affine coupling per coordinate (log-scale and shift of y_j from the other
coordinates by a tanh MLP with ``hidden`` units, Dinh et al. 2017, arXiv 1605.08803), and L a full
affine map. Every piece starts at the identity (zero spline parameters, zero last layers, L = I),
so the fit starts at phi = id; float64, full-batch L-BFGS with a strong-Wolfe line search, torch
seeded from ``seed`` (deterministic). For small eps, J - J(id) = eps^2 E[-|g|^2/2 - div g] + O(eps^4)
with phi = id - eps^2 g, maximal at g = grad log p_f: to first order the fit is Hyvarinen score
matching (phi ~ id - eps^2 grad log p_f, so phi^{-1} moves y~ up the prior predictive's density),
and its statistical error is that of a score estimate from N draws with this family. 20 % of the
draws are held out: if the fitted phi's J on them is not above the identity's (J(id) = 0), the
identity is returned with a warning (``Reparametrisation.identity``).
L-BFGS runs in rounds of ``rounds`` iterations (its history carried over) and stops when the
held-out J has not risen for ``patience`` rounds, or after ``max_iter`` iterations; the state
with the best held-out J is kept (so ``j_holdout`` is slightly optimistic).
Measured against the linear-Gaussian closed form ``flowbench.eps_limit.reparametrisation`` (y ~
N(0, S), N = 20,000 draws, seeds 0-2, default settings): the displacement phi(y) - y differs from
(U - I) y on the 2-sd ellipse by at most 4.0-6.1 % of max |(U - I) y| in 1-d (S = 0.7^2) at
eps = 0.1 and 3.5-4.1 % at eps = 0.3, and by 5.0-8.9 % / 4.9-6.8 % in 2-d (standard deviations
1 and 0.6, correlation 0.5); the least-squares linear part of phi is within 0-2.6 % of U - I;
the held-out J is within 1e-3 of the closed form's; 10-70 iterations, about 1 s (1-d) and 3 s
(2-d) of one core. tests/test_eps_split.py checks N = 8,000 at eps = 0.3 (measured 2.6-4.5 % in
1-d, 6.2-9.0 % in 2-d, linear part 0-3 %; asserted at 25 % and 6 %). On ``arm`` (y_1 <= 2, the
reach, where the prior predictive density jumps to 0) the held-out J still rises slowly at the
default 150 iterations (about 7 s of one core, more than the few seconds of the smooth cases):
the fit keeps stretching phi at the edge of the reach. At y* = (1.5, 0) the mean of
y' = phi^{-1}(y~) moves by at most 0.15 eps (eps = 0.03), 0.04 eps (0.1) and 0.02 eps (0.3)
between 100 and 300 iterations, and its spread by at most 7 %, about as much as between two
fitting seeds.

**The fibre (``sample_target``).** x on the fibre f(x) = y' is the prior draw whose y is nearest
to y' (``scipy.spatial.cKDTree``) in a pool of prior draws, streamed in chunks of ``chunk`` and
kept only in a box around the y' draws (margin ``max(2 eps, 0.05)`` in y units); the pool doubles
until at least ``distinct`` (default 0.9) of the n nearest neighbours are distinct draws, or
``pool`` draws. Measured (n = 2,000, notes/eps_split_check.py): on ``arm`` at y* = (1.5, 0) the
median nearest-neighbour distance is 7e-4 to 1e-3 y units (the pool stops at 1, 4, 32 and 32
million draws for eps = 0.3, 0.1, 0.03, 0.01, with 0.99, 0.95, 0.81 and 0.31 of the neighbours
distinct: the prior predictive density there is only about 0.017 per unit area, so eps = 0.01
would need about 2e8 draws); on ``ballistics`` (observation 0, standardised y) 1e-6 (1-2 million
draws, 0.92-0.99 distinct). Duplicated neighbours make the sample lumpier, which raises W2 to it
and the floor alike; ``info['distinct']`` reports them. y' beyond the prior predictive's support
(the arm's reach, y_1 <= 2) is snapped to the nearest reachable y, as the optimal phi (which maps
the support onto R^d) compresses the tails into a thin layer at its edge; ``info['far']`` counts
them. On the linear-Gaussian toy (x ~ N(0, Sigma) in R^2, y = A x) the target's mean and
covariance match ``ours_limit_linear_gaussian`` within four standard errors at n = 20,000
(tests/test_eps_split.py).

**Kernel ABC (``sample_kernel_abc``).** The Gaussian-kernel ABC posterior p(x) N(y*; f(x),
eps^2 I) (``abc_linear_gaussian`` in the linear-Gaussian case) by rejection: a prior draw is
kept with probability exp(-|f(x) - y*|^2 / (2 eps^2)); the draws are independent and exact (no
pool resolution), at the cost of n / P(accept) prior draws. The limit of ours differs from it:
ABC weights the fibres by the prior predictive, the limit by N(phi(y); y*, eps^2) |det D phi|.
"""
from __future__ import annotations

import copy
import math
import warnings
from pathlib import Path
from dataclasses import dataclass, field

import numpy as np

#: the largest number of prior draws ``sample_target`` / ``sample_kernel_abc`` stream by default
DEFAULT_POOL = 64_000_000
#: prior draws per chunk (bounded memory: the draws outside the window are dropped per chunk)
DEFAULT_CHUNK = 1_000_000


# ----------------------------------------------------------------------------------------------
# reparametrisations of y
# ----------------------------------------------------------------------------------------------
class LinearReparametrisation:
    """phi(y) = U y (the closed form of ``flowbench.eps_limit.reparametrisation``); ``U = I`` is
    the identity (the kernel-weighted mixture of fibres)."""

    identity = False

    def __init__(self, u):
        self.u = np.atleast_2d(np.asarray(u, dtype=np.float64))
        self._u_inv = np.linalg.inv(self.u)
        self.identity = bool(np.array_equal(self.u, np.eye(len(self.u))))

    def forward(self, y):
        return np.asarray(y, dtype=np.float64) @ self.u.T

    def inverse(self, y_tilde):
        return np.asarray(y_tilde, dtype=np.float64) @ self._u_inv.T

    def log_abs_det(self, y):
        return np.full(len(y), np.linalg.slogdet(self.u)[1])


def identity(y_dim: int) -> LinearReparametrisation:
    """phi = id: the smoothed target is then the kernel-weighted mixture of exact fibres."""
    return LinearReparametrisation(np.eye(y_dim))


def objective(phi, y, eps: float) -> float:
    """The sample estimate of J(phi) on draws y [N, d] of the prior predictive (module docstring);
    J(id) = 0."""
    y = np.asarray(y, dtype=np.float64)
    d = phi.forward(y) - y
    return float(np.mean(-np.sum(d * d, axis=1) / (2 * eps ** 2) + phi.log_abs_det(y)))


def _flow_class():
    import torch
    from torch import nn
    from zuko.transforms import MonotonicRQSTransform

    class _Flow(nn.Module):
        """phi = L o T^{-1} o (S_K o C_K) o ... o (S_1 o C_1) o T (module docstring)."""

        def __init__(self, mean, std, blocks: int, bins: int, hidden: int, bound: float):
            super().__init__()
            d = len(mean)
            self.d, self.bins, self.bound = d, bins, bound
            self.register_buffer("mean", torch.as_tensor(mean))
            self.register_buffer("std", torch.as_tensor(std))
            self.splines = nn.ParameterList(
                [nn.Parameter(torch.zeros(d, 3 * bins - 1)) for _ in range(blocks)])
            self.couplings = nn.ModuleList()
            if d > 1:
                for _ in range(blocks):
                    nets = nn.ModuleList()
                    for _ in range(d):
                        net = nn.Sequential(nn.Linear(d - 1, hidden), nn.Tanh(),
                                            nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, 2))
                        nn.init.zeros_(net[-1].weight)
                        nn.init.zeros_(net[-1].bias)
                        nets.append(net)
                    self.couplings.append(nets)
            self.lin = nn.Parameter(torch.eye(d))
            self.shift = nn.Parameter(torch.zeros(d))

        def _spline(self, k):
            p, b = self.splines[k], self.bins
            return MonotonicRQSTransform(p[:, :b], p[:, b:2 * b], p[:, 2 * b:], bound=self.bound)

        def _scale_shift(self, net, u, j):
            others = torch.cat([u[:, :j], u[:, j + 1:]], dim=1)
            a, t = net(others).unbind(-1)
            return 2.0 * torch.tanh(a / 2.0), t          # log-scale bounded by 2

        def forward(self, y):
            """(phi(y), log |det D phi(y)|)."""
            u = (y - self.mean) / self.std
            ladj = torch.zeros(len(y), dtype=y.dtype)
            for k in range(len(self.splines)):
                if self.d > 1:
                    for j, net in enumerate(self.couplings[k]):
                        a, t = self._scale_shift(net, u, j)
                        u = torch.cat([u[:, :j], (u[:, j] * torch.exp(a) + t)[:, None], u[:, j + 1:]], 1)
                        ladj = ladj + a
                u, l = self._spline(k).call_and_ladj(u)
                ladj = ladj + l.sum(-1)
            v = u * self.std + self.mean
            return v @ self.lin.T + self.shift, ladj + torch.linalg.slogdet(self.lin)[1]

        def inverse(self, z):
            v = torch.linalg.solve(self.lin, (z - self.shift).T).T
            u = (v - self.mean) / self.std
            for k in reversed(range(len(self.splines))):
                u = self._spline(k).inv(u)
                if self.d > 1:
                    for j in reversed(range(self.d)):
                        a, t = self._scale_shift(self.couplings[k][j], u, j)
                        u = torch.cat([u[:, :j], ((u[:, j] - t) * torch.exp(-a))[:, None], u[:, j + 1:]], 1)
            return u * self.std + self.mean

    return _Flow


@dataclass
class Reparametrisation:
    """A fitted phi (``fit_reparametrisation``): ``forward(y)``, ``inverse(y~)``, ``log_abs_det(y)``
    (numpy [N, d] in and out). ``j_holdout`` / ``j_fit``: J on the held-out / fitted draws (J(id)
    = 0); ``identity``: the fit did not beat the identity on the held-out draws, and phi = id."""
    eps: float
    y_dim: int
    identity: bool
    j_fit: float
    j_holdout: float
    iterations: int
    module: object = field(repr=False, default=None)

    def _call(self, fn, y):
        import torch
        y = np.asarray(y, dtype=np.float64).reshape(-1, self.y_dim)
        if self.identity:
            return y.copy() if fn != "ladj" else np.zeros(len(y))
        with torch.no_grad():
            t = torch.from_numpy(y)
            if fn == "forward":
                return self.module(t)[0].numpy()
            if fn == "ladj":
                return self.module(t)[1].numpy()
            return self.module.inverse(t).numpy()

    def forward(self, y):
        return self._call("forward", y)

    def inverse(self, y_tilde):
        return self._call("inverse", y_tilde)

    def log_abs_det(self, y):
        return self._call("ladj", y)


def _draws_and_width(y, width, name: str):
    """Prior-predictive draws as float64 [N >= 10, y_dim], finite, and a positive finite width;
    a ValueError naming what is wrong otherwise."""
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2 or len(y) < 10 or not np.all(np.isfinite(y)):
        raise ValueError(f"eps_split: y must be finite prior-predictive draws [N >= 10, y_dim], got "
                         f"shape {y.shape}")
    if not (np.isfinite(width) and width > 0):
        raise ValueError(f"eps_split: {name} must be a positive finite number, got {width!r}")
    return y, float(width)


def _lbfgs(module, loss, score, max_iter: int, rounds: int, patience: int) -> int:
    """Full-batch L-BFGS (strong-Wolfe line search) on ``loss()`` in rounds of ``rounds``
    iterations (its history carried over), stopped when ``score()`` (held-out, higher is better)
    has not risen for ``patience`` rounds, after ``max_iter`` iterations, or at L-BFGS's own
    tolerances; the best-scoring state is loaded into ``module`` (left in eval mode). Returns
    the iteration it was reached at."""
    import torch

    opt = torch.optim.LBFGS(module.parameters(), lr=1.0, max_iter=rounds, history_size=20,
                            tolerance_grad=1e-10, tolerance_change=1e-14, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        value = loss()
        value.backward()
        return value

    with torch.no_grad():
        best = score()
    best_state, best_iter = copy.deepcopy(module.state_dict()), 0
    stale, done = 0, 0
    while done < max_iter and stale < patience:
        opt.param_groups[0]["max_iter"] = min(rounds, max_iter - done)
        opt.step(closure)
        now = int(opt.state[opt._params[0]].get("n_iter", 0))
        if now == done:                   # converged (L-BFGS's own tolerances)
            break
        done = now
        with torch.no_grad():
            j = score()
        if np.isfinite(j) and j > best:
            best, best_state, best_iter, stale = j, copy.deepcopy(module.state_dict()), done, 0
        else:
            stale += 1
    module.load_state_dict(best_state)
    module.eval()
    return best_iter


def fit_reparametrisation(y, eps: float, *, seed: int = 0, blocks: int = 2, bins: int = 8,
                          hidden: int = 16, bound: float = 5.0, max_iter: int = 150,
                          rounds: int = 10, patience: int = 3, holdout: float = 0.2) -> Reparametrisation:
    """The phi that maximises J (module docstring) from prior-predictive draws ``y`` [N, y_dim]:
    a spline/coupling/affine flow started at the identity and fitted by full-batch L-BFGS on
    (1 - ``holdout``) of the draws; the identity (with a warning) if it does not raise J on the
    held-out rest. Deterministic given ``seed``."""
    import torch

    y, eps = _draws_and_width(y, eps, "eps")
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(y))
    n_hold = int(round(holdout * len(y)))
    fit, hold = y[perm[n_hold:]], y[perm[:n_hold]]
    std = fit.std(0)
    if np.any(std <= 0):
        raise ValueError("eps_split: every coordinate of y must vary over the draws")

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            module = _flow_class()(torch.as_tensor(fit.mean(0)), torch.as_tensor(std), blocks, bins,
                                   hidden, bound).double()
            t_fit = torch.from_numpy(fit)

            def loss_fn(t):
                out, ladj = module(t)
                return (((out - t) ** 2).sum(1) / (2 * eps ** 2) - ladj).mean()

            t_hold = torch.from_numpy(hold if len(hold) else fit)
            best_iter = _lbfgs(module, lambda: loss_fn(t_fit), lambda: -float(loss_fn(t_hold)),
                               max_iter, rounds, patience)
            with torch.no_grad():
                j_fit = -float(loss_fn(t_fit))
                j_hold = -float(loss_fn(t_hold))
    finally:
        torch.set_num_threads(threads)
    bad = not (np.isfinite(j_hold) and j_hold > 0.0)
    if bad:
        warnings.warn(f"eps_split: the fitted reparametrisation does not raise J above the "
                      f"identity's on the held-out draws (J = {j_hold:.3g} vs 0 at eps = {eps}); "
                      "using phi = identity", stacklevel=2)
    return Reparametrisation(eps=eps, y_dim=y.shape[1], identity=bad, j_fit=j_fit, j_holdout=j_hold,
                             iterations=best_iter, module=None if bad else module)


class HeatFlowTransport:
    """phi = the transport map from the prior predictive p_f to its smoothing q_s = p_f * N(0, s^2 I)
    along the heat equation's probability flow: y moves by dy/dt = -grad log q_t(y) / 2 for t
    from 0 to s^2 (q_t = p_f * N(0, t I)), which carries p_f to q_s exactly. It is the
    optimal-transport (Brenier) map, the four-loss INN's limit (module docstring, "The INN's y
    noise"), in 1-d and for Gaussian p_f, and agrees with it to first order in s^2 in general
    (both are id - (s^2 / 2) grad log p_f + O(s^4)).

    From prior-predictive draws ``y`` [N, d]: the score by Tweedie's formula with the draws as p_f,
    grad log q_t(u) = (sum_i w_i y_i - u) / t, w_i proportional to exp(-|u - y_i|^2 / 2t) over
    every draw; the ODE by ``steps`` Heun steps, uniform in sqrt(t), between s^2 and t_min =
    ``t_min_frac`` s^2, then one first-order step over [0, t_min] with the score at t_min, an error
    of order t_min^2 where the first-order map alone (t_min = s^2) errs at order s^4. t_min is at
    least (``h_min`` times the draws' median nearest-neighbour distance)^2: below it the draws' own
    heat flow would pull every point onto its nearest draw. When that exceeds s^2 the map is the
    first-order one, y -/+ (s^2 / 2) times the score smoothed at that t (a kernel estimate of
    grad log p_f). ``inverse`` integrates from s^2 down (y~ -> y'), ``forward`` up."""

    identity = False

    def __init__(self, y, s: float, *, steps: int = 8, t_min_frac: float = 1 / 16, h_min: float = 4.0):
        y, s = _draws_and_width(y, s, "the y noise")
        self.y, self.s, self.steps = y, s, int(steps)
        from scipy.spatial import cKDTree
        sub = y[:min(len(y), 5000)]
        self.t_floor = (float(h_min) * float(np.median(cKDTree(sub).query(sub, k=2)[0][:, 1]))) ** 2
        self.t_min = max(float(t_min_frac) * self.s ** 2, self.t_floor)

    def score(self, u, t: float):
        """grad log q_t at u [M, d] (Tweedie's formula over every draw, in chunks of rows)."""
        out = np.empty_like(u)
        for a in range(0, len(u), 512):
            b = u[a:a + 512]
            logw = -((b[:, None, :] - self.y[None]) ** 2).sum(-1) / (2 * t)
            w = np.exp(logw - logw.max(1, keepdims=True))
            out[a:a + 512] = (w @ self.y / w.sum(1, keepdims=True) - b) / t
        return out

    def _integrate(self, u, down: bool):
        u = np.asarray(u, dtype=np.float64).reshape(-1, self.y.shape[1]).copy()
        if self.t_min >= self.s ** 2:         # s below the draws' resolution: the first-order map
            sign = 1.0 if down else -1.0      # with the score smoothed at t_min
            return u + sign * 0.5 * self.s ** 2 * self.score(u, self.t_min)
        r = np.linspace(self.s, np.sqrt(self.t_min), self.steps + 1) ** 2   # t, uniform in sqrt(t)
        ts = r if down else r[::-1]
        if not down:                          # [0, t_min]: one first-order step
            u = u - 0.5 * self.t_min * self.score(u, self.t_min)
        for t0, t1 in zip(ts[:-1], ts[1:]):
            dt = t1 - t0                      # dy = -score / 2 dt (Heun)
            v0 = -0.5 * self.score(u, t0)
            pred = u + dt * v0
            u = u + dt * (v0 - 0.5 * self.score(pred, t1)) / 2
        if down:
            u = u + 0.5 * self.t_min * self.score(u, self.t_min)
        return u

    def forward(self, y):
        return self._integrate(y, down=False)

    def inverse(self, y_tilde):
        return self._integrate(y_tilde, down=True)


# ----------------------------------------------------------------------------------------------
# samplers
# ----------------------------------------------------------------------------------------------
def _y_star(y_star):
    y_star = np.atleast_1d(np.asarray(y_star, dtype=np.float64)).ravel()
    if not np.all(np.isfinite(y_star)):
        raise ValueError(f"eps_split: y* must be finite, got {y_star}")
    return y_star


def _forward(task, x, y_dim):
    y = np.asarray(task.forward(x), dtype=np.float64).reshape(len(x), y_dim)
    return y


def sample_target(task, y_star, eps: float, n: int, rng: np.random.Generator,
                  pool: int = DEFAULT_POOL, phi=None, *, fit_n: int = 20_000, distinct: float = 0.9,
                  chunk: int = DEFAULT_CHUNK, return_info: bool = False):
    """n draws [n, x_dim] of the smoothed target at ``y_star`` (module docstring): y~ ~ N(y*,
    eps^2 I), y' = phi^{-1}(y~), x = the prior draw whose y is nearest to y'.

    ``task``: anything with ``prior_sample(n, rng)`` and ``forward(x)`` (y in the units eps is
    in). ``phi``: an object with ``forward``/``inverse`` (``fit_reparametrisation``,
    ``LinearReparametrisation``, ``identity(d)``); None fits one on ``fit_n`` prior-predictive
    draws from ``rng``. ``pool``: the largest number of prior draws streamed; the pool doubles
    from ``chunk`` draws until a fraction ``distinct`` of the n nearest neighbours are distinct
    draws. With ``return_info`` also a dict: ``phi``, ``pool_draws``, ``pool_kept``,
    ``nn_median`` / ``nn_p90`` / ``nn_max`` (nearest-neighbour distances in y), ``distinct``,
    ``far`` (fraction with a nearest neighbour beyond the window's margin: y' outside the reach
    of the prior predictive)."""
    from scipy.spatial import cKDTree

    y_star = _y_star(y_star)
    d = len(y_star)
    eps = float(eps)
    if not (np.isfinite(eps) and eps > 0):
        raise ValueError(f"eps_split: eps must be a positive finite number, got {eps!r}")
    if phi is None:
        phi = fit_reparametrisation(_forward(task, task.prior_sample(fit_n, rng), d), eps,
                                    seed=int(rng.integers(2 ** 31)))
    y_back = np.asarray(phi.inverse(y_star + eps * rng.standard_normal((n, d))), dtype=np.float64)
    margin = max(2 * eps, 0.05)
    lo, hi = y_back.min(0) - margin, y_back.max(0) + margin
    xs, ys = [], []
    drawn, check = 0, min(chunk, pool)
    while True:
        m = min(chunk, check - drawn)
        x = np.asarray(task.prior_sample(m, rng), dtype=np.float64)
        y = _forward(task, x, d)
        keep = np.all((y >= lo) & (y <= hi), axis=1)
        xs.append(x[keep])
        ys.append(y[keep])
        drawn += m
        if drawn < check:
            continue
        x_pool, y_pool = np.concatenate(xs), np.concatenate(ys)
        xs, ys = [x_pool], [y_pool]
        if len(y_pool):
            dist, idx = cKDTree(y_pool).query(y_back)
            frac = len(np.unique(idx)) / n
            if frac >= distinct or drawn >= pool:
                break
        elif drawn >= pool:
            raise ValueError(f"eps_split: none of {drawn:,} prior draws has y near y* = {y_star}")
        check = min(2 * check, pool)
    out = x_pool[idx]
    if not return_info:
        return out
    return out, {"phi": phi, "pool_draws": drawn, "pool_kept": len(y_pool),
                 "nn_median": float(np.median(dist)), "nn_p90": float(np.quantile(dist, 0.9)),
                 "nn_max": float(dist.max()), "distinct": float(frac),
                 "far": float(np.mean(dist > margin))}


def sample_kernel_abc(task, y_star, eps: float, n: int, rng: np.random.Generator,
                      pool: int = DEFAULT_POOL, *, chunk: int = DEFAULT_CHUNK,
                      return_info: bool = False):
    """n independent draws of the Gaussian-kernel ABC posterior p(x) N(y*; f(x), eps^2 I) by
    rejection from streamed prior draws (at most ``pool``): a draw is kept with probability
    exp(-|f(x) - y*|^2 / (2 eps^2)). ``return_info`` adds ``pool_draws`` and ``acceptance``."""
    y_star = _y_star(y_star)
    d = len(y_star)
    eps = float(eps)
    if not (np.isfinite(eps) and eps > 0):
        raise ValueError(f"eps_split: eps must be a positive finite number, got {eps!r}")
    got, count, drawn = [], 0, 0
    while count < n:
        if drawn >= pool:
            raise ValueError(f"eps_split: kernel ABC accepted {count} of the {n} draws asked for in "
                             f"{drawn:,} prior draws (pool = {pool:,}); raise pool or eps")
        m = min(chunk, pool - drawn)
        x = np.asarray(task.prior_sample(m, rng), dtype=np.float64)
        r2 = np.sum((_forward(task, x, d) - y_star) ** 2, axis=1)
        keep = rng.random(m) < np.exp(-r2 / (2 * eps ** 2))
        got.append(x[keep])
        count += int(keep.sum())
        drawn += m
    out = np.concatenate(got)[:n]
    if not return_info:
        return out
    return out, {"pool_draws": drawn, "acceptance": count / drawn}


# ----------------------------------------------------------------------------------------------
# the split
# ----------------------------------------------------------------------------------------------
def split(task, y_star, eps: float, model_samples, reference, rng: np.random.Generator, *,
          n: int | None = None, pool: int = DEFAULT_POOL, phi=None, fit_n: int = 20_000,
          chunk: int = DEFAULT_CHUNK) -> dict:
    """W2 of a model's samples from the reference, split at the smoothed target (module
    docstring). Every distance at one size n (default: the smaller of the two sample sets; a
    larger set is subsampled at random with ``rng``): ``bias`` = W2(target, reference),
    ``training`` = W2(model, target), ``total`` = W2(model, reference), ``floor`` = W2 between two
    independent target draws (independent pools, the same phi). Also ``n``, ``eps``, ``phi_j``
    (J of phi on its held-out draws, 0 for the identity; NaN for a phi given without one) and
    the target's pool diagnostics (``nn_median``, ``distinct``, ``far``, ``pool_draws``)."""
    from .metrics import w2

    model_samples = np.asarray(model_samples, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    n = min(len(model_samples), len(reference)) if n is None else int(n)
    if n < 2 or n > min(len(model_samples), len(reference)):
        raise ValueError(f"eps_split: n = {n} must be in [2, {min(len(model_samples), len(reference))}]"
                         " (the smaller sample set)")

    def sub(a):
        return a if len(a) == n else a[rng.choice(len(a), n, replace=False)]

    model_samples, reference = sub(model_samples), sub(reference)
    y_star = _y_star(y_star)
    if phi is None:
        phi = fit_reparametrisation(_forward(task, task.prior_sample(fit_n, rng), len(y_star)), eps,
                                    seed=int(rng.integers(2 ** 31)))
    kw = dict(pool=pool, phi=phi, chunk=chunk, return_info=True)
    target, info = sample_target(task, y_star, eps, n, rng, **kw)
    other, _ = sample_target(task, y_star, eps, n, rng, **kw)
    return {"eps": float(eps), "n": n,
            "bias": w2(target, reference), "training": w2(model_samples, target),
            "total": w2(model_samples, reference), "floor": w2(target, other),
            "phi_j": float(getattr(phi, "j_holdout", 0.0 if getattr(phi, "identity", False) else math.nan)),
            "nn_median": info["nn_median"], "distinct": info["distinct"], "far": info["far"],
            "pool_draws": info["pool_draws"]}


# ----------------------------------------------------------------------------------------------
# the workflow's split of every run with a smoothed limit on a simulation task
# ----------------------------------------------------------------------------------------------
#: the columns of ``results/<name>/<task>/eps_split.csv``
SPLIT_COLUMNS = ["task", "method", "variant", "eps", "target", "condition", "seed", "quantity", "value"]
#: the target kinds of ``ConditionalMethod.smoothed_limit``
TARGET_KINDS = ("reparametrised", "transport")


def smoothed_runs(config: dict, task_name: str) -> dict[tuple[str, str], tuple[float, str]]:
    """{(method, variant): (width, target kind)} of every (method, variant) the config runs on
    ``task_name`` whose method declares a ``smoothed_limit`` (ours: eps, its reparametrised
    target; the four-loss INN: y_noise, its transported target), the width read from the variant's
    parameters. A width of 0 (no smoothing) is left out."""
    from .recipes import iter_runs, method_params
    from .registry import method_infos
    infos = method_infos()
    out = {}
    for _, m, v, _ in iter_runs(config, task_name):
        limit = infos[m].smoothed_limit if m in infos else None
        if limit is None or (m, v) in out:
            continue
        param, kind = limit
        if kind not in TARGET_KINDS:
            raise ValueError(f"method {m}: smoothed_limit kind {kind!r} is not one of {TARGET_KINDS}")
        width = float(method_params(config, m, v)[param])
        if width > 0:
            out[(m, v)] = (width, kind)
    return out


def split_settings(tcfg: dict) -> dict:
    """A task's ``eps_split`` section over its defaults."""
    return {"conditions": 2, "n": 2000, "pool": 32_000_000, "fit_n": 20_000, "seed": 20191106,
            **(tcfg.get("eps_split") or {})}


def split_conditions(task, tcfg: dict) -> tuple[list[int], int]:
    """The evaluation conditions the split reads (indices: the task's extra conditions first, such
    as the arm's y* = (1.5, 0), then the others in order, ``conditions`` of them) and the draws per
    condition it scores (its ``n``, at most the task's ``n_eval``)."""
    sp = split_settings(tcfg)
    ids, _ = task.evaluation_conditions()
    extra = [cid for cid, _ in task.extra_conditions()]
    order = [ids.index(c) for c in extra if c in ids] + [k for k, c in enumerate(ids) if c not in extra]
    return order[:int(sp["conditions"])], min(int(sp["n"]), int(tcfg.get("n_eval", 2000)))


def task_split(config: dict, task_name: str, run_dirs: dict, reference=None, log=None):
    """The split of every run with a smoothed limit (``smoothed_runs``) on a simulation task with
    an ``eps_split`` section: a tidy frame (``SPLIT_COLUMNS``). Per target (width and kind) and
    condition (seed -1): ``bias`` = W2(target, reference), ``floor`` = W2 between two target
    draws, and the target's pool diagnostics ``distinct`` (the share of distinct prior draws among
    its n nearest neighbours; below 0.9 the pool cap was reached and the target is not resolved)
    and ``far``; per run seed: ``training`` = W2(samples, target) and ``total`` = W2(samples,
    reference). ``run_dirs``: {(method, variant, seed): the run's folder}. One phi per width and
    kind: ``fit_reparametrisation`` for ours, ``HeatFlowTransport`` for the INN."""
    import pandas as pd

    from .figure_data import FIGURE_DATA
    from .metrics import w2
    from .records import read_npz
    from .tasks import load_task
    log = log or (lambda m: None)
    tcfg = config["tasks"][task_name]
    sp = split_settings(tcfg)
    task = load_task(config, task_name, reference)
    ids, conds = task.evaluation_conditions()
    picked, n = split_conditions(task, tcfg)
    targets = smoothed_runs(config, task_name)
    unknown = sorted({(m, v) for m, v, _ in run_dirs} - set(targets))
    if unknown:
        raise ValueError(f"eps_split on {task_name}: runs {unknown} have no smoothed limit in this config")
    # each run's draws at the split's conditions, from its figure data (flowbench.figure_data)
    samples = {}
    for key, d in run_dirs.items():
        fd = read_npz(Path(d) / FIGURE_DATA)
        got = [str(c) for c in fd["eps_condition_ids"]]
        if got != [ids[k] for k in picked]:
            raise ValueError(f"{d}/{FIGURE_DATA} holds the split's draws at conditions {got}, the split "
                             f"reads {[ids[k] for k in picked]}: rerun the run's evaluation")
        samples[key] = {k: fd["eps_samples"][i] for i, k in enumerate(picked)}
    rows = []

    def add(method, variant, eps, kind, cid, seed, quantity, value):
        rows.append({"task": task_name, "method": method, "variant": variant, "eps": eps, "target": kind,
                     "condition": cid, "seed": seed, "quantity": quantity, "value": float(value)})

    refs = {k: task.reference_posterior(k, n).astype(np.float64) for k in picked}
    for eps, kind in sorted(set(targets.values()), key=lambda t: (t[1] != "reparametrised", t[0])):
        # the reparametrised targets draw from the stream they always did (seeded by eps alone)
        key = [int(sp["seed"]), int(round(eps * 1e6))] + ([] if kind == "reparametrised" else [1])
        rng = np.random.default_rng(key)
        if kind == "reparametrised":
            phi = fit_reparametrisation(_forward(task, task.prior_sample(int(sp["fit_n"]), rng), task.y_dim),
                                        eps, seed=int(rng.integers(2 ** 31)))
        else:
            phi = HeatFlowTransport(_forward(task, task.prior_sample(int(sp["fit_n"]), rng), task.y_dim), eps)
        for k in picked:
            cid, ref = ids[k], refs[k]
            kw = dict(pool=int(sp["pool"]), phi=phi, return_info=True)
            a, info = sample_target(task, conds[k], eps, n, rng, **kw)
            b, _ = sample_target(task, conds[k], eps, n, rng, **kw)
            bias, floor = w2(a, ref), w2(a, b)
            for m, v in (mv for mv, t in targets.items() if t == (eps, kind)):
                for q in ("distinct", "far", "pool_draws"):
                    add(m, v, eps, kind, cid, -1, q, info[q])
                add(m, v, eps, kind, cid, -1, "bias", bias)
                add(m, v, eps, kind, cid, -1, "floor", floor)
                for (rm, rv, seed), s in sorted(samples.items()):
                    if (rm, rv) != (m, v) or not np.all(np.isfinite(s[k])):
                        continue
                    x = np.asarray(s[k][:n], dtype=np.float64)
                    add(m, v, eps, kind, cid, seed, "training", w2(x, a))
                    add(m, v, eps, kind, cid, seed, "total", w2(x, ref))
            log(f"[{task_name}] {kind} target at width {eps:g}, condition {cid}: bias {bias:.4g}, floor "
                f"{floor:.4g}, target distinct {info['distinct']:.2f} of {info['pool_draws']:,} prior draws")
    return pd.DataFrame(rows, columns=SPLIT_COLUMNS)
