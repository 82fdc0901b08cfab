"""Integrity records of the workflow's files, and the one way every consumer reads them.

Every file the workflow writes under ``results/<name>/`` through ``flowbench.io`` (checkpoints,
samples, predictions, references, metrics, run and task records, floors, tables) gets a record
beside it, ``.<file name>.sha256``: the SHA-256 and size of the bytes its producer wrote. Every
consumer reads through ``read_json`` / ``read_npz`` / ``read_csv`` here (checkpoints:
``flowbench.io.load_checkpoint``), which check, in this order,

1. the record: the file's bytes are the ones its producer wrote (not truncated, edited or
   replaced; a file without a record was never finished by a producer of this version);
2. the format: valid JSON, a readable zip of arrays that needs no pickle, a parsable CSV;
3. the schema of its kind (``KINDS``): keys, types, shapes and finite values.

A failure raises ``DamagedFile``, whose message names the file, says what is wrong, and how to
rebuild it. A plain ``snakemake`` rebuilds such files by itself: at start-up the Snakefile calls
``scan``, sets aside (renames to ``<file>.damaged``) every recorded file whose bytes differ from
its record, and Snakemake then reruns the rule that makes it, and everything downstream.

No torch, no pandas at import: the report reads through this module too.
"""
from __future__ import annotations

import fnmatch
import hashlib
import json
import math
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .atomic import create_temp

#: the suffixes of recorded files; figures (PNG), logs and Snakemake's benchmark TSVs are not
RECORDED_SUFFIXES = (".pt", ".npz", ".json", ".csv")
#: folders of ``results/<name>/`` that hold no recorded file
UNRECORDED_DIRS = ("logs", "benchmarks")

REBUILD = ("Rebuild it with a plain `snakemake` (the same command): at start-up it sets aside every "
           "results file whose bytes differ from its record, and reruns the rule that makes it")
REBUILD_DELETE = ("Rebuild it: delete it and rerun `snakemake` (the rule that wrote it runs again); "
                  "if the rebuilt file fails the same way, its producer is at fault")


class DamagedFile(RuntimeError):
    """A file a job reads is missing its record, differs from it, or is not what its kind holds."""

    def __init__(self, path, problem: str, hint: str = REBUILD):
        self.path, self.problem = Path(path), problem
        super().__init__(f"{path}: {problem}. {hint}.")


# ---------------------------------------------------------------------------------- records


def record_path(path) -> Path:
    path = Path(path)
    return path.with_name(f".{path.name}.sha256")


def sha256_of(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_record(path) -> None:
    """Record the SHA-256 and size of ``path`` as it is now (its producer calls this right after
    moving the finished file into place). The record is one line in ``sha256sum`` format, so
    ``sha256sum -c .<name>.sha256`` checks it too."""
    path = Path(path)
    side = record_path(path)
    tmp = create_temp(side)
    try:
        tmp.write_text(f"{sha256_of(path)}  {path.name}\n")
        os.replace(tmp, side)
    finally:
        if tmp.exists():
            tmp.unlink()


def read_record_digest(path) -> str:
    """The SHA-256 recorded beside ``path`` (``DamagedFile`` when the record is missing or damaged)."""
    side = record_path(path)
    try:
        return side.read_text().split()[0]
    except (OSError, IndexError):
        raise DamagedFile(path, f"its integrity record {side.name} is missing or damaged") from None


def record_problem(path) -> str | None:
    """What is wrong with ``path`` against its record, or None when its bytes are the recorded ones."""
    path = Path(path)
    if not path.is_file():
        return "the file is missing"
    side = record_path(path)
    if not side.is_file():
        return (f"it has no integrity record ({side.name}): no producer of this version finished it, "
                f"or the record was deleted")
    try:
        want, name = side.read_text().split()
    except ValueError:
        return f"its integrity record {side.name} is damaged"
    if name != path.name:
        return f"its integrity record {side.name} names another file ({name})"
    if sha256_of(path) != want:
        return ("its bytes differ from the SHA-256 its producer recorded: it was truncated, edited or "
                "replaced after it was written")
    return None


def verify(path) -> Path:
    """Raise ``DamagedFile`` unless ``path``'s bytes are the ones its producer recorded."""
    problem = record_problem(path)
    if problem is not None:
        raise DamagedFile(path, problem, REBUILD if Path(path).exists() else REBUILD_DELETE)
    return Path(path)


def scan(results_dir, skip=()) -> list[tuple[Path, str]]:
    """Every recorded kind of file under ``results_dir`` whose bytes differ from its record (or
    that has none): ``[(path, problem)]``. ``skip``: folders left out (the report's own)."""
    root = Path(results_dir)
    if not root.is_dir():
        return []
    skip = [Path(s).resolve() for s in skip]
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        d = Path(dirpath)
        if d == root:
            dirnames[:] = [n for n in dirnames if n not in UNRECORDED_DIRS]
        dirnames[:] = sorted(n for n in dirnames if not n.startswith(".")
                             and (d / n).resolve() not in skip)
        for name in sorted(filenames):
            if name.startswith(".") or not name.endswith(RECORDED_SUFFIXES):
                continue
            problem = record_problem(d / name)
            if problem is not None:
                out.append((d / name, problem))
    return out


def set_aside(path) -> Path:
    """Rename a damaged file to ``<file>.damaged`` (kept for a look; Snakemake then rebuilds the
    original name) and drop its record; returns the new path."""
    path = Path(path)
    dst = path.with_name(path.name + ".damaged")
    os.replace(path, dst)
    side = record_path(path)
    if side.exists():
        side.unlink()
    return dst


# ---------------------------------------------------------------------------------- schemas


@dataclass(frozen=True)
class Kind:
    """One kind of intermediate: what it is (for messages) and the check of its parsed content,
    which returns a problem or None."""
    what: str
    check: Callable[[object], str | None] | None = None


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _keys(obj, required, what) -> str | None:
    if not isinstance(obj, dict):
        return f"it holds a JSON {type(obj).__name__}, not the object {what} is"
    missing = [k for k in required if k not in obj]
    return f"it lacks the keys {missing}" if missing else None


def _numbers(obj, keys, *, optional=False) -> str | None:
    for k in keys:
        v = obj.get(k)
        if v is None and optional:
            continue
        if not _finite(v):
            return f"its {k!r} is {v!r}, not a finite number"
    return None


METRIC_ROW_KEYS = ("task", "method", "variant", "seed", "condition", "metric", "value")


def check_metric_rows(rows) -> str | None:
    if not isinstance(rows, list):
        return f"it holds a JSON {type(rows).__name__}, not a list of metric rows"
    if not rows:
        return "it holds no metric rows (every scored run has at least its 'diverged' row)"
    for i, r in enumerate(rows):
        if not isinstance(r, dict) or set(r) != set(METRIC_ROW_KEYS):
            return f"row {i} is not a metric row with exactly the keys {list(METRIC_ROW_KEYS)}"
        if not _finite(r["value"]):
            return f"row {i} ({r['metric']!r}) has the value {r['value']!r}, not a finite number"
        if not all(isinstance(r[k], str) for k in ("task", "method", "variant", "condition", "metric")):
            return f"row {i} has a non-text name field"
    return None


def check_run_record(info) -> str | None:
    return (_keys(info, ("diverged", "steps_done", "seconds", "seconds_per_iteration",
                         "last_finite_loss", "config_digest", "iterations", "batch_size", "n_eval"),
                  "a run record")
            or (None if isinstance(info["diverged"], bool) else f"its 'diverged' is {info['diverged']!r}")
            or _numbers(info, ("steps_done", "seconds", "seconds_per_iteration", "iterations",
                               "batch_size", "n_eval"))
            or _numbers(info, ("last_finite_loss",), optional=True)
            or (None if isinstance(info["config_digest"], str) else "its 'config_digest' is not text"))


def check_task_record(rec) -> str | None:
    bad = _keys(rec, ("kind", "conditions", "description", "figures"), "a task record")
    if bad:
        return bad
    if not all(isinstance(rec[k], str) for k in ("kind", "conditions", "description")):
        return "its 'kind', 'conditions' or 'description' is not text"
    if not isinstance(rec["figures"], list) or not isinstance(rec.get("recipes", {}), dict):
        return "its 'figures' is not a list or its 'recipes' not an object"
    return None


def check_stage_record(rec) -> str | None:
    """The record of an image-stage model (auto-encoder, latent flow, CNN)."""
    return _keys(rec, (), "a stage record")


def _all_or_none_finite(a) -> bool:
    import numpy as np
    fin = np.isfinite(a)
    return bool(fin.all() or not fin.any())


def _finite_arrays(arrays, names) -> str | None:
    import numpy as np
    for n in names:
        a = arrays[n]
        if a.dtype.kind in "fc" and not np.all(np.isfinite(a)):
            return f"its array {n!r} holds non-finite values"
    return None


def _arrays(arrays, required) -> str | None:
    missing = [k for k in required if k not in arrays]
    return f"it lacks the arrays {missing}" if missing else None


def check_posterior_samples(a) -> str | None:
    bad = _arrays(a, ("condition_ids", "conditions", "samples"))
    if bad:
        return bad
    k = len(a["condition_ids"])
    if a["conditions"].ndim != 2 or len(a["conditions"]) != k:
        return f"'conditions' has shape {a['conditions'].shape}, expected ({k}, y_dim)"
    if a["samples"].ndim != 3 or len(a["samples"]) != k:
        return f"'samples' has shape {a['samples'].shape}, expected ({k}, n, x_dim)"
    if not _all_or_none_finite(a["samples"]):
        return ("'samples' mixes finite and non-finite values (a run's samples are finite, or NaN "
                "throughout when it diverged)")
    if "calibration_samples" in a:
        s, x = a["calibration_samples"], a.get("calibration_x")
        if x is None or s.ndim != 3 or x.shape != (s.shape[0], s.shape[2]):
            return "its calibration arrays have inconsistent shapes"
        if not _all_or_none_finite(s):
            return "'calibration_samples' mixes finite and non-finite values"
        import numpy as np
        f = a.get("calibration_hpd_f")
        if f is not None and (f.shape != (s.shape[0],) or not np.all((f >= 0) & (f <= 1))):
            return "'calibration_hpd_f' is not one share in [0, 1] per calibration observation"
    if "published_samples" in a:
        p = a["published_samples"]
        if p.ndim != 3 or len(p) != k or p.shape[2] != a["samples"].shape[2]:
            return f"'published_samples' has shape {p.shape}, expected ({k}, n, x_dim)"
        if not _all_or_none_finite(p):
            return "'published_samples' mixes finite and non-finite values"
    return _finite_arrays(a, ("conditions",))


def check_figure_data(a) -> str | None:
    """A run's figure data (flowbench.figure_data): per-condition draws of one shape, finite or NaN
    throughout as the run's samples are; the coverage curve finite and in [0, 1]."""
    bad = _arrays(a, ("condition_ids",))
    if bad:
        return bad
    k = len(a["condition_ids"])
    for name, ids in (("samples", "condition_ids"), ("eps_samples", "eps_condition_ids")):
        if name in a:
            s, n = a[name], len(a[ids]) if ids in a else -1
            if s.ndim != 3 or len(s) != n:
                return f"'{name}' has shape {s.shape}, expected ({n}, n, x_dim)"
            if not _all_or_none_finite(s):
                return f"'{name}' mixes finite and non-finite values"
    dims = {name: a[name].shape[-1] for name in ("samples", "eps_samples", "test_x") if name in a}
    if len(set(dims.values())) > 1:
        return f"its draws and test points differ in their dimension x_dim: {dims}"
    if "test_x" in a and not (len(a["test_x"]) == len(a.get("predicted_label", ())) == len(a.get("true_label", ()))):
        return "'test_x', 'predicted_label' and 'true_label' are not one test set"
    if "coverage" in a:
        import numpy as np
        c = a["coverage"]
        if c.ndim != 2 or not np.all(np.isfinite(c)) or not np.all((c >= 0) & (c <= 1)):
            return "'coverage' is not a finite [levels, d] curve of shares in [0, 1]"
    if k == 0:
        return "it holds no condition"
    return None


def check_predictions(a) -> str | None:
    bad = _arrays(a, ("x", "y", "y_hat"))
    if bad:
        return bad
    if a["x"].ndim != 2 or a["y"].ndim != 2 or len(a["x"]) != len(a["y"]):
        return f"'x' {a['x'].shape} and 'y' {a['y'].shape} are not a test set of pairs"
    if a["y_hat"].shape != a["y"].shape:
        return f"'y_hat' has shape {a['y_hat'].shape}, 'y' {a['y'].shape}"
    if not _all_or_none_finite(a["y_hat"]):
        return "'y_hat' mixes finite and non-finite values (NaN throughout means no forward predictor)"
    return _finite_arrays(a, ("x", "y"))


def check_reference(a) -> str | None:
    bad = _arrays(a, ("x", "identity"))
    if bad:
        return bad
    if a["x"].ndim != 3:
        return f"'x' has shape {a['x'].shape}, expected (observations, kept draws, x_dim)"
    k = len(a["x"])
    for name, ndim in (("conditions", 2), ("dist", 2), ("x_small", 3)):
        if name in a and (a[name].ndim != ndim or len(a[name]) != k):
            return f"'{name}' has shape {a[name].shape}, expected {ndim} dimensions, the first {k}"
    return _finite_arrays(a, [n for n in a if n != "identity"])


def check_finite_arrays(a) -> str | None:
    return _finite_arrays(a, list(a))


def _columns(required, finite=()):
    def check(df) -> str | None:
        missing = [c for c in required if c not in df.columns]
        if missing:
            return f"it lacks the columns {missing}"
        import numpy as np
        import pandas as pd
        for c in finite:
            v = pd.to_numeric(df[c], errors="coerce")
            if not np.all(np.isfinite(v.to_numpy(dtype=float))):
                return f"its column {c!r} holds values that are not finite numbers"
        return None
    return check


#: the recorded kinds, by file name (first match wins); every other recorded file is checked for
#: its record and format only
KINDS: dict[str, Kind] = {
    "model.pt": Kind("a run's checkpoint"),
    "posterior_samples.npz": Kind("a run's posterior samples", check_posterior_samples),
    "predictions.npz": Kind("a run's forward predictions", check_predictions),
    "reference.npz": Kind("a task's reference posterior", check_reference),
    "train_info.json": Kind("a run record", check_run_record),
    "task.json": Kind("a task record", check_task_record),
    "metrics.json": Kind("a run's metric rows", check_metric_rows),
    "figure_data.npz": Kind("a run's figure data", check_figure_data),
    "metrics.csv": Kind("a stage's metric table", _columns(METRIC_ROW_KEYS, ("value",))),
    "noise_floor.csv": Kind("a task's noise floor",
                            _columns(("task", "condition", "metric", "n", "repeat", "value"), ("n", "value"))),
    "runs.csv": Kind("a task's run table", _columns(("task", "method", "variant", "seed"))),
    "trials.csv": Kind("a tuning study's trials", _columns(("task", "method", "position", "phase", "state",
                                                             "value"), ("position", "value"))),
    "*train_log.csv": Kind("a training log", _columns(("step", "loss", "seconds"), ("step", "seconds"))),
    "latents.npz": Kind("an auto-encoder's latents", check_finite_arrays),
    "*.pt": Kind("a checkpoint"),
    "*.npz": Kind("an array file"),
    "*.json": Kind("a record"),
    "*.csv": Kind("a table"),
}


def kind_of(path) -> Kind:
    name = Path(path).name
    for pattern, kind in KINDS.items():
        if fnmatch.fnmatchcase(name, pattern):
            return kind
    return Kind("a file")


def _checked(path, obj, kind: Kind | None):
    kind = kind or kind_of(path)
    problem = kind.check(obj) if kind.check is not None else None
    if problem is not None:
        raise DamagedFile(path, f"as {kind.what}, {problem}", REBUILD_DELETE)
    return obj


# ---------------------------------------------------------------------------------- readers


def read_json(path, kind: Kind | None = None):
    """The parsed JSON of a recorded file, after its record, format and kind are checked."""
    verify(path)
    text = Path(path).read_text()
    try:
        obj = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise DamagedFile(path, f"it is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})",
                          REBUILD_DELETE) from exc
    except ValueError as exc:
        raise DamagedFile(path, str(exc), REBUILD_DELETE) from exc
    return _checked(path, obj, kind)


def _no_constant(name):
    raise ValueError(f"it holds the non-finite JSON constant {name}")


def read_npz(path, kind: Kind | None = None) -> dict:
    """Every array of a recorded ``.npz`` (loaded; the file is closed), after its record, format
    (a zip of ``.npy`` members that needs no pickle) and kind are checked."""
    import numpy as np
    verify(path)
    try:
        with np.load(path, allow_pickle=False) as d:
            arrays = {k: d[k] for k in d.files}
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise DamagedFile(path, f"it is not a readable array archive ({type(exc).__name__}: {exc})",
                          REBUILD_DELETE) from exc
    return _checked(path, arrays, kind)


def read_csv(path, kind: Kind | None = None, **kwargs):
    """The frame of a recorded CSV (``pandas.read_csv`` keyword arguments pass through), after its
    record, format and kind are checked."""
    import pandas as pd
    verify(path)
    try:
        df = pd.read_csv(path, **kwargs)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise DamagedFile(path, f"it is not a readable CSV table ({type(exc).__name__}: {exc})",
                          REBUILD_DELETE) from exc
    return _checked(path, df, kind)
