"""Tests of the MNIST / Fashion-MNIST data layer on tiny synthetic IDX files."""
import gzip
import hashlib
import http.server
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from flowbench.datasets import (DATASETS, DataError, ensure_dataset, load_split, main, read_idx,
                                verify_dataset)

N = 12
REPO = Path(__file__).resolve().parents[1]
REAL_MNIST = REPO.parent / "shared" / "data" / "mnist"
STEMS = {
    "train-images": "train-images-idx3-ubyte",
    "train-labels": "train-labels-idx1-ubyte",
    "t10k-images": "t10k-images-idx3-ubyte",
    "t10k-labels": "t10k-labels-idx1-ubyte",
}


def idx_images(images: np.ndarray, magic: int = 2051) -> bytes:
    n, r, c = images.shape
    head = b"".join(int(v).to_bytes(4, "big") for v in (magic, n, r, c))
    return head + images.astype(np.uint8).tobytes()


def idx_labels(labels: np.ndarray, magic: int = 2049) -> bytes:
    head = b"".join(int(v).to_bytes(4, "big") for v in (magic, len(labels)))
    return head + labels.astype(np.uint8).tobytes()


def tiny(seed: int = 0, n: int = N):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8),
            rng.integers(0, 10, size=n, dtype=np.uint8))


def tiny_files(seed: int = 0) -> dict[str, bytes]:
    """Raw IDX bytes of the four files, keyed by stem."""
    tr_i, tr_l = tiny(seed)
    te_i, te_l = tiny(seed + 1, n=N // 2)
    return {
        STEMS["train-images"]: idx_images(tr_i), STEMS["train-labels"]: idx_labels(tr_l),
        STEMS["t10k-images"]: idx_images(te_i), STEMS["t10k-labels"]: idx_labels(te_l),
    }


def write_set(folder: Path, compress: bool = True, seed: int = 0) -> dict[str, bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    files = tiny_files(seed)
    for stem, raw in files.items():
        if compress:
            (folder / (stem + ".gz")).write_bytes(gzip.compress(raw, mtime=0))
        else:
            (folder / stem).write_bytes(raw)
    return files


# ------------------------------------------------------------------------------ reading


@pytest.mark.parametrize("compress", [True, False])
def test_round_trip(tmp_path, compress):
    files = write_set(tmp_path, compress=compress)
    images, labels = load_split(tmp_path, "mnist", "train")
    assert images.dtype == np.uint8 and images.shape == (N, 28, 28)
    assert labels.dtype == np.int64 and labels.shape == (N,)
    assert images.tobytes() == files[STEMS["train-images"]][16:]
    assert labels.astype(np.uint8).tobytes() == files[STEMS["train-labels"]][8:]
    test_images, test_labels = load_split(tmp_path, "fashion-mnist", "test")
    assert test_images.shape == (N // 2, 28, 28) and test_labels.shape == (N // 2,)
    suffix = ".gz" if compress else ""
    single = read_idx(tmp_path / (STEMS["t10k-labels"] + suffix))
    assert single.dtype == np.uint8 and np.array_equal(single, test_labels)


def test_gz_preferred_over_raw(tmp_path):
    files_gz = write_set(tmp_path, compress=True, seed=0)
    write_set(tmp_path, compress=False, seed=5)
    images, _ = load_split(tmp_path, "mnist", "train")
    assert images.tobytes() == files_gz[STEMS["train-images"]][16:]


def test_unknown_dataset_and_split(tmp_path):
    with pytest.raises(DataError, match="fashion-mnist, mnist"):
        load_split(tmp_path, "cifar", "train")
    with pytest.raises(DataError, match="test, train"):
        load_split(tmp_path, "mnist", "valid")
    with pytest.raises(DataError, match="allowed"):
        ensure_dataset(tmp_path, "cifar", download=False)


def test_missing_file(tmp_path):
    write_set(tmp_path)
    (tmp_path / (STEMS["t10k-labels"] + ".gz")).unlink()
    with pytest.raises(DataError) as err:
        load_split(tmp_path, "mnist", "test")
    msg = str(err.value)
    assert STEMS["t10k-labels"] in msg and "copy the four standard IDX files" in msg
    with pytest.raises(DataError, match="not found"):
        read_idx(tmp_path / "nothing-here-idx1-ubyte.gz")


def _damage(tmp_path, stem, compress, fn):
    files = write_set(tmp_path, compress=compress)
    path = tmp_path / (stem + (".gz" if compress else ""))
    path.write_bytes(fn(path.read_bytes(), files[stem]))
    return path


def _expect_error(tmp_path, split, path, *fragments):
    with pytest.raises(DataError) as err:
        load_split(tmp_path, "mnist", split)
    msg = str(err.value)
    assert path.name in msg, msg
    assert "download it again" in msg and str(tmp_path) in msg
    for fragment in fragments:
        assert fragment in msg, msg
    return msg


def test_truncated_raw(tmp_path):
    path = _damage(tmp_path, STEMS["train-images"], False, lambda b, raw: b[:-100])
    _expect_error(tmp_path, "train", path, "truncated")


def test_truncated_header(tmp_path):
    path = _damage(tmp_path, STEMS["train-labels"], False, lambda b, raw: b[:6])
    _expect_error(tmp_path, "train", path, "truncated")


def test_trailing_bytes(tmp_path):
    path = _damage(tmp_path, STEMS["train-labels"], False, lambda b, raw: b + b"\0\0")
    _expect_error(tmp_path, "train", path, "trailing")


def test_truncated_gzip(tmp_path):
    path = _damage(tmp_path, STEMS["train-images"], True, lambda b, raw: b[: len(b) // 2])
    _expect_error(tmp_path, "train", path, "gzip")


def test_gzip_bad_crc(tmp_path):
    def flip_crc(b, raw):
        b = bytearray(b)
        b[-8] ^= 0xFF  # first byte of the CRC-32 trailer
        return bytes(b)

    path = _damage(tmp_path, STEMS["t10k-images"], True, flip_crc)
    _expect_error(tmp_path, "test", path, "corrupted gzip")


def test_gzip_corrupt_payload(tmp_path):
    def scramble(b, raw):
        b = bytearray(b)
        mid = len(b) // 2
        b[mid:mid + 16] = bytes(x ^ 0x5A for x in b[mid:mid + 16])
        return bytes(b)

    path = _damage(tmp_path, STEMS["t10k-images"], True, scramble)
    _expect_error(tmp_path, "test", path, "gzip")


def test_gz_name_but_not_gzip(tmp_path):
    path = _damage(tmp_path, STEMS["t10k-labels"], True, lambda b, raw: raw)
    _expect_error(tmp_path, "test", path, "not a gzip file")


def test_wrong_magic(tmp_path):
    def bad_magic(b, raw):
        return gzip.compress((2050).to_bytes(4, "big") + raw[4:])

    path = _damage(tmp_path, STEMS["train-images"], True, bad_magic)
    _expect_error(tmp_path, "train", path, "magic", "2050")


def test_labels_where_images_expected(tmp_path):
    files = write_set(tmp_path, compress=False)
    path = tmp_path / STEMS["train-images"]
    path.write_bytes(files[STEMS["train-labels"]])
    _expect_error(tmp_path, "train", path, "images were expected")


def test_count_mismatch(tmp_path):
    write_set(tmp_path, compress=True)
    _, labels = tiny(3, n=N - 2)
    path = tmp_path / (STEMS["t10k-labels"] + ".gz")
    path.write_bytes(gzip.compress(idx_labels(labels)))
    msg = _expect_error(tmp_path, "test", path, f"{N - 2} labels", f"{N // 2} images")
    assert STEMS["t10k-images"] in msg


def test_verify_sha256(tmp_path):
    write_set(tmp_path)
    load_split(tmp_path, "mnist", "train")  # local files: no checksum enforced
    with pytest.raises(DataError, match="SHA-256"):
        load_split(tmp_path, "mnist", "test", verify=True)


def test_datasets_table():
    bases = {"mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/",
             "fashion-mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"}
    for name, spec in DATASETS.items():
        assert set(spec) == set(STEMS)
        for key, entry in spec.items():
            assert entry["file"] == STEMS[key] + ".gz"
            assert entry["urls"] == [bases[name] + entry["file"]]
            assert len(entry["md5"]) == 32
            assert entry["sha256"] is None or len(entry["sha256"]) == 64
    assert DATASETS["mnist"]["train-images"]["sha256"] is None
    assert DATASETS["mnist"]["t10k-labels"]["md5"] == "ec29112dd5afa0611ce80d1b7f02629c"


# ------------------------------------------------------------------------------ downloading


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, bytes] = {}
    timeout = 5

    def do_GET(self):
        body = self.routes.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    """A local HTTP server; tests fill ``routes`` (URL path -> bytes)."""
    handler = type("Handler", (_Handler,), {"routes": {}})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/data", handler.routes
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _serve(routes, seed=0):
    gz = {stem + ".gz": gzip.compress(raw, mtime=0) for stem, raw in tiny_files(seed).items()}
    for name, body in gz.items():
        routes["/data/" + name] = body
    return {name: hashlib.md5(body).hexdigest() for name, body in gz.items()}


def test_download_good(tmp_path, server):
    base, routes = server
    checksums = _serve(routes)
    root = tmp_path / "new" / "mnist"
    assert ensure_dataset(root, "mnist", base_url=base, timeout=5, checksums=checksums) == root
    assert sorted(os.listdir(root)) == sorted(checksums)
    images, labels = load_split(root, "mnist", "train")
    assert images.shape == (N, 28, 28) and labels.shape == (N,)
    # present now: no network needed (server routes cleared)
    routes.clear()
    assert ensure_dataset(root, "mnist", base_url=base, timeout=5, checksums=checksums) == root


def test_download_corrupted_is_refused(tmp_path, server):
    base, routes = server
    checksums = _serve(routes)
    name = STEMS["train-images"] + ".gz"
    body = bytearray(routes["/data/" + name])
    body[len(body) // 2] ^= 0x01
    routes["/data/" + name] = bytes(body)
    with pytest.raises(DataError) as err:
        ensure_dataset(tmp_path, "mnist", base_url=base, timeout=5, checksums=checksums)
    msg = str(err.value)
    assert "MD5" in msg and name in msg and str(tmp_path) in msg
    assert name not in os.listdir(tmp_path)
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".") or f.endswith(".part")]
    # the three good files were kept and are readable
    assert len(os.listdir(tmp_path)) == 3
    load_split(tmp_path, "mnist", "test")


def test_download_404_leaves_nothing(tmp_path, server):
    base, routes = server
    checksums = _serve(routes)
    del routes["/data/" + STEMS["t10k-labels"] + ".gz"]
    with pytest.raises(DataError) as err:
        ensure_dataset(tmp_path, "fashion-mnist", base_url=base, timeout=5,
                       checksums=checksums)
    msg = str(err.value)
    assert "404" in msg and STEMS["t10k-labels"] in msg
    assert "dataset-fashion-mnist" in msg
    assert sorted(os.listdir(tmp_path)) == sorted(
        n for n in checksums if not n.startswith(STEMS["t10k-labels"]))


def test_no_network(tmp_path):
    with pytest.raises(DataError) as err:
        ensure_dataset(tmp_path, "fashion-mnist", download=False)
    msg = str(err.value)
    assert str(tmp_path) in msg and STEMS["train-images"] in msg
    assert "apt install dataset-fashion-mnist" in msg
    # unreachable server (closed port): refused connection, nothing left behind
    with pytest.raises(DataError, match="could not download"):
        ensure_dataset(tmp_path, "mnist", base_url="http://127.0.0.1:9/", timeout=2)
    assert os.listdir(tmp_path) == []


def test_cli(tmp_path, capsys):
    write_set(tmp_path)
    assert main(["--dataset", "mnist", "--root", str(tmp_path), "--no-download"]) == 0
    out = capsys.readouterr().out
    assert f"train: {N} images" in out and f"test: {N // 2} images" in out
    assert main(["--dataset", "mnist", "--root", str(tmp_path / "none"), "--no-download"]) == 1
    assert "missing" in capsys.readouterr().err


# ------------------------------------------------------------------------------ real data


@pytest.mark.skipif(not REAL_MNIST.is_dir(), reason=f"{REAL_MNIST} not present")
def test_real_mnist_test_split():
    images, labels = load_split(REAL_MNIST, "mnist", "test")
    assert labels.shape == (10000,)
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert set(np.unique(labels)) == set(range(10))


def test_download_gets_usual_permissions(tmp_path, server):
    """Downloaded files are readable by others under umask 022 (0644, not mkstemp's 0600)."""
    base, routes = server
    checksums = _serve(routes)
    old = os.umask(0o022)
    try:
        ensure_dataset(tmp_path, "mnist", base_url=base, timeout=5, checksums=checksums)
    finally:
        os.umask(old)
    assert {name: os.stat(tmp_path / name).st_mode & 0o777 for name in checksums} == {
        name: 0o644 for name in checksums}


# ------------------------------------------------------------------------------ verifying


def _checksums(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in folder.glob("*.gz")}


def test_verify_good_copy(tmp_path):
    write_set(tmp_path)
    checksums = _checksums(tmp_path)
    record = verify_dataset(tmp_path, "mnist", checksums=checksums)
    assert record["ok"] and record["dataset"] == "mnist" and record["root"] == str(tmp_path)
    assert set(record["files"]) == set(checksums)
    for name, f in record["files"].items():
        assert f["ok"] and f["md5"] == checksums[name] and f["matched"] == "published MD5 of the .gz"
        raw = gzip.decompress((tmp_path / name).read_bytes())
        assert f["sha256"] == hashlib.sha256(raw).hexdigest()
    # keyed by file key as well as by file name
    by_key = {key: checksums[stem + ".gz"] for key, stem in STEMS.items()}
    assert verify_dataset(tmp_path, "mnist", checksums=by_key)["ok"]


def test_verify_swapped_label_file(tmp_path):
    """A valid label file of another data set under the right name fails, naming the file."""
    write_set(tmp_path)
    checksums = _checksums(tmp_path)
    _, other_labels = tiny(seed=7)
    path = tmp_path / (STEMS["train-labels"] + ".gz")
    path.write_bytes(gzip.compress(idx_labels(other_labels), mtime=0))
    load_split(tmp_path, "mnist", "train")  # a well-formed file: reading alone does not notice
    with pytest.raises(DataError) as err:
        verify_dataset(tmp_path, "mnist", checksums=checksums)
    msg = str(err.value)
    assert str(path) in msg and "checksum" in msg
    assert checksums[path.name] in msg and hashlib.md5(path.read_bytes()).hexdigest() in msg
    assert "download it again" in msg and "copy the four standard IDX files" in msg
    for stem in (STEMS["train-images"], STEMS["t10k-images"], STEMS["t10k-labels"]):
        assert stem not in msg
    # two bad files: both named
    (tmp_path / (STEMS["t10k-images"] + ".gz")).write_bytes(
        gzip.compress(idx_images(tiny(seed=8)[0]), mtime=0))
    with pytest.raises(DataError, match="2 files") as err:
        verify_dataset(tmp_path, "mnist", checksums=checksums)
    assert str(path) in str(err.value) and STEMS["t10k-images"] in str(err.value)


def test_verify_missing_and_unknown(tmp_path):
    write_set(tmp_path)
    (tmp_path / (STEMS["t10k-labels"] + ".gz")).unlink()
    with pytest.raises(DataError) as err:
        verify_dataset(tmp_path, "mnist")
    assert STEMS["t10k-labels"] in str(err.value) and "missing" in str(err.value)
    with pytest.raises(DataError, match="allowed"):
        verify_dataset(tmp_path, "cifar")
    # tiny files are not the published data
    write_set(tmp_path)
    with pytest.raises(DataError, match="4 files"):
        verify_dataset(tmp_path, "fashion-mnist")


REAL = REPO.parent / "shared" / "data"


@pytest.mark.skipif(not (REAL / "fashion-mnist").is_dir() or not REAL_MNIST.is_dir(),
                    reason=f"{REAL} not present")
def test_verify_real_data_and_a_copied_label_file(tmp_path):
    for name in ("mnist", "fashion-mnist"):
        record = verify_dataset(REAL / name, name)
        assert record["ok"] and len(record["files"]) == 4
    # Fashion-MNIST's training labels copied into mnist/: named, and recognised for what they are
    mnist = tmp_path / "mnist"
    mnist.mkdir()
    for p in REAL_MNIST.glob("*.gz"):
        (mnist / p.name).write_bytes(p.read_bytes())
    bad = mnist / (STEMS["train-labels"] + ".gz")
    bad.write_bytes((REAL / "fashion-mnist" / bad.name).read_bytes())
    with pytest.raises(DataError) as err:
        verify_dataset(mnist, "mnist")
    msg = str(err.value)
    assert msg.startswith(f"{bad}: ") and "it is the fashion-mnist train-labels-idx1-ubyte file" in msg
    assert DATASETS["mnist"]["train-labels"]["md5"] in msg


@pytest.mark.skipif(not REAL_MNIST.is_dir(), reason=f"{REAL_MNIST} not present")
def test_verify_script(tmp_path, monkeypatch, run_script):
    """The workflow script resolves the data root as the image stage does (FLOWBENCH_DATA over
    images.data_root) and writes the record."""
    import json
    from types import SimpleNamespace
    monkeypatch.setenv("FLOWBENCH_DATA", str(REAL_MNIST.parent))
    out = tmp_path / "data_check.json"
    smk = SimpleNamespace(wildcards=SimpleNamespace(dataset="mnist"), output=[str(out)], log=[],
                          threads=1, params=SimpleNamespace(data_root="no/such/folder", download=False),
                          config={})
    run_script("images_verify_data.py", smk)
    record = json.loads(out.read_text())
    assert record["ok"] and record["dataset"] == "mnist" and record["root"] == str(REAL_MNIST)
    assert sorted(record["files"]) == sorted(s + ".gz" for s in STEMS.values())
