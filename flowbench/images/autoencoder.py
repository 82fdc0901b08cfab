"""GLF's deterministic auto-encoder (Xiao, Yan & Amit 2019b, arXiv 1905.10485): training, encoding
images to the latent u the flows model (paper Sec. 5.2), decoding latents back to images."""
from __future__ import annotations

import time

import numpy as np
import torch

from .inputs import batches, default_log
from .models import AutoEncoder, ae_loss


def autoencoder_identity(cfg: dict, dataset: str, seed: int) -> dict:
    """What ``autoencoder.pt`` was trained with (``cfg``: the ``images`` section)."""
    return {"model": "glf_autoencoder", "dataset": dataset, "seed": int(seed),
            "autoencoder": cfg["autoencoder"], "n_train": cfg["n_train"]}


def train_autoencoder(x: torch.Tensor, cfg: dict, seed: int, device=None, log=None,
                      epoch_callback=None, snapshots=(), resume: dict | None = None):
    """Train GLF's auto-encoder on images ``x [N,1,28,28]``; return ``(model, info)``.

    ``cfg``: ``latent_dim, epochs, batch_size, lr`` (and ``log_every`` batches). Adam; loss
    summed-pixel MSE / batch. Each epoch walks a fresh permutation in full batches (a last
    partial batch is dropped, so BatchNorm never sees a batch of one).

    ``epoch_callback(epoch, model)``, if given, runs after every epoch (1-based) with the model in
    eval mode; torch's global random state is restored afterwards, so the training run is the
    same with or without it.

    ``snapshots``: epochs after which a copy of the model's state is kept (``info["snapshots"]``,
    {epoch: state dict}). ``info["resume"]`` is the state after the last epoch (the optimiser's,
    the permutation generator's and torch's random state, the epochs done and their rows): given
    back as ``resume`` with the same ``x``, ``cfg`` (more ``epochs``) and ``seed``, training goes on
    where it stopped and gives what one uninterrupted run gives (tests/test_images.py).
    """
    log = log or default_log
    device = device or torch.device("cpu")
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = AutoEncoder(cfg["latent_dim"]).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=float(cfg["lr"]))
    start, rows = 0, []
    if resume is not None:
        model.load_state_dict(resume["model"])
        opt.load_state_dict(resume["optimizer"])
        gen.set_state(resume["generator"])
        torch.set_rng_state(resume["torch_rng"])
        start, rows = int(resume["epoch"]), [dict(r) for r in resume["rows"]]
    n = x.shape[0]
    bs = min(int(cfg["batch_size"]), n)
    steps = max(n // bs, 1)
    log_every = int(cfg.get("log_every", 50))
    epochs = int(cfg["epochs"])
    if start > epochs:
        raise ValueError(f"autoencoder: resumed after {start} epochs, asked for {epochs}")
    log(f"autoencoder: {n} images, {epochs} epochs of {steps} batches of {bs}, "
        f"{sum(p.numel() for p in model.parameters())} parameters, {torch.get_num_threads()} threads"
        + (f"; resumed after epoch {start}" if start else ""))
    # seconds count on from the resumed run's last epoch
    t0 = time.perf_counter() - (float(rows[-1]["seconds"]) if rows else 0.0)
    kept = {}
    model.train()
    for epoch in range(start, epochs):
        perm = torch.randperm(n, generator=gen)
        total = 0.0
        for b in range(steps):
            xb = x[perm[b * bs:(b + 1) * bs]].to(device)
            opt.zero_grad(set_to_none=True)
            loss = ae_loss(model(xb), xb)
            loss.backward()
            opt.step()
            total += float(loss.detach())
            if (b + 1) % log_every == 0:
                log(f"  epoch {epoch + 1} batch {b + 1}/{steps}  loss {float(loss.detach()):.3f}  "
                    f"elapsed {time.perf_counter() - t0:.1f}s")
        rows.append({"epoch": epoch + 1, "loss": total / steps, "seconds": time.perf_counter() - t0})
        log(f"epoch {epoch + 1}/{epochs}  loss {total / steps:.3f}  elapsed {time.perf_counter() - t0:.1f}s "
            f"({(time.perf_counter() - t0) / (epoch + 1):.1f}s/epoch)")
        if epoch + 1 in snapshots:
            kept[epoch + 1] = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        if epoch_callback is not None:
            state = torch.get_rng_state()
            model.eval()
            t_cb = time.perf_counter()
            epoch_callback(epoch + 1, model)
            t0 += time.perf_counter() - t_cb   # the callback's time is not training time
            model.train()
            torch.set_rng_state(state)
    model.eval()
    info = {"seconds": time.perf_counter() - t0, "epochs": epochs, "steps_per_epoch": steps,
            "batch_size": bs, "final_loss": rows[-1]["loss"] if rows else None, "rows": rows,
            "snapshots": kept,
            "resume": {"model": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
                       "optimizer": opt.state_dict(), "generator": gen.get_state(),
                       "torch_rng": torch.get_rng_state(), "epoch": epochs, "rows": [dict(r) for r in rows]}}
    return model, info


@torch.no_grad()
def encode(model: AutoEncoder, x: torch.Tensor, batch_size: int = 1000) -> np.ndarray:
    model.eval()
    dev = next(model.parameters()).device
    return torch.cat([model.encode(x[s].to(dev)).cpu() for s in batches(len(x), batch_size)]).numpy()


@torch.no_grad()
def decode(model: AutoEncoder, u, batch_size: int = 1000) -> np.ndarray:
    """Latents ``[N, latent]`` (raw, not standardised) -> images ``float32 [N, 28, 28]`` in [0, 1]."""
    model.eval()
    dev = next(model.parameters()).device
    u = torch.as_tensor(np.asarray(u), dtype=torch.float32)
    out = [model.decode(u[s].to(dev)).cpu() for s in batches(len(u), batch_size)]
    return torch.cat(out)[:, 0].numpy() if out else np.zeros((0, 28, 28), np.float32)


@torch.no_grad()
def reconstruction_mse(model: AutoEncoder, x: torch.Tensor, batch_size: int = 1000) -> float:
    """Summed-pixel squared error per image, averaged (the training loss's scale)."""
    model.eval()
    dev = next(model.parameters()).device
    tot = 0.0
    for s in batches(len(x), batch_size):
        xb = x[s].to(dev)
        tot += float((model(xb) - xb).pow(2).sum())
    return tot / max(len(x), 1)
