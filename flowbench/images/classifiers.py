"""The image stage's plain classifiers (context for the paper's Table 1, Sec. 5.2): a reference
classifier on the standardised latents, and an independent small CNN trained on the real images
that scores generated images."""
from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F

from .inputs import batches, default_log
from .models import LatentClassifier, SmallCNN
from .names import N_CLASSES


def cnn_identity(cfg: dict, dataset: str, seed: int) -> dict:
    """What ``classifier_cnn.pt`` was trained with (``cfg``: the ``images`` section)."""
    return {"model": "small_cnn", "dataset": dataset, "seed": int(seed),
            "classifier_cnn": cfg["classifier_cnn"], "n_train": cfg["n_train"]}


def _fit_classifier(model, x: torch.Tensor, labels, epochs: int, batch_size: int, lr: float,
                    seed: int, device, log, name: str, log_every_epoch: bool = True):
    log = log or default_log
    gen = torch.Generator().manual_seed(seed)
    y = torch.as_tensor(labels, dtype=torch.long)
    n = len(x)
    bs = min(int(batch_size), n)
    opt = torch.optim.Adam(model.parameters(), lr=float(lr))
    model.to(device).train()
    t0 = time.perf_counter()
    for epoch in range(int(epochs)):
        perm = torch.randperm(n, generator=gen)
        total, steps = 0.0, 0
        for s in batches(n, bs):
            idx = perm[s]
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x[idx].to(device)), y[idx].to(device))
            loss.backward()
            opt.step()
            total += float(loss.detach())
            steps += 1
        if log_every_epoch:
            log(f"{name}: epoch {epoch + 1}/{epochs}  loss {total / max(steps, 1):.4f}  "
                f"elapsed {time.perf_counter() - t0:.1f}s")
    model.eval()
    return time.perf_counter() - t0


@torch.no_grad()
def predict_labels(model, x, batch_size: int = 1000) -> np.ndarray:
    """Argmax of ``model(x)`` over batches (any module returning scores ``[N, 10]``)."""
    model.eval()
    dev = next(model.parameters()).device
    x = torch.as_tensor(x, dtype=torch.float32)
    if x.ndim == 3:  # [N, 28, 28] images
        x = x.unsqueeze(1)
    out = [model(x[s].to(dev)).argmax(1).cpu() for s in batches(len(x), batch_size)]
    return torch.cat(out).numpy() if out else np.zeros(0, np.int64)


def train_latent_classifier(x: np.ndarray, labels: np.ndarray, cfg: dict, seed: int, device=None,
                            log=None):
    """Reference classifier on the (standardised) latents; ``cfg``: hidden (0: logistic
    regression), epochs, batch_size, lr. Returns ``(model, seconds)``."""
    torch.manual_seed(seed)
    model = LatentClassifier(x.shape[1], N_CLASSES, int(cfg["hidden"]))
    secs = _fit_classifier(model, torch.as_tensor(x, dtype=torch.float32), labels, cfg["epochs"],
                           cfg["batch_size"], cfg["lr"], seed, device or torch.device("cpu"), log,
                           "latent_classifier")
    return model, secs


def train_cnn(x: torch.Tensor, labels: np.ndarray, cfg: dict, seed: int, device=None, log=None):
    """The independent image classifier, trained on real images; returns ``(model, seconds)``."""
    torch.manual_seed(seed)
    model = SmallCNN(N_CLASSES)
    secs = _fit_classifier(model, x, labels, cfg["epochs"], cfg["batch_size"], cfg["lr"], seed,
                           device or torch.device("cpu"), log, "cnn")
    return model, secs
