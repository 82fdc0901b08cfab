"""What the paper's relaxation costs: the distribution that ours converges to at a given ``eps``
when the forward model is deterministic, in closed form for a linear-Gaussian problem.

Xiao, Yan & Amit (2019, arXiv 1911.02052, Eq. 5-6) train an invertible map x -> (z, y~) by the
likelihood of z ~ N(0, I) and y~ ~ N(y, eps^2 I). For every y the model's conditional
q(x | y) is a normalised density: the pushforward of N(0, I) x N(y, eps^2 I) through the inverse
map. When y = f(x) exactly (no observation noise), no member of that family equals the true
posterior (a point mass on the fibre f(x) = y), so the limit of training is the member that
maximises E_{x ~ p}[log q(x | f(x))].

Derivation (assumptions stated). Suppose, as the optimum does when a fibre's exact conditional is
reachable, that y~ depends on x only through y: y~ = phi(f(x)) for an invertible phi, and that z
carries the exact conditional of x on its fibre. Then q(x | y) = p(x | f(x)) N(phi(f(x)); y,
eps^2 I) |det D phi(f(x))|, and the objective separates into E log p(x | f(x)) (maximal: exact
fibres) plus

    J(phi) = E_{y ~ p_f}[ -|phi(y) - y|^2 / (2 eps^2) + log |det D phi(y)| ],

so phi is the reparametrisation of y that maximises J; the model's posterior at y* draws
y~ ~ N(y*, eps^2 I), maps it back, y' = phi^{-1}(y~), and draws x from the exact fibre at y'.
This is neither the Gaussian-kernel ABC posterior p(x) N(y*; f(x), eps^2 I) (which weights the
fibres by the prior predictive) nor the kernel-weighted mixture of fibres (phi = identity).

Linear-Gaussian case, x ~ N(0, Sigma), y = A x, S = A Sigma A^T: within linear phi(y) = U y with U
symmetric, positive definite and commuting with S, J is maximal where (U - I) S U = eps^2 I, i.e.
in S's eigenbasis u_i = (1 + sqrt(1 + 4 eps^2 / s_i)) / 2, and

    q*(x | y*) = N(B U^{-1} y*, Sigma - B S B^T + eps^2 B U^{-2} B^T),   B = Sigma A^T S^{-1}.

Checked by training (notes/eps_limit_linear.py: x in R^2, y = x_1, y* = 1.5, 4,000 steps of batch
512, two seeds): at eps = 0.5 ours's samples have x_1 mean 1.261 and 1.293, variance 0.171 and
0.180; this limit gives 1.243 and 0.172, the ABC posterior 1.200 and 0.200, the kernel-weighted
fibres 1.500 and 0.250. At eps = 0.2: ours 1.447 / 1.431, variance 0.037 / 0.037; the limit
1.444, 0.037 (ABC 1.442, 0.038).
"""
from __future__ import annotations

import numpy as np


def _check(sigma, a, y_star, eps):
    sigma, a = np.atleast_2d(np.asarray(sigma, float)), np.atleast_2d(np.asarray(a, float))
    y_star = np.atleast_1d(np.asarray(y_star, float))
    if sigma.shape[0] != sigma.shape[1] or a.shape[1] != sigma.shape[0] or y_star.shape != (a.shape[0],):
        raise ValueError(f"eps_limit: Sigma {sigma.shape}, A {a.shape} and y* {y_star.shape} do not "
                         "fit x ~ N(0, Sigma), y = A x")
    if not (np.isfinite(eps) and eps > 0):
        raise ValueError(f"eps_limit: eps must be a positive finite number, got {eps!r}")
    return sigma, a, y_star, float(eps)


def reparametrisation(s_cov, eps: float) -> np.ndarray:
    """U of the linear-Gaussian limit: the symmetric map of y that maximises J (module docstring),
    for prior-predictive covariance ``s_cov`` of y."""
    s_cov = np.atleast_2d(np.asarray(s_cov, float))
    w, v = np.linalg.eigh(s_cov)
    if np.any(w <= 0):
        raise ValueError("eps_limit: the prior predictive covariance of y must be positive definite")
    u = (1.0 + np.sqrt(1.0 + 4.0 * eps ** 2 / w)) / 2.0
    return (v * u) @ v.T


def objective(u_mat, s_cov, eps: float) -> float:
    """J(U) for linear phi(y) = U y and y ~ N(0, S): -tr((U - I) S (U - I)^T) / (2 eps^2) + log|det U|."""
    u_mat, s_cov = np.atleast_2d(u_mat), np.atleast_2d(s_cov)
    d = u_mat - np.eye(len(u_mat))
    return float(-np.trace(d @ s_cov @ d.T) / (2 * eps ** 2) + np.linalg.slogdet(u_mat)[1])


def ours_limit_linear_gaussian(sigma, a, y_star, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """(mean, covariance) of the posterior that ours converges to at ``eps`` for x ~ N(0, Sigma),
    y = A x observed as ``y_star`` (module docstring)."""
    sigma, a, y_star, eps = _check(sigma, a, y_star, eps)
    s_cov = a @ sigma @ a.T
    b = sigma @ a.T @ np.linalg.inv(s_cov)
    u_inv = np.linalg.inv(reparametrisation(s_cov, eps))
    mean = b @ u_inv @ y_star
    cov = sigma - b @ s_cov @ b.T + eps ** 2 * b @ u_inv @ u_inv @ b.T
    return mean, (cov + cov.T) / 2


def transport_map(s_cov, s: float) -> np.ndarray:
    """T of the four-loss INN's linear-Gaussian limit at y noise ``s``: the optimal-transport
    (Brenier) map from N(0, S) to N(0, S + s^2 I), T = (I + s^2 S^{-1})^{1/2} (S and S + s^2 I
    commute), for prior-predictive covariance ``s_cov`` of y."""
    s_cov = np.atleast_2d(np.asarray(s_cov, float))
    w, v = np.linalg.eigh(s_cov)
    if np.any(w <= 0):
        raise ValueError("eps_limit: the prior predictive covariance of y must be positive definite")
    return (v * np.sqrt(1.0 + s ** 2 / w)) @ v.T


def inn_limit_linear_gaussian(sigma, a, y_star, s: float) -> tuple[np.ndarray, np.ndarray]:
    """(mean, covariance) of the posterior the four-loss INN converges to at y noise ``s`` for x ~
    N(0, Sigma), y = A x (flowbench.eps_split, "The INN's y noise"): y~ ~ N(y*, s^2 I), y' = T^{-1}
    y~ with T the transport map from the prior predictive to its smoothing (``transport_map``),
    x from the exact fibre at y'."""
    sigma, a, y_star, s = _check(sigma, a, y_star, s)
    s_cov = a @ sigma @ a.T
    b = sigma @ a.T @ np.linalg.inv(s_cov)
    t_inv = np.linalg.inv(transport_map(s_cov, s))
    cov = sigma - b @ s_cov @ b.T + s ** 2 * b @ t_inv @ t_inv @ b.T
    return b @ t_inv @ y_star, (cov + cov.T) / 2


def fibre_mixture_linear_gaussian(sigma, a, y_star, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """(mean, covariance) of the fibre mixture y' ~ N(y*, eps^2 I), x ~ p(x | A x = y'): the
    smoothed target with phi = id (neither ours's limit nor the INN's)."""
    sigma, a, y_star, eps = _check(sigma, a, y_star, eps)
    s_cov = a @ sigma @ a.T
    b = sigma @ a.T @ np.linalg.inv(s_cov)
    cov = sigma - b @ s_cov @ b.T + eps ** 2 * b @ b.T
    return b @ y_star, (cov + cov.T) / 2


def abc_linear_gaussian(sigma, a, y_star, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """(mean, covariance) of the Gaussian-kernel ABC posterior p(x) N(y*; A x, eps^2 I): what a
    rejection sampler with that kernel targets."""
    sigma, a, y_star, eps = _check(sigma, a, y_star, eps)
    k = sigma @ a.T @ np.linalg.inv(a @ sigma @ a.T + eps ** 2 * np.eye(len(a)))
    cov = sigma - k @ a @ sigma
    return k @ y_star, (cov + cov.T) / 2


def exact_linear_gaussian(sigma, a, y_star) -> tuple[np.ndarray, np.ndarray]:
    """(mean, covariance) of the exact posterior, the fibre A x = y* (singular along A's rows)."""
    sigma, a, y_star, _ = _check(sigma, a, y_star, 1.0)
    s_cov = a @ sigma @ a.T
    b = sigma @ a.T @ np.linalg.inv(s_cov)
    cov = sigma - b @ s_cov @ b.T
    return b @ y_star, (cov + cov.T) / 2
