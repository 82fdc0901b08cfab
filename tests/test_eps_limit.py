"""The limit of ours at a given eps for a deterministic linear-Gaussian forward model
(flowbench/eps_limit.py): closed forms, the maximiser of J, and its place between the exact and
the ABC posterior."""
import numpy as np
import pytest

from flowbench import eps_limit as E

SIGMA, A = np.eye(2), np.array([[1.0, 0.0]])


def test_one_dimensional_numbers():
    mean, cov = E.ours_limit_linear_gaussian(SIGMA, A, [1.5], 0.5)
    u = (1 + np.sqrt(2)) / 2                      # u (u - 1) = eps^2 = 0.25
    np.testing.assert_allclose(mean, [1.5 / u, 0.0], atol=1e-12)
    np.testing.assert_allclose(cov, np.diag([0.25 / u ** 2, 1.0]), atol=1e-12)
    np.testing.assert_allclose(mean[0], 1.2426, atol=1e-4)
    np.testing.assert_allclose(cov[0, 0], 0.1716, atol=1e-4)
    abc_mean, abc_cov = E.abc_linear_gaussian(SIGMA, A, [1.5], 0.5)
    np.testing.assert_allclose(abc_mean, [1.2, 0.0]) and np.testing.assert_allclose(abc_cov, np.diag([0.2, 1.0]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reparametrisation_is_the_stationary_maximum_of_j(seed):
    rng = np.random.default_rng(seed)
    m = rng.normal(size=(3, 3))
    s_cov = m @ m.T + 0.5 * np.eye(3)
    eps = 0.3
    u = E.reparametrisation(s_cov, eps)
    # (U - I) S U = eps^2 I, and J's gradient -(U - I) S / eps^2 + U^{-T} vanishes
    np.testing.assert_allclose((u - np.eye(3)) @ s_cov @ u, eps ** 2 * np.eye(3), atol=1e-10)
    np.testing.assert_allclose(-(u - np.eye(3)) @ s_cov / eps ** 2 + np.linalg.inv(u).T, 0, atol=1e-8)
    j = E.objective(u, s_cov, eps)
    for _ in range(20):                             # every small symmetric move lowers J
        d = rng.normal(size=(3, 3)) * 1e-2
        assert E.objective(u + (d + d.T) / 2, s_cov, eps) < j
    assert E.objective(np.eye(3), s_cov, eps) < j   # the identity (kernel-weighted fibres) is worse


def test_sampling_as_derived_gives_the_closed_form():
    """Draw y~ ~ N(y*, eps^2 I), map back by U^{-1}, draw x on the exact fibre: the closed form."""
    rng = np.random.default_rng(0)
    sigma = np.array([[1.0, 0.3, 0.0], [0.3, 2.0, 0.5], [0.0, 0.5, 1.5]])
    a = np.array([[1.0, -1.0, 0.5], [0.2, 0.0, 1.0]])
    y_star, eps, n = np.array([0.7, -0.4]), 0.4, 400_000
    s_cov = a @ sigma @ a.T
    b = sigma @ a.T @ np.linalg.inv(s_cov)
    y_back = (y_star + eps * rng.normal(size=(n, 2))) @ np.linalg.inv(E.reparametrisation(s_cov, eps)).T
    fibre = sigma - b @ s_cov @ b.T
    x = y_back @ b.T + rng.multivariate_normal(np.zeros(3), fibre, size=n, method="eigh")
    mean, cov = E.ours_limit_linear_gaussian(sigma, a, y_star, eps)
    np.testing.assert_allclose(x.mean(0), mean, atol=0.01)
    np.testing.assert_allclose(np.cov(x.T), cov, atol=0.01)


@pytest.mark.parametrize("eps", [0.05, 0.2, 0.5, 1.0])
def test_between_exact_and_abc(eps):
    """On y = x_1: ours's limit shrinks the mean less than ABC and is narrower than ABC along x_1;
    both tend to the exact posterior as eps -> 0."""
    m, c = E.ours_limit_linear_gaussian(SIGMA, A, [1.5], eps)
    am, ac = E.abc_linear_gaussian(SIGMA, A, [1.5], eps)
    em, ec = E.exact_linear_gaussian(SIGMA, A, [1.5])
    assert am[0] < m[0] < em[0] == pytest.approx(1.5)
    assert ec[0, 0] == pytest.approx(0.0, abs=1e-12) and 0 < c[0, 0] < ac[0, 0]
    small = E.ours_limit_linear_gaussian(SIGMA, A, [1.5], 1e-4)
    np.testing.assert_allclose(small[0], em, atol=1e-3)
    np.testing.assert_allclose(small[1], ec, atol=1e-3)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="do not fit"):
        E.ours_limit_linear_gaussian(SIGMA, np.ones((1, 3)), [1.0], 0.1)
    with pytest.raises(ValueError, match="eps must be a positive finite number"):
        E.ours_limit_linear_gaussian(SIGMA, A, [1.0], 0.0)
    with pytest.raises(ValueError, match="positive definite"):
        E.reparametrisation(np.zeros((1, 1)), 0.1)
