"""Integrity records and checked reading (flowbench.records): every way a file can be damaged is
refused with a message naming the file and what is wrong; a crafted checkpoint runs no code."""
import json
import os
import pickle  # noqa: S403  (only to craft a malicious file that must be refused)
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from flowbench import records as R
from flowbench.io import load_checkpoint, save_checkpoint, write_csv, write_json, write_npz

ROOT = Path(__file__).resolve().parents[1]


def test_record_is_sha256sum_format(tmp_path):
    import hashlib
    write_json(tmp_path / "a.json", {"x": 1})
    line = R.record_path(tmp_path / "a.json").read_text()
    assert line == f"{hashlib.sha256((tmp_path / 'a.json').read_bytes()).hexdigest()}  a.json\n"
    assert R.record_problem(tmp_path / "a.json") is None


@pytest.mark.parametrize("damage, message", [
    (lambda p: p.write_bytes(p.read_bytes()[:-3]), "bytes differ from the SHA-256"),
    (lambda p: p.write_text('{"x": 2}\n'), "bytes differ from the SHA-256"),
    (lambda p: R.record_path(p).unlink(), "has no integrity record"),
    (lambda p: R.record_path(p).write_text("junk"), "integrity record .* is damaged"),
    (lambda p: p.unlink(), "the file is missing"),
])
def test_every_damage_to_a_file_or_its_record_is_named(tmp_path, damage, message):
    p = tmp_path / "a.json"
    write_json(p, {"x": 1})
    damage(p)
    with pytest.raises(R.DamagedFile, match=rf"a\.json: .*{message}"):
        R.read_json(p)


def _recorded(path, text):
    Path(path).write_text(text)
    R.write_record(path)    # a producer that wrote it so: the record matches, the content is bad
    return path


@pytest.mark.parametrize("name, text, message", [
    ("x.json", "junk{", r"not valid JSON \(Expecting value at line 1, column 1\)"),
    ("x.json", '{"a": NaN}', "non-finite JSON constant NaN"),
    ("metrics.json", "[]", "holds no metric rows"),
    ("metrics.json", json.dumps([{"task": "t", "metric": "w2", "value": 1.0}]), "row 0 is not a metric row"),
    ("metrics.json", json.dumps([dict(task="t", method="m", variant="v", seed=0, condition="", metric="w2",
                                      value="0.1")]), "row 0 .* not a finite number"),
    ("train_info.json", json.dumps({"diverged": False}), "as a run record, it lacks the keys"),
    ("task.json", json.dumps([1, 2]), "as a task record, it holds a JSON list"),
])
def test_json_kinds_refuse_bad_content(tmp_path, name, text, message):
    p = _recorded(tmp_path / name, text)
    with pytest.raises(R.DamagedFile, match=rf"{name}: .*{message}"):
        R.read_json(p)


def _samples(**over):
    a = {"condition_ids": np.array(["0", "1"]), "conditions": np.eye(2, dtype=np.float32),
         "samples": np.zeros((2, 5, 3), np.float32)}
    return {**a, **over}


@pytest.mark.parametrize("arrays, message", [
    (_samples(samples=np.zeros((2, 5), np.float32)), r"'samples' has shape \(2, 5\), expected \(2, n, x_dim\)"),
    (_samples(samples=np.where(np.eye(5)[:2, :, None] > 0, np.nan, 0.0).repeat(3, 2)), "mixes finite and non-finite"),
    ({"samples": np.zeros((2, 5, 3))}, r"lacks the arrays \['condition_ids', 'conditions'\]"),
    (_samples(conditions=np.full((2, 2), np.inf, np.float32)), "'conditions' holds non-finite values"),
    (_samples(calibration_x=np.zeros((4, 3), np.float32), calibration_samples=np.zeros((4, 6, 3), np.float32),
              calibration_hpd_f=np.array([0.1, 0.5, 1.5, 0.2], np.float32)), "'calibration_hpd_f' is not one share"),
    (_samples(calibration_x=np.zeros((4, 3), np.float32), calibration_samples=np.zeros((4, 6, 3), np.float32),
              calibration_hpd_f=np.zeros(3, np.float32)), "'calibration_hpd_f' is not one share"),
])
def test_posterior_samples_schema(tmp_path, arrays, message):
    p = tmp_path / "posterior_samples.npz"
    write_npz(p, **arrays)
    with pytest.raises(R.DamagedFile, match=rf"posterior_samples\.npz: as a run's posterior samples, .*{message}"):
        R.read_npz(p)


def test_diverged_samples_nan_throughout_pass(tmp_path):
    p = tmp_path / "posterior_samples.npz"
    write_npz(p, **_samples(samples=np.full((2, 5, 3), np.nan, np.float32)))
    assert np.isnan(R.read_npz(p)["samples"]).all()


def test_reference_and_predictions_refuse_non_finite(tmp_path):
    write_npz(tmp_path / "reference.npz", x=np.array([[[0.0, np.nan]]]), identity=np.asarray("{}"))
    with pytest.raises(R.DamagedFile, match="reference.npz: as a task's reference posterior, its array 'x' holds non-finite"):
        R.read_npz(tmp_path / "reference.npz")
    write_npz(tmp_path / "predictions.npz", x=np.zeros((3, 2)), y=np.zeros((3, 1)), y_hat=np.zeros((3, 2)))
    with pytest.raises(R.DamagedFile, match=r"'y_hat' has shape \(3, 2\), 'y' \(3, 1\)"):
        R.read_npz(tmp_path / "predictions.npz")


def test_truncated_archive_and_pickled_array_refused(tmp_path):
    p = _recorded(tmp_path / "a.npz", "PK\x03\x04 not really a zip")
    with pytest.raises(R.DamagedFile, match=r"a\.npz: it is not a readable array archive"):
        R.read_npz(p)
    q = tmp_path / "b.npz"
    np.savez(q, x=np.array([{"a": 1}], dtype=object))   # an object array needs pickle
    R.write_record(q)
    with pytest.raises(R.DamagedFile, match=r"b\.npz: it is not a readable array archive"):
        R.read_npz(q)


@pytest.mark.parametrize("frame, message", [
    (pd.DataFrame({"task": ["t"], "metric": ["w2"]}), "lacks the columns"),
    (pd.DataFrame({"task": "t", "condition": "0", "metric": "w2", "n": [10], "repeat": 0, "value": [np.nan]}),
     "column 'value' holds values that are not finite"),
])
def test_floor_table_schema(tmp_path, frame, message):
    write_csv(tmp_path / "noise_floor.csv", frame)
    with pytest.raises(R.DamagedFile, match=f"noise_floor.csv: as a task's noise floor, .*{message}"):
        R.read_csv(tmp_path / "noise_floor.csv")


class _RunsCode:
    """Unpickling this calls os.system: what a crafted checkpoint handed to a user would do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_crafted_checkpoint_runs_no_code(tmp_path):
    marker = tmp_path / "pwned"
    p = tmp_path / "model.pt"
    with open(p, "wb") as fh:
        pickle.dump({"identity": {}, "state_dict": _RunsCode(marker)}, fh)
    R.write_record(p)   # even with a record that matches (a file handed over with its record)
    with pytest.raises(R.DamagedFile, match=r"model\.pt: it is not a checkpoint that loads safely"):
        load_checkpoint(p, torch.nn.Linear(1, 1), {})
    assert not marker.exists()
    torch.save({"identity": {}, "state_dict": _RunsCode(marker)}, p)   # the same inside torch's zip format
    R.write_record(p)
    with pytest.raises(R.DamagedFile, match="loads safely"):
        load_checkpoint(p, torch.nn.Linear(1, 1), {})
    assert not marker.exists()


def test_a_real_checkpoint_loads_with_weights_only(tmp_path):
    m = torch.nn.Linear(2, 1)
    ident = {"method": "x", "params": {"width": 3, "hidden": [4, 4], "tag": None, "lr": 1e-3}}
    save_checkpoint(tmp_path / "m.pt", m, ident, extra={"epochs": 2})
    m2 = torch.nn.Linear(2, 1)
    assert load_checkpoint(tmp_path / "m.pt", m2, ident) == {"epochs": 2}
    assert torch.equal(m.weight, m2.weight)


def test_scan_finds_damaged_and_unrecorded_files_only(tmp_path):
    res = tmp_path / "results" / "x"
    write_json(res / "t" / "ok.json", {"a": 1})
    write_json(res / "t" / "edited.json", {"a": 1})
    (res / "t" / "edited.json").write_text('{"a": 2}')
    (res / "t" / "unrecorded.csv").write_text("a\n1\n")
    (res / "logs").mkdir()
    (res / "logs" / "x.json").write_text("not recorded, not scanned")
    (res / "t" / "figure.png").write_bytes(b"png")
    (res / "report").mkdir()
    (res / "report" / "table.csv").write_text("a\n")
    found = dict(R.scan(res, skip=[res / "report"]))
    assert sorted(p.name for p in found) == ["edited.json", "unrecorded.csv"]
    moved = R.set_aside(res / "t" / "edited.json")
    assert moved.name == "edited.json.damaged" and not R.record_path(res / "t" / "edited.json").exists()
    assert sorted(p.name for p in dict(R.scan(res, skip=[res / "report"]))) == ["unrecorded.csv"]


def test_no_unsafe_deserialisation_in_the_code():
    """No pickle, no unsafe YAML loader, no allow_pickle, no weights_only=False in flowbench or the
    workflow: the only deserialisers are JSON, CSV, npz without pickle and torch's weights_only."""
    import re
    bad = re.compile(r"^\s*(import pickle|from pickle|import dill|import cloudpickle)|allow_pickle\s*=\s*True|"
                     r"weights_only\s*=\s*False|yaml\.load\((?![^)]*Loader=_UniqueKeyLoader)|yaml\.unsafe_load|"
                     r"yaml\.Loader\b|FullLoader|UnsafeLoader", re.M)
    files = [*(ROOT / "flowbench").rglob("*.py"), *(ROOT / "workflow").rglob("*.py"),
             *(ROOT / "workflow").rglob("*.smk"), ROOT / "Snakefile"]
    hits = [f"{f.relative_to(ROOT)}: {m.group(0).strip()}" for f in files for m in bad.finditer(f.read_text())]
    assert hits == []
    loader = (ROOT / "flowbench" / "config.py").read_text()
    assert "class _UniqueKeyLoader(yaml.SafeLoader)" in loader
    # and the check can fail
    assert bad.search("x = np.load(f, allow_pickle=True)") and bad.search("import pickle")
