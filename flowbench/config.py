"""Config loading and validation.

``validate_config`` checks a config dict against ``workflow/schemas/config.schema.yaml``, fills
the schema's defaults, and checks what a schema cannot (every run names a defined variant). Any
problem raises ``ConfigError`` with one message that names the key and the allowed values, so the
workflow stops before any job starts.
"""
from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import jsonschema
import yaml

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "workflow" / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """A bad config key or value; the message names the key."""


def load_schema(path: Path | str = SCHEMA_PATH) -> dict:
    with open(path) as fh:
        return yaml.safe_load(fh)


def _with_defaults(validator_cls):
    validate_props = validator_cls.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for prop, sub in properties.items():
                if isinstance(sub, dict) and "default" in sub:
                    instance.setdefault(prop, copy.deepcopy(sub["default"]))
        yield from validate_props(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_cls, {"properties": set_defaults})


def _key_path(err) -> str:
    parts = [str(p) for p in err.absolute_path]
    return ".".join(parts) if parts else "<top level>"


def _allowed_keys(schema: dict, root: dict) -> list[str]:
    """Keys a (possibly $ref/allOf) object schema allows, for the error message."""
    keys: set[str] = set()
    stack = [schema]
    while stack:
        s = stack.pop()
        if not isinstance(s, dict):
            continue
        if "$ref" in s:
            name = s["$ref"].split("/")[-1]
            stack.append(root["$defs"][name])
        keys.update((s.get("properties") or {}).keys())
        stack.extend(s.get("allOf", []))
    return sorted(keys)


def _format_error(err, root: dict) -> str:
    key = _key_path(err)
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        allowed = _allowed_keys(err.schema, root)
        extra = sorted(set(err.instance) - set(allowed)) if allowed else []
        where = f"under '{key}'" if key != "<top level>" else "at the top level"
        if extra:
            return f"config: unknown key(s) {extra} {where}; allowed keys: {allowed}"
    if err.validator == "enum":
        return f"config key '{key}': {err.instance!r} is not allowed; allowed values: {err.validator_value}"
    if err.validator == "oneOf" and err.context:
        enums = [c.validator_value for c in err.context if c.validator == "enum"]
        if enums:
            return (f"config key '{key}': {err.instance!r} is not allowed; allowed values: "
                    f"{enums[0]} or an explicit list")
    return f"config key '{key}': {err.message}"


def validate_config(config: dict, schema: dict | None = None) -> dict:
    """Validate (in place, filling defaults) and return the config; raise ConfigError."""
    if not isinstance(config, dict):
        raise ConfigError(f"config must be a mapping, got {type(config).__name__}")
    schema = schema or load_schema()
    cls = _with_defaults(jsonschema.Draft202012Validator)
    validator = cls(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(list(e.absolute_path)), str(e.message)))
    if errors:
        # the deepest error usually names the offending key best
        best = jsonschema.exceptions.best_match(errors)
        raise ConfigError(_format_error(best, schema))
    methods = config.get("methods", {})
    for tname, task in config["tasks"].items():
        for i, run in enumerate(task["runs"]):
            m = run["method"]
            if m not in methods:
                raise ConfigError(f"config key 'tasks.{tname}.runs.{i}.method': method {m!r} is not "
                                  f"configured under 'methods'; configured: {sorted(methods)}")
            known = sorted(methods[m]["variants"])
            for v in run["variants"]:
                if v not in known:
                    raise ConfigError(f"config key 'tasks.{tname}.runs.{i}.variants': unknown variant "
                                      f"{v!r} of method {m!r}; allowed: {known}")
    curve = (config.get("images") or {}).get("epoch_curve") or {}
    extra = sorted(set(curve.get("flow_at", [])) - set(curve.get("checkpoints", [])))
    if curve.get("datasets") and extra:
        raise ConfigError(f"config key 'images.epoch_curve.flow_at': {extra} are not among "
                          f"'images.epoch_curve.checkpoints' {sorted(curve['checkpoints'])}")
    return config


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


def digest(obj) -> str:
    """Short SHA-256 of a JSON-serialisable object (config digests, checkpoint identity)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def load_config_file(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist")
    with open(path) as fh:
        cfg = yaml.safe_load(fh)
    return validate_config(cfg)
