"""A task's reference posterior is never non-finite, and a metric's error says whose draws are:
the reference's (the task is at fault, nothing is scored) or a model's samples (a diverged run is
recorded, not scored)."""
import copy
import json

import numpy as np
import pytest

from flowbench import metrics as M
from flowbench.config import read_config_file, validate_config
from flowbench.identity import train_digest
from flowbench.io import write_json, write_npz
from flowbench.pipeline import evaluate_run, noise_floor
from flowbench.tasks import TASK_KINDS, GaussianMixtureTask, NonFiniteReference, load_task
from tests.conftest import ROOT, run_info
from tests.test_inverse_tasks import built


@pytest.fixture(scope="module")
def smoke():
    cfg = validate_config(read_config_file(ROOT / "config" / "smoke.yaml"))
    cfg["tasks"]["gmm"]["metrics"] = ["w2", "mmd"]
    cfg["tasks"]["gmm"]["runs"] = [{"method": "ours", "variants": ["paper"], "seeds": [0]}]
    return cfg


@pytest.mark.parametrize("kind", sorted(TASK_KINDS))
def test_every_task_kinds_samplers_are_checked(kind):
    """A new task kind is covered by subclassing Task: its own samplers are wrapped."""
    cls = TASK_KINDS[kind]
    for what in ("reference_posterior", "perfect_sample"):
        assert getattr(getattr(cls, what), "checks_finite", False), (kind, what)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize("task,key,value", [
    ("gmm", "modes", {"std": 1.0e39, "n": 8, "radius": 2.6131}),    # finite, but float32 overflows
    ("gaussian_linear", "prior_var", 1.0e80),
])
def test_an_exact_sampler_that_overflows_is_refused_naming_the_task(smoke, task, key, value):
    cfg = copy.deepcopy(smoke)
    cfg["tasks"][task][key] = value
    t = load_task(cfg, task)
    with pytest.raises(NonFiniteReference) as err:
        t.reference_posterior(1, 50)
    msg = str(err.value)
    for words in (f"task '{task}' (kind '{task}')", "the reference posterior's draws at condition '1'",
                  "hold NaN or inf (", "of 50 draws). This is the task's reference (its exact sampler), "
                  "not a model's samples"):
        assert words in msg, msg
    with pytest.raises(NonFiniteReference, match="NaN or inf .* not a model's samples"):
        t.perfect_sample(0, 50, np.random.default_rng(0))


def test_a_reference_file_with_nan_is_refused_naming_the_file(tmp_path):
    t = built("arm", tmp_path)
    f = tmp_path / "bad.npz"
    arrays = dict(t.reference)
    arrays["x"] = arrays["x"].copy()
    arrays["x"][1, 7, 2] = np.nan
    write_npz(f, **arrays)
    t.attach_reference(f)
    with pytest.raises(NonFiniteReference) as err:
        t.reference_posterior(0, 10)
    msg = str(err.value)
    assert f"{f}: the reference file of task of kind 'arm' holds NaN or inf draws at condition(s) ['1']" in msg
    assert "not a model's samples" in msg and "rule reference_task" in msg


def test_metric_errors_name_the_argument():
    x = np.random.default_rng(0).standard_normal((20, 2))
    bad = x.copy()
    bad[3, 1] = np.nan
    with pytest.raises(M.MetricInputError) as err:
        M.w2(bad, x)
    assert err.value.argument == "samples"
    assert str(err.value) == ("w2: the samples (first argument) hold 1 of 20 rows with NaN or inf; only finite "
                              "draws can be scored")
    with pytest.raises(M.MetricInputError) as err:
        M.mmd(x, bad)
    assert err.value.argument == "reference"
    assert "mmd: the reference (second argument) holds 1 of 20 rows with NaN or inf" in str(err.value)
    with pytest.raises(M.MetricInputError) as err:
        M.w2(x, x[:, :1])
    assert err.value.argument is None


def fake_run(cfg, rundir, samples, diverged=False):
    """The files of a finished gmm run of ours/paper seed 0, with these posterior samples."""
    rundir.mkdir(parents=True)
    info = run_info(steps_done=0 if diverged else 20, diverged=diverged, diverged_step=0 if diverged else None,
                    last_finite_loss=None if diverged else 1.0, n_eval=200,
                    config_digest=train_digest(cfg, "gmm", "ours", "paper", 0))
    write_json(rundir / "train_info.json", info)
    t = load_task(cfg, "gmm")
    ids, conds = t.evaluation_conditions()
    x, y = t.test_set()
    write_npz(rundir / "predictions.npz", x=x, y=y, y_hat=np.full(y.shape, np.nan, np.float32))
    write_npz(rundir / "posterior_samples.npz", condition_ids=np.asarray(ids), conditions=conds,
              samples=samples(len(ids), 200).astype(np.float32))


def test_a_models_nan_samples_after_finite_training_count_as_a_divergence(smoke, tmp_path, monkeypatch):
    """A model that trained with finite losses but draws some NaN samples fails at sampling: its
    draws are stored NaN throughout (the samples file is finite or NaN throughout, as its reader
    checks) and the run is recorded and counted as diverged, never scored on its finite part."""
    from flowbench.pipeline import run_train
    from flowbench.records import read_json, read_npz
    cfg = copy.deepcopy(smoke)
    cfg["tasks"]["gmm"]["train"].update(iterations=3, probe_every=0)
    model_cls = type(build_model(cfg))
    orig = model_cls.sample_posterior

    def some_nan(self, y, n):
        s = orig(self, y, n)
        s[3, :5] = float("nan")
        return s

    monkeypatch.setattr(model_cls, "sample_posterior", some_nan)
    out = tmp_path / "run"
    out.mkdir()
    lines = []
    info = run_train(cfg, "gmm", "ours", "paper", 0, out, device="cpu", log=lines.append)
    assert info["diverged"] is True and info["diverged_step"] == info["steps_done"] == 3
    assert info["nonfinite_sample_rows"] == {"posterior_samples": 1}
    assert read_json(out / "train_info.json")["nonfinite_sample_rows"] == {"posterior_samples": 1}
    assert np.isnan(read_npz(out / "posterior_samples.npz")["samples"]).all()
    assert any("recorded as diverged at sampling" in m for m in lines)
    rows = {r["metric"]: r["value"] for r in evaluate_run(cfg, "gmm", "ours", "paper", 0, out)}
    assert rows["diverged"] == 1.0 and rows["diverged_step"] == 3 and "w2" not in rows


def build_model(cfg):
    from flowbench.pipeline import build
    return build(cfg, "gmm", "ours", "paper", 0)[1]


def test_a_diverged_runs_nan_samples_are_recorded_not_scored(smoke, tmp_path):
    fake_run(smoke, tmp_path / "run", lambda k, n: np.full((k, n, 2), np.nan), diverged=True)
    rows = {r["metric"]: r["value"] for r in evaluate_run(smoke, "gmm", "ours", "paper", 0, tmp_path / "run")}
    assert rows["diverged"] == 1.0 and "w2" not in rows and "mmd" not in rows


def test_a_nan_reference_is_named_as_the_tasks_in_evaluation_and_floor(smoke, tmp_path, monkeypatch):
    fake_run(smoke, tmp_path / "run", lambda k, n: np.random.default_rng(0).standard_normal((k, n, 2)))
    orig = GaussianMixtureTask.sample_posterior

    def nan_draws(self, k, n, rng):
        x = orig(self, k, n, rng)
        x[0] = np.nan
        return x

    monkeypatch.setattr(GaussianMixtureTask, "sample_posterior", nan_draws)
    with pytest.raises(NonFiniteReference) as err:
        evaluate_run(smoke, "gmm", "ours", "paper", 0, tmp_path / "run")
    assert "task 'gmm' (kind 'gmm'): the reference posterior's draws at condition '0'" in str(err.value)
    assert "not a model's samples" in str(err.value)
    with pytest.raises(NonFiniteReference, match="task 'gmm' .* noise floor .* not a model's samples"):
        noise_floor(smoke, "gmm", repeats=2)
