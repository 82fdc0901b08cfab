"""The generative baselines (cvae, cgan, cfm) in the image stage (paper Sec. 5.2; issue #16), on
tiny synthetic latents (no MNIST needed): opted in by their config section, trained by the same
loop, scored on generation only (Table 1: no forward predictor), their figures listed."""
import copy
import json

import numpy as np
import pandas as pd
import pytest
import torch

from flowbench import images as I
from flowbench import report as R
from flowbench import tables as T
from flowbench.config import ConfigError, validate_config
from flowbench.identity import images_digest
from flowbench.images.models import AutoEncoder, SmallCNN
from flowbench.io import save_checkpoint, write_csv, write_json, write_npz

BASELINES = ("cvae", "cgan", "cfm")
TINY = {"cvae": {"width": 16, "layers": 2}, "cgan": {"width": 16, "layers": 2, "n_critic": 2},
        "cfm": {"width": 16, "layers": 2, "steps": 2}}


def tiny_config(smoke_config, baselines=BASELINES):
    """The smoke config's image stage at toy sizes, with the given baselines opted in."""
    config = copy.deepcopy(smoke_config)
    im = config["images"]
    for m in BASELINES:
        im.pop(m, None)
    for m in ("ours", "cinn", *baselines):
        im[m] = {**im.get(m, {}), **TINY.get(m, {}), "epochs": 1, "batch_size": 32}
    im["latent_classifier"] = {"hidden": 8, "epochs": 1, "batch_size": 32, "lr": 1e-3}
    im["evaluation"] = {"n_generated": 20, "n_style": 3, "fig_rows": 2}
    return validate_config(config)


@pytest.fixture(scope="module")
def stage_files(tmp_path_factory):
    """What run_evaluate reads besides the flows: an (untrained) auto-encoder and CNN, their
    identities taken from the smoke config, and latents.npz of 80 train / 40 test latents."""
    import yaml

    from tests.conftest import ROOT
    smoke = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
    cfg = validate_config(copy.deepcopy(smoke))["images"]
    d = tmp_path_factory.mktemp("stage")
    torch.manual_seed(0)
    save_checkpoint(d / "autoencoder.pt", AutoEncoder(20), I.autoencoder_identity(cfg, "mnist", 0))
    save_checkpoint(d / "classifier_cnn.pt", SmallCNN(), I.cnn_identity(cfg, "mnist", 0))
    write_json(d / "classifier_cnn.json", {"test_accuracy": 0.5, "seconds": 1.0})
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(10, 20)).astype(np.float32)
    ytr, yte = np.arange(80) % 10, np.arange(40) % 10
    write_npz(d / "latents.npz",
              train_u=(centres[ytr] + 0.3 * rng.normal(size=(80, 20))).astype(np.float32),
              train_labels=ytr,
              test_u=(centres[yte] + 0.3 * rng.normal(size=(40, 20))).astype(np.float32),
              test_labels=yte, mean=np.zeros(20, np.float32), std=np.ones(20, np.float32))
    return d


def train_and_evaluate(config, d, out):
    """run_flow for every configured flow, then run_evaluate into ``out``: (rows, samples)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"autoencoder": d / "autoencoder.pt", "latents": d / "latents.npz",
             "cnn": d / "classifier_cnn.pt", "cnn_info": d / "classifier_cnn.json"}
    for m in I.configured_flows(config["images"]):
        I.run_flow(config, "mnist", 0, m, d / "latents.npz", out / f"{m}.pt", out / f"{m}.json",
                   out / f"{m}_train_log.csv", device="cpu", log=lambda s: None)
        paths.update({m: out / f"{m}.pt", f"{m}_info": out / f"{m}.json"})
    rows = I.run_evaluate(config, "mnist", 0, paths, out / "metrics.json", out / "samples.npz",
                          device="cpu", log=lambda s: None)
    return rows, np.load(out / "samples.npz")


@pytest.fixture(scope="module")
def evaluated(stage_files, tmp_path_factory):
    import yaml

    from tests.conftest import ROOT
    smoke = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
    out = tmp_path_factory.mktemp("runs")
    with_b = train_and_evaluate(tiny_config(smoke), stage_files, out / "with")
    without = train_and_evaluate(tiny_config(smoke, baselines=()), stage_files, out / "without")
    return with_b, without, out


def test_baselines_train_and_are_scored_on_generation(evaluated):
    (rows, samples), _, out = evaluated
    df = pd.DataFrame(rows)
    by = {m: set(df[df.method == m].metric) for m in df.method.unique()}
    generation = {"generated_accuracy", "style_follows_label", "style_consistency"}
    for m in BASELINES:
        info = json.loads((out / "with" / f"{m}.json").read_text())
        assert info["iterations"] == 2 and not info["diverged"]      # 80 latents, batch 32, 1 epoch
        assert generation | {"train_seconds", "diverged"} <= by[m]
        assert "accuracy" not in by[m]                                # no forward predictor
        v = df[(df.method == m) & df.metric.isin(["generated_accuracy", "style_follows_label"])].value
        assert v.between(0, 1).all()
        assert samples[f"{m}_fig5_3"].shape == (10, 20, 28, 28)
        assert samples[f"{m}_fig5_4"].shape == (2, 10, 28, 28)
    # z -> label where the method maps data to its noise (noise_of): the cGAN has no such map
    assert "z_label_accuracy" in by["cvae"] and "z_label_accuracy" in by["cfm"]
    assert "z_label_accuracy" not in by["cgan"]
    assert {"accuracy", "z_label_accuracy"} <= by["ours"] and {"accuracy", "z_label_accuracy"} <= by["cinn"]
    assert set(df[df.method == "cfm"].variant) == {"default"}


def test_baselines_leave_ours_and_cinn_unchanged(evaluated):
    """Each flow's evaluation draws come from its own index in FLOWS: adding baselines changes no
    number of ours, the cINN or the reference classifiers."""
    (rows, samples), (rows0, samples0), _ = evaluated
    keep = ("ours", "cinn", "latent_classifier", "cnn")
    a = pd.DataFrame(rows)
    a = a[a.method.isin(keep) & (a.metric != "train_seconds")].reset_index(drop=True)
    b = pd.DataFrame(rows0).query("metric != 'train_seconds'").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    assert set(samples0.files) == {f"{m}_{p}" for m in ("ours", "cinn") for p in ("fig5_3", "fig5_4")}
    for k in samples0.files:
        np.testing.assert_array_equal(samples[k], samples0[k])


def test_figures_of_the_baselines(evaluated, tmp_path):
    (_, _), _, out = evaluated
    made = I.image_figures(out / "with" / "samples.npz", "mnist", tmp_path / "with")
    trained = ("ours", "cinn", "cvae", "cgan", "cfm")      # the fixture's image methods
    assert [p.name for p in made] == [f"{n}.png" for n in I.flow_figures(trained)]
    assert {"fig5_3_cvae.png", "fig5_4_cgan.png", "fig5_3_cfm.png"} <= {p.name for p in made}
    # a run without baselines draws ours' and the cINN's only
    made = I.image_figures(out / "without" / "samples.npz", "mnist", tmp_path / "without")
    assert tuple(p.stem for p in made) == I.DEFAULT_FIGURES
    assert I.flow_figures(I.configured_flows({"ours": {}, "cinn": {}, "cgan": {}})) == (
        *I.DEFAULT_FIGURES, "fig5_3_cgan", "fig5_4_cgan")


def test_opt_in_by_config_section(smoke_config, stage_files, tmp_path):
    full = tiny_config(smoke_config)
    assert I.configured_flows(full["images"]) == ("ours", "cinn", "cvae", "cgan", "cfm")
    no_cgan = tiny_config(smoke_config, baselines=("cvae", "cfm"))
    assert I.configured_flows(no_cgan["images"]) == ("ours", "cinn", "cvae", "cfm")
    with pytest.raises(ValueError, match="cgan.*no section"):
        I.run_flow(no_cgan, "mnist", 0, "cgan", stage_files / "latents.npz", tmp_path / "c.pt",
                   tmp_path / "c.json", tmp_path / "c.csv", device="cpu", log=lambda s: None)
    # a config without baselines keeps the digests it had (no retraining, no re-evaluation);
    # a baseline's section enters its own flow's and the evaluation's digest only
    none = tiny_config(smoke_config, baselines=())
    assert images_digest(none, "evaluate") != images_digest(full, "evaluate")
    for stage in ("autoencoder", "ours", "cinn", "classifier_cnn", "figures", "epoch_curve"):
        assert images_digest(none, stage) == images_digest(full, stage), stage
    legacy = {k: none["images"].get(k) for k in ("n_train", "n_test", "latent_classifier", "evaluation",
                                                 "ours", "cinn", "autoencoder", "standardise")}
    from flowbench.config import digest
    assert images_digest(none, "evaluate") == digest(legacy)


def test_baseline_section_schema(smoke_config):
    cfg = copy.deepcopy(smoke_config)
    cfg["images"]["cvae"] = {"width": 64}
    filled = validate_config(cfg)["images"]["cvae"]
    assert filled == {"width": 64, "epochs": 40, "batch_size": 256, "log_every": None}
    for bad, match in (({"widht": 64}, "widht"), ({"iterations_factor": 2}, "iterations_factor"),
                       ({"n_critic": 3}, "n_critic"), ({"layers": 1}, "layers")):
        cfg = copy.deepcopy(smoke_config)
        cfg["images"]["cvae"] = bad
        with pytest.raises(ConfigError, match=match):
            validate_config(cfg)
    cfg = copy.deepcopy(smoke_config)
    cfg["images"]["cgan"] = {"n_critic": 3, "gp_weight": 1.0}
    assert validate_config(cfg)["images"]["cgan"]["n_critic"] == 3


def baseline_rows(datasets=("mnist",), seeds_=(0, 1)):
    """Image metric rows of the three baselines as run_evaluate writes them: no accuracy, no
    z_label_accuracy of the cGAN."""
    rows = []
    for ds in datasets:
        for s in seeds_:
            for m in BASELINES:
                b = {"task": ds, "method": m, "variant": "default", "seed": s, "condition": ""}
                rows += [{**b, "metric": "train_seconds", "value": 5.0},
                         {**b, "metric": "diverged", "value": 0.0},
                         {**b, "metric": "generated_accuracy", "value": 0.8 + 0.01 * s},
                         {**b, "metric": "style_follows_label", "value": 0.7},
                         {**b, "metric": "style_consistency", "value": 0.1}]
                if m != "cgan":
                    rows.append({**b, "metric": "z_label_accuracy", "value": 0.12})
    return rows


def test_table1_says_no_forward_predictor():
    from conftest import image_stage
    images = T.tidy(pd.concat([image_stage(), pd.DataFrame(baseline_rows())], ignore_index=True))
    t1 = T.table1(images)
    assert T.table1_methods(images) == ["ours", "cinn", "cvae", "cgan", "cfm", "latent_classifier", "cnn"]
    row = t1[t1.dataset == "mnist"].iloc[0]
    for m in BASELINES:
        assert not row[f"{m}_forward_predictor"] and row[f"{m}_n_seeds"] == 0
        assert np.isnan(row[f"{m}_accuracy_mean"])
    # without baselines: the same columns as before they existed
    plain = T.table1(image_stage())
    assert not any(m in c for c in plain.columns for m in BASELINES)
    gen = T.generation_table(images)
    assert gen[gen.dataset == "mnist"].method.tolist() == ["ours", "cinn", "cvae", "cgan", "cfm"]
    cgan = gen[(gen.dataset == "mnist") & (gen.method == "cgan")].iloc[0]
    assert cgan.z_label_accuracy_n == 0 and cgan.generated_accuracy_n == 2


def test_report_with_baselines(tmp_path):
    from conftest import fake_results, tiny_png
    res = fake_results(tmp_path / "results", with_images=True, image_datasets=("mnist",))
    metrics = pd.read_csv(res / "images" / "metrics.csv", keep_default_na=False, dtype={"condition": str})
    write_csv(res / "images" / "metrics.csv",
              T.tidy(pd.concat([metrics, pd.DataFrame(baseline_rows())], ignore_index=True)))
    figures = I.flow_figures(("ours", "cinn", "cvae", "cgan", "cfm"))   # the methods with rows
    for name in figures:   # every figure, the baselines' included
        (res / "images" / "mnist" / "figures" / f"{name}.png").write_bytes(tiny_png((0, 255, 0)))
    out = tmp_path / "report"
    written = R.render_report(res, out, tasks=["gmm", "gmm_some"], image_datasets=["mnist"])
    from conftest import TWO_TASKS
    expected = R.report_outputs(out, TWO_TASKS, ["mnist"], figures)
    assert sorted(str(p) for p in written.values()) == sorted(expected)
    md = (out / "README.md").read_text()
    row = next(line for line in md.splitlines() if line.startswith("| mnist ") and "0.984" in line)
    assert row.count(T.NO_FORWARD_PREDICTOR) == 3, row
    header = next(line for line in md.splitlines() if line.startswith("| dataset ") and "paper (ours)" in line)
    assert [c.strip() for c in header.split("|")][5:8] == ["cVAE", "cGAN (WGAN-GP)", "CFM"]
    assert row.split("|")[-2].strip() == "2"   # the seeds cell counts the methods with an accuracy only
    # on a data set where nothing ran, the baselines are "not run" like every other method
    fashion = next(line for line in md.splitlines() if line.startswith("| fashion-mnist ") and "0.901" in line)
    assert fashion.count("not run") == 7 and T.NO_FORWARD_PREDICTOR not in fashion
    gen_rows = [line for line in md.splitlines() if line.startswith("| mnist ") and "0.984" not in line]
    assert [r.split("|")[2].strip() for r in gen_rows] == ["ours", "cINN", "cVAE", "cGAN", "CFM"]
    assert "no noise_of" in gen_rows[3] and "no noise_of" not in gen_rows[2]
    for name in ("fig5_3_cvae", "fig5_4_cgan", "fig5_4_cfm"):
        assert f"](figures/images/mnist/{name}.png)" in md
    t1 = pd.read_csv(out / "tables" / "table1.csv").set_index("dataset")
    assert not t1.loc["mnist", "cgan_forward_predictor"] and t1.loc["fashion-mnist", "cgan_forward_predictor"]


def test_rules_opt_in_dry_run(tmp_path):
    """The rules: a flow job and evaluation input per configured flow, none for a baseline without
    a section (Snakemake dry run of the image targets)."""
    import yaml
    from test_workflow import copy_repo, snakemake

    from tests.conftest import ROOT
    repo = copy_repo(ROOT, tmp_path / "repo")
    cfg = yaml.safe_load((repo / "config" / "smoke.yaml").read_text())
    cfg["images"]["datasets"] = ["mnist"]
    cfg["images"]["epoch_curve"] = {"datasets": []}
    assert set(BASELINES) <= set(cfg["images"])     # the smoke config runs them (CI covers them)
    for name, drop in (("all", ()), ("no_cgan", ("cgan",))):
        c = copy.deepcopy(cfg)
        for m in drop:
            del c["images"][m]
        (repo / f"{name}.yaml").write_text(yaml.safe_dump(c))
        res = snakemake(repo, "results/smoke/images/metrics.csv", "results/smoke/images/mnist/figures/fig5_3.png",
                        "-n", "--quiet", "rules", "--configfile", f"{name}.yaml", timeout=300)
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
        table = res.stdout + res.stderr
        n_flows = next(int(line.split()[1]) for line in table.splitlines()
                       if line.split()[:1] == ["images_flow"])
        assert n_flows == 5 - len(drop), table
