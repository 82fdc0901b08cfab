"""The config schema: the static part (``workflow/schemas/config.schema.yaml``) plus the sections
generated from the registries.

Each registered method (``flowbench.methods.METHODS``) gets ``methods.<name>`` (``base``: its
declared keys with their filled defaults and required keys; each variant: the same keys, no
defaults, nothing required, so a variant holds only its overrides) and, when it can train on the
image stage's latents, ``images.<name>`` (its keys less the task budget, plus the image training
keys). Each task kind (``flowbench.tasks.TASK_KINDS``) gets ``$defs/task_<kind>``. The method
names of ``$defs/task_runs`` and ``benchmark.runs`` are the registry's, in report order.

Nothing here lists a method or task by name: a new method or task kind is one module of its
package, and its section appears here.
"""
from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path

import yaml

from .methods import METHODS
from .methods.base import BUDGET_PARAMS, IMAGE_TRAINING_PARAMS
from .params import object_schema, with_defaults
from .tasks import TASK_KINDS

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "workflow" / "schemas" / "config.schema.yaml"


def method_names() -> list[str]:
    """The registered methods in report order (``order``, then name)."""
    return sorted(METHODS, key=lambda n: (METHODS[n].order, n))


def task_kinds() -> list[str]:
    """The registered task kinds, sorted."""
    return sorted(TASK_KINDS)


#: ``methods.<name>.sources``: where each setting of the recipes comes from (text per setting, or
#: per comma-separated settings sharing one source), for the base and for each variant's overrides
SOURCES_SCHEMA = {
    "type": "object", "additionalProperties": False,
    "description": "the source of each recipe setting (the paper, the original code, a library's "
                   "default, a stated rule): README 'Recipes and their sources'",
    "properties": {
        "base": {"type": "object", "additionalProperties": {"type": "string", "minLength": 1}},
        "variants": {"type": "object", "additionalProperties": {
            "type": "object", "additionalProperties": {"type": "string", "minLength": 1}}},
    },
}


def method_section(name: str) -> dict:
    """``methods.<name>``: a base with every declared key and variants of overrides."""
    cls = METHODS[name]
    return {
        "type": "object", "additionalProperties": False, "required": ["base", "variants"],
        "description": cls.summary or name,
        "properties": {
            "base": object_schema(cls.PARAMS, defaults=True, required=True),
            "variants": {"type": "object", "minProperties": 1,
                         "additionalProperties": object_schema(cls.PARAMS, defaults=False,
                                                               required=False)},
            "sources": SOURCES_SCHEMA,
        },
    }


def image_section(name: str) -> dict:
    """``images.<name>``: the method's keys without the task budget, plus epochs, batch size and
    log interval. A method with ``image_defaults`` is trained by every image run (its section
    defaults to ``{}``); the others only where their section is written."""
    cls = METHODS[name]
    fields = {k: p for k, p in cls.PARAMS.items() if k not in BUDGET_PARAMS}
    if cls.image_defaults is None:
        fields = {k: p.replace(filled=False) for k, p in fields.items()}
        fields = {**fields, **IMAGE_TRAINING_PARAMS}
        s = object_schema(fields, defaults=True, required=False)
        s["description"] = f"{cls.summary} on the latents; present: trained and evaluated"
        return s
    fields = {**fields, **IMAGE_TRAINING_PARAMS}
    fields = with_defaults({k: p.replace(required=False) for k, p in fields.items()},
                           cls.image_defaults)
    s = object_schema(fields, defaults=True, required=False)
    s["default"] = {}
    s["description"] = f"{cls.summary} on the latents (every image run trains it)"
    return s


def task_section(kind: str) -> dict:
    """``$defs/task_<kind>``: the kind's declared keys, ``kind`` fixed to its name."""
    cls = TASK_KINDS[kind]
    s = object_schema(cls.PARAMS, defaults=True, required=True)
    s["properties"]["kind"] = {"const": kind}
    if cls.description:
        s["description"] = cls.description
    return s


@lru_cache(maxsize=4)
def _build(path: str) -> dict:
    with open(path) as fh:
        schema = yaml.safe_load(fh)
    names = method_names()
    schema["properties"]["methods"]["properties"] = {n: method_section(n) for n in names}
    schema["properties"]["benchmark"]["properties"]["runs"]["items"]["properties"]["method"] = {
        "enum": names}
    defs = schema["$defs"]
    defs["task_runs"]["items"]["properties"]["method"] = {"enum": names}
    for kind in task_kinds():
        defs[f"task_{kind}"] = task_section(kind)
    images = defs["images"]["properties"]
    for n in names:
        if METHODS[n].image_flow:
            images[n] = image_section(n)
    return schema


def load_schema(path: Path | str = SCHEMA_PATH) -> dict:
    """The full config schema (a fresh copy): the static file with the generated sections."""
    return copy.deepcopy(_build(str(path)))
