"""The sbibm task kind (flowbench.tasks.sbibm_tasks): a fixed simulation budget split into
training and validation, the standardisation, sbibm's reference samples and the validation energy
score."""
import numpy as np
import pytest
import torch

pytest.importorskip("sbibm")   # the second install step (requirements/README.md); CI installs it

from flowbench.tasks import make_task  # noqa: E402


@pytest.fixture(scope="module")
def task():
    t = make_task({"kind": "sbibm", "name": "two_moons", "n_obs": 3, "budget": 500, "val_fraction": 0.2,
                   "val_pairs": 50, "n_eval": 300, "train": {"iterations": 2, "batch_size": 16}, "runs": []})
    t.name = "two_moons_500"
    return t


def test_shapes_conditions_and_the_standardisation(task):
    assert (task.x_dim, task.y_dim) == (2, 2)
    ids, y = task.evaluation_conditions()
    assert ids == ["obs1", "obs2", "obs3"] and y.shape == (3, 2)
    s = task._simulations
    train_y = s["y"][s["n_val"]:]
    np.testing.assert_allclose(train_y.mean(0), 0, atol=1e-5)      # data z-scored by the training set
    np.testing.assert_allclose(train_y.std(0), 1, atol=1e-4)
    np.testing.assert_allclose(task.std_data(task._observations), y, atol=1e-6)


def test_batches_come_from_the_training_part_of_the_budget_only(task):
    s = task._simulations
    assert s["n_val"] == 100
    x, y = task.sample_batch(4000, np.random.default_rng(0))
    train = {tuple(r) for r in s["x"][s["n_val"]:]}
    held = {tuple(r) for r in s["x"][:s["n_val"]]}
    got = {tuple(r) for r in x.numpy()}
    assert got <= train and not got & held and len(got) > 350      # nearly every training pair is used


def test_references_are_sbibms_and_the_floor_sides_are_disjoint(task):
    import sbibm
    raw = sbibm.get_task("two_moons").get_reference_posterior_samples(num_observation=2).double().numpy()
    ref = task.reference_posterior(1, 300)
    np.testing.assert_array_equal(ref, task.reference_posterior(1, 300))          # the fixed draw
    back = ref * task._theta_moments[1] + task._theta_moments[0]
    assert {tuple(np.round(r, 4)) for r in back} <= {tuple(np.round(r, 4)) for r in raw}
    a = task.perfect_sample(1, 300, np.random.default_rng(1))
    b = task.reference_posterior(1, 300, np.random.default_rng(2))
    assert not {tuple(r) for r in a} & {tuple(r) for r in b}
    with pytest.raises(ValueError, match="<= 5000"):
        task.perfect_sample(1, 6000, np.random.default_rng(1))


class _Fake:
    """A stand-in model: sample_posterior(conds, m) from a function of the condition's row."""

    def __init__(self, fn):
        self.fn, self.w = fn, torch.nn.Linear(1, 1)

    def parameters(self):
        return self.w.parameters()

    def sample_posterior(self, conds, m):
        return torch.from_numpy(np.stack([self.fn(i, m) for i in range(len(conds))]).astype(np.float32))


def test_the_validation_energy_score_prefers_draws_near_the_truth(task):
    """The energy score is proper: draws around each held-out simulation's true theta score lower
    than draws of the prior (which ignore the data); non-finite draws score inf."""
    s = task._simulations
    truth = s["x"][:50]
    rng = np.random.default_rng(3)
    score = task.validation_distance(1000)
    near = score(_Fake(lambda i, m: truth[i] + 0.1 * rng.standard_normal((m, 2))))
    prior = score(_Fake(lambda i, m: rng.standard_normal((m, 2))))
    assert near < prior
    assert score(_Fake(lambda i, m: np.full((m, 2), np.nan))) == float("inf")


def test_tuning_refuses_a_task_without_validation_references(smoke_config):
    from flowbench.config import validate_config
    from flowbench.errors import ConfigError
    cfg = smoke_config
    cfg["tasks"] = {"tm": {"kind": "sbibm", "name": "two_moons", "budget": 200, "n_obs": 1, "n_eval": 100,
                           "train": {"iterations": 2, "batch_size": 16},
                           "runs": [{"method": "cinn", "variants": ["inverse"], "seeds": [0]}]}}
    cfg.pop("images", None)
    cfg["tuning"] = {"tasks": ["tm"], "methods": ["cinn"], "validate_every": 1}
    with pytest.raises(ConfigError, match="no references at its validation conditions"):
        validate_config(cfg)


def test_the_dimensions_the_config_check_uses_are_sbibms():
    import sbibm

    from flowbench.tasks.sbibm_tasks import SBIBM_DIMS
    for name, (x_dim, y_dim) in SBIBM_DIMS.items():
        t = sbibm.get_task(name)
        assert (t.dim_parameters, t.dim_data) == (x_dim, y_dim), name


def test_calibration_set_is_prior_predictive_with_its_own_seed_and_can_be_switched_off(task):
    x, y, n = task.calibration_set()
    assert x.shape == (500, 2) and y.shape == (500, 2) and n == 200     # the declared defaults
    tx, ty = task.test_set()
    assert not {tuple(r) for r in x} & {tuple(r) for r in tx}
    # theta standardised by the prior's moments: mean 0 and std 1 up to sampling error
    np.testing.assert_allclose(x.mean(0), 0, atol=0.15)
    np.testing.assert_allclose(x.std(0), 1, atol=0.1)
    off = make_task({"kind": "sbibm", "name": "two_moons", "budget": 100, "calibration": {"n_obs": 0},
                     "train": {"iterations": 2, "batch_size": 16}, "runs": []})
    assert off.calibration_set() is None
    assert "calibration_curves" in task.figure_names() and "hpd_error" in task.record()["summary_metrics"]
