"""Memory estimates of a config's sample and batch sizes, checked before any job starts.

Each size key gets an estimate of the bytes its largest arrays take at once in one job. The
estimates count only arrays that are certainly allocated (a lower bound of the true peak), so a
refused value would not have fitted either; they are not a promise that an accepted value fits
next to other jobs. The per-sample costs of a method come from its class
(``train_bytes_per_sample``, ``sample_bytes_per_sample``, ``train_memory_terms``).
"""
from __future__ import annotations

import os
from pathlib import Path

from .errors import ConfigError
from .images.names import N_CLASSES, configured_flows
from .methods import method_class
from .recipes import method_params

_F32, _F64 = 4, 8
MNIST_TRAIN = 60000       # training images of MNIST and of Fashion-MNIST
AE_FLOATS = 12544 + 6272 + 1024 + 1024 + 6272 + 12544 + 784   # auto-encoder activations per image
CNN_FLOATS = 25088 + 6272 + 12544 + 3136 + 128                 # SmallCNN activations per image


def memory_budget_bytes() -> int:
    """Half of this machine's memory (physical memory, or a smaller cgroup limit)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 16 * 2**30
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit.isdigit():
            total = min(total, int(limit))
    except OSError:
        pass
    return total // 2


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"


def _train_bytes(method: str, p: dict) -> tuple[int, str]:
    """Per sample, training: the activations autograd keeps (the method class's estimate)."""
    return method_class(method).train_bytes_per_sample(p)


def _sample_bytes(method: str, p: dict) -> tuple[int, str]:
    """Per sample, no grad: the method class's estimate, and what the samples pass through."""
    return method_class(method).sample_bytes_per_sample(p)


def _task_methods(config: dict, task: dict) -> list[tuple[str, dict]]:
    """(method, params) of every run of the task, ``dim: auto`` resolved with the task's dims."""
    from .methods import resolve_dim
    from .tasks import task_class
    dims = None
    out = []
    for run in task["runs"]:
        for v in run["variants"]:
            p = method_params(config, run["method"], v)
            if p.get("dim") == "auto":
                dims = dims or task_class(task.get("kind", "gmm")).config_dims("tasks", task)
                p = resolve_dim(run["method"], p, *dims)
            out.append((run["method"], p))
    return out


def _method_memory_terms(method: str, params: dict, batch: int) -> list[tuple[int, str]]:
    return method_class(method).train_memory_terms(params, batch)


def _train_estimate(methods):
    """Training step of batch b: flow activations, plus the INN's b x b MMD distance matrices."""
    def est(b):
        best = (0, "")
        for m, p in methods:
            per, what = _train_bytes(m, p)
            parts = [(b * per, f"{m}: {what}")]
            parts += _method_memory_terms(m, p, b)
            total = sum(x for x, _ in parts)
            if total > best[0]:
                best = (total, " + ".join(d for _, d in parts))
        return best
    return est


def _metric_estimate(metrics, methods=()):
    """n samples per label: the quadratic metrics (run one after the other) and, for a model,
    the sampling of n points through the flow."""
    def est(n):
        cands = [(0, "")]
        if "w2" in metrics:
            cands.append((2 * _F64 * n * n, "w2: the n x n cost and transport matrices (float64)"))
        if "mmd" in metrics or "mmd_kruse" in metrics:
            cands.append((3 * _F64 * n * n, "mmd: three n x n kernel matrices (float64)"))
        for m, p in methods:
            per, through = _sample_bytes(m, p)
            cands.append((n * per, f"{m}: sampling n points through {through}"))
        return max(cands)
    return est


def _forward_estimate(methods):
    def est(n):
        return max([(n * _sample_bytes(m, p)[0], f"{m}: one forward pass over all n points")
                    for m, p in methods] + [(0, "")])
    return est


def _size_checks(config: dict):
    """(key path, value, estimate function) for every sample and batch size key that is used."""
    for tname, task in config["tasks"].items():
        methods = _task_methods(config, task)
        at = f"tasks.{tname}"
        yield f"{at}.n_eval", task["n_eval"], _metric_estimate(task["metrics"], methods)
        yield f"{at}.n_test", task["n_test"], _forward_estimate(methods)
        yield f"{at}.train.batch_size", task["train"]["batch_size"], _train_estimate(methods)
        if task["train"]["probe_every"]:
            yield f"{at}.train.probe_n", task["train"]["probe_n"], _metric_estimate(["w2"], methods)
    b = config.get("benchmark") or {}
    if b.get("task") in config["tasks"]:
        methods = config.get("methods", {})
        runs = [(r["method"], method_params(config, r["method"], r["variant"])) for r in b["runs"]
                if r["method"] in methods and r["variant"] in methods[r["method"]]["variants"]]
        for i, bs in enumerate(b["batch_sizes"]):
            yield f"benchmark.batch_sizes.{i}", bs, _train_estimate(runs)
        yield "benchmark.profile_batch", b["profile_batch"], _train_estimate(runs)
        metrics = config["tasks"][b["task"]]["metrics"]
        for i, n in enumerate(b["precision"]["sample_sizes"]):
            yield f"benchmark.precision.sample_sizes.{i}", n, _metric_estimate(metrics)
    im = config.get("images")
    if im and images_run(im):
        n_train = im["n_train"] or MNIST_TRAIN
        latent = im["autoencoder"]["latent_dim"]

        def per_item(floats, clip=None, what=""):
            return lambda n: (_F32 * floats * (min(n, clip) if clip else n), what)

        yield ("images.autoencoder.batch_size", im["autoencoder"]["batch_size"],
               per_item(AE_FLOATS + latent, n_train, "auto-encoder activations of a batch (at most n_train)"))
        yield ("images.classifier_cnn.batch_size", im["classifier_cnn"]["batch_size"],
               per_item(CNN_FLOATS, n_train, "CNN activations of a batch (at most n_train)"))
        yield ("images.latent_classifier.batch_size", im["latent_classifier"]["batch_size"],
               per_item(2 * im["latent_classifier"]["hidden"] + latent, n_train,
                        "latent classifier activations of a batch (at most n_train)"))
        for m in configured_flows(im):
            p = im[m]
            per, what = _train_bytes(m, p)
            yield (f"images.{m}.batch_size", p["batch_size"],
                   per_item(per // _F32, None,
                            f"{m}: {what} (a batch above n_train is drawn with replacement)"))
        ev = im["evaluation"]
        yield ("images.evaluation.n_generated", ev["n_generated"],
               per_item(N_CLASSES * 28 * 28, None, "10 x n decoded images (float32)"))
        rows = max(ev["n_style"], ev["fig_rows"])
        key = "images.evaluation.n_style" if ev["n_style"] >= ev["fig_rows"] else "images.evaluation.fig_rows"
        yield key, rows, per_item(N_CLASSES * 28 * 28 * 2, None, "10 x n style images (float64)")


def _largest_fitting(est, value: int, budget: int) -> int:
    lo, hi = 0, value
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if est(mid)[0] <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _check_sizes(config: dict, budget: int) -> None:
    for key, value, est in _size_checks(config):
        need, what = est(value)
        if need > budget:
            fit = _largest_fitting(est, value, budget)
            raise ConfigError(
                f"config key '{key}': {value} needs about {human_bytes(need)} of memory in one job "
                f"({what}), above the limit of {human_bytes(budget)} (half of this machine's "
                f"memory); at most {fit} fits")




def images_run(images: dict) -> bool:
    """Whether an ``images`` section trains anything (a data set, or the epoch curve's)."""
    return bool(images.get("datasets") or (images.get("epoch_curve") or {}).get("datasets"))
