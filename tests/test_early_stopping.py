"""Early stopping on validation data: the stopping rule, the kept parameters, the validation data
of every task kind (never the test's), and the config checks."""
import copy
import math

import numpy as np
import pytest
import torch

from flowbench.config import ConfigError, validate_config
from flowbench.tasks import make_task
from flowbench.training import _EarlyStopping, train


class _Const(torch.nn.Module):
    """A 'method' whose one parameter moves by -1 per step (so its value names the step)."""

    grad_clamp = None
    params: dict = {}

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))

    def make_optimizer(self):
        return torch.optim.SGD(self.parameters(), lr=1.0)

    def loss(self, x, y, step):
        return self.w, {}


class _Task:
    def sample_batch(self, n, rng):
        return torch.zeros(n, 1), torch.zeros(n, 1)


def _run(values, iterations=100, every=1, patience=3, min_improvement=0.01):
    """Train _Const with validation values read from ``values`` (one per validation)."""
    it = iter(values)
    model = _Const()
    res = train(model, _Task(), iterations, 1, 0, log_every=1000, log=lambda m: None,
                validate=lambda m: next(it, values[-1]), validate_every=every, patience=patience,
                min_improvement=min_improvement)
    return model, res


def test_stops_after_patience_checks_without_improvement_and_keeps_the_best():
    vals = [5.0, 4.0, 3.0, 3.5, 3.2, 3.1, 1.0]      # best 3.0 at check 3; 3 checks without improvement
    model, res = _run(vals)
    assert res.stopped_early and res.steps_done == 6
    assert res.best_step == 3 and res.best_val == 3.0
    assert float(model.w.detach()) == -3.0                      # the parameters after step 3, restored
    assert [r.get("val_w2") for r in res.rows] == vals[:6]


def test_small_improvements_do_not_reset_patience_but_the_lowest_value_is_kept():
    vals = [1.0, 0.999, 0.998, 0.997, 0.5]            # each < 1% better than 1.0: patience runs out
    model, res = _run(vals)
    assert res.stopped_early and res.steps_done == 4
    assert res.best_step == 4 and float(model.w.detach()) == -4.0
    _, res = _run(vals, min_improvement=0.0)          # every decrease counts: no stop
    assert not (res.stopped_early and res.steps_done == 4)


def test_runs_to_the_cap_while_improving_and_validates_at_the_last_step():
    model, res = _run([10.0 / (k + 1) for k in range(20)], iterations=10, every=4)
    assert not res.stopped_early and res.steps_done == 10
    assert [r["step"] for r in res.rows if "val_w2" in r] == [3, 7, 9]
    assert res.best_step == 10 and float(model.w.detach()) == -10.0


def test_non_finite_validation_never_becomes_the_best():
    model, res = _run([2.0, math.inf, math.nan, math.inf])
    assert res.stopped_early and res.best_step == 1 and float(model.w.detach()) == -1.0


@pytest.mark.parametrize("patience, frac", [(0, 0.01), (3, 1.0), (3, -0.1)])
def test_bad_stopping_settings_refused(patience, frac):
    with pytest.raises(ValueError, match="patience"):
        _EarlyStopping(patience, frac)


def test_validation_function_needs_an_interval():
    with pytest.raises(ValueError, match="validate_every"):
        train(_Const(), _Task(), 5, 1, 0, validate=lambda m: 1.0, validate_every=0)


# ------------------------------------------------------------------ validation data of the tasks
def test_label_task_validates_on_its_labels_with_draws_the_test_never_uses(smoke_config):
    cfg = validate_config(smoke_config)
    task = make_task(cfg["tasks"]["gmm"])
    ids, conds = task.validation_conditions()
    assert ids == task.evaluation_conditions()[0]
    for k in range(len(ids)):
        val, test = task.validation_reference(k, 200), task.reference_posterior(k, 200)
        assert val.shape == test.shape and not np.allclose(val, test)
        np.testing.assert_array_equal(val, task.validation_reference(k, 200))   # fixed


def test_gaussian_linear_validation_observations_are_not_the_tests():
    task = make_task({"kind": "gaussian_linear", "dim": 3, "n_obs": 4, "n_val_obs": 2,
                      "train": {"iterations": 1, "batch_size": 1}, "runs": []})
    ids, ys = task.validation_conditions()
    assert ids == ["val0", "val1"] and ys.shape == (2, 3)
    assert not np.isin(ys, task.evaluation_conditions()[1]).any()
    x = task.validation_reference(1, 4000)
    np.testing.assert_allclose(x.mean(0), task.posterior_mean(ys[1]), atol=0.03)
    np.testing.assert_allclose(x.var(0), task.posterior_var, rtol=0.1)


def test_simulator_validation_references_are_built_beside_the_tests(tmp_path):
    """arm: the validation observations get their own nearest draws in the same pool pass; the
    reference file's identity names them."""
    from flowbench.tasks.arm import ArmTask
    cfg = {"kind": "arm", "n_obs": 2, "n_val_obs": 2, "ystar": False, "n_eval": 20,
           "reference": {"pool": 200000, "keep": 50, "chunk": 100000},
           "calibration": {"n_obs": 0}, "train": {"iterations": 1, "batch_size": 1}, "runs": []}
    task = ArmTask.from_config(cfg)
    ref = task.build_reference(quality=False)
    assert ref["validation_x"].shape == (2, 50, 4)
    ys = task.validation_conditions()[1]
    d = task.distance(task.forward(ref["validation_x"][1].astype(float)), ys[1])
    d_test = task.distance(task.forward(ref["x"][0].astype(float)), ys[1])
    assert d.max() < np.median(d_test)             # the draws near val1, not near the test's y
    assert "validation_conditions" in task.reference_identity()
    assert "validation_conditions" not in ArmTask.from_config({**cfg, "n_val_obs": 0}).reference_identity()


# ------------------------------------------------------------------ config
def _with_stopping(cfg, task, **extra):
    cfg = copy.deepcopy(cfg)
    cfg["tasks"][task]["train"]["early_stopping"] = {"every": 2, **extra}
    cfg["tasks"][task].update({k: v for k, v in extra.items() if k == "n_val_obs"})
    return cfg


def test_early_stopping_fills_its_defaults(smoke_config):
    cfg = validate_config(_with_stopping(smoke_config, "gmm"))
    assert cfg["tasks"]["gmm"]["train"]["early_stopping"] == {"every": 2, "patience": 5,
                                                              "min_improvement": 0.01, "n": 500}


def test_simulator_task_without_validation_observations_refused(smoke_config):
    name = next(t for t, s in smoke_config["tasks"].items() if s.get("kind") in ("arm", "ballistics"))
    cfg = _with_stopping(smoke_config, name, n=50)
    cfg["tasks"][name].pop("n_val_obs", None)
    with pytest.raises(ConfigError, match=rf"tasks\.{name}\.train\.early_stopping.*tasks\.{name}\.n_val_obs"):
        validate_config(cfg)
    cfg["tasks"][name]["n_val_obs"] = 2
    validate_config(copy.deepcopy(cfg))
    cfg["tasks"][name]["train"]["early_stopping"]["n"] = cfg["tasks"][name]["reference"]["keep"] + 1
    with pytest.raises(ConfigError, match=r"reference\.keep' must be at least the validation draws"):
        validate_config(cfg)


def test_run_with_early_stopping_records_the_kept_step(smoke_config, tmp_path):
    from flowbench.pipeline import run_train
    cfg = _with_stopping(smoke_config, "gmm", n=50, patience=1)
    cfg = validate_config(cfg)
    cfg["tasks"]["gmm"]["train"].update(iterations=6, probe_every=0)
    info = run_train(cfg, "gmm", "ours", next(iter(cfg["methods"]["ours"]["variants"])), 0, tmp_path,
                     "cpu", log=lambda m: None)
    assert info["early_stopping"] is True and 1 <= info["best_step"] <= info["steps_done"] <= 6
    assert info["best_step"] % 2 == 0 or info["best_step"] == info["steps_done"]


def test_no_early_stop_inside_the_methods_schedule():
    """The INN's ramp (and the cVAE's KL warm-up) run over the cap: a run is not stopped before
    its schedule has settled, and the ramp's settling step is where its weight reaches 1."""
    from flowbench.methods import make_method
    it = iter([1.0] + [2.0] * 50)
    model = _Const()
    model.schedule_steps = 8
    res = train(model, _Task(), 20, 1, 0, log=lambda m: None, validate=lambda m: next(it),
                validate_every=1, patience=2)
    assert res.stopped_early and res.steps_done == 8 and res.best_step == 1
    p = dict(dim=6, blocks=1, subnet_layers=2, width=8, clamp=2.0, y_noise=0.1, pad_noise=0.05,
             weights={"y": 1, "z": 1, "x": 1, "rec": 1}, ramp={"kind": "exp"}, mmd_widths=[0.2])
    inn = make_method("inn", 4, 2, p, total_steps=400)
    assert inn.schedule_steps == 360                      # the original ramp: 1 from epoch 45 of 50
    assert inn.ramp_value(inn.schedule_steps) == 1.0 > inn.ramp_value(inn.schedule_steps - 1)
    assert make_method("inn", 4, 2, {**p, "ramp": {"kind": "constant"}}, total_steps=400).schedule_steps == 0
