"""Tasks: conditional density problems with exact (or reference) posteriors, one module each.

Every module of this package is imported here, so a task registers itself (``@register_task``)
just by being a file of the package; ``make_task`` builds one from its config section by ``kind``.
The protocol every task follows is ``flowbench.tasks.base.Task``.
"""
import importlib
import pkgutil

from .base import REFERENCE_SEED, TASK_KINDS, Task, register_task

for _mod in pkgutil.iter_modules(__path__):
    if _mod.name != "base":
        importlib.import_module(f"{__name__}.{_mod.name}")


def task_class(kind: str):
    if kind not in TASK_KINDS:
        raise ValueError(f"unknown task kind {kind!r}; allowed: {sorted(TASK_KINDS)}")
    return TASK_KINDS[kind]


def make_task(cfg: dict):
    """Build a task from its (validated) config section."""
    return task_class(cfg.get("kind", "gmm")).from_config(cfg)


GaussianMixtureTask = TASK_KINDS["gmm"]

__all__ = ["REFERENCE_SEED", "TASK_KINDS", "GaussianMixtureTask", "Task", "make_task", "register_task",
           "task_class"]
