"""What a job's result depends on: the part of the config each workflow step reads.

Every rule declares the digest of its slice of the config as a Snakemake ``params`` value, so a
changed hyper-parameter reruns exactly the jobs that read it (Snakemake's default ``params`` rerun
trigger), and nothing else. The training step also writes its digest into ``train_info.json``, and
evaluation refuses a run whose recorded digest differs from the config's: a run trained under
another config (copied in by hand, or kept by ``--rerun-triggers mtime`` after a real change) is
never scored as if it were this config's.

The slices are stable by construction (plain config sections), so a pure refactor of the code does
not move a digest.
"""
from __future__ import annotations

import copy

from .images.names import DEFAULT_FLOWS, FLOWS, PAPER_FLOW
from .recipes import digest, method_params

# task keys that only the evaluation step reads (not training, not sampling)
_EVAL_ONLY_KEYS = ("metrics",)
# task keys that no per-run step reads: which runs exist is the workflow graph's business
_GRAPH_KEYS = ("runs",)


def _task_section(config: dict, task: str, drop=()) -> dict:
    tcfg = copy.deepcopy(config["tasks"][task])
    for k in (*_GRAPH_KEYS, *drop):
        tcfg.pop(k, None)
    return tcfg


def train_identity(config: dict, task: str, method: str, variant: str, seed: int) -> dict:
    """Everything ``train_run`` reads: the task (geometry, sizes, training schedule), the merged
    hyper-parameters of (method, variant), and the seed. Device and threads are not part of it.
    A simulation task's ``reference`` section counts only when the run probes (the probe scores
    against the reference; the model does not depend on it)."""
    tr = config["tasks"][task].get("train") or {}
    drop = _EVAL_ONLY_KEYS + (() if tr.get("probe_every") else ("reference",))
    return {"task": _task_section(config, task, drop=drop), "method": method,
            "variant": variant, "params": method_params(config, method, variant), "seed": int(seed)}


def train_digest(config: dict, task: str, method: str, variant: str, seed: int) -> str:
    return digest(train_identity(config, task, method, variant, seed))


def evaluate_digest(config: dict, task: str) -> str:
    """What ``evaluate_run`` reads besides the run's files: the task (exact posterior, metrics)."""
    return digest(_task_section(config, task))


def floor_digest(config: dict, task: str) -> str:
    """What the noise floor reads: the exact posterior (the task without its training schedule),
    the sample sizes it scores at (n_eval, the probe's size when probing), its metrics and the
    number of repeats, less the keys the task kind's floor does not read (``floor_ignores``).
    Training longer or another batch size does not recompute it."""
    from .tasks import task_class
    ignored = task_class(config["tasks"][task]["kind"]).floor_ignores
    tcfg = _task_section(config, task, drop=("train", *ignored))
    tr = config["tasks"][task].get("train") or {}
    tcfg["probe_n"] = tr.get("probe_n") if tr.get("probe_every") else None
    return digest({"task": tcfg, "floor": config.get("noise_floor")})


def floor_source(config: dict, task: str) -> str:
    """The task whose noise floor ``task`` takes: the first task of the config with the same
    ``floor_digest`` (itself when none comes before it). The sbibm tasks of one sbibm name at
    several budgets compute one floor (``Task.floor_ignores``)."""
    want = floor_digest(config, task)
    for name in config["tasks"]:
        if name == task or floor_digest(config, name) == want:
            return name
    return task


# task keys the reference file of a simulation task does not read (``reference_digest``)
_NOT_REFERENCE_KEYS = ("train", "metrics", "n_test", "n_eval", "calibration")


def reference_digest(config: dict, task: str) -> str:
    """What ``reference_task`` reads: the task's observations (kind, n_obs and the like) and its
    ``reference`` section less ``chunk`` (the kept draws do not depend on the chunk size). Training,
    metrics, sample sizes and calibration do not rebuild the reference."""
    tcfg = _task_section(config, task, drop=_NOT_REFERENCE_KEYS)
    if isinstance(tcfg.get("reference"), dict):
        tcfg["reference"].pop("chunk", None)
    return digest(tcfg)


def task_digest(config: dict, task: str) -> str:
    """What the figures of a task read besides their inputs (task geometry, runs to show)."""
    return digest(copy.deepcopy(config["tasks"][task]))


# the image stage: which sections of ``images`` each step reads (Xiao et al. 2019, Sec. 5.2); each
# image method's training reads its own section (the registry's image methods: ``FLOWS``)
IMAGE_STAGE_KEYS = {
    "autoencoder": ("n_train", "n_test", "autoencoder", "standardise"),
    **{flow: (flow,) for flow in FLOWS},
    "classifier_cnn": ("n_train", "n_test", "classifier_cnn"),
    "evaluate": ("n_train", "n_test", "latent_classifier", "evaluation", *DEFAULT_FLOWS,
                 "autoencoder", "standardise"),
    "figures": ("evaluation",),
    "epoch_curve": ("n_train", "n_test", "autoencoder", "standardise", "latent_classifier",
                    PAPER_FLOW, "epoch_curve"),
}


# keys a stage reads only where the config has them: the opt-in image methods' sections, so a
# config without them keeps its digests
IMAGE_STAGE_OPTIONAL_KEYS = {"evaluate": tuple(f for f in FLOWS if f not in DEFAULT_FLOWS)}


def images_digest(config: dict, stage: str) -> str:
    """Digest of the ``images`` keys that ``stage`` reads (``IMAGE_STAGE_KEYS``, and those of
    ``IMAGE_STAGE_OPTIONAL_KEYS`` that the config has)."""
    if stage not in IMAGE_STAGE_KEYS:
        raise KeyError(f"unknown image stage {stage!r}; known: {sorted(IMAGE_STAGE_KEYS)}")
    icfg = config.get("images") or {}
    keys = {k: icfg.get(k) for k in IMAGE_STAGE_KEYS[stage]}
    keys.update({k: icfg[k] for k in IMAGE_STAGE_OPTIONAL_KEYS.get(stage, ()) if k in icfg})
    return digest(keys)
