"""sbi's NPE as a peer method (flowbench.methods.npe): trained by sbi's own loop on the task's
training set, then sampled and scored through the suite's pipeline like any other run."""
import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("sbi")       # the second install step (requirements/README.md); CI installs it
pytest.importorskip("sbibm")


def _config(tmp_path, **task_keys):
    from flowbench.config import validate_config
    cfg = {
        "name": "npe_test",
        "methods": {"npe": {"base": {"max_num_epochs": 4, "stop_after_epochs": 2, "hidden_features": 20,
                                     "num_transforms": 2, "simulations": 300},
                            "variants": {"default": {}}}},
        "tasks": {"tm": {"kind": "sbibm", "name": "two_moons", "n_obs": 2, "budget": 400, "n_eval": 200,
                         "n_test": 50, "metrics": ["w2", "c2st"], "calibration": {"n_obs": 40, "n_samples": 30},
                         "train": {"iterations": 3, "batch_size": 16},
                         "runs": [{"method": "npe", "variants": ["default"], "seeds": [0]}]}}}
    cfg["tasks"]["tm"].update(task_keys)
    return validate_config(cfg)


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory):
    """NPE trained on the test task (its config, its folder, its log)."""
    from flowbench.pipeline import run_train
    d = tmp_path_factory.mktemp("npe")
    cfg, out, logs = _config(d), d / "run", []
    run_train(cfg, "tm", "npe", "default", 0, out, device="cpu", log=logs.append)
    return cfg, out, logs


def test_npe_trains_with_sbis_loop_on_the_budget_and_is_scored_like_any_run(plain_run):
    from flowbench.pipeline import evaluate_run
    cfg, out, logs = plain_run
    assert any("trains itself" in m for m in logs)
    assert any("on 400 simulations" in m for m in logs)          # the whole budget, sbi splits it
    log = pd.read_csv(out / "train_log.csv")
    info = json.loads((out / "train_info.json").read_text())
    assert 1 <= len(log) <= 5 and {"loss", "val_loss"} <= set(log.columns)   # sbi counts one epoch past its cap
    assert info["steps_done"] == len(log) and not info["diverged"]
    post = np.load(out / "posterior_samples.npz")
    assert post["samples"].shape == (2, 200, 2) and np.isfinite(post["samples"]).all()
    # sampled as sbi's posterior is: inside the uniform prior's box (two_moons: [-1, 1]^2)
    from flowbench.tasks import load_task
    low, high = load_task(cfg, "tm").x_support()
    for draws in (post["samples"], post["calibration_samples"]):
        assert ((draws >= low.astype(np.float32)) & (draws <= high.astype(np.float32))).all()
    rows = evaluate_run(cfg, "tm", "npe", "default", 0, out)
    w2 = [r["value"] for r in rows if r["metric"] == "w2"]
    assert len(w2) == 2 and all(np.isfinite(w2))
    # calibration at 40 prior-predictive simulations: marginal, joint and (an exact density) HPD
    assert post["calibration_samples"].shape == (40, 30, 2) and post["calibration_hpd_f"].shape == (40,)
    assert {"calibration_error", "tarp_error", "hpd_error", "hpd_atc"} <= {r["metric"] for r in rows}
    assert "published_samples" not in post and "c2st_sbibm_published" not in {r["metric"] for r in rows}


def test_npe_on_a_task_without_a_budget_trains_on_fresh_draws():
    from flowbench.config import load_config_file
    from flowbench.methods import make_method, method_class
    from flowbench.tasks import load_task
    cfg = load_config_file("config/smoke.yaml")
    task = load_task(cfg, "gaussian_linear")
    p = method_class("npe").resolve({"max_num_epochs": 2, "hidden_features": 10, "num_transforms": 1,
                                     "simulations": 256})
    m = make_method("npe", task.x_dim, task.y_dim, p, conditions="continuous")
    res = m.fit(task, seed=0)
    assert res.steps_done in (2, 3) and len(res.rows) == res.steps_done
    s = m.sample_posterior(__import__("torch").from_numpy(task.evaluation_conditions()[1][:2]), 5)
    assert tuple(s.shape) == (2, 5, task.x_dim)


def test_fmpe_trains_with_sbis_loop_and_samples_along_its_ode(tmp_path):
    from flowbench.config import validate_config
    from flowbench.pipeline import evaluate_run, run_train
    cfg = validate_config({
        "name": "fmpe_test",
        "methods": {"fmpe": {"base": {"max_num_epochs": 3, "stop_after_epochs": 2, "hidden_features": 20,
                                      "num_layers": 2}, "variants": {"default": {}}}},
        "tasks": {"tm": {"kind": "sbibm", "name": "two_moons", "n_obs": 2, "budget": 300, "n_eval": 100,
                         "n_test": 50, "metrics": ["w2"], "train": {"iterations": 3, "batch_size": 16},
                         "runs": [{"method": "fmpe", "variants": ["default"], "seeds": [0]}]}}})
    out = tmp_path / "run"
    run_train(cfg, "tm", "fmpe", "default", 0, out, device="cpu", log=lambda m: None)
    post = np.load(out / "posterior_samples.npz")
    assert post["samples"].shape == (2, 100, 2) and np.isfinite(post["samples"]).all()
    assert [r["metric"] for r in evaluate_run(cfg, "tm", "fmpe", "default", 0, out)].count("w2") == 2


def test_the_prior_box_of_sbibm_tasks_in_the_models_units():
    """A uniform prior's box, standardised as theta is; None for a Gaussian prior."""
    from flowbench.tasks import make_task
    base = {"kind": "sbibm", "budget": 100, "n_obs": 1, "n_eval": 10, "n_test": 10, "metrics": ["w2"],
            "train": {"iterations": 1, "batch_size": 8}, "runs": []}
    tm = make_task({**base, "name": "two_moons"})
    low, high = tm.x_support()
    np.testing.assert_allclose(low, tm.std_theta(-np.ones(2)))
    np.testing.assert_allclose(high, tm.std_theta(np.ones(2)))
    assert (low < -1.5).all() and (high > 1.5).all()      # U(-1, 1): +-sqrt(3) standard deviations
    assert make_task({**base, "name": "bernoulli_glm"}).x_support() is None


def test_sbi_estimators_reject_draws_outside_the_box_or_refuse_a_box_they_never_reach():
    import torch

    from flowbench.methods import make_method, method_class
    y = torch.randn(3, 2)
    m = make_method("npe", 2, 2, method_class("npe").resolve({}), seed=0)
    free = m.sample_posterior(y, 400)
    box = (np.array([-0.3, -0.3]), np.array([0.3, 0.3]))
    assert not ((free >= -0.3) & (free <= 0.3)).all()      # the estimator leaks out of this box
    m.set_support(box)
    kept = m.sample_posterior(y, 400)
    assert tuple(kept.shape) == (3, 400, 2) and ((kept >= -0.3) & (kept <= 0.3)).all()
    m.set_support((np.array([50.0, 50.0]), np.array([51.0, 51.0])))
    with pytest.raises(RuntimeError, match="inside the prior's support"):
        m.sample_posterior(y, 5)
    with pytest.raises(ValueError, match="low < high"):
        m.set_support((np.array([1.0, 1.0]), np.array([0.0, 2.0])))
    off = make_method("npe", 2, 2, method_class("npe").resolve({"reject_outside_prior": False}), seed=0)
    off.set_support(box)
    assert off.support is None and not ((off.sample_posterior(y, 400).abs() <= 0.3).all())


def test_fmpe_draws_all_conditions_in_one_batched_solve_each_in_its_own_row(monkeypatch):
    """One call of sbi's sample_batched ((n, B, d): sbi's documented layout) for every condition,
    returned as [B, n, d] with condition k's draws in row k."""
    import torch
    from sbi.inference.posteriors.vector_field_posterior import VectorFieldPosterior

    from flowbench.methods import make_method, method_class
    calls = []

    def fake(self, sample_shape, x, **kw):
        calls.append((tuple(sample_shape), tuple(x.shape), kw["reject_outside_prior"]))
        n, b = int(sample_shape[0]), x.shape[0]
        return x[:, :1].reshape(1, b, 1).expand(n, b, 3) + torch.arange(n).reshape(n, 1, 1) * 1e-3

    monkeypatch.setattr(VectorFieldPosterior, "sample_batched", fake)
    m = make_method("fmpe", 3, 2, method_class("fmpe").resolve({}), seed=0)
    y = torch.tensor([[5.0, 0.0], [-2.0, 0.0], [7.0, 1.0]])
    s = m._draw(y, 4)
    assert calls == [((4,), (3, 2), False)] and tuple(s.shape) == (3, 4, 3)
    for k in range(3):
        torch.testing.assert_close(s[k, :, 0], y[k, 0] + torch.arange(4) * 1e-3)
