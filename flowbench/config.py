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
  one job, refused above half of this machine's memory (``memory_budget_bytes``).

Any problem raises ``ConfigError`` with one message that names the key path.
``read_config_file`` reads a YAML/JSON config file and reports a missing file, a syntax error
(with line and column) or a duplicated key as one ``ConfigError`` line.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
from pathlib import Path

import jsonschema
import yaml

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "workflow" / "schemas" / "config.schema.yaml"

N_CLASSES = 10            # MNIST / Fashion-MNIST classes


class ConfigError(ValueError):
    """A bad config key or value; the message names the key."""


def load_schema(path: Path | str = SCHEMA_PATH) -> dict:
    with open(path) as fh:
        return yaml.safe_load(fh)


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
    explicit_benchmark = "benchmark" in config
    schema = _with_task_kinds(schema or load_schema(), config)
    cls = _with_defaults(jsonschema.Draft202012Validator)
    validator = cls(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(list(e.absolute_path)), str(e.message)))
    if errors:
        # the deepest error usually names the offending key best
        best = jsonschema.exceptions.best_match(errors)
        raise ConfigError(_format_error(best, schema))
    _check_runs(config)
    for tname, task in config["tasks"].items():
        _check_task_dims(config, tname, task)
    images = config.get("images")
    if images and _images_run(images):
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


# ---------------------------------------------------------------------------- references


def _with_task_kinds(schema: dict, config: dict) -> dict:
    """The schema with each configured task checked against ``$defs/task_<kind>`` of its kind
    (a missing ``kind`` means ``gmm``, the paper's task); an unknown kind names the known ones."""
    tasks = config.get("tasks")
    if not isinstance(tasks, dict):
        return schema
    from .tasks import TASK_KINDS
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
    from .tasks import task_class
    return task_class(task.get("kind", "gmm")).config_dims(where, task)


def _dim_key(config: dict, method: str, variant: str) -> str:
    var = config["methods"][method]["variants"][variant] or {}
    return f"methods.{method}.variants.{variant}.dim" if "dim" in var else f"methods.{method}.base.dim"


def dim_requirement(method: str, x_dim: int, y_dim: int, x_name: str = "x_dim",
                    y_name: str = "y_dim") -> tuple[int, str]:
    """The least ``dim`` the method's class accepts for these dimensions, and why."""
    from .methods import method_class
    try:
        cls = method_class(method)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return cls.min_dim(x_dim, y_dim, x_name, y_name)


def _check_dim(config, method, variant, tname, x_dim, y_dim, where) -> None:
    dim = method_params(config, method, variant).get("dim")
    if dim is None:
        return  # no flow width to check (the generative baselines: their nets are width x layers)
    need, why = dim_requirement(method, x_dim, y_dim, y_name="y_dim")
    if dim < need:
        raise ConfigError(f"config key '{_dim_key(config, method, variant)}': {method} needs dim >= "
                          f"{need} on task {tname!r} ({why}), got {dim} (variant {variant!r}, {where})")


def _check_task_dims(config: dict, tname: str, task: dict) -> None:
    x_dim, y_dim = task_dims(f"tasks.{tname}", task)
    for i, run in enumerate(task["runs"]):
        for v in run["variants"]:
            _check_dim(config, run["method"], v, tname, x_dim, y_dim, f"tasks.{tname}.runs.{i}")


def _images_run(images: dict) -> bool:
    return bool(images.get("datasets") or (images.get("epoch_curve") or {}).get("datasets"))


def _check_image_dims(images: dict) -> None:
    latent = images["autoencoder"]["latent_dim"]
    curve = images.get("epoch_curve") or {}
    used = ["ours", "cinn"] if images.get("datasets") else []
    if curve.get("datasets") and curve.get("flow_at") and not used:
        used = ["ours"]  # the epoch curve trains ours only
    for method in used:
        dim = images[method]["dim"]
        need, why = dim_requirement(method, latent, N_CLASSES, "images.autoencoder.latent_dim", "classes")
        if dim < need:
            raise ConfigError(f"config key 'images.{method}.dim': {method} needs dim >= {need} "
                              f"({why}), got {dim}")


# --------------------------------------------------------------------------------- sizes
#
# Each size key gets an estimate of the bytes its largest arrays take at once in one job. The
# estimates count only arrays that are certainly allocated (a lower bound of the true peak), so
# a refused value would not have fitted either; they are not a promise that an accepted value
# fits next to other jobs.

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
    from .methods import method_class
    return method_class(method).train_bytes_per_sample(p)


def _sample_bytes(method: str, p: dict) -> tuple[int, str]:
    """Per sample, no grad: the method class's estimate, and what the samples pass through."""
    from .methods import method_class
    return method_class(method).sample_bytes_per_sample(p)


def _task_methods(config: dict, task: dict) -> list[tuple[str, dict]]:
    out = []
    for run in task["runs"]:
        for v in run["variants"]:
            out.append((run["method"], method_params(config, run["method"], v)))
    return out


def _method_memory_terms(method: str, params: dict, batch: int) -> list[tuple[int, str]]:
    from .methods import method_class
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
    if im and _images_run(im):
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
        from .images.names import configured_flows
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


# ------------------------------------------------------------------------------- helpers


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


def load_config_file(path: str | Path) -> dict:
    """Read and validate one config file (ConfigError naming the file or the key)."""
    return validate_config(read_config_file(path))
