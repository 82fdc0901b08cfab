"""Stale Snakemake locks.

A run killed by SIGKILL (or a power loss) leaves ``.snakemake/locks/`` behind and the next
``snakemake`` refuses to start until ``snakemake --unlock``. ``clear_stale_locks`` removes those
locks when no other Snakemake process works in the same directory, so that rerunning the same
command simply resumes (with ``rerun-incomplete`` from the default profile redoing the killed jobs).
It is conservative: on any doubt (e.g. /proc unreadable) it leaves the locks alone.
"""
from __future__ import annotations

import os
from pathlib import Path


def _is_snakemake(cmdline: list[str]) -> bool:
    joined = " ".join(cmdline)
    if ".snakemake/scripts/" in joined:  # a job's script, not a Snakemake instance
        return False
    return any(part.endswith("/snakemake") or part == "snakemake" or part.endswith("snakemake/__main__.py")
               for part in cmdline) or "-m snakemake" in joined


def _ancestors(pid: int) -> set[int]:
    out = set()
    while pid > 1 and pid not in out:
        out.add(pid)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            pid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return out


def other_snakemake_running(workdir: Path) -> bool | None:
    """True/False, or None when it cannot be told (no /proc)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    mine = _ancestors(os.getpid())
    workdir = workdir.resolve()
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) in mine:
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            if not _is_snakemake([c for c in cmd if c]):
                continue
            if Path(os.readlink(entry / "cwd")).resolve() == workdir:
                return True
        except OSError:
            continue
    return False


def clear_stale_locks(workdir: str | Path = ".", log=None) -> bool:
    """Remove ``.snakemake/locks/*`` when no other Snakemake runs in ``workdir``; True if removed."""
    workdir = Path(workdir)
    locks = workdir / ".snakemake" / "locks"
    files = [p for p in locks.glob("*") if p.is_file()] if locks.is_dir() else []
    if not files or other_snakemake_running(workdir) is not False:
        return False
    for p in files:
        try:
            p.unlink()
        except OSError:
            return False
    if log:
        log(f"Removed a stale Snakemake lock left by a killed run ({len(files)} file(s) in {locks}); "
            "killed jobs are redone (rerun-incomplete).")
    return True
