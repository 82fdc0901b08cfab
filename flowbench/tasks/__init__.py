"""Tasks: conditional density problems with exact (or reference) posteriors, one module each.

Every module of this package is imported here, so a task registers itself (``@register_task``)
just by being a file of the package; ``make_task`` builds one from its config section by ``kind``.
The protocol every task follows is ``flowbench.tasks.base.Task``.
"""
import importlib
import pkgutil
from pathlib import Path

from .base import REFERENCE_SEED, TASK_KINDS, NonFiniteReference, Task, register_task

for _mod in pkgutil.iter_modules(__path__):
    if _mod.name != "base":
        importlib.import_module(f"{__name__}.{_mod.name}")


def task_class(kind: str):
    if kind not in TASK_KINDS:
        raise ValueError(f"unknown task kind {kind!r}; allowed: {sorted(TASK_KINDS)}")
    return TASK_KINDS[kind]


def make_task(cfg: dict, reference=None):
    """Build a task from its (validated) config section; ``reference``: the path of its reference
    file (for a kind with ``reference_file``; read when first needed)."""
    task = task_class(cfg.get("kind", "gmm")).from_config(cfg)
    if reference is not None:
        task.attach_reference(reference)
    return task


def reference_path(config: dict, task_name: str) -> Path:
    """Where the workflow puts a task's reference file: results/<name>/<task>/reference.npz
    (relative to the working directory, the repository root in a workflow job)."""
    return Path("results") / str(config["name"]) / task_name / "reference.npz"


def load_task(config: dict, task_name: str, reference=None):
    """The task ``task_name`` of a full config, with its reference file attached when its kind has
    one (``reference``, else the workflow's path, ``reference_path``)."""
    tcfg = config["tasks"][task_name]
    if not task_class(tcfg.get("kind", "gmm")).reference_file:
        task = make_task(tcfg)
    else:
        task = make_task(tcfg, reference=reference if reference is not None else reference_path(config, task_name))
    task.name = task_name
    return task


GaussianMixtureTask = TASK_KINDS["gmm"]

__all__ = ["REFERENCE_SEED", "TASK_KINDS", "GaussianMixtureTask", "NonFiniteReference", "Task", "load_task",
           "make_task", "reference_path", "register_task", "task_class"]
