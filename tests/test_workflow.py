"""The smoke workflow end to end, in a temporary copy of the repository."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

# the helpers and the session's one smoke run live in conftest (shared by every module)
from tests.conftest import IGNORE, SMOKE, copy_repo, image_data, snakemake, tree_digest  # noqa: F401,E402


@pytest.mark.slow
def test_smoke_outputs(smoke_run):
    repo = smoke_run
    df = pd.read_csv(repo / f"{SMOKE}/gmm/metrics.csv", dtype={"condition": str}, keep_default_na=False)
    assert list(df.columns) == ["task", "method", "variant", "seed", "condition", "metric", "value"]
    assert {"w2", "sliced_w2", "mmd", "far_outside", "accuracy", "seconds_per_iteration"} <= set(df.metric)
    arm = pd.read_csv(repo / f"{SMOKE}/arm/metrics.csv", dtype={"condition": str}, keep_default_na=False)
    assert {"w2", "mmd_kruse", "c2st", "far_outside", "calibration_error"} <= set(arm.metric)
    # what smoothing costs on arm: ours (eps 0.02, its reparametrised target) and the INN (y noise
    # 0.02, its transported target), each with bias, floor and its run's training and total
    split = pd.read_csv(repo / f"{SMOKE}/arm/eps_split.csv", dtype={"condition": str}, keep_default_na=False)
    got = {(m, v, e, k) for m, v, e, k in split[["method", "variant", "eps", "target"]].itertuples(index=False)}
    assert got == {("ours", "inverse", 0.02, "reparametrised"), ("inn", "inverse", 0.02, "transport")}
    for m in ("ours", "inn"):
        assert {"bias", "floor", "training", "total"} <= set(split[split.method == m].quantity), m
    assert "transported (INN)" in (repo / f"{SMOKE}/report/README.md").read_text()
    with open(repo / "config" / "smoke.yaml") as fh:
        runs = yaml.safe_load(fh)["tasks"]["gmm"]["runs"]
    assert set(df.method) == {r["method"] for r in runs}
    npz = np.load(repo / f"{SMOKE}/gmm/ours/paper/seed0/posterior_samples.npz")
    assert list(npz["condition_ids"]) == [str(k) for k in range(8)] and npz["conditions"].shape == (8, 8)
    assert npz["samples"].shape == (8, 200, 2)
    log = pd.read_csv(repo / f"{SMOKE}/gmm/ours/paper/seed0/train_log.csv")
    assert {"step", "loss", "seconds"} <= set(log.columns) and len(log) == 20
    for fig in ("fig5_1", "fig5_2", "w2_comparison", "training_curves", "w2_vs_time"):
        assert (repo / f"{SMOKE}/gmm/figures/{fig}.png").stat().st_size > 1000
    assert (repo / f"{SMOKE}/benchmarks/gmm/ours/paper/seed0/train.tsv").exists()
    # each job's torch threads follow its rule's threads (smoke: threads_per_job 1)
    import json
    for info in (repo / f"{SMOKE}/gmm").rglob("train_info.json"):
        assert json.loads(info.read_text())["threads"] == 1
    assert (repo / f"{SMOKE}/report/README.md").exists()
    # the sbibm task: sbibm's C2ST and the calibration rows (NPE has an exact density: HPD too),
    # the figure across sbibm tasks and the report's section
    tm = pd.read_csv(repo / f"{SMOKE}/two_moons/metrics.csv", dtype={"condition": str}, keep_default_na=False)
    assert {"c2st_sbibm", "calibration_error", "tarp_error", "hpd_error"} <= set(tm.metric)
    # the compared run (the config's `published` key) also scored at its own sample size
    assert list(tm[tm.metric == "c2st_sbibm_published"].condition) == ["obs1"]
    assert np.load(repo / f"{SMOKE}/two_moons/npe/default/seed0/posterior_samples.npz")[
        "published_samples"].shape == (1, 120, 2)
    assert (repo / f"{SMOKE}/sbibm/c2st_vs_budget.png").stat().st_size > 1000
    assert (repo / f"{SMOKE}/report/figures/sbibm/c2st_vs_budget.png").exists()
    assert "## Against sbibm" in (repo / f"{SMOKE}/report/README.md").read_text()
    # a continuous-condition task through the same rules: its own figure and forward metric
    lin = pd.read_csv(repo / f"{SMOKE}/gaussian_linear/metrics.csv", dtype={"condition": str},
                      keep_default_na=False)
    assert set(lin.condition) - {""} == {"0", "1", "2"}
    assert set(lin[lin.metric == "y_rmse"].method) == {"ours"}  # the cINN has no forward predictor
    assert (repo / f"{SMOKE}/gaussian_linear/figures/posterior_pairs.png").stat().st_size > 1000
    assert (repo / f"{SMOKE}/report/figures/gaussian_linear/posterior_pairs.png").exists()
    # the image stage (skipped where no MNIST copy is at hand)
    if image_data() is not None:
        img = pd.read_csv(repo / f"{SMOKE}/images/metrics.csv", dtype={"condition": str},
                          keep_default_na=False)
        assert list(img.columns) == ["task", "method", "variant", "seed", "condition", "metric", "value"]
        assert set(img.task) == {"mnist"}
        # ours, the cINN and the generative baselines the smoke config opts in
        assert set(img.method) == {"ours", "cinn", "cvae", "cgan", "cfm", "latent_classifier", "cnn"}
        assert set(img[img.metric == "accuracy"].method) == {"ours", "cinn", "latent_classifier", "cnn"}
        assert set(img[img.metric == "z_label_accuracy"].method) == {"ours", "cinn", "cvae", "cfm"}
        assert {"accuracy", "generated_accuracy", "style_follows_label", "train_seconds"} <= set(img.metric)
        assert set(img[img.method == "ours"].variant) == {"paper"}
        acc = img[img.metric.isin(["accuracy", "generated_accuracy", "style_follows_label"])].value
        assert ((acc >= 0) & (acc <= 1)).all()
        for fig in ("fig5_3", "fig5_4", "fig5_3_cinn", "fig5_4_cinn", "fig5_3_cfm", "fig5_4_cgan"):
            assert (repo / f"{SMOKE}/images/mnist/figures/{fig}.png").stat().st_size > 1000
        run = repo / f"{SMOKE}/images/mnist/seed0"
        for f in ("autoencoder.pt", "latents.npz", "ours.pt", "cinn.pt", "classifier_cnn.pt"):
            assert (run / f).exists(), f
        lat = np.load(run / "latents.npz")
        assert lat["train_u"].shape == (512, 20) and lat["test_u"].shape == (256, 20)
        assert (repo / f"{SMOKE}/benchmarks/images/mnist/seed0/autoencoder.tsv").exists()
        # accuracy against auto-encoder epochs: checkpoints 1 and 2, ours at 2; up to the main
        # stage's epoch count (1) the auto-encoder is the main one, so its latent classifier agrees
        curve = pd.read_csv(repo / f"{SMOKE}/images/epoch_curve/mnist.csv")
        assert curve.epoch.tolist() == [1, 2]
        assert np.isnan(curve.ours_accuracy[0]) and 0 <= curve.ours_accuracy[1] <= 1
        main_lc = img[(img.method == "latent_classifier") & (img.metric == "accuracy")].value.item()
        assert curve.latent_classifier_accuracy[0] == pytest.approx(main_lc, abs=1e-9)
        assert (repo / f"{SMOKE}/images/epoch_curve/mnist.png").stat().st_size > 1000
        md = (repo / f"{SMOKE}/report/README.md").read_text()
        assert "## Accuracy against auto-encoder epochs" in md
        assert (repo / f"{SMOKE}/report/tables/epoch_curve_mnist.csv").exists()


@pytest.mark.slow
def test_rerun_does_nothing(smoke_run):
    res = snakemake(smoke_run, "--configfile", "config/smoke.yaml", "-n")
    assert res.returncode == 0
    assert "Nothing to be done" in res.stdout + res.stderr


@pytest.mark.slow
@pytest.mark.reruns
def test_same_seed_same_metrics(smoke_copy):
    """Determinism on the CPU: retraining a run with the same seed gives identical metric rows
    (timings aside)."""
    repo = smoke_copy()
    target = f"{SMOKE}/gmm/ours/paper/seed0/metrics.json"
    before = pd.read_json(repo / target)
    res = snakemake(repo, "--configfile", "config/smoke.yaml", "--forcerun", "train_run", "--until", target,
                    target)
    assert res.returncode == 0, res.stderr[-2000:]
    after = pd.read_json(repo / target)
    timing = {"seconds_per_iteration", "train_seconds"}
    a = before[~before.metric.isin(timing)].reset_index(drop=True)
    b = after[~after.metric.isin(timing)].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    other = pd.read_json(repo / f"{SMOKE}/gmm/ours/paper/seed1/metrics.json")
    o = other[~other.metric.isin(timing)]
    # Another seed gives other numbers. A metric undefined for one seed has no row there, so the
    # rows are compared where both seeds have one (the same condition and metric).
    both = a.merge(o, on=["condition", "metric"], suffixes=("_0", "_1"))
    assert len(both) >= 0.8 * len(a)
    assert not np.allclose(both.value_0.values, both.value_1.values)


def test_bad_config_stops_before_any_job(tmp_path):
    from tests.conftest import ROOT
    repo = copy_repo(ROOT, tmp_path / "repo")
    cfg = yaml.safe_load((repo / "config/smoke.yaml").read_text())
    cfg["tasks"]["gmm"]["runs"][0]["variants"] = ["papr"]
    (repo / "bad.yaml").write_text(yaml.safe_dump(cfg))
    res = snakemake(repo, "--configfile", "bad.yaml", timeout=300)
    assert res.returncode != 0
    out = res.stdout + res.stderr
    assert "Invalid configuration" in out and "papr" in out and "allowed" in out
    assert not (repo / f"{SMOKE}/gmm").exists()


def test_report_dir_outside_results_name_stops_before_any_job(tmp_path):
    """`--configfile config/smoke.yaml extra.yaml`, extra.yaml one line `report_dir: report`: refused
    before any job, the committed report untouched (flowbench.outputs)."""
    from tests.conftest import ROOT
    repo = copy_repo(ROOT, tmp_path / "repo")
    committed = tree_digest(repo / "report")
    (repo / "extra.yaml").write_text("report_dir: report\n")
    res = snakemake(repo, "--configfile", "config/smoke.yaml", "extra.yaml", timeout=300)
    assert res.returncode != 0
    out = res.stdout + res.stderr
    assert "Invalid configuration: config key 'report_dir': 'report' is outside results/smoke/" in out
    assert "Only config/config.yaml read alone" in out
    assert tree_digest(repo / "report") == committed
    assert not (repo / SMOKE).exists()
