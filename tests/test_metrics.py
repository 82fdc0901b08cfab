import numpy as np
import pytest

from flowbench import metrics as M


def gauss(n, mean, cov, seed):
    return np.random.default_rng(seed).multivariate_normal(mean, cov, size=n)


def test_w2_identical_is_zero():
    X = gauss(300, [0, 0], np.eye(2), 0)
    assert M.w2(X, X) == pytest.approx(0.0, abs=1e-9)


def test_w2_pure_shift_is_the_shift():
    X = gauss(400, [0, 0], np.eye(2), 0)
    assert M.w2(X, X + np.array([3.0, 4.0])) == pytest.approx(5.0, rel=1e-6)


def test_w2_matches_gaussian_closed_form():
    m1, S1 = np.array([0.0, 0.0]), np.diag([1.0, 0.25])
    m2, S2 = np.array([1.0, -0.5]), np.array([[0.5, 0.2], [0.2, 0.8]])
    exact = M.gaussian_w2(m1, S1, m2, S2)
    est = M.w2(gauss(2000, m1, S1, 1), gauss(2000, m2, S2, 2))
    assert est == pytest.approx(exact, abs=0.08)


def test_gaussian_w2_closed_form_scalar_case():
    # 1-d: W2 = sqrt((m1-m2)^2 + (s1-s2)^2)
    assert M.gaussian_w2([0.0], [[4.0]], [3.0], [[1.0]]) == pytest.approx(np.sqrt(9 + 1))


def test_sliced_w2_zero_and_shift():
    X = gauss(500, [0, 0], np.eye(2), 0)
    assert M.sliced_w2(X, X) == pytest.approx(0.0, abs=1e-9)
    assert M.sliced_w2(X, X + 1.0) > 0.5


def test_mmd_near_zero_same_distribution_grows_with_shift():
    X, Y = gauss(500, [0, 0], np.eye(2), 0), gauss(500, [0, 0], np.eye(2), 1)
    same = M.mmd(X, Y)
    assert abs(same) < 0.01
    assert M.mmd(X, Y + 0.5) > M.mmd(X, Y + 0.1) > same


def test_c2st_chance_and_separable():
    X, Y = gauss(1000, [0, 0], np.eye(2), 0), gauss(1000, [0, 0], np.eye(2), 1)
    assert abs(M.c2st(X, Y) - 0.5) < 0.06
    assert M.c2st(X, Y + 4.0) > 0.97


@pytest.mark.parametrize("fn", [M.w2, M.sliced_w2, M.mmd, M.c2st])
def test_metrics_refuse_nonfinite(fn):
    X = gauss(50, [0, 0], np.eye(2), 0)
    Y = X.copy()
    Y[3, 1] = np.nan
    with pytest.raises(M.MetricInputError, match="NaN or inf"):
        fn(X, Y)
    Y[3, 1] = np.inf
    with pytest.raises(M.MetricInputError):
        fn(Y, X)


def test_metrics_refuse_bad_shapes():
    with pytest.raises(M.MetricInputError, match="dimensions differ"):
        M.w2(np.zeros((5, 2)), np.zeros((5, 3)))
    with pytest.raises(M.MetricInputError, match="shape"):
        M.w2(np.zeros(5), np.zeros((5, 2)))


def test_accuracy():
    assert M.accuracy([0, 1, 2, 2], [0, 1, 1, 2]) == 0.75
    with pytest.raises(M.MetricInputError):
        M.accuracy([0, 1], [0])
