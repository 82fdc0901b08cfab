"""Fault injection on a finished smoke run: every kind of intermediate the workflow writes,
damaged in every way (truncated, junk, wrong shape, NaN, an edited field), is caught by the
start-up scan and by the job that reads it, with a message naming the file; a plain `snakemake`
then rebuilds it, and a file that passes its record but not its schema stops the run. Never does
a damaged file yield a report."""
import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from flowbench import records as R
from flowbench.config import read_config_file, validate_config
from flowbench.io import aggregate_metrics, load_checkpoint
from flowbench.pipeline import build, evaluate_run, probe_threshold, runs_table
from flowbench.report import inputs as report_inputs
from flowbench.tasks import load_task
from tests.conftest import SMOKE, snakemake, tree_digest

pytestmark = pytest.mark.slow

LIN = "gaussian_linear/ours/linear/seed0"
#: each kind of intermediate: a file of it in the smoke run, and what the job that reads it does
KINDS = {
    "checkpoint": "gmm/cinn/default/seed0/model.pt",
    "samples": f"{LIN}/posterior_samples.npz",
    "predictions": f"{LIN}/predictions.npz",
    "reference": "arm/reference.npz",
    "metrics": "gmm/ours/paper/seed0/metrics.json",
    "figure data": "gmm/ours/paper/seed0/figure_data.npz",
    "run record": f"{LIN}/train_info.json",
    "task record": "gmm/task.json",
    "floor": "gaussian_linear/noise_floor.csv",
}
MODES = ("truncate", "junk", "wrong shape", "nan", "edited field")


def consume(kind, repo, path):
    """Read ``path`` the way the job that consumes its kind does."""
    cfg = validate_config(read_config_file(repo / "config/smoke.yaml"))
    res = repo / SMOKE
    if kind == "checkpoint":
        _, model, identity = build(cfg, "gmm", "cinn", "default", 0)
        load_checkpoint(path, model, identity)
    elif kind in ("samples", "predictions", "run record"):
        evaluate_run(cfg, "gaussian_linear", "ours", "linear", 0, path.parent,
                     floor_csv=res / "gaussian_linear/noise_floor.csv")
        runs_table([path.parent / "train_info.json"])
    elif kind == "reference":
        load_task(cfg, "arm", reference=path).reference_posterior(0, 10)
    elif kind == "metrics":
        aggregate_metrics([path], path.parent / "aggregated.csv")
    elif kind == "figure data":   # the figure job and the eps split read it so
        from flowbench.figure_data import read_figure_data
        read_figure_data(path.parent)
    elif kind == "task record":
        report_inputs.load_task_records(res, ["gmm"])
    elif kind == "floor":
        probe_threshold(cfg, "gaussian_linear", path)
        report_inputs.load_floors(res, ["gaussian_linear"])


def _edit_array(a: dict, mode):
    name = next(k for k, v in a.items() if v.dtype.kind == "f" and v.size > 1)
    v = a[name].copy()
    if mode == "wrong shape":
        v = v.reshape(-1)[: v.size // 2] if v.ndim == 1 else v[..., :1] if v.ndim > 2 else v.reshape(-1)
    elif mode == "nan":
        v.reshape(-1)[0] = np.nan
    else:
        v.reshape(-1)[0] += 0.5
    return {**a, name: v}


def _edit_json(obj, mode):
    row = obj[0] if isinstance(obj, list) else obj
    key = next(k for k, v in row.items() if isinstance(v, (int, float)) and not isinstance(v, bool)) \
        if any(isinstance(v, (int, float)) and not isinstance(v, bool) for v in row.values()) else None
    if mode == "wrong shape":
        return [obj] if isinstance(obj, dict) else {"rows": obj}
    if key is None:   # a record of text fields only: edit its first one
        key = next(iter(row))
        row[key] = str(row[key]) + "x"
        return obj
    row[key] = float("nan") if mode == "nan" else row[key] + 1
    return obj


def damage(path, mode):
    """Damage ``path`` in place the way ``mode`` says (its record is left as it was)."""
    data = path.read_bytes()
    if mode == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif mode == "junk":
        path.write_bytes(b"junk{" + data[5:40])
    elif path.suffix == ".npz":
        with np.load(path) as d:
            arrays = {k: d[k] for k in d.files}
        with open(path, "wb") as fh:
            np.savez(fh, **_edit_array(arrays, mode))
    elif path.suffix == ".json":
        path.write_text(json.dumps(_edit_json(json.loads(data), mode)))
    elif path.suffix == ".csv":
        df = pd.read_csv(path)
        num = next(c for c in df.columns if pd.api.types.is_float_dtype(df[c]))
        if mode == "wrong shape":
            df = df.drop(columns=[num])
        else:
            df.loc[0, num] = np.nan if mode == "nan" else df.loc[0, num] + 1
        df.to_csv(path, index=False)
    elif path.suffix == ".pt":
        blob = torch.load(path, weights_only=True)
        name, t = next(iter(blob["state_dict"].items()))
        blob["state_dict"][name] = (t[..., :1] if mode == "wrong shape" else
                                    torch.full_like(t, float("nan")) if mode == "nan" else t + 0.5)
        torch.save(blob, path)


@pytest.fixture(scope="module")
def finished(smoke_run, tmp_path_factory):
    """One copy of the finished smoke run for the read-only cases (each restores its file)."""
    dst = tmp_path_factory.mktemp("faults") / "repo"
    shutil.copytree(smoke_run, dst, symlinks=True, ignore=shutil.ignore_patterns("locks"))
    return dst


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", list(KINDS))
def test_damaged_intermediate_is_found_and_refused_by_its_reader(finished, kind, mode):
    path = finished / SMOKE / KINDS[kind]
    original = path.read_bytes()
    try:
        damage(path, mode)
        assert path.read_bytes() != original
        found = dict(R.scan(finished / SMOKE, skip=[finished / SMOKE / "report"]))
        assert list(found) == [path] and "bytes differ" in found[path]
        with pytest.raises(R.DamagedFile, match=str(path).replace(".", r"\.") + ": "):
            consume(kind, finished, path)
    finally:
        path.write_bytes(original)
    assert R.scan(finished / SMOKE, skip=[finished / SMOKE / "report"]) == []
    consume(kind, finished, path)   # the restored file reads


@pytest.mark.parametrize("mode", ("junk", "wrong shape", "nan"))   # truncation: the record's job
@pytest.mark.parametrize("kind", [k for k in KINDS if k != "checkpoint"])
def test_bad_content_under_a_matching_record_is_refused_by_its_schema(finished, kind, mode):
    """A producer that wrote a bad file (its record matches): the reader's format and schema
    checks still refuse it, naming the file and what is wrong."""
    path = finished / SMOKE / KINDS[kind]
    original, record = path.read_bytes(), R.record_path(path).read_bytes()
    try:
        damage(path, mode)
        R.write_record(path)
        with pytest.raises(R.DamagedFile, match=str(path).replace(".", r"\.") + ": (it|as) "):
            consume(kind, finished, path)
    finally:
        path.write_bytes(original)
        R.record_path(path).write_bytes(record)


def _scores(res, task):
    m = pd.read_csv(res / task / "metrics.csv", dtype={"condition": str}, keep_default_na=False)
    timing = m.metric.str.contains("seconds")
    return m[~timing].set_index(["method", "variant", "seed", "condition", "metric"]).value.sort_index()


@pytest.mark.reruns
def test_plain_snakemake_rebuilds_every_damaged_kind(smoke_copy):
    repo = smoke_copy()
    res = repo / SMOKE
    before = {t: _scores(res, t) for t in ("gmm", "gaussian_linear", "arm")}
    # one file of each kind, each damaged another way. The reference and the floor are left out
    # here only for time (a new reference retrains every run of its task, whose probes read it):
    # the start-up scan that sets them aside is the same, and is tested above for every kind
    plan = {"checkpoint": "truncate", "samples": "nan", "predictions": "junk", "run record": "wrong shape",
            "metrics": "edited field", "task record": "junk"}
    for kind, mode in plan.items():
        damage(res / KINDS[kind], mode)
    # the task stage only (the figures and the report downstream of it are rebuilt by the same
    # mtime rule; the smoke run's own test renders them)
    out = snakemake(repo, "--configfile", "config/smoke.yaml", "--until", "aggregate_task", timeout=900)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-3000:]
    for kind in plan:
        p = res / KINDS[kind]
        assert f"{p.relative_to(repo)}: its bytes differ" in log and "set aside" in log, kind
        assert p.with_name(p.name + ".damaged").exists() and R.record_problem(p) is None, kind
    assert R.scan(res, skip=[res / "report"]) == []
    for t, b in before.items():   # the rebuilt runs score as before (the CPU is deterministic)
        pd.testing.assert_series_equal(_scores(res, t), b, rtol=1e-5)
    again = snakemake(repo, "--configfile", "config/smoke.yaml", "--until", "aggregate_task", "-n")
    assert re.search(r"Nothing to be done|^total\s+0$", again.stdout + again.stderr, re.M)


@pytest.mark.reruns
def test_bad_content_with_its_record_stops_the_run_naming_the_file(smoke_copy):
    """A damaged file whose record was rewritten to match passes the start-up scan: the job that
    reads it stops with the file's name, the run exits non-zero, and the report is not touched."""
    repo = smoke_copy()
    res = repo / SMOKE
    path = res / KINDS["samples"]
    report = tree_digest(res / "report")
    with np.load(path) as d:
        arrays = {k: d[k] for k in d.files}
    arrays["samples"] = arrays["samples"][..., :1]
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    R.write_record(path)
    (path.parent / "metrics.json").unlink()   # so that the reader of the samples runs
    # the target before --configfile, which takes several values
    out = snakemake(repo, str((path.parent / "metrics.json").relative_to(repo)), "--configfile", "config/smoke.yaml",
                    timeout=600)
    assert out.returncode != 0
    log = (res / "logs" / LIN / "evaluate.log").read_text()
    assert "Error in rule evaluate_run" in out.stdout + out.stderr, (out.stdout + out.stderr)[-3000:]
    assert f"{path.relative_to(repo)}: as a run file of this task, 'samples' has dimension 1, the task's is 10" in log
    assert "Rebuild it: delete it and rerun `snakemake`" in log
    assert not (path.parent / "metrics.json").exists()
    assert tree_digest(res / "report") == report
