"""The image stage's inputs: its config section, the IDX folders, the configured train and test
subsets of images, the latents file (``latents.npz``) and the per-dimension standardisation of the
latents; with the small helpers its steps share (log, one-hot labels, batch slices).

Beyond the paper (Sec. 5.2): the latents are standardised per dimension (train-set mean and std,
stored in ``latents.npz`` and undone before decoding) so that the flows' fixed noise scales (y~ std
0.1, padding noise 0.05) meet a unit-scale input whatever scale the encoder chose.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..datasets import ensure_dataset, load_split
from .names import N_CLASSES


def default_log(msg):
    """Print ``msg`` to stderr, flushed: the steps' log when none is given."""
    print(msg, file=sys.stderr, flush=True)


def images_config(config: dict) -> dict:
    """The config's ``images`` section; a ValueError when there is none."""
    cfg = config.get("images")
    if not cfg:
        raise ValueError("config has no 'images' section")
    return cfg


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
    ``download`` (``flowbench.datasets.ensure_dataset``).
    """
    folder = ensure_dataset(Path(data_root) / dataset, dataset, download=download)
    images, labels = load_split(folder, dataset, split)
    if n is not None:
        images, labels = images[:n], labels[:n]
    x = torch.from_numpy(images).float().div_(255.0).unsqueeze(1)
    return x, labels.astype(np.int64)


def train_test(cfg: dict, dataset: str, repo_root):
    """The data folder and the configured train and test subsets of ``dataset`` (``cfg``: the
    ``images`` section)."""
    root = resolve_data_root(cfg["data_root"], repo_root)
    train = load_images(root, dataset, "train", cfg["n_train"], cfg["download"])
    test = load_images(root, dataset, "test", cfg["n_test"], cfg["download"])
    return root, train, test


def one_hot(labels, n_classes: int = N_CLASSES) -> torch.Tensor:
    """Labels ``[N]`` -> float32 one-hot ``[N, n_classes]``."""
    return F.one_hot(torch.as_tensor(labels, dtype=torch.long), n_classes).float()


def batches(n: int, batch_size: int):
    """Consecutive slices of at most ``batch_size`` covering ``range(n)``."""
    for i in range(0, n, batch_size):
        yield slice(i, min(i + batch_size, n))


def latent_scale(train_u: np.ndarray, per_dim: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, std)`` that ``standardise`` uses: per-dimension statistics of the training latents
    when ``per_dim`` (the config's ``images.standardise``), else the identity (0, 1)."""
    if per_dim:
        return train_u.mean(0), train_u.std(0) + 1e-6
    return np.zeros(train_u.shape[1], np.float32), np.ones(train_u.shape[1], np.float32)


def standardise(u: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Latents ``u [N, d]`` -> float32 ``(u - mean) / std``."""
    return ((u - mean) / std).astype(np.float32)


def unstandardise(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Inverse of :func:`standardise`: ``x [N, d]`` -> float32 ``x * std + mean``."""
    return (x * std + mean).astype(np.float32)


def load_latents(path):
    """``latents.npz`` -> standardised train latents, train labels, standardised test latents,
    test labels, mean, std."""
    from ..records import read_npz
    d = read_npz(path)
    mean, std = d["mean"], d["std"]
    return (standardise(d["train_u"], mean, std), d["train_labels"],
            standardise(d["test_u"], mean, std), d["test_labels"], mean, std)
