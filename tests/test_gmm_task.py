import numpy as np
import pytest

from flowbench.tasks import make_task
from flowbench.tasks.gmm import polygon_centres, resolve_label_map

ORIGINAL = [[-2.4142, 1.0], [-1.0, 2.4142], [1.0, 2.4142], [2.4142, 1.0],
            [2.4142, -1.0], [1.0, -2.4142], [-1.0, -2.4142], [-2.4142, -1.0]]


def task(labels="all", **kw):
    return make_task({"kind": "gmm", "modes": {"std": 0.2, "centres": ORIGINAL}, "labels": labels, **kw})


def test_polygon_matches_original_centres():
    pc = polygon_centres(8, 2.6131)
    for c in ORIGINAL:
        assert np.min(np.linalg.norm(pc - np.array(c), axis=1)) < 1e-3


def test_label_maps():
    assert resolve_label_map("all", 8).tolist() == list(range(8))
    assert resolve_label_map("some", 8).tolist() == [0, 0, 0, 0, 1, 1, 2, 3]
    assert resolve_label_map([1, 1, 0], 3).tolist() == [1, 1, 0]
    with pytest.raises(ValueError, match="allowed"):
        resolve_label_map("most", 8)
    with pytest.raises(ValueError, match="one label per mode"):
        resolve_label_map([0, 1], 8)
    with pytest.raises(ValueError, match="0..L-1"):
        resolve_label_map([0, 2, 2], 3)


def test_batch_shapes_and_onehot():
    t = task()
    x, y = t.sample_batch(64, np.random.default_rng(0))
    assert x.shape == (64, 2) and y.shape == (64, 8)
    assert np.allclose(y.sum(1).numpy(), 1)


@pytest.mark.parametrize("labels", ["all", "some"])
def test_exact_posterior_moments(labels):
    t = task(labels)
    rng = np.random.default_rng(1)
    for k in range(t.n_labels):
        s = t.sample_posterior(k, 200_000, rng)
        mean, cov = t.posterior_moments(k)
        assert np.allclose(s.mean(0), mean, atol=0.02)
        assert np.allclose(np.cov(s.T), cov, atol=0.03)


def test_posterior_samples_near_their_modes():
    t = task("all")
    s = t.sample_posterior(3, 5000, np.random.default_rng(2))
    d = np.linalg.norm(s - np.array(ORIGINAL[3]), axis=1)
    assert np.quantile(d, 0.99) < 0.2 * 3.1  # chi(2) 99% quantile ~3.03 std


def test_label_prior_and_test_set_fixed():
    t = task("some")
    assert np.allclose(t.label_prior, [0.5, 0.25, 0.125, 0.125])
    a, b = t.test_set(), t.test_set()
    assert np.array_equal(a[0], b[0])


def test_bad_label_refused():
    with pytest.raises(ValueError, match="out of range"):
        task().sample_posterior(8, 10, np.random.default_rng(0))
