"""The project's rooms stay separate: no import cycles between library modules, no generic
top-level package names, no method-name dispatch outside the method registry."""
import ast
import re
import tomllib
from pathlib import Path

from tests.conftest import ROOT

PKG = ROOT / "flowbench"


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(source: str, mod: str, is_package: bool) -> set[str]:
    """flowbench modules that ``source`` (module ``mod``) imports, at module level or inside a
    function: a lazy import still runs the imported module, so it can still close a loop."""
    tree = ast.parse(source)
    pkg = mod if is_package else mod.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("flowbench")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")
                base = base[: len(base) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            if name.startswith("flowbench"):
                out.add(name)
                out |= {f"{name}.{a.name}" for a in node.names}
    return out


def import_cycles(sources: dict[str, tuple[str, bool]]) -> list[list[str]]:
    """Import cycles among modules ``{name: (source, is_package)}``. A registry package whose
    ``__init__`` imports every module of its folder (``pkgutil.iter_modules``) imports each of
    them; a module importing from its own enclosing package (``from . import sibling``) does not
    count as importing the package again."""
    graph = {}
    for m, (src, is_pkg) in sources.items():
        deps = {d for d in _imports(src, m, is_pkg) if d in sources and d != m and d != "flowbench"}
        if is_pkg and "iter_modules" in src:
            deps |= {d for d in sources if d.rsplit(".", 1)[0] == m}
        # ``from . import sibling`` names the package being initialised: not an edge back to it
        graph[m] = {d for d in deps if not m.startswith(d + ".")}
    seen, stack, cycles = set(), [], []

    def visit(m):
        if m in stack:
            cycles.append(stack[stack.index(m):] + [m])
            return
        if m in seen:
            return
        seen.add(m)
        stack.append(m)
        for d in sorted(graph[m]):
            visit(d)
        stack.pop()

    for m in sorted(graph):
        visit(m)
    return cycles


def _library_sources() -> dict[str, tuple[str, bool]]:
    return {_module_name(p): (p.read_text(), p.name == "__init__.py") for p in PKG.rglob("*.py")}


def test_no_import_cycle_between_library_modules():
    assert not import_cycles(_library_sources())


def test_the_cycle_check_sees_a_function_level_loop():
    """A loop closed by an import inside a function (config -> tasks -> config) is found."""
    planted = {"flowbench.cfg": ("def check():\n    from .tasks import KINDS\n", False),
               "flowbench.tasks": ("from ..cfg import check\nKINDS = {}\n", True)}
    assert import_cycles(planted) == [["flowbench.cfg", "flowbench.tasks", "flowbench.cfg"]]
    # and the real tree with one planted lazy import back into the config module
    sources = _library_sources()
    src, is_pkg = sources["flowbench.tasks.gmm"]
    sources["flowbench.tasks.gmm"] = (src + "\n\ndef _late():\n    from ..config import digest\n", is_pkg)
    assert any("flowbench.config" in c and "flowbench.tasks.gmm" in c for c in import_cycles(sources))


def test_no_generic_top_level_packages():
    py = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = py["tool"]["setuptools"]["packages"]["find"]["include"]
    assert include == ["flowbench*"]
    for folder in ("ours", "baselines"):
        assert (ROOT / folder / "README.md").exists()
        assert not list((ROOT / folder).glob("*.py"))


def _registered() -> tuple[set[str], set[str]]:
    from flowbench.methods import METHODS
    from flowbench.tasks import TASK_KINDS
    return set(METHODS), set(TASK_KINDS)


def _allowed(rel: Path) -> bool:
    """Where names may be written: the method registry's own package, and the claim specs (the
    paper's claims name the runs they compare, as data)."""
    return rel.parts[0] == "methods" or "claims" in rel.parts[-1] or "claims" in rel.parts


def name_dispatch(source: str, names: set[str]) -> list[int]:
    """Lines that compare a string with a registered name (``==``, ``!=``, ``in``) or test a
    prefix or suffix against one (``startswith``, ``endswith``)."""
    hits = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            consts = [n for n in (node.left, *node.comparators)
                      if isinstance(n, ast.Constant) and isinstance(n.value, str)]
            if any(c.value in names for c in consts):
                hits.append(node.lineno)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr in ("startswith", "endswith") and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and any(node.args[0].value.startswith(n) or n.startswith(node.args[0].value)
                      for n in names if node.args[0].value)):
            hits.append(node.lineno)
    return hits


def name_lists(source: str, names: set[str]) -> list[int]:
    """Lines of a tuple, list, set or dict (keys) literal that holds two or more registered names."""
    hits = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            elts = node.elts
        elif isinstance(node, ast.Dict):
            elts = [k for k in node.keys if k is not None]
        else:
            continue
        found = {e.value for e in elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
        if len(found & names) >= 2:
            hits.append(node.lineno)
    return hits


def _library_hits(check) -> list[str]:
    methods, kinds = _registered()
    out = []
    for p in [*PKG.rglob("*.py"), *(ROOT / "workflow").rglob("*.py")]:
        rel = p.relative_to(PKG if p.is_relative_to(PKG) else ROOT)
        if _allowed(rel):
            continue
        src = p.read_text()
        out += [f"{p.relative_to(ROOT)}:{i}" for i in check(src, methods)]
        if check is name_lists:
            out += [f"{p.relative_to(ROOT)}:{i} (task kinds)" for i in check(src, kinds)]
    return out


def test_no_method_name_dispatch_outside_the_registry():
    assert not _library_hits(name_dispatch)


def test_the_dispatch_check_sees_comparisons_and_prefix_tests():
    names = {"ours", "inn"}
    assert name_dispatch('ok = [c for c in cols if c.startswith("ours")]\n', names) == [1]
    assert name_dispatch('if method == "inn":\n    pass\n', names) == [1]
    assert name_dispatch('if "ours" != m:\n    pass\n', names) == [1]
    assert name_dispatch('if m == "cnn" or x.startswith("fig"):\n    pass\n', names) == []


def test_methods_and_task_kinds_are_listed_only_in_their_registries():
    """A new method or task kind is one module: no list of names elsewhere in the library or the
    workflow (the schema's sections and enums are generated), none in the static schema."""
    assert not _library_hits(name_lists)
    methods, kinds = _registered()
    schema = (ROOT / "workflow" / "schemas" / "config.schema.yaml").read_text()
    listed = [n for n in sorted(methods | kinds) if re.search(rf"\benum:\s*\[[^\]]*\b{n}\b", schema)]
    assert not listed, listed
    assert name_lists('ORDER = ("ours", "inn")\n', methods) == [1]
    assert name_lists('KEYS = {"ours": 1, "x": 2}\n', methods) == []


def test_only_the_report_package_renders_markdown():
    hits = [str(p.relative_to(ROOT)) for p in PKG.rglob("*.py")
            if "report" not in p.relative_to(PKG).parts and re.search(r"^\s*(from|import) tabulate", p.read_text(), re.M)]
    assert not hits, hits
