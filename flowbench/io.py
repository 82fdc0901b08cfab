"""Atomic, recorded file writing; checkpoints loaded safely with an identity check; device and
thread selection.

Every writer here moves the finished file into place and then records its SHA-256 beside it
(``flowbench.records``), which every consumer checks before it uses the file."""
from __future__ import annotations

import contextlib
import shutil
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

from .atomic import create_temp
from .records import DamagedFile, read_json, read_record_digest, verify, write_record


@contextlib.contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds.

    A killed job therefore never leaves a partial file under the final name. The file gets the
    user's usual permissions (0666 less the umask), like a file opened for writing. Once in place,
    its integrity record is written beside it (``flowbench.records.write_record``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = create_temp(path)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
        write_record(path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json(path, obj) -> None:
    with atomic_path(path) as tmp:
        # allow_nan=False: a NaN or infinity is refused here, by its producer, not by a consumer
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_json_default, allow_nan=False) + "\n")


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o))


def write_npz(path, **arrays) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)


def copy_recorded(src, dst) -> None:
    """Copy the recorded file ``src`` to ``dst`` (atomically, with its own record), after checking
    ``src`` against its record; a copy whose bytes differ from the source's record is refused."""
    verify(src)
    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)
    want = read_record_digest(src)
    if read_record_digest(dst) != want:
        raise DamagedFile(dst, f"its copy differs from {src}'s recorded SHA-256")


def write_csv(path, df) -> None:
    """Write the frame ``df`` to ``path`` as CSV (no index, pandas' float format, ``\\n`` line
    ends), atomically (``atomic_path``)."""
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, lineterminator="\n")


from .tables.metrics import METRIC_COLUMNS  # noqa: E402  (one definition of the tidy columns)


def aggregate_metrics(metric_files, out_csv):
    """Per-run ``metrics.json`` row lists -> one tidy, sorted CSV (``METRIC_COLUMNS``); returns it.
    Each file is checked first (``flowbench.records.read_json``: its record and its rows)."""
    import pandas as pd
    rows = []
    for f in metric_files:
        rows.extend(read_json(f))
    df = pd.DataFrame(rows, columns=METRIC_COLUMNS)
    df = df.sort_values(["task", "method", "variant", "seed", "metric", "condition"], kind="stable")
    write_csv(out_csv, df)
    return df


class CheckpointMismatch(ValueError):
    """A readable checkpoint saved under another architecture or config than the one asked for."""


def save_checkpoint(path, model: torch.nn.Module, identity: dict, extra: dict | None = None) -> None:
    """Save the state dict with an ``identity`` (method, hyper-parameters, dims) to check on load."""
    import torch   # here: the table and record writers of this module serve torch-free jobs too
    with atomic_path(path) as tmp:
        torch.save({"identity": identity, "state_dict": model.state_dict(), "extra": extra or {}}, tmp)


def load_checkpoint(path, model: torch.nn.Module, identity: dict) -> dict:
    """Load into ``model`` after checking the file's record and that the saved identity matches
    ``identity``.

    The file is read with ``weights_only=True``: torch's restricted unpickler builds tensors,
    containers and plain values only, so a crafted file cannot run code. Its integrity record is
    checked first (``flowbench.records.verify``), then its structure. A checkpoint saved under
    another architecture or config is refused with a message naming the differing keys, rather
    than a shape error deep in torch.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    blob = read_checkpoint(path)
    if not isinstance(blob, dict) or "identity" not in blob or "state_dict" not in blob:
        raise DamagedFile(path, "it is not a flowbench checkpoint (no identity or state_dict)")
    saved = blob["identity"]
    diff = sorted(k for k in set(saved) | set(identity) if saved.get(k) != identity.get(k))
    if diff:
        detail = "; ".join(f"{k}: saved {saved.get(k)!r}, expected {identity.get(k)!r}" for k in diff)
        raise CheckpointMismatch(f"checkpoint {path} was saved under a different architecture or "
                                 f"config ({detail}); retrain it (delete the file) or use the matching config")
    model.load_state_dict(blob["state_dict"])
    return blob.get("extra", {})


def read_checkpoint(path) -> object:
    """The content of a recorded checkpoint: record checked, then loaded with
    ``weights_only=True`` (no code runs, whatever the file holds)."""
    import torch

    verify(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated, not a torch file, or a pickle that asks for code
        raise DamagedFile(path, f"it is not a checkpoint that loads safely ({type(exc).__name__}: "
                                f"{str(exc).splitlines()[0] if str(exc) else exc!r})") from exc


def resolve_device(setting: str = "auto") -> torch.device:
    import torch

    if setting == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if setting.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {setting!r} requested but no CUDA device is available; use 'auto' or 'cpu'")
    return torch.device(setting)


def set_threads(n: int) -> None:
    """Torch intra-op threads for this job (the rule's ``threads``)."""
    import torch

    n = max(int(n), 1)
    torch.set_num_threads(n)
    os.environ["OMP_NUM_THREADS"] = str(n)
