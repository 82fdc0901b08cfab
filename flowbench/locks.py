"""Stale Snakemake locks.

A run killed by SIGKILL (or a power loss) leaves ``.snakemake/locks/`` behind and the next
``snakemake`` refuses to start until ``snakemake --unlock``. ``clear_stale_locks`` removes those
locks when no other Snakemake process works in the same directory, so that rerunning the same
command simply resumes (with ``rerun-incomplete`` from the default profile redoing the killed jobs).

A lock is stale only when neither a Snakemake process nor one of its jobs is alive: ``kill -9`` of
the Snakemake process alone leaves its running jobs (each a ``python .snakemake/scripts/...``
process) orphaned but alive, still writing their outputs; removing the lock then would let a rerun
start the same jobs beside them. Those locks are kept and the user is told which jobs still run.
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


def _is_job(cmdline: list[str]) -> bool:
    """A job that Snakemake started: its ``script:`` copy under ``.snakemake/scripts/``."""
    return ".snakemake/scripts/" in " ".join(cmdline)


def workflow_processes(workdir: Path) -> list[tuple[int, str]] | None:
    """(pid, 'snakemake' | 'job') of every other Snakemake process or Snakemake job whose working
    directory is ``workdir``; None when it cannot be told (no /proc)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    mine = _ancestors(os.getpid())
    workdir = workdir.resolve()
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) in mine:
            continue
        try:
            cmd = [c for c in (entry / "cmdline").read_bytes().decode(errors="replace").split("\0") if c]
            kind = "job" if _is_job(cmd) else "snakemake" if _is_snakemake(cmd) else None
            if kind and Path(os.readlink(entry / "cwd")).resolve() == workdir:
                found.append((int(entry.name), kind))
        except OSError:
            continue
    return sorted(found)


def other_snakemake_running(workdir: Path) -> bool | None:
    """True when another Snakemake process or one of its jobs is alive in ``workdir``; False when
    none is; None when it cannot be told (no /proc)."""
    found = workflow_processes(workdir)
    return None if found is None else bool(found)


def clear_stale_locks(workdir: str | Path = ".", log=None) -> bool:
    """Remove ``.snakemake/locks/*`` when no other Snakemake runs in ``workdir``; True if removed."""
    workdir = Path(workdir)
    locks = workdir / ".snakemake" / "locks"
    files = [p for p in locks.glob("*") if p.is_file()] if locks.is_dir() else []
    if not files:
        return False
    alive = workflow_processes(workdir)
    if alive is None:
        return False
    if alive:
        jobs = [pid for pid, kind in alive if kind == "job"]
        if log and jobs and len(jobs) == len(alive):
            log(f"Snakemake's lock is kept: {len(jobs)} job(s) of an earlier run still run in this "
                f"directory (pids {', '.join(map(str, jobs))}), though the Snakemake process that "
                "started them is gone. Wait for them to finish (or kill them), then rerun.")
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
