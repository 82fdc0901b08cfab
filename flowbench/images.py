"""The image stage (paper Sec. 5.2: Fig. 5.3, Fig. 5.4, Table 1) as plain functions.

Latent flow (GLF, Xiao, Yan & Amit 2019b, arXiv 1905.10485): a deterministic auto-encoder maps each image to a 20-d
latent u; the flows are then trained on the *detached* latents (two stages, as GLF's stopped
gradient makes them in effect), with the project's methods and training loop:

- ours: ``make_method("ours", x_dim=20, y_dim=10)``, ``[u (20), x0 (10)] -> [z (20), y~ (10)]``;
  generation decodes ``f^{-1}([z, y + eps v])``; classification is the argmax of ``y~``
  (``method.predict``), the paper's Table 1.
- cINN: ``make_method("cinn", x_dim=20, y_dim=10)`` conditioned on the one-hot label; it
  classifies by Bayes' rule (``method.predict``).

Beyond the paper: the latents are standardised per dimension (train-set mean and std, stored in
``latents.npz`` and undone before decoding) so that the flows' fixed noise scales (y~ std 0.1,
padding noise 0.05) meet a unit-scale input whatever scale the encoder chose; a plain classifier on
the same standardised latents gives a reference accuracy; an independent small CNN trained on the
real training images scores generated images: ``generated_accuracy`` (fraction of images decoded
from label k that it assigns to k) and, for Fig. 5.4, ``style_follows_label`` (z fixed, y varied
over the ten labels: fraction assigned to the label they were generated with) and
``style_consistency`` (mean pixel correlation between images sharing z across labels, minus the
same between images of different z and different labels: > 0 when z carries a shared style).

Files per data set and seed, ``results/images/<dataset>/seed<k>/``: ``autoencoder.pt`` (+
``autoencoder.json``), ``latents.npz``, ``ours.pt`` / ``cinn.pt`` (+ ``.json`` info and
``_train_log.csv``), ``classifier_cnn.pt`` (+ ``.json``), ``metrics.json`` (tidy rows) and
``samples.npz`` (the generated grids of the figures). Library only: no Snakemake here.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from .config import digest
from .data import ensure_dataset, load_split
from .image_models import AutoEncoder, LatentClassifier, SmallCNN, ae_loss
from .io import load_checkpoint, resolve_device, save_checkpoint, write_csv, write_json, write_npz
from .methods import make_method
from .training import train

N_CLASSES = 10
FLOWS = ("ours", "cinn")
VARIANT = {"ours": "paper", "cinn": "default", "latent_classifier": "default", "cnn": "default"}
CLASS_NAMES = {
    "mnist": [str(k) for k in range(10)],
    "fashion-mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                      "Sneaker", "Bag", "Ankle boot"],
}
# keys of a flow's config section that steer training, not the method itself
_TRAIN_KEYS = ("epochs", "batch_size", "log_every")
# seed offsets: every model and evaluation draw has its own stream, all from the run's seed
_CNN_SEED, _LATCLS_SEED, _EVAL_SEED = 1_000, 2_000, 3_000


def _default_log(msg):
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------- data


def resolve_data_root(setting: str, repo_root: str | Path) -> Path:
    """The folder holding ``mnist/`` and ``fashion-mnist/``.

    ``FLOWBENCH_DATA`` (environment), when set and non-empty, wins; otherwise ``setting``: an
    absolute path as is, a relative one against ``repo_root``.
    """
    env = os.environ.get("FLOWBENCH_DATA", "").strip()
    p = Path(env or setting).expanduser()
    return p if p.is_absolute() else (Path(repo_root) / p).resolve()


def load_images(data_root: str | Path, dataset: str, split: str, n: int | None = None,
                download: bool = True) -> tuple[torch.Tensor, np.ndarray]:
    """Images ``float32 [N, 1, 28, 28]`` in [0, 1] and labels ``int64 [N]`` of one split.

    ``n`` keeps the first ``n`` examples (None: all). Missing files are downloaded when
    ``download`` (``flowbench.data.ensure_dataset``).
    """
    folder = ensure_dataset(Path(data_root) / dataset, dataset, download=download)
    images, labels = load_split(folder, dataset, split)
    if n is not None:
        images, labels = images[:n], labels[:n]
    x = torch.from_numpy(images).float().div_(255.0).unsqueeze(1)
    return x, labels.astype(np.int64)


def one_hot(labels, n_classes: int = N_CLASSES) -> torch.Tensor:
    return F.one_hot(torch.as_tensor(labels, dtype=torch.long), n_classes).float()


def _batches(n: int, batch_size: int):
    for i in range(0, n, batch_size):
        yield slice(i, min(i + batch_size, n))


# ---------------------------------------------------------------------------------- auto-encoder


def train_autoencoder(x: torch.Tensor, cfg: dict, seed: int, device=None, log=None,
                      epoch_callback=None):
    """Train GLF's auto-encoder on images ``x [N,1,28,28]``; return ``(model, info)``.

    ``cfg``: ``latent_dim, epochs, batch_size, lr`` (and ``log_every`` batches). Adam; loss
    summed-pixel MSE / batch. Each epoch walks a fresh permutation in full batches (a last
    partial batch is dropped, so BatchNorm never sees a batch of one).

    ``epoch_callback(epoch, model)``, if given, runs after every epoch (1-based) with the model in
    eval mode; torch's global random state is restored afterwards, so the training run is the
    same with or without it.
    """
    log = log or _default_log
    device = device or torch.device("cpu")
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = AutoEncoder(cfg["latent_dim"]).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=float(cfg["lr"]))
    n = x.shape[0]
    bs = min(int(cfg["batch_size"]), n)
    steps = max(n // bs, 1)
    log_every = int(cfg.get("log_every", 50))
    epochs = int(cfg["epochs"])
    log(f"autoencoder: {n} images, {epochs} epochs of {steps} batches of {bs}, "
        f"{sum(p.numel() for p in model.parameters())} parameters, {torch.get_num_threads()} threads")
    t0 = time.perf_counter()
    rows = []
    model.train()
    for epoch in range(epochs):
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
            "batch_size": bs, "final_loss": rows[-1]["loss"] if rows else None, "rows": rows}
    return model, info


@torch.no_grad()
def encode(model: AutoEncoder, x: torch.Tensor, batch_size: int = 1000) -> np.ndarray:
    model.eval()
    dev = next(model.parameters()).device
    return torch.cat([model.encode(x[s].to(dev)).cpu() for s in _batches(len(x), batch_size)]).numpy()


@torch.no_grad()
def decode(model: AutoEncoder, u, batch_size: int = 1000) -> np.ndarray:
    """Latents ``[N, latent]`` (raw, not standardised) -> images ``float32 [N, 28, 28]`` in [0, 1]."""
    model.eval()
    dev = next(model.parameters()).device
    u = torch.as_tensor(np.asarray(u), dtype=torch.float32)
    out = [model.decode(u[s].to(dev)).cpu() for s in _batches(len(u), batch_size)]
    return torch.cat(out)[:, 0].numpy() if out else np.zeros((0, 28, 28), np.float32)


@torch.no_grad()
def reconstruction_mse(model: AutoEncoder, x: torch.Tensor, batch_size: int = 1000) -> float:
    """Summed-pixel squared error per image, averaged (the training loss's scale)."""
    model.eval()
    dev = next(model.parameters()).device
    tot = 0.0
    for s in _batches(len(x), batch_size):
        xb = x[s].to(dev)
        tot += float((model(xb) - xb).pow(2).sum())
    return tot / max(len(x), 1)


def latent_scale(train_u: np.ndarray, per_dim: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, std)`` that ``standardise`` uses: per-dimension statistics of the training latents
    when ``per_dim`` (the config's ``images.standardise``), else the identity (0, 1)."""
    if per_dim:
        return train_u.mean(0), train_u.std(0) + 1e-6
    return np.zeros(train_u.shape[1], np.float32), np.ones(train_u.shape[1], np.float32)


def standardise(u: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return ((u - mean) / std).astype(np.float32)


def unstandardise(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return (x * std + mean).astype(np.float32)


# --------------------------------------------------------------------------------- latent task


class LatentTask:
    """Training batches over a fixed latent array, in the shape ``flowbench.training.train`` wants.

    ``sample_batch(n, rng) -> (x float32 [n, d], one-hot y [n, 10])``: consecutive calls walk a
    random permutation (drawn from ``rng``) in order, so ``steps_per_epoch(n)`` calls are one
    epoch without repeats; a batch larger than the data is drawn with replacement.
    """

    def __init__(self, x: np.ndarray, labels: np.ndarray, n_labels: int = N_CLASSES):
        x = np.asarray(x, dtype=np.float32)
        labels = np.asarray(labels, dtype=np.int64)
        if x.ndim != 2 or len(x) != len(labels) or len(x) == 0:
            raise ValueError(f"LatentTask: need x [N, d] and labels [N], got {x.shape}, {labels.shape}")
        self.x = torch.from_numpy(x)
        self.labels = labels
        self.y = one_hot(labels, n_labels)
        self.n, self.x_dim = x.shape
        self.y_dim = self.n_labels = n_labels
        self.label_prior = np.bincount(labels, minlength=n_labels) / len(labels)
        self._perm: torch.Tensor | None = None
        self._pos = 0

    def steps_per_epoch(self, batch_size: int) -> int:
        return max(self.n // batch_size, 1)

    def sample_batch(self, n: int, rng: np.random.Generator):
        if n > self.n:
            idx = torch.from_numpy(rng.integers(0, self.n, n))
        else:
            if self._perm is None or self._pos + n > self.n:
                self._perm = torch.from_numpy(rng.permutation(self.n))
                self._pos = 0
            idx = self._perm[self._pos:self._pos + n]
            self._pos += n
        return self.x[idx], self.y[idx]


# ----------------------------------------------------------------------------------------- flows


def flow_params(section: dict) -> dict:
    """A flow's method hyper-parameters: its config section without the training keys."""
    return {k: v for k, v in section.items() if k not in _TRAIN_KEYS}


def flow_identity(method: str, dataset: str, params: dict, x_dim: int) -> dict:
    return {"method": method, "variant": VARIANT[method], "dataset": dataset, "params": params,
            "x_dim": int(x_dim), "y_dim": N_CLASSES, "params_digest": digest(params)}


def build_flow_method(method: str, section: dict, x_dim: int, seed: int, label_prior=None,
                      total_steps: int = 1):
    if method not in FLOWS:
        raise ValueError(f"unknown image flow {method!r}; allowed: {list(FLOWS)}")
    return make_method(method, x_dim=x_dim, y_dim=N_CLASSES, params=flow_params(section),
                       total_steps=total_steps, seed=seed, label_prior=label_prior)


def train_flow(method: str, section: dict, x: np.ndarray, labels: np.ndarray, seed: int,
               device=None, log=None):
    """Train ``method`` on standardised latents ``x [N, d]`` with the project's training loop.

    ``section``: the method's hyper-parameters plus ``epochs`` and ``batch_size``. Returns
    ``(model, TrainResult, iterations)``.
    """
    log = log or _default_log
    task = LatentTask(x, labels)
    bs = int(section["batch_size"])
    spe = task.steps_per_epoch(bs)
    iterations = int(section["epochs"]) * spe
    model = build_flow_method(method, section, task.x_dim, seed, label_prior=task.label_prior,
                              total_steps=iterations)
    log(f"{method}: {task.n} latents of dim {task.x_dim}, {section['epochs']} epochs x {spe} "
        f"iterations of batch {bs}, {sum(p.numel() for p in model.parameters())} parameters")
    res = train(model, task, iterations, bs, seed, device, log_every=section.get("log_every") or spe,
                log=log)
    return model, res, iterations


# ----------------------------------------------------------------------------------- classifiers


def _fit_classifier(model, x: torch.Tensor, labels, epochs: int, batch_size: int, lr: float,
                    seed: int, device, log, name: str, log_every_epoch: bool = True):
    log = log or _default_log
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
        for s in _batches(n, bs):
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
    out = [model(x[s].to(dev)).argmax(1).cpu() for s in _batches(len(x), batch_size)]
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


# ------------------------------------------------------------------------------------ generation


def draw_noise(method, rows: int, gen: torch.Generator) -> torch.Tensor:
    """Noise for ``method.generate``: each part of ``method.noise_dims`` drawn N(0, I) in turn
    (ours: z, then v; cINN: z), ``[rows, noise_dim]``."""
    return torch.cat([torch.randn(rows, d, generator=gen) for d in method.noise_dims], dim=1)


@torch.no_grad()
def generate_latents(method, labels, noise: torch.Tensor) -> torch.Tensor:
    """Latents (in the flow's standardised space) generated from given noise: ``labels [M]``,
    ``noise [M, method.noise_dim]``; returns ``[M, x_dim]``. Unlike ``sample_posterior`` it lets
    the caller hold the noise fixed while y changes (Fig. 5.4)."""
    method.eval()
    return method.generate(one_hot(labels, method.y_dim), noise).cpu()


def class_grid(method, n_per_class: int, gen: torch.Generator) -> tuple[torch.Tensor, np.ndarray]:
    """``n_per_class`` fresh samples for each label: latents ``[10 * n, d]`` (class-major), labels."""
    labels = np.repeat(np.arange(N_CLASSES), n_per_class)
    return generate_latents(method, labels, draw_noise(method, len(labels), gen)), labels


def style_grid(method, n_rows: int, gen: torch.Generator) -> tuple[torch.Tensor, np.ndarray]:
    """Fig. 5.4: ``n_rows`` fixed noise draws, each decoded under all ten labels: latents
    ``[n_rows * 10, d]`` (row-major), labels."""
    noise = draw_noise(method, n_rows, gen).repeat_interleave(N_CLASSES, 0)
    labels = np.tile(np.arange(N_CLASSES), n_rows)
    return generate_latents(method, labels, noise), labels


def style_consistency(images: np.ndarray) -> dict:
    """``images [R, 10, 28, 28]`` (row r: one z, column k: label k).

    Pixel correlation between two images of the same row (same z, different labels), averaged,
    minus the same between images of different rows and different labels (row r against row
    r+1): > 0 when z carries a style shared across labels. Returns the three numbers.
    """
    r = images.shape[0]
    a = images.reshape(r, images.shape[1], -1).astype(np.float64)
    a = a - a.mean(-1, keepdims=True)
    a = a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-12)
    off = ~np.eye(a.shape[1], dtype=bool)
    same = np.einsum("rkd,rjd->rkj", a, a)[:, off].mean()
    if r < 2:
        return {"same_z": float(same), "other_z": float("nan"), "difference": float("nan")}
    other = np.einsum("rkd,rjd->rkj", a, np.roll(a, 1, axis=0))[:, off].mean()
    return {"same_z": float(same), "other_z": float(other), "difference": float(same - other)}


def to_uint8(images: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(np.asarray(images) * 255.0), 0, 255).astype(np.uint8)


def evaluate_generation(method, ae: AutoEncoder, cnn, mean, std, ev: dict, seed: int) -> dict:
    """Generated-image metrics of one flow and the grids for the figures.

    ``ev``: ``n_generated`` (per class), ``n_style`` (rows of fixed z for the number),
    ``fig_rows`` (rows of fixed z shown in Fig. 5.4). Fig. 5.3 shows the first 20 per class.
    """
    gen = torch.Generator().manual_seed(seed)
    n_gen = int(ev["n_generated"])
    lat, labels = class_grid(method, n_gen, gen)
    imgs = decode(ae, unstandardise(lat.numpy(), mean, std))
    finite = bool(np.all(np.isfinite(imgs)))
    gen_acc = float((predict_labels(cnn, imgs) == labels).mean()) if finite else float("nan")
    n_style = max(int(ev["n_style"]), int(ev["fig_rows"]))
    lat_s, labels_s = style_grid(method, n_style, gen)
    imgs_s = decode(ae, unstandardise(lat_s.numpy(), mean, std))
    finite_s = bool(np.all(np.isfinite(imgs_s)))
    follows = float((predict_labels(cnn, imgs_s) == labels_s).mean()) if finite_s else float("nan")
    grid_s = imgs_s.reshape(n_style, N_CLASSES, 28, 28)
    style = style_consistency(grid_s) if finite_s else {"difference": float("nan")}
    per_class = imgs.reshape(N_CLASSES, n_gen, 28, 28)
    return {
        "generated_accuracy": gen_acc,
        "style_follows_label": follows,
        "style_consistency": style["difference"],
        "fig5_3": to_uint8(np.nan_to_num(per_class[:, :20])),
        "fig5_4": to_uint8(np.nan_to_num(grid_s[: int(ev["fig_rows"])])),
    }


# --------------------------------------------------------------------------------- tidy metrics


def metric_row(dataset: str, method: str, seed: int, metric: str, value, condition: str = "") -> dict:
    return {"task": dataset, "method": method, "variant": VARIANT[method], "seed": int(seed),
            "condition": condition, "metric": metric, "value": float(value)}


# ------------------------------------------------------------------------------------- figures


def _mosaic(grid: np.ndarray, gap: int = 2) -> np.ndarray:
    """``[R, C, 28, 28]`` -> one ``[R*(28+gap)-gap, C*(28+gap)-gap]`` image (gaps white)."""
    r, c, h, w = grid.shape
    out = np.full((r * (h + gap) - gap, c * (w + gap) - gap), 255 if grid.dtype == np.uint8 else 1.0,
                  dtype=grid.dtype)
    for i in range(r):
        for j in range(c):
            out[i * (h + gap):i * (h + gap) + h, j * (w + gap):j * (w + gap) + w] = grid[i, j]
    return out


def _image_figure(grid: np.ndarray, out: Path, title: str, row_labels=None, col_labels=None) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = np.asarray(grid)
    r, c = grid.shape[:2]
    h = 30 * r  # pixels per row incl. gap
    w = 30 * c
    fig, ax = plt.subplots(figsize=(max(w / 55, 4), h / 55 + 0.6))
    ax.imshow(_mosaic(grid), cmap="gray", vmin=0,
              vmax=255 if grid.dtype == np.uint8 else 1.0, interpolation="nearest")
    ax.set_xticks([] if col_labels is None else [j * 30 + 14 for j in range(c)])
    ax.set_yticks([] if row_labels is None else [i * 30 + 14 for i in range(r)])
    if col_labels is not None:
        ax.set_xticklabels(col_labels, fontsize=7, rotation=45 if max(map(len, col_labels)) > 2 else 0)
        ax.xaxis.tick_top()
    if row_labels is not None:
        ax.set_yticklabels(row_labels, fontsize=7)
    for s in ax.spines.values():
        s.set_visible(False)
    ax.set_title(title, fontsize=9, pad=(22 if col_labels is not None else 6))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return out


def fig5_3(grid: np.ndarray, out, dataset: str = "mnist", method: str = "ours") -> Path:
    """Fig. 5.3: ``grid [10, n, 28, 28]``, one row per class."""
    names = CLASS_NAMES.get(dataset, [str(k) for k in range(N_CLASSES)])
    return _image_figure(grid, out, f"{dataset}: {method}, samples conditioned on the label "
                         f"(one row per class)", row_labels=names[: len(grid)])


def fig5_4(grid: np.ndarray, out, dataset: str = "mnist", method: str = "ours") -> Path:
    """Fig. 5.4: ``grid [R, 10, 28, 28]``, one row per fixed z, the ten labels across."""
    names = CLASS_NAMES.get(dataset, [str(k) for k in range(N_CLASSES)])
    return _image_figure(grid, out, f"{dataset}: {method}, fixed z per row, label varied across",
                         col_labels=names[: grid.shape[1]])


FIGURES = {"fig5_3": ("ours", fig5_3), "fig5_4": ("ours", fig5_4),
           "fig5_3_cinn": ("cinn", fig5_3), "fig5_4_cinn": ("cinn", fig5_4)}


def image_figures(samples_npz, dataset: str, outdir) -> list[Path]:
    """All four figures of one data set from one ``samples.npz``."""
    d = np.load(samples_npz)
    made = []
    for name, (method, fn) in FIGURES.items():
        made.append(fn(d[f"{method}_{name.split('_cinn')[0]}"], Path(outdir) / f"{name}.png",
                       dataset, method))
    return made


# ----------------------------------------------------------------------------------- pipeline


def _cfg(config: dict) -> dict:
    cfg = config.get("images")
    if not cfg:
        raise ValueError("config has no 'images' section")
    return cfg


def autoencoder_identity(cfg: dict, dataset: str, seed: int) -> dict:
    return {"model": "glf_autoencoder", "dataset": dataset, "seed": int(seed),
            "autoencoder": cfg["autoencoder"], "n_train": cfg["n_train"]}


def cnn_identity(cfg: dict, dataset: str, seed: int) -> dict:
    return {"model": "small_cnn", "dataset": dataset, "seed": int(seed),
            "classifier_cnn": cfg["classifier_cnn"], "n_train": cfg["n_train"]}


def _train_test(cfg: dict, dataset: str, repo_root):
    """The data folder and the configured train and test subsets of ``dataset``."""
    root = resolve_data_root(cfg["data_root"], repo_root)
    train = load_images(root, dataset, "train", cfg["n_train"], cfg["download"])
    test = load_images(root, dataset, "test", cfg["n_test"], cfg["download"])
    return root, train, test


def run_autoencoder(config: dict, dataset: str, seed: int, out_model, out_latents, out_info,
                    repo_root, device: str = "auto", log=None) -> dict:
    """Train the auto-encoder, encode train and test sets, save model, latents and info."""
    log = log or _default_log
    cfg = _cfg(config)
    dev = resolve_device(device)
    root, (xtr, ytr), (xte, yte) = _train_test(cfg, dataset, repo_root)
    log(f"[{dataset}/seed{seed}] data {root / dataset}: {len(xtr)} train, {len(xte)} test; device {dev}")
    ae, info = train_autoencoder(xtr, cfg["autoencoder"], seed, dev, log)
    t0 = time.perf_counter()
    utr, ute = encode(ae, xtr), encode(ae, xte)
    mean, std = latent_scale(utr, cfg["standardise"])
    info.update({"encode_seconds": time.perf_counter() - t0, "n_train": len(xtr), "n_test": len(xte),
                 "test_reconstruction_mse": reconstruction_mse(ae, xte), "device": str(dev),
                 "threads": torch.get_num_threads()})
    write_npz(out_latents, train_u=utr.astype(np.float32), train_labels=ytr,
              test_u=ute.astype(np.float32), test_labels=yte, mean=mean.astype(np.float32),
              std=std.astype(np.float32))
    save_checkpoint(out_model, ae, autoencoder_identity(cfg, dataset, seed))
    write_json(out_info, info)
    log(f"autoencoder done: {info['seconds']:.1f}s training, test reconstruction error "
        f"{info['test_reconstruction_mse']:.2f} (summed squared pixels per image)")
    return info


def _load_latents(path):
    d = np.load(path)
    mean, std = d["mean"], d["std"]
    return (standardise(d["train_u"], mean, std), d["train_labels"],
            standardise(d["test_u"], mean, std), d["test_labels"], mean, std)


def run_flow(config: dict, dataset: str, seed: int, method: str, latents, out_model, out_info,
             out_log_csv, device: str = "auto", log=None) -> dict:
    log = log or _default_log
    cfg = _cfg(config)
    dev = resolve_device(device)
    xtr, ytr, *_ = _load_latents(latents)
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
    log = log or _default_log
    cfg = _cfg(config)
    dev = resolve_device(device)
    _, (xtr, ytr), (xte, yte) = _train_test(cfg, dataset, repo_root)
    cnn, secs = train_cnn(xtr, ytr, cfg["classifier_cnn"], seed + _CNN_SEED, dev, log)
    acc = float((predict_labels(cnn, xte) == yte).mean())
    save_checkpoint(out_model, cnn, cnn_identity(cfg, dataset, seed))
    info = {"seconds": secs, "test_accuracy": acc, "n_train": len(xtr), "n_test": len(xte),
            "epochs": cfg["classifier_cnn"]["epochs"], "threads": torch.get_num_threads()}
    write_json(out_info, info)
    log(f"cnn done: {secs:.1f}s, real test accuracy {acc:.4f}")
    return info


def flow_accuracy(model, x: np.ndarray, labels: np.ndarray, device, seed: int) -> float:
    """Forward-process accuracy of an image flow on latents ``x`` (argmax of ``model.predict``,
    under ``torch.manual_seed(seed)``); NaN when any score is non-finite."""
    torch.manual_seed(seed)
    xt = torch.from_numpy(np.asarray(x, dtype=np.float32))
    with torch.no_grad():
        scores = torch.cat([model.predict(xt[s].to(device)).cpu() for s in _batches(len(xt), 2000)])
    if not torch.isfinite(scores).all():
        return float("nan")
    return float((scores.argmax(1).numpy() == np.asarray(labels)).mean())


def run_evaluate(config: dict, dataset: str, seed: int, paths: dict, out_metrics, out_samples,
                 device: str = "auto", log=None) -> list[dict]:
    """Tidy metric rows of one (data set, seed) and the generated grids of the figures.

    ``paths``: ``autoencoder, latents, cnn, cnn_info, ours, ours_info, cinn, cinn_info``.
    """
    log = log or _default_log
    cfg = _cfg(config)
    dev = resolve_device(device)
    xtr, ytr, xte, yte, mean, std = _load_latents(paths["latents"])
    ae = AutoEncoder(cfg["autoencoder"]["latent_dim"])
    load_checkpoint(paths["autoencoder"], ae, autoencoder_identity(cfg, dataset, seed))
    ae.to(dev).eval()
    cnn = SmallCNN(N_CLASSES)
    load_checkpoint(paths["cnn"], cnn, cnn_identity(cfg, dataset, seed))
    cnn.to(dev).eval()
    rows = []

    def add(method, metric, value):
        rows.append(metric_row(dataset, method, seed, metric, value))

    cnn_info = json.loads(Path(paths["cnn_info"]).read_text())
    add("cnn", "accuracy", cnn_info["test_accuracy"])
    add("cnn", "train_seconds", cnn_info["seconds"])

    lc, secs = train_latent_classifier(xtr, ytr, cfg["latent_classifier"], seed + _LATCLS_SEED,
                                       dev, log)
    add("latent_classifier", "accuracy", float((predict_labels(lc, xte) == yte).mean()))
    add("latent_classifier", "train_seconds", secs)

    grids = {}
    for k, method in enumerate(FLOWS):
        info = json.loads(Path(paths[f"{method}_info"]).read_text())
        model = build_flow_method(method, cfg[method], xtr.shape[1], seed)
        load_checkpoint(paths[method], model, flow_identity(method, dataset,
                                                            flow_params(cfg[method]), xtr.shape[1]))
        model.to(dev).eval()
        add(method, "train_seconds", info["seconds"])
        add(method, "diverged", float(info["diverged"]))
        acc = flow_accuracy(model, xte, yte, dev, seed + _EVAL_SEED + k)
        add(method, "accuracy", acc)
        g = evaluate_generation(model, ae, cnn, mean, std, cfg["evaluation"], seed + _EVAL_SEED + k)
        for metric in ("generated_accuracy", "style_follows_label", "style_consistency"):
            add(method, metric, g[metric])
        grids[f"{method}_fig5_3"] = g["fig5_3"]
        grids[f"{method}_fig5_4"] = g["fig5_4"]
        log(f"{method}: accuracy {acc:.4f}, generated_accuracy "
            f"{g['generated_accuracy']:.4f}, style_follows_label {g['style_follows_label']:.4f}, "
            f"style_consistency {g['style_consistency']:.4f}")
    write_npz(out_samples, **grids)
    write_json(out_metrics, rows)
    return rows


# ----------------------------------------------------------------------- accuracy against epochs


EPOCH_CURVE_COLUMNS = ["dataset", "seed", "epoch", "train_loss", "test_reconstruction_mse",
                       "latent_classifier_accuracy", "ours_accuracy", "ae_train_seconds",
                       "probe_seconds"]


def run_epoch_curve(config: dict, dataset: str, out_csv, repo_root, device: str = "auto",
                    log=None) -> pd.DataFrame:
    """Test accuracy as the auto-encoder trains longer (``images.epoch_curve``).

    One auto-encoder (the configured architecture and optimiser, seed ``epoch_curve.seed``) is
    trained to the last checkpoint. At each checkpoint the train and test sets are re-encoded and
    standardised as in the main stage; the latent classifier is trained on them and scored on the
    test set, and at the ``flow_at`` checkpoints ours is trained too (its configured epochs) and
    its forward accuracy scored. Up to the main stage's epoch count the auto-encoder is the same
    run as the main stage's one of the same seed (the probes restore the random state).
    """
    log = log or _default_log
    cfg = _cfg(config)
    curve = cfg["epoch_curve"]
    seed = int(curve["seed"])
    checkpoints = sorted(int(c) for c in curve["checkpoints"])
    flow_at = {int(c) for c in curve["flow_at"]}
    dev = resolve_device(device)
    root, (xtr, ytr), (xte, yte) = _train_test(cfg, dataset, repo_root)
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
        lc, _ = train_latent_classifier(ztr, ytr, cfg["latent_classifier"], seed + _LATCLS_SEED,
                                        dev, lambda msg: None)
        lc_acc = float((predict_labels(lc, zte) == yte).mean())
        ours_acc = float("nan")
        if epoch in flow_at:
            flow, _, _ = train_flow("ours", cfg["ours"], ztr, ytr, seed, dev, lambda msg: None)
            flow.to(dev).eval()
            ours_acc = flow_accuracy(flow, zte, yte, dev, seed + _EVAL_SEED)
        row = {"dataset": dataset, "seed": seed, "epoch": epoch,
               "train_loss": None, "test_reconstruction_mse": reconstruction_mse(model, xte),
               "latent_classifier_accuracy": lc_acc, "ours_accuracy": ours_acc,
               "ae_train_seconds": None, "probe_seconds": time.perf_counter() - t0}
        rows.append(row)
        log(f"checkpoint epoch {epoch}: latent classifier {lc_acc:.4f}"
            + (f", ours {ours_acc:.4f}" if epoch in flow_at else "")
            + f"  (probe {row['probe_seconds']:.1f}s)")

    _, info = train_autoencoder(xtr, ae_cfg, seed, dev, log, epoch_callback=probe)
    by_epoch = {r["epoch"]: r for r in info["rows"]}
    for row in rows:
        row["train_loss"] = by_epoch[row["epoch"]]["loss"]
        row["ae_train_seconds"] = by_epoch[row["epoch"]]["seconds"]
    df = pd.DataFrame(rows, columns=EPOCH_CURVE_COLUMNS)
    write_csv(out_csv, df)
    return df
