"""Results that match their config, end to end on copies of the finished smoke run: a changed
hyper-parameter retrains exactly the runs that read it, a deleted run file is rebuilt by a plain
`snakemake`, a run trained under other settings is refused when the params trigger is switched off,
and the report renders and decides C6 without diverged runs. Each test asks Snakemake only for the
jobs it tests (targets, ``--until``), the rest of the run being finished and up to date."""
import json

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import SMOKE, snakemake

pytestmark = [pytest.mark.slow, pytest.mark.reruns]
CONFIG = "config/smoke.yaml"


def run(repo, *args):
    """Snakemake with the smoke config (targets first: --configfile takes what follows it)."""
    res = snakemake(repo, *args, "--configfile", CONFIG, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return res.stdout + res.stderr


def edit_config(repo, change):
    cfg = yaml.safe_load((repo / CONFIG).read_text())
    change(cfg)
    (repo / CONFIG).write_text(yaml.safe_dump(cfg))
    return cfg


def run_dir(repo, task, method, variant, seed=0):
    return repo / f"{SMOKE}/{task}/{method}/{variant}/seed{seed}"


def jobs_planned(repo, *args) -> dict[str, int]:
    """{rule: count} of the jobs a dry run would run."""
    return job_counts(run(repo, "-n", *args))


def job_counts(out: str) -> dict[str, int]:
    """{rule: count} of the job table Snakemake prints before it runs (or dry-runs) a plan."""
    counts, table = {}, False
    for line in out.splitlines():
        if line.startswith("job ") and "count" in line:
            table = True
            continue
        if table:
            parts = line.split()
            if not parts or parts[0] == "total":
                break
            if parts[0].startswith("---"):
                continue
            counts[parts[0]] = int(parts[1])
    return counts


def test_deleted_run_file_is_rebuilt(smoke_copy):
    """The default target lists every run's own files: a deleted metrics.json is rebuilt by a plain
    `snakemake`, and the aggregate that read it follows."""
    repo = smoke_copy()
    f = run_dir(repo, "gmm", "ours", "paper") / "metrics.json"
    before = json.loads(f.read_text())
    f.unlink()
    planned = jobs_planned(repo)
    assert planned.get("evaluate_run") == 1 and planned.get("aggregate_task") == 1, planned
    assert "train_run" not in planned, planned
    run(repo, "--until", "evaluate_run")
    assert json.loads(f.read_text()) == before
    # the rebuilt file holds the same bytes the aggregate read: Snakemake (>= 9) compares the
    # input's checksum with the one it recorded, so nothing downstream is redone
    assert "Nothing to be done" in run(repo, "-n")


def test_changed_parameter_retrains_what_reads_it(smoke_copy):
    repo = smoke_copy()
    gl = [("ours", "linear"), ("cinn", "linear")]
    # the task's iterations: every run of that task retrains, no other; the report states what the runs used
    edit_config(repo, lambda c: c["tasks"]["gaussian_linear"]["train"].update(iterations=30))
    others = {p: p.stat().st_mtime_ns for p in (repo / SMOKE).rglob("model.pt") if "/gaussian_linear/" not in str(p)}
    planned = job_counts(run(repo))
    assert planned.get("train_run") == len(gl), planned
    for m, v in gl:
        log = pd.read_csv(run_dir(repo, "gaussian_linear", m, v) / "train_log.csv")
        assert log["step"].max() == 29
        assert json.loads((run_dir(repo, "gaussian_linear", m, v) / "train_info.json").read_text())["iterations"] == 30
    assert {p: p.stat().st_mtime_ns for p in others} == others
    md = (repo / f"{SMOKE}/report/README.md").read_text()
    assert "30 iterations of batch 128" in md and "20 iterations of batch 128" in md


def test_changed_method_parameter_retrains_only_that_methods_runs(smoke_copy):
    """One method's hyper-parameter: only that method's runs retrain (here asked for on one task)."""
    repo = smoke_copy()
    cfg = edit_config(repo, lambda c: c["methods"]["cinn"]["base"].update(width=48))
    planned = jobs_planned(repo, "--until", "train_run")
    n_cinn = sum(1 for t in cfg["tasks"].values() for r in t["runs"] if r["method"] == "cinn"
                 for _ in r["variants"] for _ in r["seeds"])
    assert planned.get("train_run") == n_cinn, planned
    ours_model = run_dir(repo, "gaussian_linear", "ours", "linear") / "model.pt"
    cinn_model = run_dir(repo, "gaussian_linear", "cinn", "linear") / "model.pt"
    before = ours_model.stat().st_mtime_ns, cinn_model.stat().st_mtime_ns
    out = run(repo, str(ours_model.relative_to(repo)), str(cinn_model.relative_to(repo)))
    assert ours_model.stat().st_mtime_ns == before[0]
    assert cinn_model.stat().st_mtime_ns != before[1]
    assert "params have changed" in out.lower()


def test_stale_run_is_refused_when_params_are_ignored(smoke_copy):
    """`--rerun-triggers mtime` ignores changed parameters; evaluation then refuses the old run."""
    repo = smoke_copy()
    edit_config(repo, lambda c: c["methods"]["ours"]["base"].update(lr=2.0e-3))
    target = run_dir(repo, "gmm", "ours", "paper") / "metrics.json"
    target.unlink()
    rel = str(target.relative_to(repo))
    res = snakemake(repo, rel, "--configfile", CONFIG, "--rerun-triggers", "mtime", timeout=600)
    assert res.returncode != 0
    log = (repo / f"{SMOKE}/logs/gmm/ours/paper/seed0/evaluate.log").read_text()
    assert "was trained under config digest" in log and "--rerun-triggers mtime" in log
    run(repo, rel)  # the default triggers retrain it
    assert target.exists()
    assert json.loads((target.parent / "train_info.json").read_text())["config_digest"] != ""


def test_diverged_runs_do_not_decide_c6(smoke_copy):
    """lr 100 for ours on gmm: both its runs diverge at once; C6 must not compare their one-step
    timings, and every figure of the task and the report still render. (One run, or all runs
    diverged: tests/test_tasks.py::test_common_figures_render_with_one_run_or_all_diverged.)"""
    repo = smoke_copy()
    edit_config(repo, lambda c: c["methods"]["ours"]["variants"]["paper"].update(lr=100.0))
    run(repo)
    rep = repo / f"{SMOKE}/report"
    for seed in (0, 1):
        assert json.loads((run_dir(repo, "gmm", "ours", "paper", seed) / "train_info.json").read_text())["diverged"]
    claims = pd.read_csv(rep / "tables/claims.csv").set_index("id")
    assert claims.loc["C6", "verdict"] == "not tested"
    assert "all 2 runs diverged" in claims.loc["C6", "evidence"]
    diverged = pd.read_csv(rep / "tables/diverged.csv")
    assert len(diverged[(diverged.task == "gmm") & (diverged.method == "ours")]) == 2
    for fig in ("fig5_1", "fig5_2", "w2_comparison", "training_curves", "w2_vs_time"):
        assert (rep / "figures/gmm" / f"{fig}.png").stat().st_size > 1000


def test_ensemble_option_trains_the_seeds_as_one_job_with_their_separate_numbers(smoke_copy):
    """`--config ensemble=true`: the two seeds of ours on the mixture train as one job
    (rule train_ensemble); each run's folder gets its files, checked against their records, with
    the numbers of its separate training (the smoke run's) to float tolerance; nothing else
    retrains."""
    repo = smoke_copy()
    runs = {s: run_dir(repo, "gmm", "ours", "paper", s) for s in (0, 1)}
    logs = {s: pd.read_csv(d / "train_log.csv") for s, d in runs.items()}
    w2 = {s: json.loads((d / "metrics.json").read_text()) for s, d in runs.items()}
    planned = jobs_planned(repo, "--config", "ensemble=true", "--until", "evaluate_run")
    assert planned.get("train_ensemble") == 1 and planned.get("train_run") == 2, planned
    run(repo, "--config", "ensemble=true", "--until", "evaluate_run")
    for s, d in runs.items():
        info = json.loads((d / "train_info.json").read_text())
        assert info["ensemble_seeds"] == [0, 1]
        got = pd.read_csv(d / "train_log.csv")
        assert list(got.columns) == list(logs[s].columns) and len(got) == len(logs[s])
        for col in ("loss", "probe_w2"):
            np.testing.assert_allclose(got[col], logs[s][col], rtol=1e-3, atol=1e-4, err_msg=f"seed {s} {col}")
    # the seeds' draws after training are their separate runs' to float tolerance: the same W2
    for s, d in runs.items():
        def w2_of(rows):
            return {r["condition"]: r["value"] for r in rows if r["metric"] == "w2"}
        before, after = w2_of(w2[s]), w2_of(json.loads((d / "metrics.json").read_text()))
        assert after.keys() == before.keys() and after
        np.testing.assert_allclose([after[k] for k in before], list(before.values()), rtol=1e-2)
