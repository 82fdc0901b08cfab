"""environment.yml (conda) and pyproject.toml (pip) declare the same dependencies."""
import re
import tomllib

import yaml

CONDA_TO_PIP = {"pytorch": "torch"}
NOT_PACKAGES = {"python", "pip"}


def _split(req: str):
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", req)
    return m.group(1).lower().replace("_", "-"), m.group(2).replace(" ", "")


def test_environment_and_pyproject_agree(root):
    py = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    pip_deps = dict(_split(r) for r in py["dependencies"] + py["optional-dependencies"]["test"])
    env = yaml.safe_load((root / "environment.yml").read_text())
    conda = {}
    for d in env["dependencies"]:
        if isinstance(d, str):
            name, spec = _split(d)
            name = CONDA_TO_PIP.get(name, name)
            if name not in NOT_PACKAGES:
                conda[name] = spec
    assert conda == pip_deps


def test_mission_packages_declared(root):
    py = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    names = {_split(r)[0] for r in py["dependencies"]}
    assert {"torch", "nflows", "pandas", "seaborn", "snakemake", "pot", "tabulate"} <= names
