"""The method registry's metadata without importing torch: each method's display name, order,
role, image-stage settings and capabilities, read from the class statements of the modules of
``flowbench/methods/`` (the same modules ``flowbench.methods`` imports to register them).

The report, the figure lists of the image stage and the tables need the names, labels and order of
the methods but not the methods themselves; reading the literal class attributes of each module
keeps them torch-free, and the module stays the one place a method is described
(``tests/test_contracts.py`` checks that this view equals the imported registry's).

A class counts when it is decorated with ``@register_method``; an attribute it does not set is
inherited from ``ConditionalMethod`` (``methods/base.py``). Attributes must be literals.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

METHODS_DIR = Path(__file__).resolve().parent / "methods"
_ATTRS = ("name", "label", "long_label", "order", "role", "summary", "image_flow", "image_defaults",
          "image_variant", "fixed_noise", "ensemble_ready", "smoothed_limit")
#: attributes recorded only as whether they are set (not the literal None): their values are built
#: from shared groups, and the view needs to know only whether every image run trains the method
_SET_OR_NONE = ("image_defaults",)
CAPABILITIES = ("log_prob", "predict", "noise_of", "generate")


@dataclass(frozen=True)
class MethodInfo:
    """What the registry says of one method (the class attributes of ``ConditionalMethod``)."""

    name: str
    label: str
    long_label: str | None
    order: int
    role: str
    summary: str
    image_flow: bool
    image_defaults: bool      # whether the method has image-stage defaults
    image_variant: str
    fixed_noise: str
    ensemble_ready: bool      # gives its training step's noise: its seeds can train as one ensemble
    smoothed_limit: tuple | None   # (width parameter, target kind) of its smoothed limit (eps_split)
    capabilities: frozenset

    def has(self, capability: str) -> bool:
        return capability in self.capabilities


def _class_attrs(node: ast.ClassDef) -> tuple[dict, set]:
    attrs, defs = {}, set()
    for stmt in node.body:
        target = value = None
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target, value = stmt.targets[0], stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            target, value = stmt.target, stmt.value
        elif isinstance(stmt, ast.FunctionDef):
            defs.add(stmt.name)
        if isinstance(target, ast.Name) and target.id in _SET_OR_NONE:
            attrs[target.id] = not (isinstance(value, ast.Constant) and value.value is None)
        elif isinstance(target, ast.Name) and target.id in _ATTRS:
            try:
                attrs[target.id] = ast.literal_eval(value)
            except ValueError:
                raise ValueError(f"{node.name}.{target.id} must be a literal (flowbench.registry "
                                 f"reads it without importing the method)") from None
    return attrs, defs


def _registered(node: ast.ClassDef) -> bool:
    return any(isinstance(d, ast.Name) and d.id == "register_method" for d in node.decorator_list)


@lru_cache(maxsize=1)
def method_infos() -> dict[str, MethodInfo]:
    """``{name: MethodInfo}`` of every registered method, in report order."""
    base_tree = ast.parse((METHODS_DIR / "base.py").read_text())
    base = next(n for n in base_tree.body if isinstance(n, ast.ClassDef) and n.name == "ConditionalMethod")
    defaults, _ = _class_attrs(base)
    infos = []
    for path in sorted(METHODS_DIR.glob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef) and _registered(node):
                attrs, defs = _class_attrs(node)
                a = {**defaults, **attrs}
                infos.append(MethodInfo(capabilities=frozenset(c for c in CAPABILITIES if c in defs),
                                        **{k: a[k] for k in _ATTRS}))
    infos.sort(key=lambda i: (i.order, i.name))
    return {i.name: i for i in infos}


def method_order(names=None) -> list[str]:
    """Method names in report order (each method's ``order``; unregistered names last, by name).
    ``names``: the names to sort (default: every registered method)."""
    infos = method_infos()
    names = list(infos) if names is None else names
    return sorted(set(names), key=lambda n: (infos[n].order if n in infos else 10**6, n))


def method_with_role(role: str) -> str | None:
    """The method with this ``role`` (``paper``: the seed paper's method; ``paper_baseline``: the
    four-loss INN it compares with), or None."""
    found = [n for n, i in method_infos().items() if i.role == role]
    if len(found) > 1:
        raise ValueError(f"methods {sorted(found)} all claim role {role!r}")
    return found[0] if found else None


def method_label(name: str, long: bool = False) -> str:
    """The display name of a method (its ``label``, or with ``long`` its ``long_label`` where it
    has one; the name itself if unregistered)."""
    info = method_infos().get(name)
    if info is None:
        return name
    return (info.long_label or info.label) if long else info.label
