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


def _top_level_imports(path: Path) -> set[str]:
    """flowbench modules imported at module level (not inside functions: those are lazy)."""
    tree = ast.parse(path.read_text())
    mod = _module_name(path)
    pkg = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
    out = set()
    for node in tree.body:
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


def test_no_import_cycle_between_library_modules():
    files = {_module_name(p): p for p in PKG.rglob("*.py")}
    graph = {m: {d for d in _top_level_imports(p) if d in files and d != m} for m, p in files.items()}
    # a package's __init__ importing its own submodules is how registries fill; not a cycle
    for m in graph:
        graph[m] = {d for d in graph[m] if not (files[m].name == "__init__.py" and d.startswith(m + "."))}
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
    assert not cycles, cycles


def test_no_generic_top_level_packages():
    py = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = py["tool"]["setuptools"]["packages"]["find"]["include"]
    assert include == ["flowbench*"]
    for folder in ("ours", "baselines"):
        assert (ROOT / folder / "README.md").exists()
        assert not list((ROOT / folder).glob("*.py"))


def test_no_method_name_dispatch_outside_the_registry():
    pattern = re.compile(r"""(\.name|\bmethod|\bm)\s*==\s*["'](ours|inn|cinn)["']""")
    hits = [f"{p.relative_to(ROOT)}:{i + 1}: {line.strip()}"
            for p in PKG.rglob("*.py") if "methods" not in p.relative_to(PKG).parts
            for i, line in enumerate(p.read_text().splitlines()) if pattern.search(line)]
    assert not hits, hits


def test_only_the_report_package_renders_markdown():
    hits = [str(p.relative_to(ROOT)) for p in PKG.rglob("*.py")
            if "report" not in p.relative_to(PKG).parts and re.search(r"^\s*(from|import) tabulate", p.read_text(), re.M)]
    assert not hits, hits
