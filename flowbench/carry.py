"""Carrying finished runs from one machine to the next, so a run longer than one machine's time
finishes in pieces.

With ``carry: <folder>`` in the config, every scored run's small files go to
``<folder>/<name>/<task>/<method>/<variant>/seed<s>/`` (``save``): ``train_log.csv``,
``train_info.json``, ``metrics.json`` and ``figure_data.npz`` (flowbench.figure_data), with its
Snakemake benchmark files (the cost table reads them) and a ``manifest.json`` that holds the run's
config digests (``identity.train_digest``, ``identity.evaluate_digest``) and each file's SHA-256.
Each task's inputs of those runs go beside them (``reference.npz`` of a simulation task, with
``identity.reference_digest``; ``noise_floor.csv`` with ``identity.floor_digest``). The run's
checkpoint, samples and predictions stay behind (under ``carry`` they are temporary outputs,
deleted once the evaluation has read them): nothing downstream of the evaluation reads them.

``restore`` (the Snakefile calls it before the jobs are planned) copies back into
``results/<name>/`` every carried run whose digests equal the current config's and whose files
are the bytes its manifest names, and never a file that is already there. A carried run of a
changed recipe, task or evaluation, or with a damaged file, is left out and said so: that run
trains again. The restored files get modification times in the order of the workflow (reference,
floor, training outputs, evaluation outputs), so Snakemake sees them as finished jobs.

What carries is the config slice of each run, not the code: a change to a method's code does not
invalidate its carried runs (as for Snakemake's own finished jobs); each manifest names the commit
it was saved from, and ``results/<name>/carried.json`` lists them for the report.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

RUN_FILES = ("train_log.csv", "train_info.json", "metrics.json", "figure_data.npz")
TRAIN_FILES = ("train_log.csv", "train_info.json")
BENCHMARKS = ("train.tsv", "evaluate.tsv")
MANIFEST = "manifest.json"
#: the restored files' modification times, in seconds after the restore began: the reference, then
#: the floor, the training outputs and the evaluation outputs (Snakemake reruns a job whose outputs
#: are older than its inputs or its script; files already in results keep theirs)
MTIME_OFFSET = {"reference": 0, "floor": 1, "train": 2, "evaluate": 3}


class CarryError(ValueError):
    pass


def carry_dir(config: dict, basedir) -> Path | None:
    """``<carry>/<name>`` under the repository root ``basedir``, or None without ``carry``."""
    c = config.get("carry")
    return None if not c else Path(basedir) / c / config["name"]


def _sha(path) -> str:
    from .records import sha256_of
    return sha256_of(path)


def _commit(basedir) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=basedir, capture_output=True, text=True,
                             timeout=10)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _read_manifest(folder: Path) -> dict | None:
    try:
        return json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def _write_manifest(folder: Path, manifest: dict) -> None:
    from .io import write_json
    write_json(folder / MANIFEST, manifest)


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.carry-tmp")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def _same(folder: Path, manifest: dict | None, want: dict) -> bool:
    """Whether ``folder`` already holds ``want`` ({name: sha}) under the same digests."""
    return (manifest is not None and manifest.get("files") == want
            and all((folder / n).is_file() and _sha(folder / n) == s for n, s in want.items()))


# ------------------------------------------------------------------------------------------ save
def save(config: dict, results: Path, basedir, log=print) -> dict:
    """Copy every scored run of ``results`` (``results/<name>``) whose files match their records,
    and its task's inputs, into the carry folder; return counts {"runs", "tasks", "unchanged"}."""
    from .identity import evaluate_digest, floor_digest, reference_digest, train_digest
    from .recipes import iter_runs
    from .records import record_problem
    root = carry_dir(config, basedir)
    if root is None:
        raise CarryError("the config has no `carry` folder")
    results = Path(results)
    commit = _commit(basedir)
    counts = {"runs": 0, "tasks": 0, "unchanged": 0}
    for task in config["tasks"]:
        inputs = {"reference.npz": ("reference_digest", reference_digest),
                  "noise_floor.csv": ("floor_digest", floor_digest)}
        tdir = results / task
        files, digests = {}, {}
        for name, (key, fn) in inputs.items():
            if (tdir / name).is_file() and record_problem(tdir / name) is None:
                files[name] = _sha(tdir / name)
                digests[key] = fn(config, task)
        # a run carries only with the inputs it was scored against
        inputs_here = "noise_floor.csv" in files and ("reference.npz" in files or not _has_reference(config, task))
        saved_runs = 0
        for (_, m, v, s) in iter_runs(config, task) if inputs_here else ():
            src = tdir / m / v / f"seed{s}"
            if not all((src / f).is_file() and record_problem(src / f) is None for f in RUN_FILES):
                continue
            dst = root / task / m / v / f"seed{s}"
            want = {f: _sha(src / f) for f in RUN_FILES}
            bench = results / "benchmarks" / task / m / v / f"seed{s}"
            want.update({f"benchmarks/{b}": _sha(bench / b) for b in BENCHMARKS if (bench / b).is_file()})
            manifest = {"task": task, "method": m, "variant": v, "seed": int(s),
                        "train_digest": train_digest(config, task, m, v, int(s)),
                        "evaluate_digest": evaluate_digest(config, task),
                        "inputs": files, "files": want, "commit": commit}
            old = _read_manifest(dst)
            if _same(dst, old, want) and {k: old.get(k) for k in ("train_digest", "evaluate_digest", "inputs")} \
                    == {k: manifest[k] for k in ("train_digest", "evaluate_digest", "inputs")}:
                counts["unchanged"] += 1
                saved_runs += 1
                continue
            for f in RUN_FILES:
                _copy(src / f, dst / f)
            for b in BENCHMARKS:
                if (bench / b).is_file():
                    _copy(bench / b, dst / "benchmarks" / b)
            _write_manifest(dst, manifest)
            counts["runs"] += 1
            saved_runs += 1
        if saved_runs:
            tdst = root / task
            old = _read_manifest(tdst)
            manifest = {"task": task, **digests, "files": files, "commit": commit}
            if not _same(tdst, old, files) or {k: old.get(k) for k in digests} != digests:
                for name in files:
                    _copy(tdir / name, tdst / name)
                bench = results / "benchmarks" / task / "noise_floor.tsv"
                if bench.is_file():
                    _copy(bench, tdst / "benchmarks" / "noise_floor.tsv")
                _write_manifest(tdst, manifest)
                counts["tasks"] += 1
    log(f"carry: {counts['runs']} runs and {counts['tasks']} task inputs saved to {root} "
        f"({counts['unchanged']} runs there already)")
    return counts


def _has_reference(config: dict, task: str) -> bool:
    from .tasks import task_class
    return bool(task_class(config["tasks"][task]["kind"]).reference_file)


# --------------------------------------------------------------------------------------- restore
def _fits_figures(config: dict, task: str, m: str, v: str, s: int, folder: Path) -> str | None:
    """Why the carried figure data cannot serve this config's figures (None when it can): the first
    seed of a recipe must hold the figures' draws, a run of the eps split its draws there."""
    import numpy as np

    from .eps_split import smoothed_runs
    from .recipes import first_seed
    with np.load(folder / "figure_data.npz", allow_pickle=False) as z:   # its bytes checked by the caller
        d = set(z.files)
    if first_seed(config, task, m, v) == s and "samples" not in d:
        return "it is now its recipe's first seed and its figure data holds no draws for the figures"
    if config["tasks"][task].get("eps_split") and (m, v) in smoothed_runs(config, task) \
            and "eps_samples" not in d:
        return "the eps split now reads it and its figure data holds no draws for it"
    return None


def restore(config: dict, results: Path, basedir, log=print) -> dict:
    """Copy the carried runs that this config would make into ``results`` (see the module
    docstring); return {"restored": n, "present": n, "refused": [(run, why)]}. Writes
    ``results/carried.json`` (every restored run and its commit) when it restores any."""
    from .identity import evaluate_digest, floor_digest, reference_digest, train_digest
    from .recipes import iter_runs
    from .records import write_record
    root = carry_dir(config, basedir)
    out = {"restored": 0, "present": 0, "refused": []}
    if root is None or not root.is_dir():
        return out
    import time
    now = time.time()
    MTIME = {k: now + v for k, v in MTIME_OFFSET.items()}
    results = Path(results)
    ledger_path = results / "carried.json"
    try:
        ledger = json.loads(ledger_path.read_text())
    except (OSError, ValueError):
        ledger = {}

    def put(src: Path, dst: Path, sha: str, mtime: float) -> None:
        _copy(src, dst)
        if _sha(dst) != sha:
            dst.unlink()
            raise CarryError(f"{src}: its copy differs from its manifest's SHA-256")
        if not dst.name.endswith(".tsv"):
            write_record(dst)
        os.utime(dst, (mtime, mtime))

    for task in config["tasks"]:
        tsrc, tdir = root / task, results / task
        tman = _read_manifest(tsrc)
        if tman is None:
            continue
        why = _task_problem(config, task, tsrc, tman, reference_digest, floor_digest)
        runs = [(m, v, int(s)) for (_, m, v, s) in iter_runs(config, task)]
        if why:
            out["refused"].append((task, why))
            continue
        # the task's inputs: restored when absent; when present they must be the carried bytes
        clash = [n for n, sha in tman["files"].items() if (tdir / n).is_file() and _sha(tdir / n) != sha]
        if clash:
            out["refused"].append((task, f"results hold other {clash} than the carried ones: its runs "
                                         f"were scored against those, so they are left out"))
            continue
        for n, sha in tman["files"].items():
            stage = "reference" if n == "reference.npz" else "floor"
            if not (tdir / n).is_file():
                put(tsrc / n, tdir / n, sha, MTIME[stage])
                b = tsrc / "benchmarks" / "noise_floor.tsv"
                if n == "noise_floor.csv" and b.is_file():
                    _copy(b, results / "benchmarks" / task / "noise_floor.tsv")
        for m, v, s in runs:
            src, dst = tsrc / m / v / f"seed{s}", tdir / m / v / f"seed{s}"
            man = _read_manifest(src)
            if man is None:
                continue
            if (dst / "metrics.json").is_file():
                out["present"] += 1
                continue
            problem = _run_problem(config, task, m, v, s, src, man, tman, train_digest, evaluate_digest)
            if problem:
                out["refused"].append((f"{task}/{m}/{v}/seed{s}", problem))
                continue
            for f in RUN_FILES:
                put(src / f, dst / f, man["files"][f], MTIME["train" if f in TRAIN_FILES else "evaluate"])
            for b in BENCHMARKS:
                key = f"benchmarks/{b}"
                if key in man["files"]:
                    put(src / key, results / "benchmarks" / task / m / v / f"seed{s}" / b, man["files"][key],
                        MTIME["train" if b == "train.tsv" else "evaluate"])
            ledger[f"{task}/{m}/{v}/seed{s}"] = man.get("commit")
            out["restored"] += 1
    if out["restored"]:
        from .io import write_json
        write_json(ledger_path, dict(sorted(ledger.items())))
    if out["restored"] or out["refused"]:
        log(f"carry: {out['restored']} runs restored from {root}"
            + (f", {out['present']} already in results" if out["present"] else "")
            + "".join(f"\n  not restored: {what}: {why}" for what, why in out["refused"]))
    return out


def _task_problem(config, task, tsrc: Path, tman: dict, reference_digest, floor_digest) -> str | None:
    want = {"floor_digest": floor_digest(config, task)}
    if _has_reference(config, task):
        want["reference_digest"] = reference_digest(config, task)
    for key, value in want.items():
        if tman.get(key) != value:
            return f"its {key.split('_')[0]} was made under another config ({key} differs): its runs train again"
    for n, sha in tman.get("files", {}).items():
        if not (tsrc / n).is_file() or _sha(tsrc / n) != sha:
            return f"{tsrc / n} is missing or differs from its manifest's SHA-256"
    return None


def _run_problem(config, task, m, v, s, src: Path, man: dict, tman: dict, train_digest,
                 evaluate_digest) -> str | None:
    if man.get("train_digest") != train_digest(config, task, m, v, s):
        return "its recipe or task changed since it was carried (train digest differs)"
    if man.get("evaluate_digest") != evaluate_digest(config, task):
        return "the task's evaluation changed since it was carried (evaluate digest differs)"
    if man.get("inputs") != tman.get("files"):
        return "it was scored against other task inputs than the carried ones"
    for f in RUN_FILES:
        if f not in man.get("files", {}):
            return f"its manifest lists no {f}"
    for name, sha in man["files"].items():
        if not (src / name).is_file() or _sha(src / name) != sha:
            return f"{src / name} is missing or differs from its manifest's SHA-256"
    return _fits_figures(config, task, m, v, s, src)


def status(config: dict, basedir) -> list[dict]:
    """Per task of the config: its runs, how many of them the carry folder holds for this config
    (digests and files checked as ``restore`` checks them), and how many it holds that this
    config would not restore (a changed recipe or evaluation, a damaged file)."""
    from .identity import evaluate_digest, floor_digest, reference_digest, train_digest
    from .recipes import iter_runs
    root = carry_dir(config, basedir)
    rows = []
    for task in config["tasks"]:
        runs = [(m, v, int(s)) for (_, m, v, s) in iter_runs(config, task)]
        tsrc = root / task if root is not None else None
        tman = _read_manifest(tsrc) if tsrc is not None else None
        ok = stale = 0
        if tman is not None:
            bad_task = _task_problem(config, task, tsrc, tman, reference_digest, floor_digest)
            for m, v, s in runs:
                src = tsrc / m / v / f"seed{s}"
                man = _read_manifest(src)
                if man is None:
                    continue
                if bad_task or _run_problem(config, task, m, v, s, src, man, tman, train_digest, evaluate_digest):
                    stale += 1
                else:
                    ok += 1
        rows.append({"task": task, "runs": len(runs), "carried": ok, "not_restorable": stale})
    return rows


def main(argv=None) -> int:
    """``python -m flowbench.carry save|restore|status [--configfile F ...]``: what the Snakefile
    does at the end (save) and the start (restore) of a run with ``carry``, by hand; ``status``:
    how many of each task's runs are carried."""
    import argparse
    import sys

    from .config import deep_merge, read_config_file, validate_config
    p = argparse.ArgumentParser(prog="python -m flowbench.carry", description=main.__doc__)
    p.add_argument("action", choices=["save", "restore", "status"])
    p.add_argument("--configfile", nargs="+", default=["config/config.yaml"])
    a = p.parse_args(argv)
    basedir = Path.cwd()
    config: dict = {}
    for f in a.configfile:
        config = deep_merge(config, read_config_file(Path(f)))
    validate_config(config)
    if config.get("tuned"):
        from .tuning import apply_tuned
        if apply_tuned(config, basedir):
            validate_config(config)
    results = basedir / "results" / config["name"]
    try:
        if a.action == "status":
            rows = status(config, basedir)
            for r in rows:
                print(f"{r['task']:<28} {r['carried']:>4} of {r['runs']:>4} runs carried"
                      + (f", {r['not_restorable']} carried under another config or damaged" if r["not_restorable"] else ""))
            print(f"{'total':<28} {sum(r['carried'] for r in rows):>4} of {sum(r['runs'] for r in rows):>4}")
        elif a.action == "save":
            save(config, results, basedir, log=lambda m: print(m, file=sys.stderr))
        else:
            restore(config, results, basedir, log=lambda m: print(m, file=sys.stderr))
    except CarryError as err:
        print(f"carry: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
