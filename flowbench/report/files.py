"""Atomic writing for everything the report puts under ``report/``.

Each file is written under a hidden temporary name beside its final one and moved into place
(``os.replace``) only when complete, so a killed render never leaves a partial file. The same
scheme as ``flowbench.io.atomic_path`` (both create the temporary file with
``flowbench.atomic.create_temp``: exclusively, mode 0666 less the umask).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd

from .. import tables as T
from ..atomic import create_temp


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (parents created); return ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = create_temp(path)
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` as UTF-8 to ``path`` atomically; return ``path``."""
    return write_bytes(path, text.encode("utf-8"))


def write_csv(df: pd.DataFrame, path: str | Path) -> Path:
    """``df`` as the deterministic CSV of ``flowbench.tables.csv_text``, written atomically."""
    return write_text(path, T.csv_text(df))


def copy(src: str | Path, dst: str | Path) -> Path:
    """Copy the bytes of ``src`` to ``dst`` atomically; return ``dst``."""
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = create_temp(dst)
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    finally:
        if tmp.exists():
            tmp.unlink()
    return dst


def remove(path: str | Path) -> None:
    """Remove a stale file of an earlier render, if it is there."""
    Path(path).unlink(missing_ok=True)
