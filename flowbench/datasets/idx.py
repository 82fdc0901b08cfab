"""Reading the MNIST-type IDX files, with the errors every data problem raises.

IDX header: big-endian int32 magic (2051 images, 2049 labels), int32 count and, for images,
int32 rows and cols (28, 28); then ``count[*rows*cols]`` unsigned bytes. A file is read gzip
(``*.gz``, preferred when both exist) or raw. Reading checks header, counts and shapes; the
decompressed SHA-256 only on request.

Every problem is raised as :class:`DataError` (a ``ValueError``) whose message names the file or
folder and says how to get a good copy.
"""
from __future__ import annotations

import gzip
import hashlib
import zlib
from pathlib import Path

import numpy as np

from .checksums import DATASETS, SPLITS, STEMS

IMAGE_MAGIC = 2051
LABEL_MAGIC = 2049
ROWS = COLS = 28
N_CLASSES = 10

_KINDS = ("images", "labels")
_GZIP_MAGIC = b"\x1f\x8b"


class DataError(ValueError):
    """A data file is missing, damaged or inconsistent, or could not be downloaded."""


# --------------------------------------------------------------------------- messages


def _dataset_hint(folder: Path, dataset: str | None) -> str:
    if dataset is None and folder.name in DATASETS:
        dataset = folder.name
    return dataset if dataset is not None else "{" + ",".join(DATASETS) + "}"


def _how_to_fix(folder: Path, dataset: str | None) -> str:
    ds = _dataset_hint(folder, dataset)
    msg = (
        f"Get the data with `python -m flowbench.datasets --dataset {ds} --root {folder}` "
        f"(needs internet), or copy the four standard IDX files "
        f"({', '.join(s + '.gz' for s in STEMS.values())}) into {folder}"
    )
    if dataset in (None, "fashion-mnist"):
        msg += (
            "; on Debian, `apt install dataset-fashion-mnist` installs Fashion-MNIST "
            "under /usr/share/datasets/fashion-mnist"
        )
    return msg + "."


def _bad_file(path: Path, problem: str, dataset: str | None = None) -> DataError:
    folder = path.parent
    ds = _dataset_hint(folder, dataset)
    return DataError(
        f"{path}: {problem}. Delete it and rerun to download it again "
        f"(`python -m flowbench.datasets --dataset {ds} --root {folder}`), "
        f"or copy the four standard IDX files into {folder}."
    )


def _check_choice(value: str, allowed, what: str) -> None:
    if value not in allowed:
        raise DataError(f"unknown {what} {value!r}; allowed: {', '.join(sorted(allowed))}")


# --------------------------------------------------------------------------- reading


def find_file(root: str | Path, stem: str) -> Path | None:
    """Path of ``stem.gz`` in ``root`` if it exists (preferred), else of raw ``stem``, else None."""
    root = Path(root)
    for candidate in (root / (stem + ".gz"), root / stem):
        if candidate.is_file():
            return candidate
    return None


def _read_bytes(path: Path, dataset: str | None) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(
            f"{path}: file not found. {_how_to_fix(path.parent, dataset)}"
        ) from None
    except OSError as exc:
        raise _bad_file(path, f"cannot be read ({exc})", dataset) from exc
    return _decompress(path, data, dataset)


def _decompress(path: Path, data: bytes, dataset: str | None) -> bytes:
    """The IDX bytes of ``data`` read from ``path``: gunzipped when it is gzip, else as is."""
    is_gzip = data[:2] == _GZIP_MAGIC
    if path.suffix == ".gz" and not is_gzip:
        raise _bad_file(path, "not a gzip file (damaged or mis-named)", dataset)
    if is_gzip:
        try:
            data = gzip.decompress(data)
        except EOFError as exc:
            raise _bad_file(path, f"truncated gzip stream ({exc})", dataset) from exc
        except (OSError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
            raise _bad_file(path, f"corrupted gzip data ({exc})", dataset) from exc
    return data


def read_idx(path: str | Path, *, expected_sha256: str | None = None,
             _dataset: str | None = None) -> np.ndarray:
    """Read one IDX file (gzip or raw) of MNIST-like images or labels.

    Returns a uint8 array: images ``[N, 28, 28]`` (magic 2051) or labels ``[N]``
    (magic 2049). If ``path`` does not exist but ``path + '.gz'`` does (or, for a ``.gz`` path,
    the raw file), that one is read. ``expected_sha256`` (optional) is checked against the
    decompressed bytes.
    """
    path = Path(path)
    if not path.is_file():
        alt = path.with_name(path.name[:-3]) if path.suffix == ".gz" else path.with_name(
            path.name + ".gz")
        if alt.is_file():
            path = alt
    data = _read_bytes(path, _dataset)
    if expected_sha256 is not None:
        got = hashlib.sha256(data).hexdigest()
        if got != expected_sha256:
            raise _bad_file(
                path, f"decompressed SHA-256 {got} differs from the published "
                      f"{expected_sha256}", _dataset)
    if len(data) < 8:
        raise _bad_file(path, f"truncated: {len(data)} bytes, shorter than an IDX header",
                        _dataset)
    magic = int.from_bytes(data[0:4], "big")
    count = int.from_bytes(data[4:8], "big")
    if magic == IMAGE_MAGIC:
        header = 16
        if len(data) < header:
            raise _bad_file(path, f"truncated: {len(data)} bytes, shorter than the "
                                  f"{header}-byte image header", _dataset)
        rows = int.from_bytes(data[8:12], "big")
        cols = int.from_bytes(data[12:16], "big")
        if (rows, cols) != (ROWS, COLS):
            raise _bad_file(path, f"images are {rows}x{cols}, expected {ROWS}x{COLS}",
                            _dataset)
        shape: tuple[int, ...] = (count, rows, cols)
    elif magic == LABEL_MAGIC:
        header = 8
        shape = (count,)
    else:
        raise _bad_file(
            path, f"wrong magic number {magic} (0x{magic:08x}); expected {IMAGE_MAGIC} "
                  f"(images) or {LABEL_MAGIC} (labels)", _dataset)
    expected = int(np.prod(shape))
    body = len(data) - header
    if body < expected:
        raise _bad_file(path, f"truncated: header announces {count} items "
                              f"({expected} data bytes) but only {body} are present", _dataset)
    if body > expected:
        raise _bad_file(path, f"{body - expected} unexpected trailing bytes after the "
                              f"{count} items its header announces", _dataset)
    arr = np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape).copy()
    if magic == LABEL_MAGIC and arr.size and int(arr.max()) >= N_CLASSES:
        raise _bad_file(path, f"label value {int(arr.max())} outside 0..{N_CLASSES - 1}",
                        _dataset)
    return arr


def load_split(root: str | Path, dataset: str, split: str, *,
               verify: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Images (uint8 ``[N, 28, 28]``) and labels (int64 ``[N]``) of one split.

    ``root`` is the folder holding the four files of ``dataset`` (e.g. ``shared/data/mnist``);
    ``split`` is ``"train"`` or ``"test"``. With ``verify=True`` the decompressed files are
    also checked against the published SHA-256 where one is recorded.
    """
    _check_choice(dataset, DATASETS, "dataset")
    _check_choice(split, SPLITS, "split")
    root = Path(root)
    prefix = SPLITS[split]
    arrays = {}
    for kind in _KINDS:
        key = f"{prefix}-{kind}"
        stem = STEMS[key]
        path = find_file(root, stem)
        if path is None:
            raise DataError(
                f"{root / (stem + '.gz')}: file not found (nor the raw {stem}). "
                f"{_how_to_fix(root, dataset)}"
            )
        sha = DATASETS[dataset][key]["sha256"] if verify else None
        arr = read_idx(path, expected_sha256=sha, _dataset=dataset)
        want_ndim = 3 if kind == "images" else 1
        if arr.ndim != want_ndim:
            raise _bad_file(path, f"holds {'labels' if arr.ndim == 1 else 'images'} where "
                                  f"{kind} were expected", dataset)
        arrays[kind] = (path, arr)
    (ipath, images), (lpath, labels) = arrays["images"], arrays["labels"]
    if len(images) != len(labels):
        raise DataError(
            f"{ipath} holds {len(images)} images but {lpath} holds {len(labels)} labels. "
            f"Delete the damaged one and rerun to download it again "
            f"(`python -m flowbench.datasets --dataset {dataset} --root {root}`), "
            f"or copy the four standard IDX files into {root}."
        )
    return images, labels.astype(np.int64)

