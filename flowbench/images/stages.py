"""The image stage's steps as the workflow runs them (paper Sec. 5.2: Fig. 5.3, Fig. 5.4, Table 1),
one function per rule, each reading and writing the files of one data set and seed under
``results/<name>/images/<dataset>/seed<k>/``:

- :func:`run_autoencoder`: ``autoencoder.pt`` (+ ``autoencoder.json``), ``latents.npz``;
- :func:`run_flow`: ``<flow>.pt`` (+ ``.json`` info and ``_train_log.csv``), for ours, the cINN
  and each generative baseline the config opts in (``images.cvae`` / ``cgan`` / ``cfm``);
- :func:`run_cnn`: ``classifier_cnn.pt`` (+ ``.json``);
- :func:`run_evaluate`: ``metrics.json`` (tidy rows) and ``samples.npz`` (the figures' grids).

The figures (:func:`flowbench.images.figures.image_figures`) and the accuracy against auto-encoder
epochs (:func:`flowbench.images.epoch_curve.run_epoch_curve`) have their own modules. Library
only: no Snakemake here.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..records import read_json
from ..io import load_checkpoint, resolve_device, save_checkpoint, write_csv, write_json, write_npz
from .autoencoder import autoencoder_identity, encode, reconstruction_mse, train_autoencoder
from .classifiers import cnn_identity, predict_labels, train_cnn, train_latent_classifier
from .generation import evaluate_generation, noise_features
from .inputs import default_log, images_config, latent_scale, load_latents, train_test
from .latent_flows import build_flow_method, flow_accuracy, flow_identity, flow_params, train_flow
from .models import AutoEncoder, SmallCNN
from .names import (
    CNN_SEED,
    EVAL_SEED,
    FLOWS,
    LATCLS_SEED,
    N_CLASSES,
    VARIANT,
    ZCLS_SEED,
    configured_flows,
)


def metric_row(dataset: str, method: str, seed: int, metric: str, value, condition: str = "") -> dict:
    """One tidy metric row (the columns of ``flowbench.io.METRIC_COLUMNS``)."""
    return {"task": dataset, "method": method, "variant": VARIANT[method], "seed": int(seed),
            "condition": condition, "metric": metric, "value": float(value)}


def curve_snapshots(cfg: dict, dataset: str, seed: int) -> tuple[int, ...]:
    """The epoch curve's checkpoints that the main auto-encoder of (``dataset``, ``seed``) reaches,
    when it is the curve's (``images.epoch_curve``: its data sets and seed); () otherwise."""
    curve = cfg.get("epoch_curve")
    if not curve or dataset not in curve.get("datasets", ()) or int(curve["seed"]) != int(seed):
        return ()
    return tuple(sorted(int(c) for c in curve["checkpoints"] if int(c) <= int(cfg["autoencoder"]["epochs"])))


def run_autoencoder(config: dict, dataset: str, seed: int, out_model, out_latents, out_info,
                    repo_root, device: str = "auto", log=None) -> dict:
    """Train the auto-encoder, encode train and test sets, save model, latents and info."""
    log = log or default_log
    cfg = images_config(config)
    dev = resolve_device(device)
    root, (xtr, ytr), (xte, yte) = train_test(cfg, dataset, repo_root)
    log(f"[{dataset}/seed{seed}] data {root / dataset}: {len(xtr)} train, {len(xte)} test; device {dev}")
    # the epoch curve's auto-encoder is this one (its seed and data set): keep what it needs to
    # go on from here (flowbench.images.epoch_curve) instead of retraining these epochs
    snaps = curve_snapshots(cfg, dataset, seed)
    ae, info = train_autoencoder(xtr, cfg["autoencoder"], seed, dev, log, snapshots=snaps)
    resume, kept = info.pop("resume"), info.pop("snapshots")
    t0 = time.perf_counter()
    utr, ute = encode(ae, xtr), encode(ae, xte)
    mean, std = latent_scale(utr, cfg["standardise"])
    info.update({"encode_seconds": time.perf_counter() - t0, "n_train": len(xtr), "n_test": len(xte),
                 "test_reconstruction_mse": reconstruction_mse(ae, xte), "device": str(dev),
                 "threads": torch.get_num_threads()})
    write_npz(out_latents, train_u=utr.astype(np.float32), train_labels=ytr,
              test_u=ute.astype(np.float32), test_labels=yte, mean=mean.astype(np.float32),
              std=std.astype(np.float32))
    save_checkpoint(out_model, ae, autoencoder_identity(cfg, dataset, seed),
                    extra={"resume": resume, "snapshots": {str(k): v for k, v in kept.items()}} if snaps else None)
    write_json(out_info, info)
    log(f"autoencoder done: {info['seconds']:.1f}s training, test reconstruction error "
        f"{info['test_reconstruction_mse']:.2f} (summed squared pixels per image)")
    return info


def run_flow(config: dict, dataset: str, seed: int, method: str, latents, out_model, out_info,
             out_log_csv, device: str = "auto", log=None) -> dict:
    """Train one flow (``method``: one of the config's ``configured_flows``) on the standardised
    latents; save model, info and training log."""
    log = log or default_log
    cfg = images_config(config)
    if method not in configured_flows(cfg):
        raise ValueError(f"image flow {method!r} has no section in the config's images "
                         f"(configured: {list(configured_flows(cfg))})")
    dev = resolve_device(device)
    xtr, ytr, *_ = load_latents(latents)
    model, res, iterations = train_flow(method, cfg[method], xtr, ytr, seed, dev, log)
    identity = flow_identity(method, dataset, flow_params(cfg[method]), xtr.shape[1])
    save_checkpoint(out_model, model, identity)
    parts = sorted({k for r in res.rows for k in r} - {"step", "loss", "seconds"})
    cols = ["step", "loss", *parts, "seconds"]
    write_csv(out_log_csv, pd.DataFrame(res.rows, columns=cols))
    info = {**res.info(), "iterations": iterations, "epochs": cfg[method]["epochs"],
            "device": str(dev), "threads": torch.get_num_threads(),
            "n_parameters": sum(p.numel() for p in model.parameters()),
            "identity_digest": identity["params_digest"]}
    write_json(out_info, info)
    log(f"{method} done: {res.steps_done} steps in {res.seconds:.1f}s"
        + (f", DIVERGED at step {res.diverged_step}" if res.diverged else ""))
    return info


def run_cnn(config: dict, dataset: str, seed: int, out_model, out_info, repo_root,
            device: str = "auto", log=None) -> dict:
    """Train the independent CNN on the real training images; its real test accuracy."""
    log = log or default_log
    cfg = images_config(config)
    dev = resolve_device(device)
    _, (xtr, ytr), (xte, yte) = train_test(cfg, dataset, repo_root)
    cnn, secs = train_cnn(xtr, ytr, cfg["classifier_cnn"], seed + CNN_SEED, dev, log)
    acc = float((predict_labels(cnn, xte) == yte).mean())
    save_checkpoint(out_model, cnn, cnn_identity(cfg, dataset, seed))
    info = {"seconds": secs, "test_accuracy": acc, "n_train": len(xtr), "n_test": len(xte),
            "epochs": cfg["classifier_cnn"]["epochs"], "threads": torch.get_num_threads()}
    write_json(out_info, info)
    log(f"cnn done: {secs:.1f}s, real test accuracy {acc:.4f}")
    return info


def run_evaluate(config: dict, dataset: str, seed: int, paths: dict, out_metrics, out_samples,
                 device: str = "auto", log=None) -> list[dict]:
    """Tidy metric rows of one (data set, seed) and the generated grids of the figures.

    ``paths``: ``autoencoder, latents, cnn, cnn_info`` and, for each flow the config runs
    (:func:`flowbench.images.names.configured_flows`), ``<flow>`` and ``<flow>_info``. A flow
    without a forward predictor (the generative baselines) gets no ``accuracy`` row, one without
    ``noise_of`` (the cGAN) no ``z_label_accuracy`` row.
    """
    log = log or default_log
    cfg = images_config(config)
    dev = resolve_device(device)
    xtr, ytr, xte, yte, mean, std = load_latents(paths["latents"])
    ae = AutoEncoder(cfg["autoencoder"]["latent_dim"])
    load_checkpoint(paths["autoencoder"], ae, autoencoder_identity(cfg, dataset, seed))
    ae.to(dev).eval()
    cnn = SmallCNN(N_CLASSES)
    load_checkpoint(paths["cnn"], cnn, cnn_identity(cfg, dataset, seed))
    cnn.to(dev).eval()
    rows = []

    def add(method, metric, value):
        # a value that is not a finite number (a diverged flow's generated images) is not a
        # measurement: no row, as for a diverged task run; its 'diverged' row says why
        if value is not None and math.isfinite(float(value)):
            rows.append(metric_row(dataset, method, seed, metric, value))

    cnn_info = read_json(paths["cnn_info"])
    add("cnn", "accuracy", cnn_info["test_accuracy"])
    add("cnn", "train_seconds", cnn_info["seconds"])

    lc, secs = train_latent_classifier(xtr, ytr, cfg["latent_classifier"], seed + LATCLS_SEED,
                                       dev, log)
    add("latent_classifier", "accuracy", float((predict_labels(lc, xte) == yte).mean()))
    add("latent_classifier", "train_seconds", secs)

    grids = {}
    for method in configured_flows(cfg):
        # the index in FLOWS, not in the configured list: a flow's draws do not depend on which
        # other flows run
        k = FLOWS.index(method)
        info = read_json(paths[f"{method}_info"])
        model = build_flow_method(method, cfg[method], xtr.shape[1], seed)
        load_checkpoint(paths[method], model, flow_identity(method, dataset,
                                                            flow_params(cfg[method]), xtr.shape[1]))
        model.to(dev).eval()
        add(method, "train_seconds", info["seconds"])
        add(method, "diverged", float(info["diverged"]))
        try:
            acc = flow_accuracy(model, xte, yte, dev, seed + EVAL_SEED + k)
        except NotImplementedError:
            acc = None   # a generative baseline: no forward predictor, no Table 1 accuracy
        else:
            add(method, "accuracy", acc)
        g = evaluate_generation(model, ae, cnn, mean, std, cfg["evaluation"], seed + EVAL_SEED + k)
        for metric in ("generated_accuracy", "style_follows_label", "style_consistency"):
            add(method, metric, g[metric])
        grids[f"{method}_fig5_3"] = g["fig5_3"]
        grids[f"{method}_fig5_4"] = g["fig5_4"]
        # z independent of y (claim C8): a classifier of y trained on the flow's noise of the
        # training latents, scored on the test latents, should score at chance (0.1); the latent
        # classifier above, the same network on u itself, is the control that must score high.
        # Only where the method maps data to its noise (``noise_of``; the cGAN has no such map)
        try:
            ztr = noise_features(model, xtr, ytr, seed=seed + ZCLS_SEED)
        except NotImplementedError:
            z_acc = None
        else:
            zte = noise_features(model, xte, yte, seed=seed + ZCLS_SEED + 1)
            zc, _ = train_latent_classifier(ztr, ytr, cfg["latent_classifier"], seed + ZCLS_SEED,
                                            dev, log)
            z_acc = float((predict_labels(zc, zte) == yte).mean())
            add(method, "z_label_accuracy", z_acc)
        log(f"{method}: accuracy "
            + ("none (no forward predictor)" if acc is None else f"{acc:.4f}")
            + f", generated_accuracy {g['generated_accuracy']:.4f}, style_follows_label "
            f"{g['style_follows_label']:.4f}, style_consistency {g['style_consistency']:.4f}, "
            "z_label_accuracy " + ("not computed (no noise_of)" if z_acc is None else f"{z_acc:.4f}"))
    write_npz(out_samples, **grids)
    write_json(out_metrics, rows)
    return rows
