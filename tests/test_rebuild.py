"""Results that match their config, end to end on a tiny config (GMM stage only, ~20 s a run):
a changed hyper-parameter retrains exactly the runs that read it, a deleted run file is rebuilt by a
plain `snakemake`, and the report renders with one run, with all runs diverged, and decides C6
without diverged runs."""
import json

import pandas as pd
import pytest
import yaml

from tests.test_workflow import copy_repo, snakemake

pytestmark = pytest.mark.slow


def tiny_config(repo, name="tiny", runs=None, **ours_overrides):
    cfg = yaml.safe_load((repo / "config/smoke.yaml").read_text())
    cfg["name"] = name
    cfg["images"]["datasets"] = []
    cfg["images"]["epoch_curve"]["datasets"] = []
    cfg["tasks"] = {"gmm": cfg["tasks"]["gmm"]}
    cfg["tasks"]["gmm"]["metrics"] = ["w2", "mmd"]   # the quick metrics: the plumbing is the point
    cfg["tasks"]["gmm"]["runs"] = runs or [{"method": "ours", "variants": ["paper"], "seeds": [0]},
                                           {"method": "cinn", "variants": ["default"], "seeds": [0]}]
    cfg["methods"]["ours"]["base"].update(ours_overrides)
    path = repo / "config" / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path.relative_to(repo), cfg


def run(repo, cfgfile, *args):
    res = snakemake(repo, "--configfile", str(cfgfile), *args, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return res.stdout + res.stderr


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from tests.conftest import ROOT
    repo = copy_repo(ROOT, tmp_path_factory.mktemp("tiny") / "repo")
    cfgfile, cfg = tiny_config(repo)
    run(repo, cfgfile)
    return repo, cfgfile, cfg


def run_dir(repo, method, variant, name="tiny"):
    return repo / f"results/{name}/gmm/{method}/{variant}/seed0"


def test_deleted_run_file_is_rebuilt(tiny):
    repo, cfgfile, _ = tiny
    f = run_dir(repo, "ours", "paper") / "metrics.json"
    f.unlink()
    run(repo, cfgfile)
    assert f.exists() and json.loads(f.read_text())
    assert "Nothing to be done" in run(repo, cfgfile, "-n")


def test_changed_parameter_retrains_what_reads_it(tiny):
    repo, cfgfile, cfg = tiny
    ours_model = run_dir(repo, "ours", "paper") / "model.pt"
    cinn_model = run_dir(repo, "cinn", "default") / "model.pt"
    # the task's iterations: every run retrains, and the report states what the runs used
    cfg["tasks"]["gmm"]["train"]["iterations"] = 30
    (repo / cfgfile).write_text(yaml.safe_dump(cfg))
    run(repo, cfgfile)
    for m, v in (("ours", "paper"), ("cinn", "default")):
        log = pd.read_csv(run_dir(repo, m, v) / "train_log.csv")
        assert log["step"].max() == 29
        assert json.loads((run_dir(repo, m, v) / "train_info.json").read_text())["iterations"] == 30
    md = (repo / "results/tiny/report/README.md").read_text()
    assert "30 iterations of batch 128" in md
    # one method's hyper-parameter: only that method retrains
    before = ours_model.stat().st_mtime_ns, cinn_model.stat().st_mtime_ns
    cfg["methods"]["cinn"]["base"]["width"] = 48
    (repo / cfgfile).write_text(yaml.safe_dump(cfg))
    out = run(repo, cfgfile)
    assert ours_model.stat().st_mtime_ns == before[0]
    assert cinn_model.stat().st_mtime_ns != before[1]
    assert "Params have changed" in out or "params" in out.lower()


def test_stale_run_is_refused_when_params_are_ignored(tiny):
    """`--rerun-triggers mtime` ignores changed parameters; evaluation then refuses the old run."""
    repo, cfgfile, cfg = tiny
    cfg["methods"]["ours"]["base"]["lr"] = 2.0e-3
    (repo / cfgfile).write_text(yaml.safe_dump(cfg))
    (run_dir(repo, "ours", "paper") / "metrics.json").unlink()
    res = snakemake(repo, "--configfile", str(cfgfile), "--rerun-triggers", "mtime", timeout=600)
    assert res.returncode != 0
    log = (repo / "results/tiny/logs/gmm/ours/paper/seed0/evaluate.log").read_text()
    assert "was trained under config digest" in log and "--rerun-triggers mtime" in log
    run(repo, cfgfile)  # the default triggers retrain it
    assert (run_dir(repo, "ours", "paper") / "metrics.json").exists()


def test_diverged_runs_do_not_decide_c6(tmp_path):
    """lr 100 for ours: its runs diverge at once; C6 must not compare their one-step timings. The
    INN's is then the only run with a W2: every figure (no dodge for one run) and the report
    render. (All runs diverged: tests/test_tasks.py::test_common_figures_render_with_one_run_or_all_diverged.)"""
    from tests.conftest import ROOT
    repo = copy_repo(ROOT, tmp_path / "repo")
    cfgfile, _ = tiny_config(repo, name="div", lr=100.0,
                             runs=[{"method": "ours", "variants": ["paper"], "seeds": [0, 1]},
                                   {"method": "inn", "variants": ["full"], "seeds": [0]}])
    run(repo, cfgfile)
    rep = repo / "results/div/report"
    claims = pd.read_csv(rep / "tables/claims.csv").set_index("id")
    assert claims.loc["C6", "verdict"] == "not tested"
    assert "all 2 runs diverged" in claims.loc["C6", "evidence"]
    assert len(pd.read_csv(rep / "tables/diverged.csv")) == 2
    for fig in ("fig5_1", "fig5_2", "w2_comparison", "training_curves", "w2_vs_time"):
        assert (rep / "figures/gmm" / f"{fig}.png").stat().st_size > 1000
