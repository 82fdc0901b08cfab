"""MNIST / Fashion-MNIST data layer: IDX reader, split loader and a checked downloader.

Each data set lives in its own folder holding the four standard IDX files, gzip-compressed
(``*.gz``, preferred when both exist) or raw::

    train-images-idx3-ubyte(.gz)  train-labels-idx1-ubyte(.gz)
    t10k-images-idx3-ubyte(.gz)   t10k-labels-idx1-ubyte(.gz)

IDX header: big-endian int32 magic (2051 images, 2049 labels), int32 count and, for images,
int32 rows and cols (28, 28); then ``count[*rows*cols]`` unsigned bytes.

Checksums: the downloader checks the MD5 of each ``.gz`` it fetches against the published value.
Reading checks header, counts and shapes only. :func:`verify_dataset` checks files already on disk,
once (the workflow runs it before the image stage): a file passes on the published ``.gz`` MD5, or
on the SHA-256 of its decompressed bytes, since re-compressed copies (e.g. Debian's
``dataset-fashion-mnist``) have other ``.gz`` checksums; the local MNIST training images, a
rebuild, pass on their own recorded SHA-256 (``KNOWN_COPIES``). A file of the other data set, or
any other file, fails with a message naming it. The SHA-256 of the decompressed published files
is kept in ``DATASETS`` and also checked on request by the loader (``verify=True``).

Every problem is raised as :class:`DataError` (a ``ValueError``) whose message names the file or
folder and says how to get a good copy.

Command line: ``python -m flowbench.data --dataset mnist --root DIR``.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import http.client
import os
import secrets
import sys
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import numpy as np

MNIST_BASE_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
FASHION_MNIST_BASE_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"

IMAGE_MAGIC = 2051
LABEL_MAGIC = 2049
ROWS = COLS = 28
N_CLASSES = 10

SPLITS = {"train": "train", "test": "t10k"}  # split name -> file prefix
_KINDS = ("images", "labels")
_STEMS = {
    "train-images": "train-images-idx3-ubyte",
    "train-labels": "train-labels-idx1-ubyte",
    "t10k-images": "t10k-images-idx3-ubyte",
    "t10k-labels": "t10k-labels-idx1-ubyte",
}
_GZIP_MAGIC = b"\x1f\x8b"
_MAX_DOWNLOAD_BYTES = 256 * 2**20  # far above the largest file (~26 MB); guards a runaway server


def _entry(base: str, key: str, md5: str, sha256: str | None) -> dict:
    stem = _STEMS[key]
    return {
        "file": stem + ".gz",  # name of the file as distributed
        "raw": stem,  # name once decompressed
        "urls": [base + stem + ".gz"],
        "md5": md5,  # of the .gz as distributed
        "sha256": sha256,  # of the decompressed file; None where not enforced
    }


#: Per data set, per file: download URL(s) and published checksums.
DATASETS: dict[str, dict[str, dict]] = {
    "mnist": {
        "train-images": _entry(
            MNIST_BASE_URL, "train-images", "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            # The local copy of this file is a rebuild (see shared/data/README.md): its
            # decompressed checksum is deliberately not enforced.
            None,
        ),
        "train-labels": _entry(
            MNIST_BASE_URL, "train-labels", "d53e105ee54ea40749a09fcbcd1e9432",
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        ),
        "t10k-images": _entry(
            MNIST_BASE_URL, "t10k-images", "9fb629c4189551a2d022fa330f9573f3",
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        ),
        "t10k-labels": _entry(
            MNIST_BASE_URL, "t10k-labels", "ec29112dd5afa0611ce80d1b7f02629c",
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        ),
    },
    "fashion-mnist": {
        "train-images": _entry(
            FASHION_MNIST_BASE_URL, "train-images", "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        ),
        "train-labels": _entry(
            FASHION_MNIST_BASE_URL, "train-labels", "25c81989df183df01b3e8a0aad5dffbe",
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        ),
        "t10k-images": _entry(
            FASHION_MNIST_BASE_URL, "t10k-images", "bef4ecab320f06d8554ea6380940ec79",
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        ),
        "t10k-labels": _entry(
            FASHION_MNIST_BASE_URL, "t10k-labels", "bb300cfdad3c16e7a12a480ee83cd310",
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        ),
    },
}


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
        f"Get the data with `python -m flowbench.data --dataset {ds} --root {folder}` "
        f"(needs internet), or copy the four standard IDX files "
        f"({', '.join(s + '.gz' for s in _STEMS.values())}) into {folder}"
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
        f"(`python -m flowbench.data --dataset {ds} --root {folder}`), "
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
        stem = _STEMS[key]
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
            f"(`python -m flowbench.data --dataset {dataset} --root {root}`), "
            f"or copy the four standard IDX files into {root}."
        )
    return images, labels.astype(np.int64)


# --------------------------------------------------------------------------- verifying

#: Decompressed SHA-256 of copies that are not the published file but are known to be good, per
#: (data set, file key), with what each is. They are accepted by :func:`verify_dataset`.
KNOWN_COPIES: dict[tuple[str, str], dict[str, str]] = {
    ("mnist", "train-images"): {
        "374ba378bee06c633f4800ac6a495f71d1b80b0e82bf763acbfa4c7e9c379f75":
            "a rebuild of the MNIST training images from a public PNG copy (labels and order as "
            "published; about 97% of pixels exact, the rest within one grey level)",
    },
}


def _identify(md5: str, sha256: str) -> str | None:
    """Which published (or known) file these digests belong to, e.g. 'fashion-mnist
    train-labels-idx1-ubyte'; None when they match none."""
    for name, spec in DATASETS.items():
        for key, entry in spec.items():
            if (md5 == entry["md5"] or sha256 == entry["sha256"]
                    or sha256 in KNOWN_COPIES.get((name, key), {})):
                return f"{name} {entry['raw']}"
    return None


def verify_dataset(root: str | Path, dataset: str, *,
                   checksums: dict[str, str] | None = None) -> dict:
    """Check the four IDX files of ``dataset`` in ``root`` against their published checksums.

    A file passes when the MD5 of the file as stored equals the published MD5 of the ``.gz``
    (a copy as distributed), or the SHA-256 of its decompressed bytes equals the published one
    (a re-compressed or decompressed copy) or that of a known good copy (:data:`KNOWN_COPIES`).
    ``checksums`` replaces the published MD5s, keyed by file key (``"train-images"``) or file
    name, as in :func:`ensure_dataset`.

    Returns ``{"dataset", "root", "ok": True, "files": {file name: {"key", "md5", "sha256",
    "ok", "matched"}}}``: ``md5`` of the file as stored, ``sha256`` of its decompressed bytes,
    ``matched`` the reference it matched. Raises :class:`DataError` for a missing file, or
    naming each file that matches no reference with its expected and actual digests, what it
    is when it is another known file (say the other data set's labels), and how to get a good
    copy.
    """
    _check_choice(dataset, DATASETS, "dataset")
    root = Path(root)
    spec = DATASETS[dataset]
    missing = [key for key in spec if find_file(root, _STEMS[key]) is None]
    if missing:
        raise DataError(f"{root}: missing {', '.join(spec[k]['file'] for k in missing)}. "
                        f"{_how_to_fix(root, dataset)}")
    files: dict[str, dict] = {}
    bad: list[tuple[Path, str]] = []
    for key, entry in spec.items():
        path = find_file(root, _STEMS[key])
        try:
            stored = path.read_bytes()
        except OSError as exc:
            raise _bad_file(path, f"cannot be read ({exc})", dataset) from exc
        md5 = hashlib.md5(stored).hexdigest()
        sha = hashlib.sha256(_decompress(path, stored, dataset)).hexdigest()
        want_md5 = entry["md5"]
        if checksums is not None:
            want_md5 = checksums.get(key, checksums.get(entry["file"], want_md5))
        known = KNOWN_COPIES.get((dataset, key), {})
        if md5 == want_md5.lower():
            matched = "published MD5 of the .gz"
        elif sha == entry["sha256"]:
            matched = "published SHA-256 of the decompressed file"
        elif sha in known:
            matched = f"SHA-256 of a known copy: {known[sha]}"
        else:
            matched = None
        files[path.name] = {"key": key, "md5": md5, "sha256": sha, "ok": matched is not None,
                            "matched": matched}
        if matched is None:
            want_sha = [s for s in [entry["sha256"], *known] if s]
            problem = (f"fails its checksum check: MD5 {md5}, expected {want_md5} (the published "
                       f"{entry['file']}); SHA-256 of the decompressed bytes {sha}, expected "
                       + (" or ".join(want_sha) if want_sha else "none recorded"))
            other = _identify(md5, sha)
            if other is not None:
                problem += f"; it is the {other} file, not {dataset}'s {entry['raw']}"
            bad.append((path, problem))
    if len(bad) == 1:
        raise _bad_file(*bad[0], dataset)
    if bad:
        raise DataError(f"{len(bad)} files in {root} fail their checksum check:\n"
                        + "\n".join(str(_bad_file(p, problem, dataset)) for p, problem in bad))
    return {"dataset": dataset, "root": str(root), "ok": True, "files": files}


# --------------------------------------------------------------------------- downloading


def _download_one(url: str, dest: Path, md5: str, timeout: float) -> None:
    """Fetch ``url`` into ``dest`` atomically; raise on any failure, leaving nothing behind.

    The file gets the user's usual permissions (0666 less the umask), not mkstemp's 0600, so that
    others on a shared file system can read the data.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(6)}.part")
        try:
            fd = os.open(tmp, flags, 0o666)
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(f"no free temporary name beside {dest}")
    try:
        digest = hashlib.md5()
        size = 0
        with os.fdopen(fd, "wb") as out:
            with urllib.request.urlopen(url, timeout=timeout) as resp:
                while True:
                    chunk = resp.read(1 << 20)
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > _MAX_DOWNLOAD_BYTES:
                        raise DataError(f"{url}: response exceeds {_MAX_DOWNLOAD_BYTES} bytes")
                    digest.update(chunk)
                    out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        got = digest.hexdigest()
        if got != md5.lower():
            raise DataError(f"{url}: MD5 {got} of the {size} bytes received differs from the "
                            f"published {md5}")
        os.replace(tmp, dest)
    finally:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass


def ensure_dataset(root: str | Path, dataset: str, download: bool = True,
                   base_url: str | None = None, timeout: float = 30, *,
                   checksums: dict[str, str] | None = None, verify: bool = False) -> Path:
    """Make sure ``root`` holds the four IDX files of ``dataset``; return ``root`` as a Path.

    Missing files are downloaded (when ``download``) from ``base_url`` if given, else from the
    URLs in :data:`DATASETS`; each ``.gz`` is checked against its MD5 (from ``checksums``, keyed
    by file key such as ``"train-images"`` or by file name, else from ``DATASETS``) and moved
    into place atomically, so a failed download leaves no file behind. Files already present are
    not re-checked except with ``verify=True`` (decompressed SHA-256 where recorded).
    """
    _check_choice(dataset, DATASETS, "dataset")
    root = Path(root)
    spec = DATASETS[dataset]
    missing = [key for key in spec if find_file(root, _STEMS[key]) is None]
    if missing and not download:
        raise DataError(
            f"{root}: missing {', '.join(spec[k]['file'] for k in missing)} and downloading "
            f"is off. {_how_to_fix(root, dataset)}"
        )
    failures: list[str] = []
    if missing:
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataError(f"{root}: cannot create the data folder ({exc}). "
                            f"{_how_to_fix(root, dataset)}") from exc
    unreachable = False  # a connection-level failure: don't wait out the timeout per file
    for key in missing:
        if unreachable:
            break
        entry = spec[key]
        md5 = None
        if checksums is not None:
            md5 = checksums.get(key, checksums.get(entry["file"]))
        md5 = md5 or entry["md5"]
        urls = [base_url.rstrip("/") + "/" + entry["file"]] if base_url else entry["urls"]
        errors = []
        for url in urls:
            try:
                _download_one(url, root / entry["file"], md5, timeout)
                break
            except DataError as exc:
                errors.append(str(exc))
            except (urllib.error.URLError, http.client.HTTPException, OSError,
                    ValueError) as exc:
                # HTTP errors, timeouts, resets, short reads, bad URLs, disk errors
                errors.append(f"{url}: {exc}")
                if isinstance(exc, (urllib.error.URLError, TimeoutError)) and not isinstance(
                        exc, urllib.error.HTTPError) and len(urls) == 1:
                    unreachable = True
        else:
            failures.append(f"{entry['file']} ({'; '.join(errors)})")
    if failures:
        still = [spec[k]["file"] for k in spec if find_file(root, _STEMS[k]) is None]
        raise DataError(
            f"{root}: could not download {dataset}; missing {', '.join(still)}. "
            f"Errors: {' | '.join(failures)}. Without internet, copy the four standard IDX "
            f"files into {root}"
            + ("; on Debian, `apt install dataset-fashion-mnist` installs Fashion-MNIST under "
               "/usr/share/datasets/fashion-mnist" if dataset == "fashion-mnist" else
               " (Fashion-MNIST only: on Debian, `apt install dataset-fashion-mnist` installs it "
               "under /usr/share/datasets/fashion-mnist)")
            + "."
        )
    if verify:
        for key, entry in spec.items():
            if entry["sha256"] is not None:
                read_idx(find_file(root, _STEMS[key]), expected_sha256=entry["sha256"],
                         _dataset=dataset)
    return root


# --------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m flowbench.data",
        description="Make sure an MNIST-type data set is present (downloading it if needed) "
                    "and print its counts.")
    parser.add_argument("--dataset", required=True, choices=sorted(DATASETS))
    parser.add_argument("--root", required=True, help="folder holding the four IDX files")
    parser.add_argument("--no-download", action="store_true", help="never use the network")
    parser.add_argument("--base-url", default=None, help="download from this base URL instead")
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--verify", action="store_true",
                        help="check decompressed files against the published SHA-256")
    args = parser.parse_args(argv)
    try:
        root = ensure_dataset(args.root, args.dataset, download=not args.no_download,
                              base_url=args.base_url, timeout=args.timeout, verify=args.verify)
        for split in SPLITS:
            images, labels = load_split(root, args.dataset, split)
            counts = np.bincount(labels, minlength=N_CLASSES).tolist()
            print(f"{args.dataset} {split}: {len(images)} images {tuple(images.shape[1:])}, "
                  f"{len(labels)} labels, per class {counts}")
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
