"""Checking and fetching the MNIST-type data sets: :func:`verify_dataset`, :func:`ensure_dataset`
and the command line :func:`main` (``python -m flowbench.datasets --dataset mnist --root DIR``).

The downloader checks the MD5 of each ``.gz`` it fetches against the published value and moves
it into place atomically. :func:`verify_dataset` checks files already on disk, once (the workflow
runs it before the image stage): a file passes on the published ``.gz`` MD5, or on the SHA-256 of
its decompressed bytes, since re-compressed copies (e.g. Debian's ``dataset-fashion-mnist``) have
other ``.gz`` checksums; a known good copy passes on its own recorded SHA-256
(:data:`~flowbench.datasets.checksums.KNOWN_COPIES`). A file of the other data set, or any other
file, fails with a message naming it.
"""
from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import secrets
import sys
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

from .checksums import DATASETS, KNOWN_COPIES, SPLITS, STEMS
from .idx import (N_CLASSES, DataError, _bad_file, _check_choice, _decompress, _how_to_fix,
                  find_file, load_split, read_idx)

_MAX_DOWNLOAD_BYTES = 256 * 2**20  # far above the largest file (~26 MB); guards a runaway server


# --------------------------------------------------------------------------- verifying


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
    missing = [key for key in spec if find_file(root, STEMS[key]) is None]
    if missing:
        raise DataError(f"{root}: missing {', '.join(spec[k]['file'] for k in missing)}. "
                        f"{_how_to_fix(root, dataset)}")
    files: dict[str, dict] = {}
    bad: list[tuple[Path, str]] = []
    for key, entry in spec.items():
        path = find_file(root, STEMS[key])
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
    missing = [key for key in spec if find_file(root, STEMS[key]) is None]
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
        still = [spec[k]["file"] for k in spec if find_file(root, STEMS[k]) is None]
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
                read_idx(find_file(root, STEMS[key]), expected_sha256=entry["sha256"],
                         _dataset=dataset)
    return root


# --------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    """``python -m flowbench.datasets``: make sure one data set is present (downloading it unless
    ``--no-download``), print each split's counts; exit status 0, or 1 with the error on stderr."""
    parser = argparse.ArgumentParser(
        prog="python -m flowbench.datasets",
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

