"""A run's figure data (flowbench/figure_data.py) and carrying finished runs from one machine to the
next (flowbench/carry.py): what is saved, what is restored, and what is refused."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from flowbench import carry as C
from flowbench import metrics as M
from flowbench.config import read_config_file, validate_config
from flowbench.figure_data import FIGURE_DATA
from flowbench.pipeline import figure_data
from flowbench.records import read_npz, record_problem
from tests.conftest import SMOKE, snakemake, tree_digest


def _config(repo: Path, carry: str | None = "carried") -> dict:
    cfg = validate_config(read_config_file(repo / "config" / "smoke.yaml"))
    cfg["carry"] = carry
    return cfg


# ---------------------------------------------------------------------------------- figure data
def test_figure_data_holds_what_the_figures_and_the_split_read(smoke_run):
    """The first seed keeps the first ``figure_points`` draws per condition (and the mixture its
    predicted labels), a later seed none; every run with a calibration set its coverage curve; a
    run of the eps split its draws at the split's conditions. All copied, none drawn anew."""
    cfg = _config(smoke_run, None)
    res = smoke_run / SMOKE
    first = read_npz(res / "gmm/ours/paper/seed0" / FIGURE_DATA)
    post = read_npz(res / "gmm/ours/paper/seed0/posterior_samples.npz")
    np.testing.assert_array_equal(first["samples"], post["samples"][:, :600])
    pred = read_npz(res / "gmm/ours/paper/seed0/predictions.npz")
    np.testing.assert_array_equal(first["true_label"], np.argmax(pred["y"], axis=1))
    np.testing.assert_array_equal(first["predicted_label"], np.argmax(pred["y_hat"], axis=1))
    later = read_npz(res / "gmm/ours/paper/seed1" / FIGURE_DATA)
    assert "samples" not in later and "predicted_label" not in later

    arm = res / "arm/ours/inverse/seed0"
    fd, post = read_npz(arm / FIGURE_DATA), read_npz(arm / "posterior_samples.npz")
    assert fd["samples"].shape[1] == min(150, post["samples"].shape[1])   # the arm figure draws 150
    np.testing.assert_allclose(fd["coverage"], M.coverage(post["calibration_samples"], post["calibration_x"],
                                                          np.asarray(M.COVERAGE_LEVELS)))
    ids = [str(c) for c in post["condition_ids"]]
    k = ids.index(str(fd["eps_condition_ids"][0]))
    assert str(fd["eps_condition_ids"][0]) == "ystar"   # the split reads y* first
    np.testing.assert_array_equal(fd["eps_samples"][0], post["samples"][k, :100])
    # the cINN has no smoothed limit: no split draws
    assert "eps_samples" not in read_npz(res / "arm/cinn/inverse/seed0" / FIGURE_DATA)
    # written by the workflow as figure_data() computes it from the run's files
    again = figure_data(cfg, "arm", "ours", "inverse", 0, arm)
    assert sorted(again) == sorted(fd) and all(np.array_equal(again[k], fd[k]) for k in fd)


# ---------------------------------------------------------------------------------------- carry
@pytest.fixture(scope="module")
def carried(smoke_run, tmp_path_factory):
    """The finished smoke run's runs saved to a carry folder: (base with carried/smoke, its config)."""
    base = tmp_path_factory.mktemp("carry")
    cfg = _config(smoke_run)
    counts = C.save(cfg, smoke_run / SMOKE, base, log=lambda m: None)
    assert counts["runs"] == 16 and counts["tasks"] == 4
    return base, cfg


def test_save_keeps_small_files_only_and_is_idempotent(carried, smoke_run):
    base, cfg = carried
    run = base / "carried/smoke/gmm/ours/paper/seed0"
    assert sorted(p.name for p in run.iterdir() if not p.name.startswith(".")) == sorted(
        [*C.RUN_FILES, "benchmarks", C.MANIFEST])
    man = json.loads((run / C.MANIFEST).read_text())
    assert set(man["inputs"]) == {"noise_floor.csv"}   # the mixture has no reference file
    assert sorted(p.name for p in (base / "carried/smoke/arm").iterdir() if p.is_file()
                  and not p.name.startswith(".")) == [C.MANIFEST, "noise_floor.csv", "reference.npz"]
    assert not list((base / "carried").rglob("*.pt")) and not list((base / "carried").rglob("posterior_samples.npz"))
    again = C.save(cfg, smoke_run / SMOKE, base, log=lambda m: None)
    assert again == {"runs": 0, "tasks": 0, "unchanged": 16}
    rows = {r["task"]: r for r in C.status(cfg, base)}
    assert all(r["carried"] == r["runs"] and r["not_restorable"] == 0 for r in rows.values())
    changed = json.loads(json.dumps(cfg))
    changed["methods"]["cinn"]["base"]["lr"] = 3e-4   # every cINN run of every task is another run now
    rows = {r["task"]: r for r in C.status(changed, base)}
    assert rows["gmm"]["not_restorable"] == 1 and rows["gmm"]["carried"] == rows["gmm"]["runs"] - 1


def _restore(carried, tmp_path, cfg=None):
    base, cfg0 = carried
    work = tmp_path / "base"
    shutil.copytree(base / "carried", work / "carried")
    results = tmp_path / "results"
    out = C.restore(cfg or cfg0, results, work, log=lambda m: None)
    return work, results, out


def test_restore_copies_every_matching_run_byte_for_byte(carried, smoke_run, tmp_path):
    work, results, out = _restore(carried, tmp_path)
    assert out["restored"] == 16 and out["refused"] == []
    src = smoke_run / SMOKE
    for f in ("gmm/ours/paper/seed1/metrics.json", "arm/ours/inverse/seed0/figure_data.npz",
              "arm/reference.npz", "gaussian_linear/noise_floor.csv"):
        assert (results / f).read_bytes() == (src / f).read_bytes()
        assert record_problem(results / f) is None
    # the workflow's order: inputs, then training outputs, then evaluation outputs
    t = {f: (results / f).stat().st_mtime for f in ("arm/reference.npz", "arm/noise_floor.csv",
                                                     "arm/ours/inverse/seed0/train_info.json",
                                                     "arm/ours/inverse/seed0/metrics.json")}
    assert list(t.values()) == sorted(t.values()) and len(set(t.values())) == 4
    ledger = json.loads((results / "carried.json").read_text())
    assert len(ledger) == 16
    # a second restore finds them there and copies nothing
    again = C.restore(carried[1], results, work, log=lambda m: None)
    assert again["restored"] == 0 and again["present"] == 16


def test_restore_refuses_a_changed_recipe_a_changed_evaluation_and_a_damaged_file(carried, tmp_path):
    cfg = json.loads(json.dumps(carried[1]))
    cfg["methods"]["ours"]["variants"]["paper"]["lr"] = 5e-4           # gmm's ours/paper retrains
    cfg["tasks"]["gaussian_linear"]["metrics"] = ["w2"]               # its evaluation changed
    base = tmp_path / "one"
    shutil.copytree(carried[0] / "carried", base / "carried")
    damaged = base / "carried/smoke/gmm/cinn/default/seed0/metrics.json"
    damaged.write_text(damaged.read_text().replace("w2", "w3", 1))
    out = C.restore(cfg, tmp_path / "results", base, log=lambda m: None)
    why = dict(out["refused"])
    assert "train digest differs" in why["gmm/ours/paper/seed0"] and "train digest" in why["gmm/ours/paper/seed1"]
    assert "differs from its manifest" in why["gmm/cinn/default/seed0"]
    assert "floor" in why["gaussian_linear"] or "evaluat" in why["gaussian_linear"]
    restored = {str(p.parent.relative_to(tmp_path / "results")) for p in (tmp_path / "results").rglob("metrics.json")}
    assert "gmm/ours/paper/seed0" not in restored and "gmm/cinn/default/seed0" not in restored
    assert "gmm/inn/full/seed0" in restored and not any(r.startswith("gaussian_linear") for r in restored)


def test_restore_never_overwrites_a_file_in_results(carried, tmp_path):
    results = tmp_path / "results"
    mine = results / "gmm/cinn/default/seed0/metrics.json"
    mine.parent.mkdir(parents=True)
    mine.write_text("[]")
    other_floor = results / "arm/noise_floor.csv"
    other_floor.parent.mkdir(parents=True)
    other_floor.write_text("task,condition,metric,n,repeat,value\n")
    base = tmp_path / "b"
    shutil.copytree(carried[0] / "carried", base / "carried")
    out = C.restore(carried[1], results, base, log=lambda m: None)
    assert mine.read_text() == "[]" and out["present"] == 1
    assert any(what == "arm" and "other" in why for what, why in out["refused"])
    assert not (results / "arm/ours/inverse/seed0/metrics.json").exists()


def test_a_fresh_checkout_with_carried_runs_plans_no_training(carried, smoke_copy):
    """The workflow end to end: a clone with the carried runs and no results plans the
    aggregation, figures and report only: no training, evaluation, floor or reference job."""
    repo = smoke_copy()
    want = tree_digest(repo / SMOKE / "gmm")
    shutil.rmtree(repo / SMOKE)
    shutil.rmtree(repo / ".snakemake", ignore_errors=True)
    shutil.copytree(carried[0] / "carried", repo / "carried")
    cfg = yaml.safe_load((repo / "config/smoke.yaml").read_text())
    cfg["carry"] = "carried"
    (repo / "config/smoke.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    r = snakemake(repo, "-n", "--configfile", "config/smoke.yaml")
    assert r.returncode == 0, r.stderr[-3000:]
    out = r.stdout + r.stderr
    assert "carry: 16 runs restored" in out
    for rule in ("train_run", "evaluate_run", "noise_floor", "reference_task"):
        assert f"rule {rule}:" not in out, rule
    assert "rule aggregate_task:" in out and "rule render_report:" in out
    got = tree_digest(repo / SMOKE / "gmm")
    assert all(got[f] == want[f] for f in got if not f.startswith("."))


def test_git_keeps_every_file_a_carried_run_holds(root):
    """A carried run travels by git: none of its files (its benchmark TSVs included, which the
    repository ignores elsewhere) may be ignored."""
    import subprocess
    if not (root / ".git").exists():
        pytest.skip("not a git checkout")
    names = [f"carried/full/arm/ours/inverse/seed0/{f}" for f in (*C.RUN_FILES, C.MANIFEST)]
    names += ["carried/full/arm/ours/inverse/seed0/benchmarks/train.tsv", "carried/full/arm/reference.npz",
              "carried/full/arm/benchmarks/noise_floor.tsv", "carried/full/arm/.manifest.json.sha256"]
    r = subprocess.run(["git", "check-ignore", *names], cwd=root, capture_output=True, text=True)
    assert r.stdout.strip() == "", f"ignored by git: {r.stdout}"
    assert subprocess.run(["git", "check-ignore", "-q", "results/full/arm/reference.npz"], cwd=root).returncode == 0
