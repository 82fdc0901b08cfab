"""Methods: the paper's flow and its baselines, one module each, behind one interface
(``flowbench.methods.base.ConditionalMethod``).

- ``ours``: the single-likelihood conditional flow of Xiao, Yan & Amit (2019), Eq. (5), (6)
- ``inn``: the four-loss MMD-trained INN of Ardizzone et al. (2018)
- ``cinn``: the conditional INN of Ardizzone et al. (2019)
- ``cvae``: the conditional VAE of Sohn et al. (2015), one ELBO
- ``cgan``: a conditional GAN (Mirza & Osindero 2014) trained as a WGAN-GP (Gulrajani et al. 2017)
- ``cfm``: conditional flow matching (Lipman et al. 2023), sampled with torchdiffeq's ODE solvers

Every module of this package is imported here, so a method registers itself (``@register_method``)
by being a file of the package; ``make_method`` builds one by its config name. Nothing outside
this registry dispatches on a method's name.
"""
import importlib
import pkgutil

from ..registry import method_label, method_order, method_with_role
from .base import METHODS, ConditionalMethod, register_method, std_normal_log_prob

for _mod in pkgutil.iter_modules(__path__):
    if _mod.name not in ("base", "schedules"):
        importlib.import_module(f"{__name__}.{_mod.name}")


def method_class(name: str):
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; allowed: {sorted(METHODS)}")
    return METHODS[name]


def make_method(name: str, x_dim: int, y_dim: int, params: dict, total_steps: int = 1,
                seed: int = 0, label_prior=None, conditions: str = "label") -> ConditionalMethod:
    """``conditions``: the task's kind of condition, ``label`` (one-hot y, prior ``label_prior``)
    or ``continuous``. A ``dim`` of ``auto`` becomes the least the dimensions allow
    (``resolve_dim``)."""
    return method_class(name)(x_dim=x_dim, y_dim=y_dim, params=resolve_dim(name, params, x_dim, y_dim),
                              total_steps=total_steps, seed=seed, label_prior=label_prior, conditions=conditions)


def resolve_dim(name: str, params: dict, x_dim: int, y_dim: int) -> dict:
    """``params`` with ``dim: auto`` replaced by the method's least dim for (x_dim, y_dim)
    (``ConditionalMethod.min_dim``, at least 2); unchanged otherwise."""
    if params.get("dim") != "auto":
        return params
    return {**params, "dim": max(int(method_class(name).min_dim(x_dim, y_dim)[0]), 2)}


def search_space_rows() -> list[list[str]]:
    """[method, key, range, source] for every key of every registered method's ``SEARCH_SPACE``,
    in report order: README's table of the tuning spaces."""
    def describe(s):
        if s.kind == "choice":
            return "one of " + ", ".join(str(c).replace(" ", "") for c in s.choices)
        lo, hi = (int(s.low), int(s.high)) if s.kind == "int" else (s.low, s.high)
        return f"{s.kind} {lo:g} to {hi:g}" + (", log scale" if s.log else "")
    return [[name, key, describe(s), s.source] for name in method_order()
            for key, s in METHODS[name].SEARCH_SPACE.items()]


__all__ = ["METHODS", "ConditionalMethod", "make_method", "method_class", "method_label", "resolve_dim",
           "search_space_rows",
           "method_order", "method_with_role", "register_method", "std_normal_log_prob"]
