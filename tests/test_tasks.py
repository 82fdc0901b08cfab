"""The task protocol: registry by kind, and the Gaussian linear task against its closed form."""
import numpy as np
import pytest

from flowbench.config import ConfigError, validate_config
from flowbench.io import write_csv, write_npz
from flowbench.tasks import TASK_KINDS, make_task, task_class
from flowbench.tasks.gaussian_linear import GaussianLinearTask


def test_registry_holds_every_task_module():
    assert {"gmm", "gaussian_linear"} <= set(TASK_KINDS)
    assert task_class("gaussian_linear") is GaussianLinearTask
    with pytest.raises(ValueError, match="unknown task kind 'nope'; allowed"):
        task_class("nope")


def test_unknown_kind_refused_at_validation(smoke_config):
    smoke_config["tasks"]["gmm"]["kind"] = "gmmm"
    with pytest.raises(ConfigError, match=r"tasks.gmm.kind.*'gmmm' is not a task kind.*gaussian_linear"):
        validate_config(smoke_config)


def test_kind_specific_keys_checked_by_the_kinds_definition(smoke_config):
    smoke_config["tasks"]["gaussian_linear"]["modes"] = {"std": 0.2, "n": 8}
    with pytest.raises(ConfigError, match="modes"):
        validate_config(smoke_config)


@pytest.mark.parametrize("a,b", [(0.1, 0.1), (0.2, 0.05)])
def test_reference_posterior_matches_linear_gaussian_conditioning(a, b):
    """Cov([x, y]) = [[a, a], [a, a + b]] per coordinate, so x | y ~ N(a y / (a + b), a b / (a + b))."""
    t = GaussianLinearTask(dim=4, prior_var=a, noise_var=b, n_obs=3)
    ids, ys = t.evaluation_conditions()
    assert ids == ["0", "1", "2"] and ys.shape == (3, 4)
    for k in range(3):
        s = t.reference_posterior(k, 40000).astype(float)
        np.testing.assert_allclose(s.mean(0), a * ys[k] / (a + b), atol=4 * np.sqrt(a * b / (a + b) / 40000) + 1e-6)
        np.testing.assert_allclose(s.var(0), a * b / (a + b), rtol=0.05)
        assert abs(np.corrcoef(s[:, 0], s[:, 1])[0, 1]) < 0.03
    # the joint the training batches come from has the same covariance
    x, y = t.sample(200000, np.random.default_rng(0))
    cov = np.cov(np.concatenate([x[:, :1], y[:, :1]], 1).T)
    np.testing.assert_allclose(cov, [[a, a], [a, a + b]], rtol=0.03, atol=2e-3)


def test_fixed_conditions_references_and_test_set():
    t1, t2 = GaussianLinearTask(), GaussianLinearTask()
    np.testing.assert_array_equal(t1.evaluation_conditions()[1], t2.evaluation_conditions()[1])
    np.testing.assert_array_equal(t1.reference_posterior(2, 50), t2.reference_posterior(2, 50))
    assert not np.array_equal(t1.reference_posterior(1, 50), t1.reference_posterior(2, 50))
    x, y = t1.test_set()
    assert x.shape == y.shape == (2000, 10)


def test_forward_metric_floor_is_the_noise():
    """E[y | x] = x is the best predictor; its RMSE per coordinate is sqrt(noise_var)."""
    t = GaussianLinearTask(n_test=20000)
    x, y = t.test_set()
    assert t.forward_metrics(x, y)["y_rmse"] == pytest.approx(np.sqrt(0.1), rel=0.02)
    assert t.forward_metrics(np.zeros_like(y), y)["y_rmse"] == pytest.approx(np.sqrt(0.2), rel=0.02)


def test_tasks_from_the_shipped_configs(full_config):
    cfg = validate_config(full_config)
    t = make_task(cfg["tasks"]["gaussian_linear"])
    assert (t.x_dim, t.y_dim, t.conditions, t.n_obs) == (10, 10, "continuous", 10)
    assert t.record()["figures"] == ["posterior_pairs", "w2_comparison", "training_curves", "w2_vs_time"]
    g = make_task(cfg["tasks"]["gmm"])
    ids, conds = g.evaluation_conditions()
    assert ids == [str(k) for k in range(8)] and np.array_equal(conds, np.eye(8))
    assert g.record()["paper_claims"] and not t.record()["paper_claims"]


def test_cinn_has_no_forward_predictor_for_continuous_conditions():
    import torch

    from flowbench.methods import make_method
    params = dict(dim=10, blocks=1, subnet_layers=2, width=8, clamp=2.0, init_scale=None, lr=1e-3)
    m = make_method("cinn", 10, 10, params, conditions="continuous")
    with pytest.raises(NotImplementedError, match="continuous"):
        m.predict(torch.zeros(3, 10))
    assert m.sample_posterior(torch.zeros(2, 10), 5).shape == (2, 5, 10)


@pytest.mark.parametrize("method,variant", [("ours", "linear"), ("cinn", "linear"), ("inn", "linear")])
def test_every_method_runs_the_continuous_task_through_the_pipeline(full_config, tmp_path, method, variant):
    """The generic pipeline on gaussian_linear: train (a few steps), sample at the K observations,
    score against the exact posterior; the forward metric only where the method has a predictor."""
    import json

    from flowbench.pipeline import evaluate_run, run_train
    cfg = validate_config(full_config)
    cfg["methods"][method]["base"].update(width=16, blocks=1)
    t = cfg["tasks"]["gaussian_linear"]
    t.update(n_obs=2, n_eval=100, n_test=100, metrics=["w2", "mmd"])
    t["train"].update(iterations=3, batch_size=32, probe_every=0)
    info = run_train(cfg, "gaussian_linear", method, variant, 0, tmp_path, "cpu", log=lambda m: None)
    assert not info["diverged"] and info["steps_done"] == 3
    post = np.load(tmp_path / "posterior_samples.npz")
    assert post["samples"].shape == (2, 100, 10) and list(post["condition_ids"]) == ["0", "1"]
    rows = evaluate_run(cfg, "gaussian_linear", method, variant, 0, tmp_path)
    by = {(r["metric"], r["condition"]) for r in rows}
    assert {("w2", "0"), ("w2", "1"), ("mmd", "0"), ("mmd", "1")} <= by
    assert (("y_rmse", "") in by) == (method != "cinn")
    assert json.dumps(rows)  # plain numbers


def test_common_figures_render_with_one_run_or_all_diverged(tmp_path):
    """The W2 and time figures draw with a single run (no dodge) and with no finite W2 at all."""
    import pandas as pd

    from flowbench import plots
    one = pd.DataFrame({"task": "gmm", "method": "ours", "variant": "paper", "seed": 0,
                        "condition": ["0", "1", ""], "metric": ["w2", "w2", "diverged"],
                        "value": [0.1, 0.2, 0.0]})
    assert plots.w2_comparison(one, "gmm", tmp_path / "one.png").stat().st_size > 1000
    none = one[one.metric == "diverged"].assign(value=1.0)
    assert plots.w2_comparison(none, "gmm", tmp_path / "none.png").stat().st_size > 1000


def test_validation_curves_are_a_figure_of_the_tasks_whose_runs_stop_early(tmp_path, smoke_config):
    """``validation_curves`` is listed when ``train.early_stopping`` is set (arm in the smoke config),
    not otherwise; it draws the runs' val_w2 with the kept step, and a placeholder without any."""
    import pandas as pd

    from flowbench import plots
    from flowbench.aggregate import task_record
    from flowbench.io import write_csv
    from flowbench.tasks import task_class
    arm, gl = smoke_config["tasks"]["arm"], smoke_config["tasks"]["gaussian_linear"]
    assert task_class("arm").figure_names(arm)[-1] == "validation_curves"
    assert "validation_curves" not in task_class("gaussian_linear").figure_names(gl)
    assert "validation_curves" not in task_class("arm").figure_names()
    assert task_record(smoke_config, "arm")["figures"][-1] == "validation_curves"
    for seed in (0,):
        for m, v in (("ours", "inverse"), ("inn", "inverse")):
            d = tmp_path / m / v / f"seed{seed}"
            d.mkdir(parents=True)
            pd.DataFrame({"step": range(20), "loss": 1.0, "seconds": np.arange(20) * 0.1,
                          "val_w2": [0.5 / (1 + s) + 0.1 if s % 5 == 4 else float("nan") for s in range(20)]}
                         ).pipe(lambda df: write_csv(d / "train_log.csv", df))
    out = plots.draw_figure(smoke_config, "arm", "validation_curves", tmp_path, tmp_path / "v.png")
    assert out.stat().st_size > 5000
    empty = tmp_path / "empty"
    empty.mkdir()
    assert plots.validation_curves(smoke_config, "arm", empty, tmp_path / "e.png").stat().st_size > 1000


# ---- multi-modal posteriors measured as such; noise floors -------------------------------------
def _gmm_some():
    from flowbench.tasks.gmm import GaussianMixtureTask, polygon_centres
    return GaussianMixtureTask(centres=polygon_centres(8, 2.6131), std=0.2,
                               mode_labels=np.array([0, 0, 0, 0, 1, 1, 2, 3]))


def test_stratified_reference_has_exact_mode_proportions():
    t = _gmm_some()
    ref = t.reference_posterior(0, 2002)
    counts = np.bincount(t.nearest_mode(ref.astype(float)), minlength=8)
    assert sorted(counts[:4].tolist()) == [500, 500, 501, 501] and counts[4:].sum() == 0
    # a label of one mode draws exactly as before (the paper's task's numbers do not move)
    np.testing.assert_array_equal(
        t.reference_posterior(2, 300),
        t.sample_posterior(2, 300, np.random.default_rng(20191107 + 7919 * 2)))


def test_mode_weight_error_and_within_mode_w2():
    t = _gmm_some()
    ref = t.reference_posterior(0, 2000)
    exact = t.reference_posterior(0, 2000, np.random.default_rng(1))
    good = t.posterior_extra_metrics(0, exact, ref)
    assert good["mode_weight_tv"] < 0.01 and good["w2_within_modes"] < 0.1
    # one of the four modes dropped (its mass on the other three): TV = 1/4
    three = t.sample_posterior(0, 4000, np.random.default_rng(2))
    three = three[t.nearest_mode(three.astype(float)) != t.modes_of(0)[0]][:2000]
    assert t.posterior_extra_metrics(0, three, ref)["mode_weight_tv"] == pytest.approx(0.25, abs=0.03)
    # all mass on another label's mode: TV = 1, and no mode of the label to compare shapes on
    wrong = t.sample_posterior(1, 2000, np.random.default_rng(3))
    bad = t.posterior_extra_metrics(0, wrong, ref)
    assert bad["mode_weight_tv"] == pytest.approx(1.0) and np.isnan(bad["w2_within_modes"])


def test_noise_floor_rows_and_shrinking_with_n(smoke_config):
    from flowbench.pipeline import noise_floor
    cfg = validate_config(smoke_config)
    cfg["tasks"]["gmm"]["metrics"] = ["w2"]
    df = noise_floor(cfg, "gmm", repeats=3)
    assert set(df.columns) == {"task", "condition", "metric", "n", "repeat", "value"}
    assert set(df.n) == {100, 200} and set(df.metric) == {"w2", "mode_weight_tv", "w2_within_modes"}
    assert len(df[(df.metric == "w2")]) == 2 * 8 * 3
    w = df[df.metric == "w2"].groupby("n")["value"].mean()
    assert 0 < w[200] < w[100]   # two exact samples differ, less so when larger
    # repeats are independent draws, and the floor is reproducible
    assert df[(df.metric == "w2") & (df.n == 200) & (df.condition == "0")]["value"].nunique() == 3
    pd_equal = noise_floor(cfg, "gmm", repeats=3).equals(df)
    assert pd_equal


@pytest.mark.parametrize("task_name", ["gmm", "gaussian_linear"])
def test_noise_floor_keeps_every_row_its_readers_read(smoke_config, tmp_path, task_name):
    """The floor computes at the probe's size only W2: the rows at n_eval (every metric and the
    task's own numbers) and W2 at probe_n are those of the floor of every metric at both sizes,
    value for value, and so is everything its readers take from it (the probe threshold of
    evaluate_run, C6's time threshold, the W2 floor of C1 and the figures, each metric's floor)."""
    from flowbench.pipeline import noise_floor, probe_threshold
    from flowbench.plots import task_floor
    from flowbench.report.claims.speed import time_threshold
    from flowbench.report.stats import floor_mean, floor_table
    cfg = validate_config(smoke_config)
    n_eval, n_probe = cfg["tasks"][task_name]["n_eval"], cfg["tasks"][task_name]["train"]["probe_n"]
    assert n_probe != n_eval and cfg["tasks"][task_name]["train"]["probe_every"]
    new = noise_floor(cfg, task_name, 2)
    every = noise_floor(cfg, task_name, 2, probe_metrics=None)   # every metric at both sizes
    key = ["task", "condition", "metric", "n", "repeat"]
    read = every[(every.n == n_eval) | (every.metric == "w2")]
    assert len(read) < len(every)   # the probe size had more rows
    assert set(new.n) == {n_eval, n_probe} and set(new[new.n == n_probe].metric) == {"w2"}
    got = new.sort_values(key).reset_index(drop=True)
    want = read.sort_values(key).reset_index(drop=True)
    assert got[key].equals(want[key]) and np.array_equal(got["value"].to_numpy(), want["value"].to_numpy())
    for name, df in (("new", new), ("every", every)):
        write_csv(tmp_path / f"{name}.csv", df)
    assert probe_threshold(cfg, task_name, tmp_path / "new.csv") == probe_threshold(cfg, task_name, tmp_path / "every.csv")
    assert time_threshold(new, task_name) == time_threshold(every, task_name)
    assert task_floor(new, task_name) == task_floor(every, task_name)
    assert task_floor(new, task_name, n_probe) == task_floor(every, task_name, n_probe)
    for metric in set(every.metric):
        assert floor_mean(new, task_name, metric) == floor_mean(every, task_name, metric)
    t_new, t_every = floor_table(new), floor_table(every)
    assert t_new.equals(t_every.merge(t_new[["task", "metric", "n"]]))


def test_floor_is_what_a_perfect_sampler_scores_against_the_stratified_reference():
    """The floor's first sample is drawn as a perfect sampler draws (independent mode picks), the
    second as the reference is (stratified): on a label of several modes the floor includes the
    random mode imbalance of one sample, which two stratified draws would leave out; on a label
    of one mode both draws are the exact draws they were (the paper's task's floor does not move)."""
    from flowbench.metrics import w2
    t = _gmm_some()
    perfect = t.perfect_sample(0, 1000, np.random.default_rng(5))
    counts = np.bincount(t.nearest_mode(perfect.astype(float)), minlength=8)[:4]
    assert counts.sum() == 1000 and len(set(counts.tolist())) > 1   # random counts, not 250 each
    vs_strat, strat_strat = [], []
    for r in range(6):
        rng = np.random.default_rng([7, r])
        ref = t.reference_posterior(0, 1000, rng)
        vs_strat.append(w2(t.perfect_sample(0, 1000, rng), ref))
        strat_strat.append(w2(t.reference_posterior(0, 1000, rng), ref))
    assert np.mean(vs_strat) > 2 * np.mean(strat_strat)
    np.testing.assert_array_equal(t.perfect_sample(2, 300, np.random.default_rng(9)),
                                  t.reference_posterior(2, 300, np.random.default_rng(9)))


def test_noise_of_inverts_generate():
    """``noise_of`` is the forward map to the noise ``generate`` takes: exact for the cINN without
    padding; the right shape for every method."""
    import torch

    from flowbench.methods import make_method
    params = dict(dim=4, blocks=2, subnet_layers=2, width=16, clamp=2.0, init_scale=None, lr=1e-3,
                  pad_noise=0.0)
    m = make_method("cinn", 4, 3, params, seed=0)
    y = torch.eye(3)[[0, 1, 2, 1]]
    noise = torch.randn(4, m.noise_dim)
    x = m.generate(y, noise)
    torch.testing.assert_close(m.noise_of(x, y), noise, atol=1e-4, rtol=1e-4)
    ours = make_method("ours", 2, 3, dict(params, dim=6, eps=0.1, pad_noise=0.05), seed=0)
    assert ours.noise_of(torch.randn(5, 2), torch.eye(3)[[0, 1, 2, 0, 1]]).shape == (5, ours.noise_dim)
    inn_params = dict(params, dim=6, y_noise=0.1, pad_noise=0.05, weights={"y": 1, "z": 1, "x": 1, "rec": 1},
                      ramp={"kind": "exp"}, mmd_widths=[0.2])
    inn = make_method("inn", 2, 3, inn_params, seed=0)
    assert inn.noise_of(torch.randn(5, 2), torch.eye(3)[[0, 1, 2, 0, 1]]).shape == (5, inn.noise_dim)


def test_iterations_factor_trains_longer_and_is_recorded(smoke_config, tmp_path):
    """A ceiling variant trains iterations_factor x the task's iterations; the run records it."""
    from flowbench.pipeline import run_train
    cfg = validate_config(smoke_config)
    cfg["methods"]["ours"]["variants"]["paper_2x"] = {"iterations_factor": 2, "lr_schedule": "cosine",
                                                      "lr_final_factor": 0.01}
    cfg["tasks"]["gmm"]["train"].update(iterations=4, probe_every=0)
    info = run_train(cfg, "gmm", "ours", "paper_2x", 0, tmp_path, "cpu", log=lambda m: None)
    assert info["steps_done"] == 8 and info["iterations"] == 8


def test_time_to_quality_rows_from_the_log_and_the_floor(smoke_config, tmp_path):
    """Evaluation writes time to quality as rows, against 3 x the W2 floor at the probe size."""
    import pandas as pd

    from flowbench.pipeline import probe_rows, probe_threshold
    cfg = validate_config(smoke_config)            # probe_n 100
    floor = pd.DataFrame({"task": "gmm", "condition": "0", "metric": "w2", "n": [100, 200],
                          "repeat": 0, "value": [0.05, 0.03]})
    write_csv(tmp_path / "floor.csv", floor)
    assert probe_threshold(cfg, "gmm", tmp_path / "floor.csv") == pytest.approx(0.15)
    assert probe_threshold(cfg, "gmm", None) == pytest.approx(0.15)   # the fixed fallback
    log = pd.DataFrame({"step": range(6), "loss": 1.0, "seconds": [1, 2, 3, 4, 5, 6],
                        "probe_w2": [None, 0.4, None, 0.2, None, 0.1]})
    rows = probe_rows(log, 0.15)
    assert rows == {"probe_count": 3.0, "probe_threshold": 0.15, "probe_best_w2": 0.1,
                    "seconds_to_probe_threshold": 6.0}
    assert "seconds_to_probe_threshold" not in probe_rows(log, 0.05)
    assert probe_rows(log.drop(columns="probe_w2"), 0.15) == {}


def test_config_digests_change_only_with_what_a_job_reads(smoke_config):
    import copy

    from flowbench.identity import evaluate_digest, floor_digest, train_digest
    cfg = validate_config(smoke_config)
    base = (train_digest(cfg, "gmm", "ours", "paper", 0), evaluate_digest(cfg, "gmm"), floor_digest(cfg, "gmm"))
    longer = copy.deepcopy(cfg)
    longer["tasks"]["gmm"]["train"]["iterations"] = 30
    assert train_digest(longer, "gmm", "ours", "paper", 0) != base[0]
    assert floor_digest(longer, "gmm") == base[2]              # training longer: same floor
    other = copy.deepcopy(cfg)
    other["methods"]["cinn"]["base"]["width"] = 48              # another method's setting
    assert (train_digest(other, "gmm", "ours", "paper", 0), floor_digest(other, "gmm")) == (base[0], base[2])
    wider = copy.deepcopy(cfg)
    wider["tasks"]["gmm"]["modes"]["std"] = 0.3                 # another exact posterior
    assert train_digest(wider, "gmm", "ours", "paper", 0) != base[0]
    assert evaluate_digest(wider, "gmm") != base[1] and floor_digest(wider, "gmm") != base[2]
    fewer = copy.deepcopy(cfg)
    fewer["tasks"]["gmm"]["metrics"] = ["w2"]                   # scoring only: no retraining
    assert train_digest(fewer, "gmm", "ours", "paper", 0) == base[0] and evaluate_digest(fewer, "gmm") != base[1]


def test_w2_figure_axes_follow_the_floor_and_the_recipes(tmp_path):
    """The W2 figure's order (ours, the INN, the cINN, then the rest; each method's recipe first),
    its axis (from the floor to at most 100x the floor), and a render with a diverged seed and a
    run off the scale."""
    import pandas as pd

    from flowbench import plots
    assert plots._run_order(["cvae/default", "inn/wx_10", "ours/eps", "inn/full", "ours/paper", "cinn/default"],
                            {"inn": "full", "ours": "paper"}) == \
        ["ours/paper", "ours/eps", "inn/full", "inn/wx_10", "cinn/default", "cvae/default"]
    floors = pd.DataFrame({"task": "gmm", "metric": "w2", "n": [500, 500, 2000, 2000],
                           "value": [0.05, 0.07, 0.03, 0.03]})
    assert plots.task_floor(floors, "gmm") == (0.03, 2000)
    f, n = plots.task_floor(floors, "gmm", 500)
    assert n == 500 and abs(f - 0.06) < 1e-12
    assert np.isnan(plots.task_floor(None, "gmm")[0])
    lo, hi = plots._x_range(np.array([0.05, 0.2, 3e4]), 0.03)
    assert lo < 0.03 and abs(hi - 100 * 0.03 * 1.6) < 1e-9          # capped at 100x the floor
    lo, hi = plots._x_range(np.array([0.05, 0.2]), float("nan"))
    assert lo < 0.05 and hi > 0.2
    rows = []
    for method, variant, vals in [("ours", "paper", [0.05, 0.06]), ("inn", "full", [0.1, np.nan]),
                                  ("inn", "forward_only", [3e4, 1e5])]:
        for seed, v in enumerate(vals):
            rows += [{"task": "gmm", "method": method, "variant": variant, "seed": seed, "condition": c,
                      "metric": "w2", "value": v} for c in ("0", "1")]
    m = pd.DataFrame(rows)
    out = plots.w2_comparison(m, "gmm", tmp_path / "w2.png", floors, {"ours": "paper", "inn": "full"})
    assert out.stat().st_size > 1000


def test_gmm_posterior_figure_has_the_exact_posterior_and_every_method(tmp_path, smoke_config):
    """The `posteriors` figure of a mixture task: the exact panel, then each configured method at its
    recipe; a method whose samples are absent says so in its panel instead of failing."""
    import pandas as pd

    from flowbench.config import task_recipes, validate_config
    from flowbench.tasks import make_task
    cfg = validate_config(smoke_config)
    task = make_task(cfg["tasks"]["gmm"])
    assert "posteriors" in task.figure_names() and "posteriors" in task.figure_captions
    recipes = task_recipes(cfg, "gmm")
    assert recipes["ours"] == "paper" and recipes["inn"] == "full"
    run = tmp_path / "ours" / "paper" / "seed0"
    run.mkdir(parents=True)
    rng = np.random.default_rng(1)
    samples = np.stack([task.sample_posterior(k, 50, rng) for k in range(task.n_labels)])
    # the figure reads the run's figure data (flowbench.figure_data), the first seed's draws
    write_npz(run / "figure_data.npz", samples=samples, condition_ids=np.arange(task.n_labels).astype(str))
    write_csv(tmp_path / "metrics.csv", pd.DataFrame(
        {"task": "gmm", "method": "ours", "variant": "paper", "seed": 0,
         "condition": [str(k) for k in range(task.n_labels)], "metric": "w2", "value": 0.05}))
    out = task.make_figure("posteriors", cfg, "gmm", tmp_path, tmp_path / "fig.png")
    assert out.stat().st_size > 5000


def test_posterior_panel_counts_the_samples_the_frame_cuts(smoke_config):
    """A sampler shifted off the frame (the cGAN's failure on `gmm`) must not look clean: its panel
    states how many drawn samples fall outside; an exact sampler's panel states nothing."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from flowbench import plots
    from flowbench.config import validate_config
    from flowbench.tasks import make_task
    task = make_task(validate_config(smoke_config)["tasks"]["gmm"])
    lim = np.abs(task.centres).max() + 4 * task.std
    rng = np.random.default_rng(0)
    exact = np.stack([task.sample_posterior(k, 100, rng) for k in range(task.n_labels)])
    ids = np.arange(task.n_labels)
    fig, (a, b) = plt.subplots(1, 2)
    import flowbench.tasks.gmm as gmm_figures
    gmm_figures._scatter_posterior(a, task, exact, ids, "exact", lim)
    shifted = exact.copy()
    shifted[0] += 10.0                       # one label's 100 samples far outside
    gmm_figures._scatter_posterior(b, task, shifted, ids, "shifted", lim)
    assert not [t for t in a.texts if "outside" in t.get_text()]
    notes = [t.get_text() for t in b.texts if "outside" in t.get_text()]
    assert notes == [f"100 of {100 * task.n_labels} samples outside the frame"]
    plt.close(fig)


def test_a_task_can_set_its_own_floor_repeats(smoke_config):
    import copy

    from flowbench.config import validate_config
    from flowbench.identity import floor_digest
    from flowbench.pipeline import floor_repeats
    cfg = validate_config(copy.deepcopy(smoke_config))
    assert floor_repeats(cfg, "gmm") == cfg["noise_floor"]["repeats"]
    own = copy.deepcopy(smoke_config)
    own["tasks"]["gmm"]["floor_repeats"] = 2
    own = validate_config(own)
    assert floor_repeats(own, "gmm") == 2 and floor_digest(own, "gmm") != floor_digest(cfg, "gmm")
    bad = copy.deepcopy(smoke_config)
    bad["tasks"]["gmm"]["floor_repeats"] = 0
    with pytest.raises(Exception, match="floor_repeats"):
        validate_config(bad)
