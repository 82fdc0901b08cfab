"""Atomic writing: files get the user's usual permissions (0666 less the umask), not 0600."""
import os
import stat

import numpy as np
import pandas as pd
import pytest
import torch

from flowbench.io import atomic_path, save_checkpoint, write_csv, write_json, write_npz


@pytest.fixture
def umask():
    """Set the process umask for one test, restoring it afterwards."""
    old = os.umask(0o022)
    try:
        yield os.umask
    finally:
        os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_files_readable_by_others_under_umask_022(tmp_path, umask):
    umask(0o022)
    write_json(tmp_path / "a.json", {"x": 1})
    write_npz(tmp_path / "b.npz", x=np.arange(3))
    write_csv(tmp_path / "c.csv", pd.DataFrame({"x": [1, 2]}))
    save_checkpoint(tmp_path / "d.pt", torch.nn.Linear(1, 1), {"model": "linear"})
    for name in ("a.json", "b.npz", "c.csv", "d.pt"):
        assert _mode(tmp_path / name) == 0o644, name
        assert _mode(tmp_path / f".{name}.sha256") == 0o644, name   # its integrity record
    # each file and its record; no temporary file left behind
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == \
        ["a.json", "b.npz", "c.csv", "d.pt"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == \
        [".a.json.sha256", ".b.npz.sha256", ".c.csv.sha256", ".d.pt.sha256"]


@pytest.mark.parametrize("mask, want", [(0o002, 0o664), (0o077, 0o600)])
def test_mode_follows_the_umask(tmp_path, umask, mask, want):
    umask(mask)
    write_json(tmp_path / "a.json", {})
    assert _mode(tmp_path / "a.json") == want


def test_replacing_a_private_file_and_no_partial_file(tmp_path, umask):
    umask(0o022)
    target = tmp_path / "out.json"
    target.write_text("old\n")
    target.chmod(0o600)
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".out.json.") and tmp.name.endswith(".tmp")
        assert _mode(tmp) == 0o644
        tmp.write_text("new\n")
        assert target.read_text() == "old\n"  # the final name still holds the old file
    assert target.read_text() == "new\n" and _mode(target) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.json.sha256", "out.json"]


def test_copy_recorded_copies_with_a_record_and_refuses_a_damaged_source(tmp_path):
    from flowbench.io import copy_recorded, write_json
    from flowbench.records import DamagedFile, read_json, record_problem
    src, dst = tmp_path / "a" / "info.json", tmp_path / "b" / "info.json"
    write_json(src, {"x": 1})
    copy_recorded(src, dst)
    assert read_json(dst) == {"x": 1} and record_problem(dst) is None
    src.write_text('{"x": 2}\n')   # edited after its producer recorded it
    with pytest.raises(DamagedFile, match="differ from the SHA-256"):
        copy_recorded(src, tmp_path / "c" / "info.json")
    assert not (tmp_path / "c" / "info.json").exists()
