"""Generation from the image flows and its metrics (paper Sec. 5.2, Fig. 5.3 and Fig. 5.4).

Noise is drawn by the caller and passed to ``method.generate(conditions, noise)``, so Fig. 5.4 can
hold it fixed while the label changes. An independent small CNN trained on the real training
images scores the decoded images: ``generated_accuracy`` (fraction of images decoded from label k
that it assigns to k), ``style_follows_label`` (z fixed, y varied over the ten labels: fraction
assigned to the label they were generated with) and ``style_consistency`` (mean pixel correlation
between images sharing z across labels, minus the same between images of different z and
different labels: > 0 when z carries a shared style).
"""
from __future__ import annotations

import numpy as np
import torch

from .autoencoder import decode
from .classifiers import predict_labels
from .inputs import one_hot, unstandardise
from .models import AutoEncoder
from .names import N_CLASSES


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


@torch.no_grad()
def noise_features(method, x: np.ndarray, labels: np.ndarray, chunk: int = 4096, seed: int = 0) -> np.ndarray:
    """``method.noise_of`` of latents ``x [N, d]`` under their labels, in chunks: ``[N, noise_dim]``."""
    method.eval()
    torch.manual_seed(seed)   # the padding noise of the forward pass
    out = []
    for i in range(0, len(x), chunk):
        xb = torch.as_tensor(x[i:i + chunk], dtype=torch.float32)
        out.append(method.noise_of(xb, one_hot(labels[i:i + chunk], method.y_dim)).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, method.noise_dim), dtype=np.float32)
