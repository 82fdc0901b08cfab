"""Typed declarations of hyper-parameters and task settings, and the JSON Schema derived from them.

Each method (``flowbench.methods``) and each task kind (``flowbench.tasks``) declares its keys
once, as a mapping of name to :class:`Param` (type, bounds, default, one-line description). The
config schema's method and task sections are generated from these declarations
(``flowbench.schema``), and the code reads its defaults from the same place (:func:`resolved`),
so a default is never written twice.

Two kinds of default:

- ``filled`` (the default): the schema writes the value into a config that omits the key, so it is
  part of the config (and of every digest that reads the section);
- ``filled=False``: the value the code uses when the key is absent, which the schema does not write
  (the paper's flow, the INN and the cINN keep their historical configs, whose digests name only
  the keys they set).

A leaf module: standard library only.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, replace as _replace
from typing import Any

#: marks a parameter without a default
NO_DEFAULT: Any = type("NoDefault", (), {"__repr__": lambda self: "NO_DEFAULT"})()

_TYPES = ("integer", "number", "boolean", "string", "array", "object", "null")


@dataclass(frozen=True)
class Param:
    """One key of a config section.

    ``type``: a JSON type or a tuple of them (``("integer", "null")``); ``doc``: one line;
    ``default``: the value when absent (``NO_DEFAULT``: none); ``filled``: whether the schema writes
    the default into the config; ``required``: must be written in a method's ``base`` (or a task
    section); ``minimum`` ... ``exclusive_maximum``, ``enum``: bounds; ``items``, ``min_items``,
    ``max_items``, ``unique``: an array's items (a ``Param`` or raw JSON Schema); ``fields``: an
    object's keys (nested ``Param``\\ s); ``schema``: raw JSON Schema for what the rest cannot say
    (``oneOf``, a ``$ref``); ``maximum_reason``: quoted when the maximum is exceeded.
    """

    type: str | tuple[str, ...] | None = None
    doc: str = ""
    default: Any = NO_DEFAULT
    filled: bool = True
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    exclusive_maximum: float | None = None
    enum: tuple | None = None
    items: Any = None
    min_items: int | None = None
    max_items: int | None = None
    unique: bool = False
    fields: dict | None = None
    schema: dict | None = None
    maximum_reason: str | None = None

    def __post_init__(self):
        types = (self.type,) if isinstance(self.type, str) else (self.type or ())
        bad = [t for t in types if t not in _TYPES]
        if bad:
            raise ValueError(f"Param: unknown JSON type(s) {bad}; known: {list(_TYPES)}")

    @property
    def has_default(self) -> bool:
        return self.default is not NO_DEFAULT

    def replace(self, **changes) -> Param:
        """A copy with ``changes`` (e.g. another default or doc)."""
        return _replace(self, **changes)

    def json_schema(self, *, defaults: bool = True, required: bool = True) -> dict:
        """The key's JSON Schema. ``defaults``: include ``default`` where filled; ``required``:
        include nested objects' ``required`` lists (a variant, which holds overrides only, has
        neither)."""
        s: dict = {}
        if self.type is not None:
            s["type"] = self.type if isinstance(self.type, str) else list(self.type)
        for key, val in (("minimum", self.minimum), ("maximum", self.maximum),
                         ("exclusiveMinimum", self.exclusive_minimum),
                         ("exclusiveMaximum", self.exclusive_maximum)):
            if val is not None:
                s[key] = val
        if self.enum is not None:
            s.pop("type", None)
            s["enum"] = list(self.enum)
        if self.items is not None:
            s["items"] = (self.items.json_schema(defaults=False, required=required)
                          if isinstance(self.items, Param) else copy.deepcopy(self.items))
        if self.min_items is not None:
            s["minItems"] = self.min_items
        if self.max_items is not None:
            s["maxItems"] = self.max_items
        if self.unique:
            s["uniqueItems"] = True
        if self.fields is not None:
            s.update(object_schema(self.fields, defaults=defaults, required=required))
        if self.schema:
            s.update(copy.deepcopy(self.schema))
        if self.doc:
            s["description"] = self.doc
        if self.maximum_reason:
            s["maximumReason"] = self.maximum_reason
        if defaults and self.filled and self.has_default:
            s["default"] = copy.deepcopy(self.default)
        return s


def object_schema(fields: dict, *, defaults: bool = True, required: bool = True,
                  extra: dict | None = None) -> dict:
    """A closed object of these keys (``additionalProperties: false``)."""
    s: dict = {"type": "object", "additionalProperties": False}
    req = [k for k, p in fields.items() if p.required]
    if required and req:
        s["required"] = req
    s["properties"] = {k: p.json_schema(defaults=defaults, required=required)
                       for k, p in fields.items()}
    if extra:
        s.update(copy.deepcopy(extra))
    return s


def resolved(fields: dict, values: dict | None) -> dict:
    """``values`` with every declared default filled in (filled or not), nested objects too: what
    the code reads. Keys not declared are kept as they are."""
    out = dict(values or {})
    for k, p in fields.items():
        if k not in out or out[k] is None and p.fields is not None:
            if p.has_default:
                out[k] = copy.deepcopy(p.default)
            elif p.fields is not None and any(q.has_default for q in p.fields.values()):
                out[k] = {}
            else:
                continue
        if p.fields is not None and isinstance(out[k], dict):
            out[k] = resolved(p.fields, out[k])
    return out


def defaults_of(fields: dict, *, filled_only: bool = False) -> dict:
    """The declared defaults (``filled_only``: just those the schema writes)."""
    return {k: copy.deepcopy(p.default) for k, p in fields.items()
            if p.has_default and (p.filled or not filled_only)}


def merged(*groups: dict, **overrides: Param) -> dict:
    """Several declarations in order, later keys replacing earlier ones, then ``overrides``."""
    out: dict = {}
    for g in groups:
        out.update(g)
    out.update(overrides)
    return out


def with_defaults(fields: dict, defaults: dict, *, filled: bool = True) -> dict:
    """The declarations with these defaults (e.g. a method's own sizes over a shared group)."""
    unknown = sorted(set(defaults) - set(fields))
    if unknown:
        raise KeyError(f"defaults for undeclared keys {unknown}")
    return {k: (p.replace(default=defaults[k], filled=filled) if k in defaults else p)
            for k, p in fields.items()}


# ------------------------------------------------------------------ tuning search spaces
_SPACE_KINDS = ("float", "int", "choice")


@dataclass(frozen=True)
class Space:
    """One dimension of a method's tuning search space, in Optuna's vocabulary (a trial's
    ``suggest_float``/``suggest_int``/``suggest_categorical``): ``kind`` float or int between
    ``low`` and ``high`` (``log``: on the log scale), or a ``choice`` among ``choices``.
    ``source``: where the range comes from (the paper, the original code, a stated rule), fixed
    before any tuning result is seen."""

    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple | None = None
    source: str = ""

    def __post_init__(self):
        if self.kind not in _SPACE_KINDS:
            raise ValueError(f"Space kind {self.kind!r}: one of {_SPACE_KINDS}")
        if self.kind == "choice":
            if not self.choices:
                raise ValueError("a choice Space needs choices")
        elif self.low is None or self.high is None or not self.low < self.high or (self.log and self.low <= 0):
            raise ValueError(f"Space {self.kind}: needs low < high (and low > 0 on the log scale), got "
                             f"{self.low}, {self.high}")
        if not self.source:
            raise ValueError("a Space states its source")

    def values(self) -> tuple:
        """The ends (or the choices): what a test checks against the key's declared bounds."""
        return tuple(self.choices) if self.kind == "choice" else (self.low, self.high)


def suggest(space: dict, trial) -> dict:
    """One draw from ``space`` ({dotted key: Space}) by an Optuna-like ``trial``:
    {dotted key: value}. ``weights.x`` names the key ``x`` of the object ``weights``."""
    out = {}
    for key, s in space.items():
        if s.kind == "float":
            out[key] = trial.suggest_float(key, s.low, s.high, log=s.log)
        elif s.kind == "int":
            out[key] = trial.suggest_int(key, int(s.low), int(s.high), log=s.log)
        else:
            idx = trial.suggest_categorical(key, list(range(len(s.choices))))
            out[key] = copy.deepcopy(s.choices[idx])
    return out


def apply_draw(params: dict, draw: dict) -> dict:
    """A copy of ``params`` with every dotted key of ``draw`` set (``weights.x`` sets
    ``params["weights"]["x"]``, the object made where absent)."""
    out = copy.deepcopy(params)
    for key, value in draw.items():
        *path, last = key.split(".")
        node = out
        for part in path:
            node = node.setdefault(part, {})
        node[last] = copy.deepcopy(value)
    return out
