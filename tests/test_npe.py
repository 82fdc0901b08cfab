"""sbi's NPE as a peer method (flowbench.methods.npe): trained by sbi's own loop on the task's
training set, then sampled and scored through the suite's pipeline like any other run."""
import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("sbi")       # the second install step (requirements/README.md); CI installs it
pytest.importorskip("sbibm")


def _config(tmp_path):
    from flowbench.config import validate_config
    return validate_config({
        "name": "npe_test",
        "methods": {"npe": {"base": {"max_num_epochs": 4, "stop_after_epochs": 2, "hidden_features": 20,
                                     "num_transforms": 2, "simulations": 300},
                            "variants": {"default": {}}}},
        "tasks": {"tm": {"kind": "sbibm", "name": "two_moons", "n_obs": 2, "budget": 400, "n_eval": 200,
                         "n_test": 50, "metrics": ["w2", "c2st"], "calibration": {"n_obs": 40, "n_samples": 30},
                         "train": {"iterations": 3, "batch_size": 16},
                         "runs": [{"method": "npe", "variants": ["default"], "seeds": [0]}]}}})


def test_npe_trains_with_sbis_loop_on_the_budget_and_is_scored_like_any_run(tmp_path):
    from flowbench.pipeline import evaluate_run, run_train
    cfg = _config(tmp_path)
    out = tmp_path / "run"
    logs = []
    run_train(cfg, "tm", "npe", "default", 0, out, device="cpu", log=logs.append)
    assert any("trains itself" in m for m in logs)
    assert any("on 400 simulations" in m for m in logs)          # the whole budget, sbi splits it
    log = pd.read_csv(out / "train_log.csv")
    info = json.loads((out / "train_info.json").read_text())
    assert 1 <= len(log) <= 5 and {"loss", "val_loss"} <= set(log.columns)   # sbi counts one epoch past its cap
    assert info["steps_done"] == len(log) and not info["diverged"]
    post = np.load(out / "posterior_samples.npz")
    assert post["samples"].shape == (2, 200, 2) and np.isfinite(post["samples"]).all()
    rows = evaluate_run(cfg, "tm", "npe", "default", 0, out)
    w2 = [r["value"] for r in rows if r["metric"] == "w2"]
    assert len(w2) == 2 and all(np.isfinite(w2))
    # calibration at 40 prior-predictive simulations: marginal, joint and (an exact density) HPD
    assert post["calibration_samples"].shape == (40, 30, 2) and post["calibration_hpd_f"].shape == (40,)
    assert {"calibration_error", "tarp_error", "hpd_error", "hpd_atc"} <= {r["metric"] for r in rows}


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
