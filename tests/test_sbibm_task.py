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


def test_one_sbibm_task_at_several_budgets_computes_its_noise_floor_once(full_config_with_stages):
    """The floor does not read the budget, its validation split or the calibration set: tasks
    equal but for those take the first one's floor (identity.floor_source), and computing it
    for each gives the same rows."""
    import copy

    import pandas as pd

    from flowbench.config import validate_config
    from flowbench.identity import floor_digest, floor_source
    from flowbench.pipeline import noise_floor
    cfg = validate_config(full_config_with_stages)
    names = [t for t in cfg["tasks"] if t.startswith("sbibm_two_moons_")]
    assert sorted(names) == ["sbibm_two_moons_1e3", "sbibm_two_moons_1e4", "sbibm_two_moons_1e5"]
    assert {floor_source(cfg, t) for t in names} == {"sbibm_two_moons_1e3"}
    assert floor_source(cfg, "sbibm_slcp_1e5") == "sbibm_slcp_1e3"
    assert floor_source(cfg, "gmm") == "gmm" and floor_source(cfg, "arm") == "arm"
    # what the floor does read still separates: another n_eval is its own floor
    other = copy.deepcopy(cfg)
    other["tasks"]["sbibm_two_moons_1e4"]["n_eval"] = 1000
    assert floor_source(other, "sbibm_two_moons_1e4") == "sbibm_two_moons_1e4"
    assert floor_digest(other, "sbibm_two_moons_1e4") != floor_digest(cfg, "sbibm_two_moons_1e3")
    small = {"kind": "sbibm", "name": "two_moons", "n_obs": 1, "n_eval": 100, "metrics": ["w2"],
             "floor_repeats": 1, "train": {"iterations": 2, "batch_size": 16},
             "runs": [{"method": "nsf", "variants": ["default"], "seeds": [0]}]}
    tiny = validate_config({"name": "floor", "methods": {"nsf": {"base": {}, "variants": {"default": {}}}}, "tasks": {
        "a": {**small, "budget": 200, "calibration": {"n_obs": 5, "n_samples": 10}},
        "b": {**small, "budget": 3000, "val_pairs": 100}}})
    assert floor_source(tiny, "b") == "a"
    fa, fb = noise_floor(tiny, "a", 1), noise_floor(tiny, "b", 1)
    pd.testing.assert_frame_equal(fa.drop(columns="task"), fb.drop(columns="task"))


def test_the_floor_job_of_a_later_budget_copies_the_first_ones_rows(tmp_path, run_script):
    """workflow/scripts/noise_floor.py with a source floor: its rows, relabelled with the task."""
    from types import SimpleNamespace

    import pandas as pd

    from flowbench.io import write_csv
    from flowbench.records import read_csv
    src = tmp_path / "a" / "noise_floor.csv"
    rows = pd.DataFrame({"task": "a", "condition": ["obs1", "obs2"], "metric": "w2", "n": 100, "repeat": 0,
                         "value": [0.123456789012345, 0.2]})
    write_csv(src, rows)
    out = tmp_path / "b" / "noise_floor.csv"
    smk = SimpleNamespace(wildcards=SimpleNamespace(task="b"), input=SimpleNamespace(source=[str(src)], reference=[]),
                          output=[str(out)], log=[], threads=1, config={})
    run_script("noise_floor.py", smk)
    got = read_csv(out, dtype={"condition": str})
    pd.testing.assert_frame_equal(got, rows.assign(task="b"))


def test_the_compared_run_also_draws_at_the_published_sample_size_and_is_scored_there(tmp_path):
    """The task's ``published`` key: the named method, variant and seeds draw n more samples per
    observation (after every other draw, so those are unchanged) and are scored by sbibm's C2ST
    at that size; another seed or variant draws none. (The cINN for speed: the key names any method;
    the stage names sbi's NPE.)"""
    from flowbench.config import validate_config
    from flowbench.pipeline import evaluate_run, run_train
    from flowbench.tasks import load_task

    def config(**keys):
        return validate_config({
            "name": "pub_test",
            "methods": {"cinn": {"base": {"dim": 2, "blocks": 2, "subnet_layers": 2, "width": 16, "clamp": 2.0},
                                  "variants": {"default": {}}}},
            "tasks": {"tm": {"kind": "sbibm", "name": "two_moons", "n_obs": 2, "budget": 300, "n_eval": 100,
                             "n_test": 20, "metrics": ["w2"], "calibration": {"n_obs": 10, "n_samples": 20},
                             "train": {"iterations": 3, "batch_size": 16}, **keys,
                             "runs": [{"method": "cinn", "variants": ["default"], "seeds": [0]}]}}})

    plain, cfg = config(), config(published={"n": 120, "method": "cinn", "variant": "default", "seeds": [0]})
    for c, name in ((plain, "plain"), (cfg, "pub")):
        run_train(c, "tm", "cinn", "default", 0, tmp_path / name, device="cpu", log=lambda m: None)
    a, b = np.load(tmp_path / "plain" / "posterior_samples.npz"), np.load(tmp_path / "pub" / "posterior_samples.npz")
    assert "published_samples" not in a
    assert b["published_samples"].shape == (2, 120, 2) and np.isfinite(b["published_samples"]).all()
    np.testing.assert_array_equal(a["samples"], b["samples"])
    np.testing.assert_array_equal(a["calibration_samples"], b["calibration_samples"])
    rows = evaluate_run(cfg, "tm", "cinn", "default", 0, tmp_path / "pub")
    pub = [r for r in rows if r["metric"] == "c2st_sbibm_published"]
    assert [r["condition"] for r in pub] == ["obs1", "obs2"] and all(0.3 <= r["value"] <= 1 for r in pub)
    assert not [r for r in evaluate_run(plain, "tm", "cinn", "default", 0, tmp_path / "plain")
                if r["metric"] == "c2st_sbibm_published"]
    task = load_task(cfg, "tm")
    assert task.published_draws("cinn", "default", 1) == 0 and task.published_draws("cinn", "sbibm", 0) == 0
    assert task.published_draws("cinn", "default", 0) == 120 and load_task(plain, "tm").published_draws(
        "npe", "sbibm", 0) == 0
