"""What a config says about its runs: the merged hyper-parameters of a (method, variant), the runs
of a task, each method's recipe, and the digest of a config slice.

A leaf module (standard library only), so that the tasks, the plots and the workflow can read the
runs without importing the validator.
"""
from __future__ import annotations

import copy
import hashlib
import json

from .errors import ConfigError


def deep_merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in override.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def method_params(config: dict, method: str, variant: str) -> dict:
    """The full hyper-parameters of (method, variant): base merged with the variant's overrides."""
    try:
        m = config["methods"][method]
    except KeyError:
        raise ConfigError(f"unknown method {method!r}; configured: {sorted(config['methods'])}") from None
    if variant not in m["variants"]:
        raise ConfigError(f"unknown variant {variant!r} of method {method!r}; allowed: {sorted(m['variants'])}")
    return deep_merge(m["base"], m["variants"][variant] or {})


def iter_runs(config: dict, task: str | None = None):
    """Yield (task, method, variant, seed) for every configured run, in config order, no repeats."""
    seen = set()
    for tname, t in config["tasks"].items():
        if task is not None and tname != task:
            continue
        for run in t["runs"]:
            for v in run["variants"]:
                for s in run["seeds"]:
                    key = (tname, run["method"], v, int(s))
                    if key not in seen:
                        seen.add(key)
                        yield key


def task_recipes(config: dict, task: str) -> dict[str, str]:
    """{method: its recipe on ``task``}: the first variant the task's runs list for each method
    (what the report ranks and the figures single out)."""
    recipes: dict[str, str] = {}
    for _, method, variant, _ in iter_runs(config, task):
        recipes.setdefault(method, variant)
    return recipes


def digest(obj) -> str:
    """Short SHA-256 of a JSON-serialisable object (config digests, checkpoint identity)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def first_seed(config: dict, task: str, method: str, variant: str) -> int | None:
    """The smallest seed of (method, variant) on ``task`` (None when the config does not run it):
    the seed a figure draws."""
    seeds = sorted(s for (_, m, v, s) in iter_runs(config, task) if m == method and v == variant)
    return seeds[0] if seeds else None
