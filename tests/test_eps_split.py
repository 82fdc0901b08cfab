"""The split of ours's distance from the reference at the smoothed target it converges to at a
given eps (flowbench/eps_split.py), checked against the linear-Gaussian closed forms of
flowbench/eps_limit.py."""
import numpy as np
import pytest

from flowbench import eps_limit as E
from flowbench import eps_split as S


class LinearGaussianTask:
    """x ~ N(0, Sigma), y = A x: the prior_sample / forward pair the samplers need."""

    def __init__(self, sigma, a):
        self.sigma, self.a = np.asarray(sigma, float), np.atleast_2d(np.asarray(a, float))
        self.chol = np.linalg.cholesky(self.sigma)

    def prior_sample(self, n, rng):
        return rng.standard_normal((n, len(self.sigma))) @ self.chol.T

    def forward(self, x):
        return x @ self.a.T


SIGMA = np.array([[1.0, 0.3], [0.3, 0.5]])
TASK_1D = LinearGaussianTask(SIGMA, [[1.0, 0.5]])
TASK_2D = LinearGaussianTask(SIGMA, [[1.0, 0.5], [-0.3, 1.0]])


def _assert_moments(x, mean, cov, k=4.0):
    """Sample mean and covariance within k standard errors of (mean, cov); returns the
    tolerances so a caller can check that another closed form lies outside them."""
    n = len(x)
    sd = np.sqrt(np.diag(cov))
    tol_m = k * sd / np.sqrt(n)
    tol_c = k * np.sqrt((np.outer(sd ** 2, sd ** 2) + cov ** 2) / n)
    np.testing.assert_array_less(np.abs(x.mean(0) - mean), tol_m)
    np.testing.assert_array_less(np.abs(np.cov(x.T) - cov), tol_c)
    return tol_m, tol_c


def _grid(s_cov):
    d = len(s_cov)
    g = np.stack(np.meshgrid(*[np.linspace(-2, 2, 17)] * d), -1).reshape(-1, d) * np.sqrt(np.diag(s_cov))
    return g[np.einsum("ij,jk,ik->i", g, np.linalg.inv(s_cov), g) <= 4.0 + 1e-9]


@pytest.mark.parametrize("s_cov, eps", [(np.array([[0.49]]), 0.3),
                                        (np.array([[1.0, 0.3], [0.3, 0.36]]), 0.3)])
def test_fit_reproduces_the_closed_form_reparametrisation(s_cov, eps):
    """On y ~ N(0, S) the fitted phi is U y of eps_limit.reparametrisation: its displacement
    phi(y) - y within 25 % of max |(U - I) y| on the 2-sd ellipse (measured 3-9 % at N = 8,000),
    its least-squares linear part within 6 % of U - I (measured 0-3 %), and its inverse exact."""
    d = len(s_cov)
    y = np.random.default_rng(0).multivariate_normal(np.zeros(d), s_cov, size=8000)
    phi = S.fit_reparametrisation(y, eps, seed=0)
    assert not phi.identity and phi.j_holdout > 0
    u = E.reparametrisation(s_cov, eps)
    g = _grid(s_cov)
    want = g @ (u - np.eye(d)).T
    got = phi.forward(g) - g
    assert np.abs(got - want).max() <= 0.25 * np.abs(want).max()
    u_fit = np.linalg.lstsq(g, phi.forward(g), rcond=None)[0].T
    assert np.abs(u_fit - u).max() <= 0.06 * np.abs(u - np.eye(d)).max()
    np.testing.assert_allclose(phi.inverse(phi.forward(g)), g, atol=1e-10)
    # the sample J of the fit is close to the closed form's J (the fit's own draws: a little above)
    assert S.objective(phi, y, eps) == pytest.approx(E.objective(u, s_cov, eps), rel=0.03)
    if d == 1:                      # deterministic given the seed
        again = S.fit_reparametrisation(y, eps, seed=0)
        np.testing.assert_array_equal(again.forward(g), phi.forward(g))


def test_no_gain_over_the_identity_returns_the_identity():
    y = np.random.default_rng(1).normal(size=(500, 1))
    with pytest.warns(UserWarning, match="using phi = identity"):
        phi = S.fit_reparametrisation(y, 0.3, max_iter=0)
    assert phi.identity and phi.j_holdout == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_array_equal(phi.forward(y), y)
    np.testing.assert_array_equal(phi.inverse(y), y)


def test_target_matches_the_closed_form_limit_1d_with_fitted_phi():
    """y = x_1 + 0.5 x_2: the smoothed target with a fitted phi has the mean and covariance of
    ours_limit_linear_gaussian, and those of the ABC posterior and of phi = id lie outside."""
    rng = np.random.default_rng(2)
    y_star, eps, n = [1.2], 0.5, 20_000
    x, info = S.sample_target(TASK_1D, y_star, eps, n, rng, phi=None, fit_n=8000, return_info=True)
    assert info["distinct"] >= 0.9 and info["nn_median"] < 1e-3 and info["far"] == 0
    tol_m, tol_c = _assert_moments(x, *E.ours_limit_linear_gaussian(SIGMA, TASK_1D.a, y_star, eps))
    abc_mean, abc_cov = E.abc_linear_gaussian(SIGMA, TASK_1D.a, y_star, eps)
    assert np.any(np.abs(x.mean(0) - abc_mean) > tol_m) or np.any(np.abs(np.cov(x.T) - abc_cov) > tol_c)
    fibres_mean = E.exact_linear_gaussian(SIGMA, TASK_1D.a, y_star)[0]   # phi = id: the mean of
    assert np.any(np.abs(x.mean(0) - fibres_mean) > tol_m)              # the fibres at y ~ N(y*, eps^2)


def test_target_matches_the_closed_form_limit_2d():
    """A invertible (y in R^2, fibres are points): with the closed-form U the target has the
    moments of ours_limit_linear_gaussian; with phi = id those of A^{-1} N(y*, eps^2 I)."""
    rng = np.random.default_rng(3)
    a, y_star, eps, n = TASK_2D.a, np.array([0.8, -0.5]), 0.3, 10_000
    u = E.reparametrisation(a @ SIGMA @ a.T, eps)
    x, info = S.sample_target(TASK_2D, y_star, eps, n, rng, phi=S.LinearReparametrisation(u),
                              return_info=True)
    assert info["distinct"] >= 0.9 and info["nn_median"] < 0.01
    _assert_moments(x, *E.ours_limit_linear_gaussian(SIGMA, a, y_star, eps))
    x_id = S.sample_target(TASK_2D, y_star, eps, n, rng, phi=S.identity(2))
    a_inv = np.linalg.inv(a)
    _assert_moments(x_id, a_inv @ y_star, eps ** 2 * a_inv @ a_inv.T)


def test_inn_target_matches_its_closed_form_and_not_the_fibre_mixture():
    """phi = the heat-flow transport from p_f to p_f * N(0, s^2) (the four-loss INN's limit at y
    noise s): the target's moments are those of inn_limit_linear_gaussian, and the mixture of
    fibres at y* + s n (phi = id) lies outside them (measured: 1-3 standard errors from the
    limit, the fibre mixture 10-22)."""
    rng = np.random.default_rng(1)
    y_star, s, n = [1.2], 0.5, 4000
    phi = S.HeatFlowTransport(TASK_1D.prior_sample(5000, rng) @ TASK_1D.a.T, s)
    x = S.sample_target(TASK_1D, y_star, s, n, rng, phi=phi)
    tol_m, _ = _assert_moments(x, *E.inn_limit_linear_gaussian(SIGMA, TASK_1D.a, y_star, s))
    fib_mean = E.fibre_mixture_linear_gaussian(SIGMA, TASK_1D.a, y_star, s)[0]
    assert np.any(np.abs(x.mean(0) - fib_mean) > tol_m)
    # the map itself: the closed form's T y on the prior predictive's 2-sd interval, within 20 %
    sd = float(np.sqrt((TASK_1D.a @ SIGMA @ TASK_1D.a.T)[0, 0]))
    t = E.transport_map(TASK_1D.a @ SIGMA @ TASK_1D.a.T, s)[0, 0]
    pts = np.linspace(-2 * sd, 2 * sd, 9)[:, None]
    disp = phi.forward(pts) - pts
    assert np.max(np.abs(disp - (t - 1) * pts)) < 0.2 * (t - 1) * 2 * sd
    np.testing.assert_allclose(phi.inverse(phi.forward(pts)), pts, atol=0.02 * sd)
    # a y noise below the draws' resolution moves y by about s^2 / 2 times the score, and does not
    # pull it onto the nearest draw
    few = S.HeatFlowTransport(TASK_1D.prior_sample(200, rng) @ TASK_1D.a.T, 1e-3)
    assert few.t_min > 1e-6
    bulk = np.linspace(-sd, sd, 7)[:, None]
    assert np.max(np.abs(few.inverse(bulk) - bulk)) < 0.1 * 1e-3   # the draws are ~0.005 apart
    with pytest.raises(ValueError, match="y noise must be a positive"):
        S.HeatFlowTransport(TASK_1D.prior_sample(100, rng), 0.0)


def test_closed_forms_meet_the_exact_posterior_as_the_width_vanishes():
    exact = E.exact_linear_gaussian(SIGMA, TASK_1D.a, [1.2])
    for fn in (E.inn_limit_linear_gaussian, E.fibre_mixture_linear_gaussian, E.ours_limit_linear_gaussian):
        mean, cov = fn(SIGMA, TASK_1D.a, [1.2], 1e-6)
        np.testing.assert_allclose(mean, exact[0], atol=1e-9)
        np.testing.assert_allclose(cov, exact[1], atol=1e-9)


def test_smoothed_runs_read_each_methods_width_from_the_registry(full_config):
    """ours's eps (reparametrised target) and the INN's y noise (transported target) on arm; methods
    without a smoothed limit are left out, and so is a width of 0."""
    import copy
    runs = S.smoothed_runs(full_config, "arm")
    assert runs[("ours", "inverse")] == (0.1, "reparametrised")
    assert runs[("inn", "inverse")] == (0.1, "transport")
    assert runs[("ours", "inverse_eps_0.01")] == (0.01, "reparametrised")
    assert {m for m, _ in runs} == {"ours", "inn"}
    cfg = copy.deepcopy(full_config)
    cfg["methods"]["inn"]["variants"]["inverse"]["y_noise"] = 0.0
    assert ("inn", "inverse") not in S.smoothed_runs(cfg, "arm")


@pytest.mark.parametrize("task, y_star, eps", [(TASK_1D, [1.2], 0.5), (TASK_2D, [0.8, -0.5], 0.3)])
def test_kernel_abc_matches_the_closed_form(task, y_star, eps):
    x, info = S.sample_kernel_abc(task, y_star, eps, 20_000, np.random.default_rng(4), return_info=True)
    assert x.shape == (20_000, 2) and 0 < info["acceptance"] < 1
    _assert_moments(x, *E.abc_linear_gaussian(SIGMA, task.a, y_star, eps))


def test_kernel_abc_names_a_pool_too_small():
    with pytest.raises(ValueError, match="raise pool or eps"):
        S.sample_kernel_abc(TASK_1D, [1.2], 0.01, 1000, np.random.default_rng(0), pool=2000, chunk=1000)


def test_split_reads_as_a_metric():
    """bias, training, total and floor at one n; W2 is a metric: total <= bias + training. Samples
    of the target itself leave a training error at the floor's level, below the bias."""
    rng = np.random.default_rng(5)
    a, y_star, eps, n = TASK_1D.a, [1.2], 0.5, 300
    phi = S.LinearReparametrisation(E.reparametrisation(a @ SIGMA @ a.T, eps))
    exact_mean, exact_cov = E.exact_linear_gaussian(SIGMA, a, y_star)
    reference = rng.multivariate_normal(exact_mean, exact_cov, size=2 * n, method="eigh")
    model = S.sample_target(TASK_1D, y_star, eps, n, rng, phi=phi, chunk=100_000)
    out = S.split(TASK_1D, y_star, eps, model, reference, rng, phi=phi, chunk=100_000)
    assert out["n"] == n and set(out) >= {"bias", "training", "total", "floor"}
    assert out["total"] <= out["bias"] + out["training"] + 1e-9
    assert out["training"] < 2 * out["floor"] < out["bias"]
    with pytest.raises(ValueError, match="must be in"):
        S.split(TASK_1D, y_star, eps, model, reference, rng, phi=phi, n=2 * n + 1)
