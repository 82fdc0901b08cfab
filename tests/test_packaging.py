"""pyproject.toml (loose ranges), requirements/lock.txt (exact versions with hashes, what CI installs)
and environment.yml (conda, pinned to the lock's versions) declare the same dependencies."""
import re
import tomllib

import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from flowbench.report import LOCK_FILE, canonical_name, read_lock

CONDA_TO_PIP = {"pytorch": "torch"}
NOT_PACKAGES = {"python", "pip"}
# not in the lock: installed first, as the CPU build (requirements/README.md)
INSTALLED_FIRST = "torch"


def _split(req: str):
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", req)
    return canonical_name(m.group(1)), m.group(2).replace(" ", "")


def _pyproject(root) -> dict[str, str]:
    """Direct dependencies (with the test extra): name -> specifier."""
    py = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    return dict(_split(r) for r in py["dependencies"] + py["optional-dependencies"]["test"])


def _conda(root) -> dict[str, str]:
    env = yaml.safe_load((root / "environment.yml").read_text())
    conda = {}
    for d in env["dependencies"]:
        if isinstance(d, str):
            name, spec = _split(d)
            name = CONDA_TO_PIP.get(name, name)
            if name not in NOT_PACKAGES:
                conda[name] = spec
    return conda


def _torch_version(root) -> str:
    """The torch release everything is locked against (requirements/torch-cpu.txt), without the
    local build label: CI installs it as ``torch==<this>``."""
    pins = read_lock(root / "requirements" / "torch-cpu.txt")
    return Version(pins[INSTALLED_FIRST]["version"]).public


def test_lock_pins_everything_with_hashes(root):
    lock = read_lock(root / LOCK_FILE)
    assert len(lock) > 20
    for name, entry in lock.items():
        assert entry["version"], f"{name} is not pinned with == in {LOCK_FILE}"
        assert entry["hashes"] and all(h.startswith("sha256:") and len(h) == 71 for h in entry["hashes"]), name
    # torch comes first and separately; nothing of a CUDA build may creep in
    assert INSTALLED_FIRST not in lock
    cuda = [n for n in lock if n.startswith(("nvidia-", "cuda-")) or n == "triton"]
    assert cuda == []


def test_lock_pins_every_direct_dependency(root):
    lock = read_lock(root / LOCK_FILE)
    for name, spec in _pyproject(root).items():
        if name == INSTALLED_FIRST:
            continue
        assert name in lock, f"{name} (pyproject.toml) is missing from {LOCK_FILE}"
        assert lock[name]["version"] and lock[name]["hashes"], name
        assert Version(lock[name]["version"]) in SpecifierSet(spec), \
            f"{name}: locked {lock[name]['version']} is outside pyproject.toml's {spec}"


def test_torch_pin_agrees(root):
    torch = _torch_version(root)
    assert Version(torch) in SpecifierSet(_pyproject(root)[INSTALLED_FIRST])
    ci = (root / ".ci" / "run").read_text()
    assert re.findall(r"torch==([0-9][^\"'\s]*)", ci) == [torch]
    assert "--require-hashes -r requirements/lock.txt" in ci


def test_environment_pins_the_lock(root):
    lock = read_lock(root / LOCK_FILE)
    conda = _conda(root)
    assert set(conda) == set(_pyproject(root))
    for name, spec in conda.items():
        want = _torch_version(root) if name == INSTALLED_FIRST else lock[name]["version"]
        assert spec == f"=={want}", f"environment.yml: {name}{spec}, the lock has {want}"


def test_mission_packages_declared(root):
    names = set(_pyproject(root))
    assert {"torch", "nflows", "pandas", "seaborn", "snakemake", "pot", "tabulate"} <= names


def test_the_sbi_lock_agrees_with_the_main_lock_and_pins_sbibm_by_hash(root):
    """The second locked step (requirements/README.md): every package it shares with the main lock
    at the main lock's version, every entry hashed, no torch; sbibm by its wheel's hash."""
    main = read_lock(root / LOCK_FILE)
    sbi = read_lock(root / "requirements" / "sbi-lock.txt")
    assert sbi["sbi"]["version"] == "0.27.0" and INSTALLED_FIRST not in sbi
    for name, entry in sbi.items():
        assert entry["hashes"], name
        if name in main:
            assert entry["version"] == main[name]["version"], name
    sbibm = read_lock(root / "requirements" / "sbibm.txt")
    assert sbibm["sbibm"]["version"] == "1.1.0" and len(sbibm["sbibm"]["hashes"]) == 1
    py = tomllib.loads((root / "pyproject.toml").read_text())["project"]["optional-dependencies"]["sbi"]
    assert dict(_split(r) for r in py)["sbi"] == "==0.27.0"
