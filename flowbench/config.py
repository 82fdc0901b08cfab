"""Config loading and validation.

``validate_config`` checks a config dict against ``workflow/schemas/config.schema.yaml``, fills
the schema's defaults, and then checks what a schema cannot, so that a config either runs as
written or stops the workflow before any job starts:

- references: every run names a configured method and a defined variant (and so does an
  explicit ``benchmark`` section);
- shapes: the mixture's modes (``n`` with ``radius``, or ``centres``), one label per mode with
  labels 0..L-1 all used, and each flow's ``dim`` against the task's x_dim and label count (the
  same requirements the method classes enforce when a training job builds them);
- sizes: every sample and batch size, by an estimate of the memory its largest arrays take in
  one job, refused above half of this machine's memory (``memory_budget_bytes``);
- numbers: every float anywhere in the config is finite. JSON Schema's ``number`` admits NaN and
  infinity (YAML ``.nan``, ``.inf``; ``--config lr=nan``), which would make a run diverge at step
  0 and be recorded as a result (checked before the schema, whose bounds NaN does not fail);
- names: ``name``, each task and each variant name a folder of ``results/<name>/``, so each is
  matched as a whole (a schema ``pattern`` ending in ``$`` also admits a trailing newline) and a
  variant cannot be ``.``/``..``.

Any problem raises ``ConfigError`` with one message that names the key path.
``read_config_file`` reads a YAML/JSON config file and reports a missing file, a syntax error
(with line and column) or a duplicated key as one ``ConfigError`` line.
"""
from __future__ import annotations

import copy
import math
import os
import re
from pathlib import Path

import jsonschema
import yaml

from .errors import ConfigError
from .images.names import DEFAULT_FLOWS, N_CLASSES, PAPER_FLOW
from .memory import _check_sizes, human_bytes, images_run, memory_budget_bytes
from .methods import method_class
from .recipes import check_sources, deep_merge, digest, iter_runs, method_params, task_recipes
from .schema import SCHEMA_PATH, load_schema
from .tasks import TASK_KINDS, task_class

__all__ = ["ConfigError", "SCHEMA_PATH", "deep_merge", "digest", "dim_requirement", "human_bytes",
           "iter_runs", "load_config_file", "load_schema", "memory_budget_bytes", "method_params",
           "read_config_file", "task_dims", "task_recipes", "validate_config"]


# ------------------------------------------------------------------------------ schema pass


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
    if err.validator == "required" and isinstance(err.instance, dict):
        missing = [k for k in err.validator_value if k not in err.instance]
        what = f"missing key '{missing[0]}'" if len(missing) == 1 else f"missing keys {missing}"
        if key == "<top level>":
            return f"config: {what} at the top level; required there: {list(err.validator_value)}"
        return f"config key '{key}': {what}; required there: {list(err.validator_value)}"
    if err.validator == "maximum" and err.schema.get("maximumReason"):
        return (f"config key '{key}': {err.instance!r} is above the maximum of {err.validator_value}: "
                f"{err.schema['maximumReason']}")
    if err.validator == "enum":
        return f"config key '{key}': {err.instance!r} is not allowed; allowed values: {err.validator_value}"
    if err.validator == "oneOf" and err.context:
        enums = [c.validator_value for c in err.context if c.validator == "enum"]
        if enums:
            return (f"config key '{key}': {err.instance!r} is not allowed; allowed values: "
                    f"{enums[0]} or an explicit list")
    return f"config key '{key}': {err.message}"


def validate_config(config: dict, schema: dict | None = None, *, memory_budget: int | None = None) -> dict:
    """Validate (in place, filling defaults) and return the config; raise ConfigError.

    ``memory_budget``: bytes one job may plan to use (default: ``memory_budget_bytes()``).
    """
    if not isinstance(config, dict):
        raise ConfigError(f"config must be a mapping, got {type(config).__name__}")
    _check_finite(config)
    explicit_benchmark = "benchmark" in config
    schema = _with_task_kinds(schema or load_schema(), config)
    cls = _with_defaults(jsonschema.Draft202012Validator)
    validator = cls(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(list(e.absolute_path)), str(e.message)))
    if errors:
        # the deepest error usually names the offending key best
        best = jsonschema.exceptions.best_match(errors)
        raise ConfigError(_format_error(best, schema))
    _check_names(config)
    _check_runs(config)
    check_sources(config)
    for tname, task in config["tasks"].items():
        _check_task_dims(config, tname, task)
        _check_early_stopping(tname, task)
    _check_tuning(config)
    images = config.get("images")
    if images and images_run(images):
        _check_image_dims(images)
    curve = (images or {}).get("epoch_curve") or {}
    extra = sorted(set(curve.get("flow_at", [])) - set(curve.get("checkpoints", [])))
    if curve.get("datasets") and extra:
        raise ConfigError(f"config key 'images.epoch_curve.flow_at': {extra} are not among "
                          f"'images.epoch_curve.checkpoints' {sorted(curve['checkpoints'])}")
    if explicit_benchmark:
        _check_benchmark(config)
    _check_sizes(config, memory_budget_bytes() if memory_budget is None else int(memory_budget))
    return config


# ------------------------------------------------------------------------- numbers, names


def non_finite(obj, path: tuple = ()):
    """(key path, value) of the first float in ``obj`` that is NaN or infinite (mappings and
    lists walked in order; list items by index), or None."""
    if isinstance(obj, float):
        return None if math.isfinite(obj) else (path, obj)
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, (list, tuple)) else ()
    for k, v in items:
        hit = non_finite(v, (*path, str(k)))
        if hit is not None:
            return hit
    return None


def _check_finite(config: dict) -> None:
    hit = non_finite(config)
    if hit is not None:
        path, value = hit
        raise ConfigError(f"config key '{'.'.join(path)}': {value!r} is not a finite number; every "
                          f"number of a config must be finite (YAML .nan, .inf and -.inf are refused)")


# each names a folder: results/<name>/<task>/<method>/<variant>/seed<k>/
_NAME = re.compile(r"[A-Za-z0-9_-]+")
_TASK_NAME = re.compile(r"[A-Za-z0-9_]+")
_VARIANT_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def _check_names(config: dict) -> None:
    if not _NAME.fullmatch(config["name"]):
        raise ConfigError(f"config key 'name': {config['name']!r} may hold only letters, digits, '_' "
                          f"and '-' (it names the folder results/<name>/)")
    for tname in config["tasks"]:
        if not _TASK_NAME.fullmatch(tname):
            raise ConfigError(f"config key 'tasks': task name {tname!r} may hold only letters, digits "
                              f"and '_' (it names the folder results/<name>/<task>/)")
    for m, section in config.get("methods", {}).items():
        for v in section["variants"]:
            if not _VARIANT_NAME.fullmatch(v):
                raise ConfigError(f"config key 'methods.{m}.variants': variant name {v!r} may hold only "
                                  f"letters, digits, '_', '.' and '-', and not start with '.' (it names "
                                  f"the folder results/<name>/<task>/{m}/<variant>/)")


# ---------------------------------------------------------------------------- references


def _with_task_kinds(schema: dict, config: dict) -> dict:
    """The schema with each configured task checked against ``$defs/task_<kind>`` of its kind
    (a missing ``kind`` means ``gmm``, the paper's task); an unknown kind names the known ones."""
    tasks = config.get("tasks")
    if not isinstance(tasks, dict):
        return schema
    kinds = sorted(k for k in TASK_KINDS if f"task_{k}" in schema.get("$defs", {}))
    schema = copy.deepcopy(schema)
    props = {}
    for tname, task in tasks.items():
        if not isinstance(task, dict):
            continue
        kind = task.setdefault("kind", "gmm")
        if kind not in kinds:
            raise ConfigError(f"config key 'tasks.{tname}.kind': {kind!r} is not a task kind; "
                              f"allowed values: {kinds}")
        props[tname] = {"$ref": f"#/$defs/task_{kind}"}
    schema["properties"]["tasks"]["properties"] = props
    return schema


def _check_runs(config: dict) -> None:
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


def _check_benchmark(config: dict) -> None:
    """An explicit ``benchmark`` section must name a configured task, methods and variants."""
    b = config["benchmark"]
    tasks = config["tasks"]
    if b["task"] not in tasks:
        raise ConfigError(f"config key 'benchmark.task': {b['task']!r} is not a configured task; "
                          f"configured: {sorted(tasks)}")
    methods = config.get("methods", {})
    x_dim, n_labels = task_dims(f"tasks.{b['task']}", tasks[b["task"]])
    for i, run in enumerate(b["runs"]):
        m, v = run["method"], run["variant"]
        if m not in methods:
            raise ConfigError(f"config key 'benchmark.runs.{i}.method': method {m!r} is not "
                              f"configured under 'methods'; configured: {sorted(methods)}")
        if v not in methods[m]["variants"]:
            raise ConfigError(f"config key 'benchmark.runs.{i}.variant': unknown variant {v!r} of "
                              f"method {m!r}; allowed: {sorted(methods[m]['variants'])}")
        _check_dim(config, m, v, b["task"], x_dim, n_labels, f"benchmark.runs.{i}")
    bad = sorted(k for k in b["precision"]["labels"] if k >= n_labels)
    if bad:
        raise ConfigError(f"config key 'benchmark.precision.labels': {bad} out of range: task "
                          f"{b['task']!r} has labels 0..{n_labels - 1}")


# -------------------------------------------------------------------------------- shapes


def task_dims(where: str, task: dict) -> tuple[int, int]:
    """(x_dim, y_dim) of a schema-valid task section, from its task class (which raises
    ConfigError naming the key when the section's parts do not fit together)."""
    return task_class(task.get("kind", "gmm")).config_dims(where, task)


def _dim_key(config: dict, method: str, variant: str) -> str:
    var = config["methods"][method]["variants"][variant] or {}
    return f"methods.{method}.variants.{variant}.dim" if "dim" in var else f"methods.{method}.base.dim"


def dim_requirement(method: str, x_dim: int, y_dim: int, x_name: str = "x_dim",
                    y_name: str = "y_dim") -> tuple[int, str]:
    """The least ``dim`` the method's class accepts for these dimensions, and why."""
    try:
        cls = method_class(method)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return cls.min_dim(x_dim, y_dim, x_name, y_name)


def _check_dim(config, method, variant, tname, x_dim, y_dim, where) -> None:
    dim = method_params(config, method, variant).get("dim")
    if dim is None or dim == "auto":
        return  # no flow width to check (the baselines' nets are width x layers), or the least that fits
    need, why = dim_requirement(method, x_dim, y_dim, y_name="y_dim")
    if dim < need:
        raise ConfigError(f"config key '{_dim_key(config, method, variant)}': {method} needs dim >= "
                          f"{need} on task {tname!r} ({why}), got {dim} (variant {variant!r}, {where})")


def _check_early_stopping(tname: str, task: dict) -> None:
    """Early stopping needs validation data the test never uses: the task kind must have it."""
    if not (task.get("train") or {}).get("early_stopping"):
        return
    why = task_class(task.get("kind", "gmm")).validation_requirement(f"tasks.{tname}", task)
    if why:
        raise ConfigError(f"config key 'tasks.{tname}.train.early_stopping': {why}")


def _check_tuning(config: dict) -> None:
    """A tuning study needs a configured task with validation data, a registered method with a
    recipe (a run) on that task, and a validation interval; its random trials are part of its trials."""
    from .methods import METHODS
    from .recipes import task_recipes
    t = config.get("tuning")
    if not t:
        return
    if t["random_trials"] > t["trials"]:
        raise ConfigError(f"config key 'tuning.random_trials': {t['random_trials']} is more than "
                          f"'tuning.trials' {t['trials']} (the random trials are the first of them)")
    for m in t["methods"]:
        if m not in METHODS:
            raise ConfigError(f"config key 'tuning.methods': unknown method {m!r}; allowed: {sorted(METHODS)}")
    for tname in t["tasks"]:
        if tname not in config["tasks"]:
            raise ConfigError(f"config key 'tuning.tasks': {tname!r} is no configured task; "
                              f"configured: {sorted(config['tasks'])}")
        task = config["tasks"][tname]
        if not task_class(task.get("kind", "gmm")).validation_references:
            raise ConfigError(f"config key 'tuning.tasks': task {tname!r} (kind {task.get('kind')!r}) has no "
                              f"references at its validation conditions, which the tuning studies' floor "
                              f"and useless level need")
        why = task_class(task.get("kind", "gmm")).validation_requirement(f"tasks.{tname}", task)
        if why:
            raise ConfigError(f"config key 'tuning.tasks': {tname!r} has no validation data to tune on: {why}")
        if not task["train"].get("early_stopping") and not t.get("validate_every"):
            raise ConfigError(f"config key 'tuning.validate_every': task {tname!r} has no "
                              f"train.early_stopping, so the interval of the validation checks must be set")
        missing = [m for m in t["methods"] if m not in task_recipes(config, tname)]
        if missing:
            raise ConfigError(f"config key 'tuning.methods': {missing} have no run on task {tname!r}, so no "
                              f"recipe there to start from; add them to tasks.{tname}.runs")
    for key in ("publish", "storage"):
        pub = t.get(key)
        if pub and (Path(pub).is_absolute() or ".." in Path(pub).parts or Path(pub).parts[0] == "results"):
            raise ConfigError(f"config key 'tuning.{key}': {pub!r} must be a folder inside the repository, "
                              f"outside results/")


def _check_task_dims(config: dict, tname: str, task: dict) -> None:
    x_dim, y_dim = task_dims(f"tasks.{tname}", task)
    for i, run in enumerate(task["runs"]):
        for v in run["variants"]:
            _check_dim(config, run["method"], v, tname, x_dim, y_dim, f"tasks.{tname}.runs.{i}")


def _check_image_dims(images: dict) -> None:
    latent = images["autoencoder"]["latent_dim"]
    curve = images.get("epoch_curve") or {}
    used = list(DEFAULT_FLOWS) if images.get("datasets") else []
    if curve.get("datasets") and curve.get("flow_at") and not used:
        used = [PAPER_FLOW]  # the epoch curve trains the paper's method only
    for method in used:
        dim = images[method]["dim"]
        need, why = dim_requirement(method, latent, N_CLASSES, "images.autoencoder.latent_dim", "classes")
        if dim < need:
            raise ConfigError(f"config key 'images.{method}.dim': {method} needs dim >= {need} "
                              f"({why}), got {dim}")


# ---------------------------------------------------------------------------------- files


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (plain YAML keeps the last)."""


def _construct_unique_mapping(loader, node, deep=False):
    seen = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=deep)
        try:
            first = seen.get(key)
        except TypeError:  # unhashable key: construct_mapping reports it
            continue
        if first is not None:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} given twice (first at line {first.line + 1}); YAML would "
                f"silently keep the last one", key_node.start_mark)
        seen[key] = key_node.start_mark
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def _yaml_error_line(path, err: yaml.YAMLError) -> str:
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None)
    if mark is None or problem is None:
        return f"config file '{path}': " + " ".join(str(err).split())
    msg = f"config file '{path}', line {mark.line + 1}, column {mark.column + 1}: {problem}"
    ctx, cmark = getattr(err, "context", None), getattr(err, "context_mark", None)
    if ctx:
        where = (f" that starts at line {cmark.line + 1}, column {cmark.column + 1}"
                 if cmark is not None and (cmark.line, cmark.column) != (mark.line, mark.column) else "")
        msg += f" ({ctx}{where})"
    return msg


def read_config_file(path: str | Path) -> dict:
    """Parse one YAML (or JSON) config file into a dict, without validating it.

    A missing or unreadable file, a syntax error (with line and column), a key given twice in
    one mapping, or a top level that is not a mapping raises ConfigError naming the file.
    """
    try:
        with open(path, "rb") as fh:
            data = yaml.load(fh, Loader=_UniqueKeyLoader)
    except FileNotFoundError:
        raise ConfigError(f"config file '{path}' does not exist (working directory: {os.getcwd()})") from None
    except IsADirectoryError:
        raise ConfigError(f"config file '{path}' is a directory, not a file") from None
    except OSError as err:
        raise ConfigError(f"config file '{path}': cannot read it ({err.strerror})") from None
    except yaml.YAMLError as err:
        raise ConfigError(_yaml_error_line(path, err)) from None
    if not isinstance(data, dict):
        got = "nothing (empty file)" if data is None else type(data).__name__
        raise ConfigError(f"config file '{path}': the top level must be a mapping of keys, got {got}")
    return data


def load_config_file(path: str | Path) -> dict:
    """Read and validate one config file (ConfigError naming the file or the key)."""
    return validate_config(read_config_file(path))
