"""Provenance: what produced ``results/`` (written as ``results/<name>/provenance.json``).

``collect_provenance`` gathers the config digest, the reproduce command, package versions,
hardware, the git state, the lock file of the environment (its SHA-256 and the installed packages
that differ from it) and the wall times of the Snakemake ``benchmark:`` TSVs into one
JSON-serialisable dict. Only ``hardware`` imports torch (to name the device), inside the call.
"""
from __future__ import annotations

import os
import platform
import re
import subprocess
from pathlib import Path

import pandas as pd

PACKAGES = ("torch", "nflows", "numpy", "pandas", "snakemake", "pot", "seaborn", "tabulate")
_DIST_NAMES = {"pot": "POT"}

_WILDCARD = re.compile(r"\{\s*(\w+)\s*(?:,\s*((?:[^{}]+|\{\d+(?:,\d*)?\})*))?\s*\}")


def pattern_regex(pattern: str) -> re.Pattern:
    """A Snakemake file pattern (``a/{x}/{y,[0-9]+}.tsv``) as an anchored regex."""
    out, pos = [], 0
    for m in _WILDCARD.finditer(pattern):
        out.append(re.escape(pattern[pos:m.start()]))
        out.append(f"(?:{m.group(2)})" if m.group(2) else "[^/]+")
        pos = m.end()
    out.append(re.escape(pattern[pos:]))
    return re.compile("^" + "".join(out) + "$")


def read_benchmarks(root: str | Path, patterns: dict[str, str] | None = None,
                    relative_to: str | Path | None = None) -> list[dict]:
    """One record per benchmark TSV under ``root``: file, rule, s, cpu_time, max_rss (MB).

    ``patterns`` maps rule name -> its ``benchmark:`` pattern (relative to the working directory
    ``relative_to``, default the current one); a file matching none is attributed to its file
    stem. A TSV with repeats gives the mean of its rows.
    """
    root = Path(root)
    rel = Path(relative_to if relative_to is not None else ".").resolve()
    regs = sorted((name, pattern_regex(p)) for name, p in (patterns or {}).items() if p)
    jobs = []
    for f in sorted(root.rglob("*.tsv")) if root.exists() else []:
        try:
            path = f.resolve().relative_to(rel).as_posix()
        except ValueError:
            path = f.as_posix()
        rule = next((name for name, rx in regs if rx.match(path)), f.stem)
        try:
            df = pd.read_csv(f, sep="\t")
        except (pd.errors.EmptyDataError, pd.errors.ParserError):
            continue
        rec = {"file": path, "rule": rule}
        for col in ("s", "cpu_time", "max_rss"):
            vals = pd.to_numeric(df[col], errors="coerce") if col in df else pd.Series([], dtype=float)
            vals = vals.dropna()
            rec[col] = float(vals.mean()) if len(vals) else None
        jobs.append(rec)
    return jobs


def summarise_benchmarks(jobs: list[dict]) -> dict:
    per_rule: dict[str, dict] = {}
    for j in jobs:
        r = per_rule.setdefault(j["rule"], {"jobs": 0, "s": 0.0, "cpu_time": 0.0, "max_rss": None})
        r["jobs"] += 1
        r["s"] += j["s"] or 0.0
        r["cpu_time"] += j["cpu_time"] or 0.0
        if j["max_rss"] is not None:
            r["max_rss"] = max(r["max_rss"] or 0.0, j["max_rss"])
    total = {"jobs": sum(r["jobs"] for r in per_rule.values()),
             "s": sum(r["s"] for r in per_rule.values()),
             "cpu_time": sum(r["cpu_time"] for r in per_rule.values())}
    return {"per_rule": dict(sorted(per_rule.items())), "total": total, "jobs": jobs}


def package_versions() -> dict:
    from importlib import metadata
    out = {}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(_DIST_NAMES.get(p, p))
        except metadata.PackageNotFoundError:
            out[p] = None
    out["python"] = platform.python_version()
    return dict(sorted(out.items()))


def hardware() -> dict:
    hw = {"platform": platform.platform(), "machine": platform.machine(),
          "processor": platform.processor() or None, "cpu_count": os.cpu_count()}
    try:
        import torch
        hw["torch_threads"] = torch.get_num_threads()
        hw["cuda_available"] = bool(torch.cuda.is_available())
        hw["cuda_device"] = torch.cuda.get_device_name(0) if hw["cuda_available"] else None
        hw["cuda_version"] = torch.version.cuda
    except Exception as exc:  # torch missing or broken: say so, do not fail the report
        hw["cuda_available"] = None
        hw["cuda_device"] = None
        hw["torch_error"] = repr(exc)
    try:
        with open("/proc/meminfo") as fh:
            kb = int(next(line for line in fh if line.startswith("MemTotal")).split()[1])
        hw["memory_gb"] = round(kb / 1024 ** 2, 1)
    except (OSError, StopIteration, ValueError):
        hw["memory_gb"] = None
    return hw


def git_state(workdir: str | Path = ".", ignore=()) -> dict:
    """Commit and dirty flag of the working tree (read-only git calls); None outside a repository.

    Untracked files and the paths in ``ignore`` (the report directory the run renders into: a
    committed report is rewritten by every render, which says nothing about the code) do not
    count as changes."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=workdir, capture_output=True,
                                text=True, timeout=20, check=True).stdout.strip()
        excludes = [f":(exclude){str(p).rstrip('/')}" for p in ignore if str(p).strip("./")]
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", *excludes],
                               cwd=workdir, capture_output=True, text=True, timeout=20,
                               check=True).stdout.strip()
        return {"commit": commit, "dirty": bool(dirty)}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def reproduce_command(configfiles=()) -> str:
    cmd = "snakemake --cores all"
    for f in configfiles:
        cmd += f" --configfile {f}"
    return cmd


#: The locked environment (exact versions with hashes; torch is installed before it), relative to
#: the repository root. See requirements/README.md.
LOCK_FILE = "requirements/lock.txt"
_LOCK_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*==\s*([^\s;]+)")


def canonical_name(name: str) -> str:
    """A distribution name in its normal form (PEP 503): ``PyYAML`` and ``pyyaml`` are one."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(path: str | Path) -> dict[str, dict]:
    """A hash-pinned requirements file as {canonical name: {"version", "hashes"}}.

    ``version`` is the ``==`` pin, or None for a requirement pinned otherwise or not at all;
    ``hashes`` lists its ``--hash`` values. Comments and option lines (``--index-url`` ...) are
    skipped; backslash-continued lines are joined.
    """
    entries: dict[str, dict] = {}
    for logical in re.sub(r"\\\n", " ", Path(path).read_text()).splitlines():
        line = re.sub(r"(^|\s)#.*$", "", logical).strip()
        if not line or line.startswith("-"):
            continue
        req = line.split(" --", 1)[0].strip()
        m = _LOCK_PIN.match(req)
        name = m.group(1) if m else (re.match(r"[A-Za-z0-9._-]+", req) or [req])[0]
        entries[canonical_name(name)] = {"version": m.group(2) if m else None,
                                         "hashes": re.findall(r"--hash[= ](\S+)", line)}
    return entries


def lock_provenance(path: str | Path = LOCK_FILE, workdir: str | Path = ".") -> dict:
    """The lock file: its path (as given, relative to ``workdir``), SHA-256 (None when it is
    missing) and each installed package whose version differs from its pin ("differs")."""
    import hashlib
    from importlib import metadata
    f = Path(workdir) / path
    if not f.is_file():
        return {"path": Path(path).as_posix(), "sha256": None, "differs": []}
    differs = []
    for name, entry in sorted(read_lock(f).items()):
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            have = None
        if have != entry["version"]:
            differs.append(f"{name} {entry['version']} locked, {have or 'none'} installed")
    return {"path": Path(path).as_posix(), "sha256": hashlib.sha256(f.read_bytes()).hexdigest(),
            "differs": differs}


def collect_provenance(config: dict, configfiles=(), benchmark_root: str | Path = "results/benchmarks",
                       benchmark_patterns: dict[str, str] | None = None, workdir: str | Path = ".",
                       report_dir: str | Path | None = None, carried: str | Path | None = None) -> dict:
    """Everything the report's "How it was produced" needs, as one JSON-serialisable dict.

    ``lock_file`` names the lock file of the environment (``LOCK_FILE`` under ``workdir``), its
    SHA-256 and the installed packages that differ from it. Changes under ``report_dir`` (what the
    run renders) do not make the tree dirty. ``carried``: the ledger of the runs restored from
    earlier machines (``results/<name>/carried.json``, flowbench.carry), {run: commit}, when any."""
    import json

    from ..config import digest
    jobs = read_benchmarks(benchmark_root, benchmark_patterns, relative_to=workdir)
    configfiles = [str(f) for f in configfiles]
    return {
        "config_digest": digest(config),
        "config": config,
        "configfiles": configfiles,
        "command": reproduce_command(configfiles),
        "packages": package_versions(),
        "hardware": hardware(),
        "git": git_state(workdir, ignore=[report_dir] if report_dir else ()),
        "lock_file": lock_provenance(LOCK_FILE, workdir),
        "benchmarks": summarise_benchmarks(jobs),
        "carried": json.loads(Path(carried).read_text()) if carried and Path(carried).is_file() else {},
    }
