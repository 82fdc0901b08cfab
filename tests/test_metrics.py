import numpy as np
import pytest
import torch

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


@pytest.mark.parametrize("batched", [False, True])
def test_c2st_chance_and_separable_either_way(batched):
    X, Y = gauss(1000, [0, 0], np.eye(2), 0), gauss(1000, [0, 0], np.eye(2), 1)
    assert abs(M.c2st(X, Y, batched=batched) - 0.5) < 0.06
    assert M.c2st(X, Y + 4.0, batched=batched) > 0.97


def _c2st_inputs(n, d, seed, shift=0.3):
    X = gauss(n, np.zeros(d), np.eye(d), seed)
    Y = gauss(n + 7, np.full(d, shift / np.sqrt(d)), np.eye(d), seed + 100)   # unequal folds
    return X, Y


@pytest.mark.parametrize("d", [2, 4])
def test_c2st_batched_folds_train_the_per_fold_networks(monkeypatch, d):
    """After a few epochs (before float rounding has grown) the batched folds' held-out logits are
    the per-fold networks' to float32 tolerance: the same initialisation, losses and updates."""
    X, Y = _c2st_inputs(303, d, 0)
    seen = {}
    for name in ("_c2st_folds_loop", "_c2st_folds_batched"):
        fn = getattr(M, name)
        monkeypatch.setattr(M, name, lambda *a, _fn=fn, _name=name: seen.setdefault(_name, _fn(*a)))
    for batched in (False, True):
        M.c2st(X, Y, seed=3, epochs=15, batched=batched)
    loop, bat = seen["_c2st_folds_loop"], seen["_c2st_folds_batched"]
    assert len(loop) == len(bat) == 5 and len({len(v) for v in loop}) == 2
    for a, b in zip(loop, bat):
        assert a.shape == b.shape
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-4), float((a - b).abs().max())
    assert max(float(v.std()) for v in loop) > 1e-2   # the networks have moved from their init


def test_c2st_batched_accuracy_within_its_seed_spread():
    """At the full 200 epochs, over seeds, the batched C2ST's accuracy on fixed inputs (d = 2,
    where the default batches) is the per-fold one's within C2ST's own spread over seeds."""
    X, Y = _c2st_inputs(400, 2, 1, shift=1.0)
    loop = np.array([M.c2st(X, Y, seed=s, batched=False) for s in range(4)])
    bat = np.array([M.c2st(X, Y, seed=s, batched=True) for s in range(4)])
    spread = max(float(loop.std(ddof=1)), 0.005)
    assert abs(bat.mean() - loop.mean()) <= spread
    assert np.abs(bat - loop).max() <= 3 * spread
    assert loop.mean() > 0.55   # a real difference to detect


def test_c2st_default_batches_only_up_to_the_cut(monkeypatch):
    calls = []
    monkeypatch.setattr(M, "_c2st_folds_batched", lambda *a: calls.append("batched") or M._c2st_folds_loop(*a))
    for d in (M.C2ST_BATCHED_MAX_DIM, M.C2ST_BATCHED_MAX_DIM + 1):
        X, Y = _c2st_inputs(60, d, 2)
        M.c2st(X, Y, epochs=2)
    assert calls == ["batched"]


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


def test_far_outside_counts_draws_beyond_one_range_of_the_reference():
    from flowbench.metrics import MetricInputError, far_outside
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(2000, 2))
    assert far_outside(rng.normal(size=(2000, 2)), ref) == 0.0      # the reference's own law
    span = ref[:, 1].max() - ref[:, 1].min()
    x = rng.normal(size=(1000, 2))
    x[:30, 1] = ref[:, 1].max() + 1.01 * span                       # 3% just beyond one range
    x[30:40, 1] = ref[:, 1].max() + 0.99 * span                     # 1% just inside it
    assert far_outside(x, ref) == pytest.approx(0.03)
    with pytest.raises(MetricInputError, match="far_outside: the samples"):
        far_outside(np.full((5, 2), np.nan), ref)


# ------------------------------------------------------------------- C2ST as sbibm computes it
def _sbibm_c2st(X, Y, seed):
    sbibm_metrics = pytest.importorskip("sbibm.metrics")   # installed by .ci/run (requirements/sbibm.txt)
    import torch
    return float(sbibm_metrics.c2st(torch.tensor(X, dtype=torch.float32), torch.tensor(Y, dtype=torch.float32),
                                    seed=seed))


@pytest.mark.parametrize("case", ["shifted", "model"])
def test_c2st_sbibm_agrees_with_sbibm_within_the_classifiers_seed_spread(case):
    """The suite's C2ST against sbibm.metrics.c2st (scikit-learn) on the same pairs: a one-sd shift
    (Bayes accuracy Phi(1/2) = 0.69), and a moment-matched Gaussian
    standing in for a model of a banana-shaped posterior; the means over seeds agree within
    3 standard errors of the two seeds' spread (at least 0.02)."""
    from flowbench.metrics import c2st_sbibm
    rng = np.random.default_rng(7)
    n = 150
    X = rng.standard_normal((n, 2))
    if case == "shifted":
        Y = rng.standard_normal((n, 2)) + np.array([1.0, 0.0])
    else:                      # a banana (x2 = x1^2 + noise) against the Gaussian of its moments
        X = np.column_stack([X[:, 0], X[:, 0] ** 2 + 0.3 * X[:, 1]])
        Y = rng.multivariate_normal(X.mean(0), np.cov(X.T), size=n)
    ours = [c2st_sbibm(X, Y, seed=s) for s in (1, 2)]
    theirs = [_sbibm_c2st(X, Y, seed=s) for s in (1, 2)]
    spread = max(np.std(ours + theirs, ddof=1), 0.02)
    assert abs(np.mean(ours) - np.mean(theirs)) <= 3 * spread, (ours, theirs)
    if case == "shifted":
        assert 0.62 <= np.mean(ours) <= 0.76
    if case == "model":
        assert np.mean(ours) >= 0.6 and np.mean(theirs) >= 0.6



def test_c2st_sbibm_metric_takes_the_suites_argument_order_and_blames_the_right_side():
    from flowbench.metrics import POSTERIOR_METRICS, MetricInputError
    fn = POSTERIOR_METRICS["c2st_sbibm"]
    rng = np.random.default_rng(0)
    bad = rng.standard_normal((50, 2))
    bad[3] = np.nan
    with pytest.raises(MetricInputError) as err:
        fn(bad, rng.standard_normal((50, 2)))
    assert err.value.argument == "samples"
    with pytest.raises(MetricInputError) as err:
        fn(rng.standard_normal((50, 2)), bad)
    assert err.value.argument == "reference"


# ------------------------------------------------------------------------------------ TARP
def _gaussian_calibration(scale=1.0, corr=0.9, M=400, n=200, seed=0):
    rng = np.random.default_rng(seed)
    L = np.linalg.cholesky(np.array([[1.0, corr], [corr, 1.0]]))
    mu = 2 * rng.standard_normal((M, 2))
    truth = mu + rng.standard_normal((M, 2)) @ L.T
    return mu[:, None, :] + scale * rng.standard_normal((M, n, 2)) @ L.T, truth


def test_tarp_is_near_zero_for_a_calibrated_sampler_and_signs_too_narrow_or_too_wide():
    from flowbench.metrics import calibration_rows
    good = calibration_rows(*_gaussian_calibration())
    narrow = calibration_rows(*_gaussian_calibration(scale=0.5))
    wide = calibration_rows(*_gaussian_calibration(scale=2.0))
    assert good["tarp_error"] < 0.04 and abs(good["tarp_atc"]) < 0.02
    assert narrow["tarp_error"] > 0.07 and narrow["tarp_atc"] < -0.04
    assert wide["tarp_error"] > 0.07 and wide["tarp_atc"] > 0.04


def test_tarp_coverage_matches_sbis_run_tarp_on_the_same_reference_points():
    tarp = pytest.importorskip("sbi.diagnostics.tarp")
    import torch
    from flowbench.metrics import tarp_coverage
    samples, truth = _gaussian_calibration(scale=0.7, M=300, n=100)
    refs = np.random.default_rng(5).uniform(truth.min(0), truth.max(0), size=truth.shape)
    ecp, alpha = tarp._run_tarp(torch.tensor(samples, dtype=torch.float64).permute(1, 0, 2),
                                torch.tensor(truth, dtype=torch.float64), torch.tensor(refs, dtype=torch.float64),
                                num_bins=30, z_score_theta=True)
    f = tarp_coverage(samples, truth, references=refs)
    # the same coverage values: sbi's curve at each bin edge lies between the shares of f below and
    # at most at that edge (f takes the values k/n, so some sit on an edge up to float rounding)
    for a, e in zip(alpha.numpy()[1:-1], ecp.numpy()[1:-1]):
        assert (f < a - 1e-6).mean() - 1e-6 <= e <= (f <= a + 1e-6).mean() + 1e-6, (a, e)


# ------------------------------------------------------------------ highest-density regions
def test_hpd_coverage_is_calibrated_for_the_true_posterior_and_signs_too_narrow_or_too_wide():
    from flowbench.metrics import calibration_rows
    rng = np.random.default_rng(3)
    M, n = 400, 200
    mu = 2 * rng.standard_normal((M, 2))
    truth = mu + rng.standard_normal((M, 2))
    out = {}
    from flowbench.metrics import hpd_f
    for scale in (1.0, 0.5, 2.0):
        draws = mu[:, None] + scale * rng.standard_normal((M, n, 2))
        lq = lambda x, c: -0.5 * (((x - c) / scale) ** 2).sum(-1)
        out[scale] = calibration_rows(draws, truth, hpd_f=hpd_f(lq(draws, mu[:, None]), lq(truth, mu)))
    assert out[1.0]["hpd_error"] < 0.04 and abs(out[1.0]["hpd_atc"]) < 0.02
    assert out[0.5]["hpd_error"] > 0.1 and out[0.5]["hpd_atc"] < -0.05     # over-confident
    assert out[2.0]["hpd_error"] > 0.1 and out[2.0]["hpd_atc"] > 0.05      # conservative


def test_hpd_coverage_sees_a_wrong_correlation_that_the_marginal_coverage_passes():
    """Draws from N(mu, I) for a posterior N(mu, [[1, .95], [.95, 1]]): every marginal is right, so
    the per-coordinate coverage is calibrated; the model's own density ranks the truth wrongly."""
    from flowbench.metrics import calibration_rows, hpd_f
    rng = np.random.default_rng(4)
    M, n = 1000, 200
    L = np.linalg.cholesky(np.array([[1.0, 0.95], [0.95, 1.0]]))
    mu = 2 * rng.standard_normal((M, 2))
    truth = mu + rng.standard_normal((M, 2)) @ L.T
    draws = mu[:, None] + rng.standard_normal((M, n, 2))
    lq = lambda x, c: -0.5 * ((x - c) ** 2).sum(-1)
    rows = calibration_rows(draws, truth, hpd_f=hpd_f(lq(draws, mu[:, None]), lq(truth, mu)))
    assert rows["calibration_error"] < 0.03
    assert rows["hpd_error"] > 0.05 and rows["hpd_error"] > 2 * rows["calibration_error"]


def test_hpd_inputs_of_the_wrong_shape_are_refused():
    from flowbench.metrics import MetricInputError, calibration_rows, hpd_f
    with pytest.raises(MetricInputError, match="hpd_f"):
        hpd_f(np.zeros((3, 4)), np.zeros(4))
    with pytest.raises(MetricInputError, match="one value per observation"):
        calibration_rows(np.zeros((3, 5, 2)), np.zeros((3, 2)), hpd_f=np.zeros(2))


def test_w2_imports_pot_without_scikit_learn_and_leaves_scikit_learn_importable():
    """POT is imported without its optional scikit-learn and networkx hooks (a third of a second of
    every scoring job's start-up); W2 is the same exact EMD, and both still import afterwards."""
    import subprocess
    import sys
    code = """
import sys
import numpy as np
from flowbench import metrics as M
x = np.array([[0.0], [1.0]]); y = np.array([[0.5], [3.0]])
assert abs(M.w2(x, y) - np.sqrt((0.25 + 4.0) / 2)) < 1e-12
assert 'sklearn' not in sys.modules and 'networkx' not in sys.modules
assert sys.modules['ot'].lowrank.sklearn_import is False and sys.modules['ot'].gromov._utils.networkx_import is False
import networkx
import sklearn.cluster
assert sys.modules['sklearn.cluster'] is not None and sys.modules['networkx'] is not None
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
