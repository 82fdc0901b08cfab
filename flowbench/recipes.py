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


# ------------------------------------------------------------------------ recipe provenance
#: what the provenance table says of a setting whose source the config does not state
NOT_STATED = "not stated"


def source_keys(entry: str) -> list[str]:
    """The settings one ``sources`` entry covers: ``"betas, adam_eps"`` -> ``["betas", "adam_eps"]``
    (settings with one source share one line of the config)."""
    return [k.strip() for k in str(entry).split(",") if k.strip()]


def _expanded(sources: dict | None) -> dict[str, str]:
    return {k: text for entry, text in (sources or {}).items() for k in source_keys(entry)}


def setting_source(config: dict, method: str, variant: str, key: str) -> str:
    """Where the recipe's setting ``key`` of (method, variant) comes from: the config's
    ``methods.<method>.sources.variants.<variant>`` entry when the variant overrides the key, else
    its ``sources.base`` entry; :data:`NOT_STATED` when the config says nothing."""
    m = config["methods"][method]
    src = m.get("sources") or {}
    if key in (m["variants"].get(variant) or {}):
        return _expanded((src.get("variants") or {}).get(variant)).get(key, NOT_STATED)
    return _expanded(src.get("base")).get(key, NOT_STATED)


def format_value(value) -> str:
    """A setting's value as the provenance table shows it (compact JSON, ``null`` for None)."""
    return json.dumps(value, separators=(", ", ": "), sort_keys=True).replace('"', "")


def recipe_provenance(config: dict) -> list[dict]:
    """One row per (method, setting, value, source) of the recipes the config's tasks run (each
    method's first variant on each task, :func:`task_recipes`), with the tasks and variants that
    share it: ``{"method", "key", "value", "source", "tasks": [...], "variants": [...]}``, methods
    in config order, settings in their declaration order. The table "Recipes and their sources" of
    the README and the report."""
    rows: dict[tuple, dict] = {}
    for method in config.get("methods", {}):
        for task in config.get("tasks", {}):
            variant = task_recipes(config, task).get(method)
            if variant is None:
                continue
            for key, value in method_params(config, method, variant).items():
                row = rows.setdefault((method, key, format_value(value),
                                       setting_source(config, method, variant, key)),
                                      {"tasks": [], "variants": []})
                row["tasks"].append(task)
                if variant not in row["variants"]:
                    row["variants"].append(variant)
    return [{"method": m, "key": k, "value": v, "source": s, **r} for (m, k, v, s), r in rows.items()]


def check_sources(config: dict) -> None:
    """Each ``methods.<m>.sources`` entry must name settings its recipe has: ``base`` entries keys
    of the method's base, ``variants.<v>`` entries a configured variant and keys it overrides
    (a misspelt key would leave its setting silently 'not stated'). Raises ConfigError naming the
    entry."""
    for method, section in config.get("methods", {}).items():
        src = section.get("sources") or {}
        where = f"methods.{method}.sources"
        for entry in src.get("base") or {}:
            bad = [k for k in source_keys(entry) if k not in section["base"]]
            if bad or not source_keys(entry):
                raise ConfigError(f"config key '{where}.base.{entry}': {bad or entry!r} not a setting "
                                  f"of methods.{method}.base; settings: {sorted(section['base'])}")
        for variant, entries in (src.get("variants") or {}).items():
            if variant not in section["variants"]:
                raise ConfigError(f"config key '{where}.variants.{variant}': no variant {variant!r} of "
                                  f"method {method!r}; variants: {sorted(section['variants'])}")
            overrides = section["variants"][variant] or {}
            for entry in entries or {}:
                bad = [k for k in source_keys(entry) if k not in overrides]
                if bad or not source_keys(entry):
                    raise ConfigError(
                        f"config key '{where}.variants.{variant}.{entry}': {bad or entry!r} not "
                        f"overridden by variant {variant!r} (its settings: {sorted(overrides)}); a "
                        f"setting it inherits takes its source from '{where}.base'")
