"""The image stage's library on tiny synthetic data (no MNIST needed)."""
import copy
import json

import numpy as np
import pandas as pd
import pytest
import torch

from flowbench import images as I
from flowbench.io import METRIC_COLUMNS, aggregate_metrics
from flowbench.config import ConfigError, validate_config
from flowbench.images.models import AutoEncoder, SmallCNN, ae_loss
from flowbench.io import load_checkpoint, save_checkpoint, write_json, write_npz


@pytest.fixture
def cfg(smoke_config):
    return validate_config(copy.deepcopy(smoke_config))["images"]


@pytest.fixture
def tiny_images():
    g = torch.Generator().manual_seed(0)
    return torch.rand(16, 1, 28, 28, generator=g), np.arange(16) % 10


def test_autoencoder_shapes_and_range(tiny_images):
    x, _ = tiny_images
    torch.manual_seed(0)
    ae = AutoEncoder(20)
    with torch.no_grad():
        u = ae.encode(x)
        r = ae.decode(u)
    assert u.shape == (16, 20)
    assert r.shape == (16, 1, 28, 28)
    assert float(r.min()) >= 0.0 and float(r.max()) <= 1.0
    assert torch.isfinite(ae_loss(r, x))
    # GLF init: conv / linear weights N(0, 0.02)
    w = ae.encoder.fc[0].weight.detach()
    assert abs(float(w.std()) - 0.02) < 0.002


def test_train_encode_decode(tiny_images, cfg):
    x, _ = tiny_images
    ae_cfg = {**cfg["autoencoder"], "epochs": 1, "batch_size": 8}
    ae, info = I.train_autoencoder(x, ae_cfg, seed=0, log=lambda m: None)
    assert info["epochs"] == 1 and len(info["rows"]) == 1 and np.isfinite(info["final_loss"])
    u = I.encode(ae, x)
    assert u.shape == (16, 20) and u.dtype == np.float32
    imgs = I.decode(ae, u)
    assert imgs.shape == (16, 28, 28) and imgs.min() >= 0 and imgs.max() <= 1
    assert I.reconstruction_mse(ae, x) > 0


def test_latent_task_batches():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 20)).astype(np.float32)
    labels = np.arange(50) % 10
    task = I.LatentTask(x, labels)
    assert task.x_dim == 20 and task.y_dim == 10 and task.steps_per_epoch(16) == 3
    np.testing.assert_allclose(task.label_prior, np.full(10, 0.1))
    seen = []
    for _ in range(3):
        xb, yb = task.sample_batch(16, rng)
        assert xb.shape == (16, 20) and xb.dtype == torch.float32
        assert yb.shape == (16, 10) and torch.all(yb.sum(1) == 1)
        seen.append(xb)
    # one epoch: no example twice
    assert len({tuple(r.tolist()) for r in torch.cat(seen)}) == 48
    xb, yb = task.sample_batch(80, rng)  # larger than the data: with replacement
    assert xb.shape == (80, 20)
    # labels travel with their latents
    idx = {tuple(r.tolist()): k for r, k in zip(torch.from_numpy(x), labels)}
    assert all(idx[tuple(r.tolist())] == int(y.argmax()) for r, y in zip(xb, yb))


@pytest.mark.parametrize("method", ["ours", "cinn"])
def test_flows_on_latents(method, cfg):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 20)).astype(np.float32)
    labels = np.arange(64) % 10
    section = {**cfg[method], "epochs": 1, "batch_size": 32}
    model, res, iters = I.train_flow(method, section, x, labels, seed=0, log=lambda m: None)
    assert iters == 2 and res.steps_done == 2 and not res.diverged
    scores = model.predict(torch.from_numpy(x[:7]))
    assert scores.shape == (7, 10)
    y = I.one_hot([0, 3, 9])
    s = model.sample_posterior(y, 5)
    assert s.shape == (3, 5, 20)
    # fixed z, varied y (Fig. 5.4)
    g = torch.Generator().manual_seed(0)
    lat, lab = I.style_grid(model, 3, g)
    assert lat.shape == (30, 20) and list(lab[:10]) == list(range(10))
    lat, lab = I.class_grid(model, 4, g)
    assert lat.shape == (40, 20) and list(lab[::4]) == list(range(10))
    # the same noise with the same label gives the same latent; another label, another
    noise = I.draw_noise(model, 1, torch.Generator().manual_seed(1))
    assert noise.shape == (1, model.noise_dim)
    a = I.generate_latents(model, [1, 1], noise[[0, 0]])
    b = I.generate_latents(model, [1, 2], noise[[0, 0]])
    torch.testing.assert_close(a[0], a[1])
    assert not torch.allclose(b[0], b[1])


def test_style_consistency():
    rng = np.random.default_rng(0)
    base = rng.random((5, 1, 28, 28))
    shared = base + 0.1 * rng.random((5, 10, 28, 28))  # rows share a style
    s = I.style_consistency(shared)
    assert s["same_z"] > 0.9 and s["difference"] > 0.5
    s = I.style_consistency(rng.random((5, 10, 28, 28)))
    assert abs(s["difference"]) < 0.05


def test_evaluate_generation_and_metric_rows(cfg):
    torch.manual_seed(0)
    ae, cnn = AutoEncoder(20).eval(), SmallCNN().eval()
    model = I.build_flow_method("ours", cfg["ours"], 20, seed=0).eval()
    ev = {"n_generated": 20, "n_style": 6, "fig_rows": 4}
    g = I.evaluate_generation(model, ae, cnn, np.zeros(20, np.float32), np.ones(20, np.float32), ev, 0)
    for k in ("generated_accuracy", "style_follows_label"):
        assert 0.0 <= g[k] <= 1.0
    assert g["fig5_3"].shape == (10, 20, 28, 28) and g["fig5_3"].dtype == np.uint8
    assert g["fig5_4"].shape == (4, 10, 28, 28)
    rows = [I.metric_row("mnist", "ours", 0, "generated_accuracy", g["generated_accuracy"]),
            I.metric_row("mnist", "cnn", 0, "accuracy", 0.9)]
    df = pd.DataFrame(rows)
    assert list(df.columns) == METRIC_COLUMNS
    assert list(df.variant) == ["paper", "default"] and list(df.condition) == ["", ""]


def test_aggregate(tmp_path):
    f1, f2 = tmp_path / "a.json", tmp_path / "b.json"
    write_json(f1, [I.metric_row("mnist", "ours", 0, "accuracy", 0.5)])
    write_json(f2, [I.metric_row("fashion-mnist", "cinn", 0, "accuracy", 0.4)])
    df = aggregate_metrics([f1, f2], tmp_path / "m.csv")
    back = pd.read_csv(tmp_path / "m.csv", keep_default_na=False)
    assert list(back.columns) == METRIC_COLUMNS and len(back) == 2
    assert list(df.task) == ["fashion-mnist", "mnist"]


def test_figures_write_pngs(tmp_path):
    rng = np.random.default_rng(0)
    g53 = rng.integers(0, 256, (10, 20, 28, 28), dtype=np.uint8)
    g54 = rng.integers(0, 256, (4, 10, 28, 28), dtype=np.uint8)
    p1 = I.fig5_3(g53, tmp_path / "a.png", "mnist")
    p2 = I.fig5_4(g54, tmp_path / "b.png", "fashion-mnist", "cinn")
    for p in (p1, p2):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 1000
    write_npz(tmp_path / "s.npz", ours_fig5_3=g53, ours_fig5_4=g54, cinn_fig5_3=g53, cinn_fig5_4=g54)
    made = I.image_figures(tmp_path / "s.npz", "mnist", tmp_path / "figs")
    assert sorted(p.name for p in made) == ["fig5_3.png", "fig5_3_cinn.png", "fig5_4.png",
                                            "fig5_4_cinn.png"]


def test_checkpoint_identity(tmp_path, cfg):
    ae = AutoEncoder(20)
    ident = I.autoencoder_identity(cfg, "mnist", 0)
    save_checkpoint(tmp_path / "ae.pt", ae, ident)
    load_checkpoint(tmp_path / "ae.pt", AutoEncoder(20), ident)
    with pytest.raises(ValueError, match="different architecture or config"):
        load_checkpoint(tmp_path / "ae.pt", AutoEncoder(20), I.autoencoder_identity(cfg, "mnist", 1))


def test_data_root_resolution(tmp_path, monkeypatch):
    monkeypatch.delenv("FLOWBENCH_DATA", raising=False)
    assert I.resolve_data_root("../shared/data", tmp_path / "repo") == (tmp_path / "shared/data").resolve()
    assert I.resolve_data_root(str(tmp_path / "abs"), "/elsewhere") == tmp_path / "abs"
    monkeypatch.setenv("FLOWBENCH_DATA", str(tmp_path / "env"))
    assert I.resolve_data_root("../shared/data", tmp_path / "repo") == tmp_path / "env"


def test_images_config_schema(smoke_config, full_config):
    full = validate_config(copy.deepcopy(full_config))["images"]
    assert full["ours"]["dim"] == 30 and full["cinn"]["dim"] == 20
    assert full["datasets"] == ["mnist", "fashion-mnist"] and full["n_train"] is None
    bad = copy.deepcopy(smoke_config)
    bad["images"]["datasets"] = ["cifar"]
    with pytest.raises(ConfigError, match="images.datasets"):
        validate_config(bad)
    bad = copy.deepcopy(smoke_config)
    bad["images"]["ours"]["epoch"] = 3
    with pytest.raises(ConfigError, match="epoch"):
        validate_config(bad)
    minimal = copy.deepcopy(smoke_config)
    minimal["images"] = {"datasets": ["mnist"]}
    filled = validate_config(minimal)["images"]
    assert filled["ours"]["eps"] == 0.1 and filled["autoencoder"]["latent_dim"] == 20
    assert filled["data_root"] == "../shared/data" and filled["download"] is True


def test_epoch_callback_leaves_training_unchanged(tiny_images, cfg):
    x, _ = tiny_images
    ae_cfg = {**cfg["autoencoder"], "epochs": 2, "batch_size": 8}
    plain, _ = I.train_autoencoder(x, ae_cfg, seed=3, log=lambda m: None)
    seen = []

    def probe(epoch, model):
        seen.append((epoch, model.training))
        torch.randn(1000)            # consumes the global random state
        torch.manual_seed(12345)     # and even reseeds it
        I.encode(model, x)

    probed, info = I.train_autoencoder(x, ae_cfg, seed=3, log=lambda m: None, epoch_callback=probe)
    assert seen == [(1, False), (2, False)]
    for a, b in zip(plain.state_dict().values(), probed.state_dict().values()):
        assert torch.equal(a, b)
    assert [r["epoch"] for r in info["rows"]] == [1, 2]


def test_a_resumed_autoencoder_trains_as_one_uninterrupted_run(tiny_images, cfg):
    x, _ = tiny_images
    long_cfg = {**cfg["autoencoder"], "epochs": 3, "batch_size": 8}
    whole, whole_info = I.train_autoencoder(x, long_cfg, seed=3, log=lambda m: None, snapshots=(1, 2))
    first, info = I.train_autoencoder(x, {**long_cfg, "epochs": 2}, seed=3, log=lambda m: None, snapshots=(1,))
    torch.manual_seed(999)   # whatever happens to the global random state in between
    rest, rest_info = I.train_autoencoder(x, long_cfg, seed=3, log=lambda m: None, resume=info["resume"])
    for a, b in zip(whole.state_dict().values(), rest.state_dict().values()):
        assert torch.equal(a, b)
    assert [r["epoch"] for r in rest_info["rows"]] == [1, 2, 3]
    assert [r["loss"] for r in rest_info["rows"]] == [r["loss"] for r in whole_info["rows"]]
    for k, v in whole_info["snapshots"][1].items():       # the kept states are the model's then
        assert torch.equal(v, info["snapshots"][1][k])
    assert sorted(whole_info["snapshots"]) == [1, 2]
    with pytest.raises(ValueError, match="resumed after 3 epochs"):
        I.train_autoencoder(x, {**long_cfg, "epochs": 2}, seed=3, log=lambda m: None, resume=rest_info["resume"])


def _curve_config(tmp_path, smoke_config):
    from test_data import write_set
    write_set(tmp_path / "data" / "mnist")
    config = copy.deepcopy(smoke_config)
    config["images"].update({"data_root": str(tmp_path / "data"), "download": False, "n_train": 64,
                             "n_test": 32})
    config["images"]["epoch_curve"] = {"datasets": ["mnist"], "seed": 0, "checkpoints": [1, 2, 3],
                                       "flow_at": [3]}
    config = validate_config(config)
    config["images"]["autoencoder"].update(batch_size=16, epochs=2)
    return config


def test_the_epoch_curve_goes_on_from_the_main_autoencoder_with_the_same_numbers(tmp_path, smoke_config):
    """The main stage's auto-encoder of the curve's seed keeps its states at the curve's
    checkpoints and its optimiser's and random state; the curve probes those and trains only the
    epochs beyond it, and its table equals the curve trained from scratch (timings aside)."""
    from flowbench.images.stages import run_autoencoder
    config = _curve_config(tmp_path, smoke_config)
    d = tmp_path / "seed0"
    d.mkdir()
    run_autoencoder(config, "mnist", 0, d / "autoencoder.pt", d / "latents.npz", d / "autoencoder.json",
                    repo_root=tmp_path, device="cpu", log=lambda m: None)
    logs = []
    resumed = I.run_epoch_curve(config, "mnist", tmp_path / "resumed.csv", repo_root=tmp_path, device="cpu",
                                log=logs.append, autoencoder=d / "autoencoder.pt")
    assert any("goes on from" in m and "after epoch 2" in m for m in logs)
    assert not any("epoch 1/3" in m or "epoch 2/3" in m for m in logs)      # those epochs are not retrained
    scratch = I.run_epoch_curve(config, "mnist", tmp_path / "scratch.csv", repo_root=tmp_path, device="cpu",
                                log=lambda m: None)
    cols = [c for c in I.EPOCH_CURVE_COLUMNS if not c.endswith("seconds")]
    pd.testing.assert_frame_equal(resumed[cols], scratch[cols])
    assert resumed["epoch"].tolist() == [1, 2, 3]
    # another seed's auto-encoder keeps nothing for the curve: the curve trains from scratch
    run_autoencoder(config, "mnist", 1, d / "other.pt", d / "l1.npz", d / "a1.json", repo_root=tmp_path,
                    device="cpu", log=lambda m: None)
    from flowbench.io import read_checkpoint
    assert read_checkpoint(d / "other.pt").get("extra") == {}


def test_run_epoch_curve_on_tiny_idx(tmp_path, smoke_config):
    from test_data import write_set
    write_set(tmp_path / "data" / "mnist")
    config = copy.deepcopy(smoke_config)
    config["images"].update({"data_root": str(tmp_path / "data"), "download": False, "n_train": 64,
                             "n_test": 32})
    config["images"]["epoch_curve"] = {"datasets": ["mnist"], "seed": 0, "checkpoints": [1, 3],
                                       "flow_at": [3]}
    config = validate_config(config)
    config["images"]["autoencoder"]["batch_size"] = 16
    out = tmp_path / "curve.csv"
    df = I.run_epoch_curve(config, "mnist", out, repo_root=tmp_path, device="cpu",
                           log=lambda m: None)
    assert df["epoch"].tolist() == [1, 3]
    assert list(df.columns) == I.EPOCH_CURVE_COLUMNS
    assert df["latent_classifier_accuracy"].between(0, 1).all()
    assert np.isnan(df["ours_accuracy"].iloc[0]) and 0 <= df["ours_accuracy"].iloc[1] <= 1
    assert (df["test_reconstruction_mse"] > 0).all() and df["ae_train_seconds"].is_monotonic_increasing
    assert pd.read_csv(out)["epoch"].tolist() == [1, 3]


def test_epoch_curve_config_checks(smoke_config):
    cfg = copy.deepcopy(smoke_config)
    cfg["images"]["epoch_curve"] = {"datasets": ["mnist"], "checkpoints": [1, 2], "flow_at": [5]}
    with pytest.raises(ConfigError, match=r"images.epoch_curve.flow_at.*\[5\]"):
        validate_config(cfg)
    cfg["images"]["epoch_curve"] = {"datasets": ["svhn"]}
    with pytest.raises(ConfigError, match="epoch_curve"):
        validate_config(cfg)
    cfg["images"]["epoch_curve"] = {"datasets": ["mnist"], "checkpoints": [0]}
    with pytest.raises(ConfigError, match="checkpoints"):
        validate_config(cfg)
    filled = validate_config(copy.deepcopy(smoke_config))["images"]["epoch_curve"]
    assert filled["datasets"] == ["mnist"] and filled["flow_at"] == [2]
    del smoke_config["images"]["epoch_curve"]
    assert validate_config(smoke_config)["images"]["epoch_curve"]["datasets"] == []


# the package: one module per step, every public name re-exported, the figure list torch-free


def test_package_re_exports_every_public_name():
    import importlib
    import inspect
    for module in I._SUBMODULES:
        mod = importlib.import_module(f"flowbench.images.{module}")
        # functions, classes and constants of the module itself (not what it imports)
        own = {n for n, v in vars(mod).items() if not n.startswith("_") and not inspect.ismodule(v)
               and (callable(v) or n.isupper()) and getattr(v, "__module__", mod.__name__) == mod.__name__}
        assert own <= set(I.__all__), (module, sorted(own - set(I.__all__)))
        for name in I._EXPORTS[module]:
            assert getattr(I, name) is getattr(mod, name)
    assert I.__all__ == sorted(I.__all__) and set(I.__all__) <= set(dir(I))
    with pytest.raises(AttributeError):
        I.no_such_name  # noqa: B018


def test_figure_list_is_torch_free_and_shared(root):
    import subprocess
    import sys
    code = ("import flowbench.images, flowbench.images.names, flowbench.images.figures, sys; "
            "assert 'torch' not in sys.modules, 'torch imported'; "
            "print(','.join(flowbench.images.names.IMAGE_FIGURES))")
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    # the paper's method keeps the paper's figure names, then two figures per other image method
    # in the registry's order (the methods with image defaults first: ours and the cINN)
    names = done.stdout.strip().split(",")
    assert names[:4] == ["fig5_3", "fig5_4", "fig5_3_cinn", "fig5_4_cinn"]
    assert names[4:] == [f"{p}_{f}" for f in I.FLOWS[2:] for p in ("fig5_3", "fig5_4")]
    assert {"cvae", "cgan", "cfm"} <= set(I.FLOWS)
    assert I.DEFAULT_FIGURES == ("fig5_3", "fig5_4", "fig5_3_cinn", "fig5_4_cinn")
    assert tuple(I.FIGURES) == I.IMAGE_FIGURES == tuple(I.FIGURE_SOURCES)
    # the rules take the list from the package and spell no figure name of their own
    rules = (root / "workflow" / "rules" / "images.smk").read_text()
    assert "from flowbench.images.names import FLOWS, configured_flows, flow_figures" in rules
    assert not any(f'"{name}"' in rules for name in I.IMAGE_FIGURES)


def test_image_figures_writes_the_listed_figures(tmp_path):
    grids = {f"{m}_{p}": np.zeros((10 if p == "fig5_3" else 2, 10 if p == "fig5_4" else 3, 28, 28),
                                  np.uint8)
             for m in I.FLOWS for p in ("fig5_3", "fig5_4")}
    write_npz(tmp_path / "samples.npz", **grids)
    made = I.image_figures(tmp_path / "samples.npz", "mnist", tmp_path / "figs")
    assert [p.name for p in made] == [f"{n}.png" for n in I.IMAGE_FIGURES]
    assert all(p.stat().st_size > 0 for p in made)
