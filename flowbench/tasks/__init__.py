"""Tasks: data generators with an exact (or reference) posterior.

A task gives training batches (``sample_batch``), a test set (``test_set``) and exact posterior
samples for a label (``sample_posterior``). New tasks are one new module here plus an entry in
``make_task``.
"""
from .gmm import GaussianMixtureTask


def make_task(cfg: dict):
    """Build a task from its (validated) config section."""
    kind = cfg.get("kind", "gmm")
    if kind == "gmm":
        return GaussianMixtureTask.from_config(cfg)
    raise ValueError(f"unknown task kind {kind!r}; allowed: ['gmm']")


__all__ = ["GaussianMixtureTask", "make_task"]
