"""Test accuracy against auto-encoder training epochs (``images.epoch_curve``): how the latent
classifier's and ours's accuracy (the paper's Table 1, Sec. 5.2) depend on how long GLF's
auto-encoder (Xiao, Yan & Amit 2019b) was trained."""
from __future__ import annotations

import time

import pandas as pd

from ..io import resolve_device, write_csv
from .autoencoder import autoencoder_identity, encode, reconstruction_mse, train_autoencoder
from .models import AutoEncoder
from .classifiers import predict_labels, train_latent_classifier
from .inputs import default_log, images_config, latent_scale, standardise, train_test
from .latent_flows import flow_accuracy, train_flow
from .names import EVAL_SEED, LATCLS_SEED, PAPER_FLOW

EPOCH_CURVE_COLUMNS = ["dataset", "seed", "epoch", "train_loss", "test_reconstruction_mse",
                       "latent_classifier_accuracy", "ours_accuracy", "ae_train_seconds",
                       "probe_seconds"]


def run_epoch_curve(config: dict, dataset: str, out_csv, repo_root, device: str = "auto",
                    log=None, autoencoder=None) -> pd.DataFrame:
    """Test accuracy as the auto-encoder trains longer (``images.epoch_curve``).

    One auto-encoder (the configured architecture and optimiser, seed ``epoch_curve.seed``) is
    trained to the last checkpoint. At each checkpoint the train and test sets are re-encoded and
    standardised as in the main stage; the latent classifier is trained on them and scored on the
    test set, and at the ``flow_at`` checkpoints ours is trained too (its configured epochs) and
    its forward accuracy scored. Up to the main stage's epoch count the auto-encoder is the same
    run as the main stage's one of the same seed (the probes restore the random state): given
    that run's checkpoint (``autoencoder``: its ``autoencoder.pt``, saved with its state at the
    curve's checkpoints and its optimiser's and random state at the end), the curve probes those
    states and goes on training from there, with the numbers an uninterrupted curve gives
    (tests/test_images.py); without it, or when it lacks them, the curve trains from scratch.
    """
    log = log or default_log
    cfg = images_config(config)
    curve = cfg["epoch_curve"]
    seed = int(curve["seed"])
    checkpoints = sorted(int(c) for c in curve["checkpoints"])
    flow_at = {int(c) for c in curve["flow_at"]}
    dev = resolve_device(device)
    root, (xtr, ytr), (xte, yte) = train_test(cfg, dataset, repo_root)
    ae_cfg = {**cfg["autoencoder"], "epochs": checkpoints[-1]}
    log(f"[{dataset}/seed{seed}] epoch curve: checkpoints {checkpoints}, ours at {sorted(flow_at)}; "
        f"{len(xtr)} train, {len(xte)} test images; device {dev}")
    rows = []

    def probe(epoch, model):
        if epoch not in checkpoints:
            return
        t0 = time.perf_counter()
        utr, ute = encode(model, xtr), encode(model, xte)
        mean, std = latent_scale(utr, cfg["standardise"])
        ztr, zte = standardise(utr, mean, std), standardise(ute, mean, std)
        lc, _ = train_latent_classifier(ztr, ytr, cfg["latent_classifier"], seed + LATCLS_SEED,
                                        dev, lambda msg: None)
        lc_acc = float((predict_labels(lc, zte) == yte).mean())
        ours_acc = float("nan")
        if epoch in flow_at:
            flow, _, _ = train_flow(PAPER_FLOW, cfg[PAPER_FLOW], ztr, ytr, seed, dev, lambda msg: None)
            flow.to(dev).eval()
            ours_acc = flow_accuracy(flow, zte, yte, dev, seed + EVAL_SEED)
        row = {"dataset": dataset, "seed": seed, "epoch": epoch,
               "train_loss": None, "test_reconstruction_mse": reconstruction_mse(model, xte),
               "latent_classifier_accuracy": lc_acc, "ours_accuracy": ours_acc,
               "ae_train_seconds": None, "probe_seconds": time.perf_counter() - t0}
        rows.append(row)
        log(f"checkpoint epoch {epoch}: latent classifier {lc_acc:.4f}"
            + (f", ours {ours_acc:.4f}" if epoch in flow_at else "")
            + f"  (probe {row['probe_seconds']:.1f}s)")

    resume = _resumable(autoencoder, cfg, dataset, seed, checkpoints, log)
    if resume is not None:
        for epoch in sorted(c for c in checkpoints if c <= resume["epoch"]):
            model = AutoEncoder(cfg["autoencoder"]["latent_dim"]).to(dev)
            model.load_state_dict(resume["snapshots"][str(epoch)])
            model.eval()
            probe(epoch, model)
    _, info = train_autoencoder(xtr, ae_cfg, seed, dev, log, epoch_callback=probe, resume=resume)
    by_epoch = {r["epoch"]: r for r in info["rows"]}
    for row in rows:
        row["train_loss"] = by_epoch[row["epoch"]]["loss"]
        row["ae_train_seconds"] = by_epoch[row["epoch"]]["seconds"]
    df = pd.DataFrame(rows, columns=EPOCH_CURVE_COLUMNS)
    write_csv(out_csv, df)
    return df


def _resumable(path, cfg: dict, dataset: str, seed: int, checkpoints, log) -> dict | None:
    """The main auto-encoder's resume state (with its ``snapshots``), when ``path`` holds one that
    covers every curve checkpoint it reached; None (train from scratch) otherwise, with the reason
    logged."""
    from pathlib import Path

    from ..io import load_checkpoint
    if path is None or not Path(path).exists():
        return None
    extra = load_checkpoint(path, AutoEncoder(cfg["autoencoder"]["latent_dim"]),
                            autoencoder_identity(cfg, dataset, seed))
    res, snaps = (extra or {}).get("resume"), (extra or {}).get("snapshots") or {}
    if res is None:
        log(f"{path} holds no resume state: the curve trains from scratch")
        return None
    missing = [c for c in checkpoints if c <= int(res["epoch"]) and str(c) not in snaps]
    if missing or int(res["epoch"]) > max(checkpoints):
        log(f"{path} lacks the states of checkpoints {missing} (or ran past the last): the curve trains "
            "from scratch")
        return None
    log(f"the curve goes on from {path} after epoch {int(res['epoch'])}")
    return {**res, "snapshots": snaps}

