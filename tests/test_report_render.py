"""Rendering the report from a fake results/ tree: the files it writes, the README's sections, the
optional image stage and benchmark, determinism, atomic files, and no torch."""
import flowbench.io as flowbench_io
import json
from pathlib import Path

import pandas as pd
import pytest

from conftest import GMM_FIGURES, GMM_RECORD, RUNS, TWO_TASKS, fake_results, run_rows, tiny_png
from flowbench import report as R
from flowbench import tables as T
from flowbench.images.names import DEFAULT_FIGURES, flow_figures


# ----------------------------------------------------------------------------------------------
# the README and tables from a fake results/ tree
# ----------------------------------------------------------------------------------------------
def test_render_from_fake_results(tmp_path):
    res = fake_results(tmp_path / "results")
    out = tmp_path / "report"
    written = R.render_report(res, out, tasks=["gmm", "gmm_some"])
    expected = R.report_outputs(out, TWO_TASKS)
    assert sorted(str(p) for p in written.values()) == sorted(expected)
    for p in expected:
        assert Path(p).exists(), p
    md = (out / "README.md").read_text()
    assert md.startswith("# Replication report")
    for section in ("## Claims", "## Diverged runs", "## Results per task", "## Table 1", "## Figures",
                    "## How it was produced"):
        assert section in md
    for cid in R.CLAIMS:
        assert f"| {cid} " in md
    assert "figures/gmm/fig5_1.png" in md and "figures/gmm_some/w2_vs_time.png" in md
    assert "0123456789abcdef" in md and "snakemake --cores all --configfile config/smoke.yaml" in md
    assert "| train_gmm " in md and "| total " in md
    assert str(tmp_path) not in md  # no absolute paths
    sec = md[md.index("### The Gaussian-mixture claims on every label map"):md.index("## Diverged runs")]
    head = next(line for line in sec.splitlines() if line.startswith("| #"))
    assert [c.strip() for c in head.split("|")[1:-1]] == ["#", "verdict on `gmm`", "verdict on `gmm_some`"]
    assert "Evidence on `gmm_some`:" in sec
    by_task = pd.read_csv(out / "tables" / "claims_by_task.csv")
    assert sorted(set(by_task["task"])) == ["gmm", "gmm_some"] and len(by_task) == 2 * len(R.TASK_CLAIMS)
    claims = pd.read_csv(out / "tables" / "claims.csv")
    verdicts = dict(zip(claims["id"], claims["verdict"]))
    assert verdicts["C1"] == R.REPRODUCED          # q = W2 0.085 / floor 0.03 = 2.8, accuracy 1.0
    assert verdicts["C2"] == R.REPRODUCED          # r = 0.11 / 0.085 = 1.29
    assert verdicts["C3"] == R.REPRODUCED          # r = 3.86, p small
    assert verdicts["C4"] == R.PARTLY              # ramp_fast r = 2.7 with one seed; no_ramp diverged
    assert verdicts["C5"] == R.NOT_TESTED
    assert verdicts["C6"] == R.REPRODUCED          # r = 0.01 / 0.03 = 0.33
    assert verdicts["C7"] == R.NOT_TESTED and verdicts["C8"] == R.NOT_TESTED
    div = pd.read_csv(out / "tables" / "diverged.csv")
    assert len(div) == 2 and set(div["variant"]) == {"no_ramp"}
    assert "2 of 18 runs stopped on a non-finite loss" in md
    assert "; 2 runs diverged." in md.split("## Claims")[0]     # the summary counts runs, not seeds
    summary = pd.read_csv(out / "tables" / "summary_gmm.csv")
    assert summary["method"].tolist()[:1] == ["ours"]
    assert summary.set_index("variant").loc["no_ramp", "diverged"] == 1
    assert (out / "figures" / "gmm" / "fig5_2.png").read_bytes() == tiny_png()
    # the stated settings are what the runs recorded (runs.csv), not the config's 20 for every run
    # (the common budget, then the runs with another: 5 INN runs of 40, ours' and the cINN's 3 of 20)
    assert "40 (20: cinn/default, ours/paper) iterations of batch 64; 200 posterior samples" in md
    assert "Training device of the runs: cpu (16 runs)" in md
    # time to quality comes from the rows evaluation wrote, against the threshold it used
    ttt = pd.read_csv(out / "tables" / "time_to_w2.csv")
    assert len(ttt) == 16 and set(ttt["threshold"]) == {0.144}
    assert ttt[ttt["method"] == "ours"]["reached"].all() and not ttt[ttt["variant"] == "forward_only"]["reached"].any()
    assert "Time to a probe W2 <= 0.144 (3 x its floor 0.048 at n = 100" in md


def test_mixture_claims_only_on_tasks_they_apply_to(tmp_path):
    """A task whose record does not take the paper's mixture claims (a continuous task) gets its
    summary and figures but no C1-C4 rows; its forward metric is its own column."""
    res = fake_results(tmp_path / "results")
    rows = []
    for method, variant in (("ours", "linear"), ("cinn", "linear")):
        for r in run_rows(method, variant, 0, w2=0.3, task="lin"):
            rows.append({**r, "metric": "y_rmse"} if r["metric"] == "accuracy" else r)
    (res / "lin").mkdir()
    flowbench_io.write_csv(res / "lin" / "metrics.csv", pd.DataFrame(rows))
    figs = ["posterior_pairs", "w2_comparison"]
    flowbench_io.write_json(res / "lin" / "task.json",
        {**GMM_RECORD, "kind": "gaussian_linear", "conditions": "continuous", "paper_claims": False,
         "figures": figs, "forward_metrics": ["y_rmse"], "description": "Kind `gaussian_linear`."})
    for name in figs:
        (res / "lin" / "figures").mkdir(exist_ok=True)
        (res / "lin" / "figures" / f"{name}.png").write_bytes(tiny_png())
    out = tmp_path / "report"
    written = R.render_report(res, out, tasks=["gmm", "gmm_some", "lin"])
    assert sorted(map(str, written.values())) == sorted(
        R.report_outputs(out, {**TWO_TASKS, "lin": figs}))
    by_task = pd.read_csv(out / "tables" / "claims_by_task.csv")
    assert set(by_task["task"]) == {"gmm", "gmm_some"}
    summary = pd.read_csv(out / "tables" / "summary_lin.csv")
    assert "y_rmse" in summary.columns and "accuracy" not in summary.columns
    md = (out / "README.md").read_text()
    assert "Kind `gaussian_linear`." in md and "figures/lin/posterior_pairs.png" in md
    assert "verdict on `lin`" not in md


def test_render_is_deterministic(tmp_path):
    res = fake_results(tmp_path / "results", with_images=True, with_benchmark=True)
    a = R.render_report(res, tmp_path / "a")
    b = R.render_report(res, tmp_path / "b")
    assert sorted(a) == sorted(b)
    for name in a:
        assert a[name].read_bytes() == b[name].read_bytes(), name
    md = a["README.md"].read_text()
    assert "| mnist " in md and "0.984" in md   # Table 1 with the paper's numbers beside ours
    claims = pd.read_csv(tmp_path / "a" / "tables" / "claims.csv")
    verdicts = dict(zip(claims["id"], claims["verdict"]))
    assert verdicts["C7"] == R.REPRODUCED and verdicts["C8"] == R.REPRODUCED


def test_render_without_provenance_or_runs(tmp_path):
    res = tmp_path / "results"
    res.mkdir()
    written = R.render_report(res, tmp_path / "report", tasks=[])
    md = written["README.md"].read_text()
    assert "No results/provenance.json" in md
    assert md.count("**not tested**") == len(R.CLAIM_SPECS)


def test_summary_says_verdicts_on_too_few_seeds_are_not_tests(tmp_path, monkeypatch):
    from flowbench.report.sections import claims as S
    res = fake_results(tmp_path / "results")
    prov = flowbench_io.read_json(res / "provenance.json")
    prov["configfiles"] = ["config/paper_figures.yaml"]          # not a smoke run
    flowbench_io.write_json(res / "provenance.json", prov)
    most = max(len(w2s) for _, _, w2s, _ in RUNS)
    R.render_report(res, tmp_path / "a", tasks=["gmm", "gmm_some"])
    head = (tmp_path / "a" / "README.md").read_text().split("## ")[0]
    assert f"Every run here has at most {most} seeds" in head and "not as tests" in head
    monkeypatch.setattr(S, "TEST_SEEDS", most)                   # enough seeds: no caveat
    R.render_report(res, tmp_path / "b", tasks=["gmm", "gmm_some"])
    assert "not as tests" not in (tmp_path / "b" / "README.md").read_text()


# ----------------------------------------------------------------------------------------------
# the image stage
# ----------------------------------------------------------------------------------------------
def test_render_with_images(tmp_path):
    res = fake_results(tmp_path / "results", with_images=True, image_datasets=("mnist",))
    out = tmp_path / "report"
    written = R.render_report(res, out, tasks=["gmm", "gmm_some"], image_datasets=["mnist"])
    expected = R.report_outputs(out, TWO_TASKS, ["mnist"])
    assert sorted(str(p) for p in written.values()) == sorted(expected)
    # ours' and the cINN's figures; a baseline's (its png lies in results/) only where it has metrics
    assert not any("cvae" in p for p in expected)
    for name in DEFAULT_FIGURES:
        assert f"{out}/figures/images/mnist/{name}.png" in expected
        assert (out / "figures" / "images" / "mnist" / f"{name}.png").read_bytes() == tiny_png((0, 255, 0))
    assert not any("fashion-mnist" in p for p in expected)
    md = (out / "README.md").read_text()
    assert "and on MNIST." in md
    # extended Table 1: every method, the paper's number, the seed count
    row = next(line for line in md.splitlines() if line.startswith("| mnist ") and "0.984" in line)
    for cell in ("0.9790 ± 0.0127", "0.9690 ± 0.0127", "0.9840 ± 0.0127", "0.9890 ± 0.0127", "| 2 "):
        assert cell in row, (cell, row)
    fashion = next(line for line in md.splitlines() if line.startswith("| fashion-mnist ") and "0.901" in line)
    assert fashion.count("not run") == 4
    assert "CNN (real images)" in md and "cINN (Bayes' rule)" in md
    # generated images table and the figures with captions
    assert "## Generated images (Fig. 5.3, Fig. 5.4)" in md
    gen_rows = [line for line in md.splitlines() if line.startswith("| mnist ") and "0.984" not in line]
    assert [r.split("|")[2].strip() for r in gen_rows] == ["ours", "cINN"]
    assert "0.955 ± 0.064" in gen_rows[0]
    for name in DEFAULT_FIGURES:
        assert f"](figures/images/mnist/{name}.png)" in md
    assert "fig5_3_cvae" not in md
    assert "one row per class, 20 samples each" in md and "thickness, slant" in md
    gen = pd.read_csv(out / "tables" / "image_generation.csv")
    assert gen["method"].tolist() == ["ours", "cinn"]
    t1 = pd.read_csv(out / "tables" / "table1.csv")
    assert {"cinn_accuracy_mean", "latent_classifier_n_seeds", "cnn_accuracy_ci95"} <= set(t1.columns)
    claims = dict(zip(*pd.read_csv(out / "tables" / "claims.csv")[["id", "evidence"]].T.values))
    assert "style_consistency" in claims["C8"]
    # the cost section says the benchmark was not run, and so does C6
    assert "## Cost of training" in md and "The performance benchmark was not run" in md
    assert "benchmark (`snakemake benchmark`) was not run" in claims["C6"]


def test_report_outputs_image_datasets():
    base = R.report_outputs("report", {"gmm": GMM_FIGURES})
    assert base == R.report_outputs("report", {"gmm": GMM_FIGURES}, []) == R.report_outputs("report", {"gmm": GMM_FIGURES}, None)
    assert not any("/images/" in p for p in base)
    both = R.report_outputs("report", {"gmm": GMM_FIGURES}, ["mnist", "fashion-mnist"])
    extra = sorted(set(both) - set(base))
    assert extra == sorted(f"report/figures/images/{d}/{n}.png" for d in ("mnist", "fashion-mnist")
                           for n in DEFAULT_FIGURES)
    with_cfm = R.report_outputs("report", {"gmm": GMM_FIGURES}, ["mnist"], flow_figures(("ours", "cinn", "cfm")))
    assert sorted(set(with_cfm) - set(base)) == sorted(
        f"report/figures/images/mnist/{n}.png" for n in (*DEFAULT_FIGURES, "fig5_3_cfm", "fig5_4_cfm"))
    assert "report/tables/image_generation.csv" in base
    assert not any("benchmark" in p for p in both)   # the optional benchmark is never declared


def test_render_epoch_curve_section_and_stale_copies(tmp_path):
    res = fake_results(tmp_path / "results", with_images=True, image_datasets=("mnist",))
    cdir = res / "images" / "epoch_curve"
    cdir.mkdir(parents=True)
    flowbench_io.write_csv(cdir / "fashion-mnist.csv", pd.DataFrame(
        {"dataset": "fashion-mnist", "seed": 0, "epoch": [1, 2],
         "train_loss": [30.5, 20.25], "test_reconstruction_mse": [29.0, 19.5],
         "latent_classifier_accuracy": [0.80, 0.85], "ours_accuracy": [float("nan"), 0.8512],
         "ae_train_seconds": [100.0, 200.0], "probe_seconds": [5.0, 9.0]}))
    (cdir / "fashion-mnist.png").write_bytes(tiny_png((0, 0, 255)))
    out = tmp_path / "report"
    written = R.render_report(res, out, tasks=["gmm"], image_datasets=["mnist"])
    assert "tables/epoch_curve_fashion-mnist.csv" in written
    assert (out / "figures/images/epoch_curve_fashion-mnist.png").read_bytes() == tiny_png((0, 0, 255))
    md = (out / "README.md").read_text()
    assert "## Accuracy against auto-encoder epochs" in md
    section = md.split("## Accuracy against auto-encoder epochs", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| 1 ") or line.startswith("| 2 ")]
    assert rows[0].split("|")[4].strip() == "0.8000" and rows[0].split("|")[5].strip() == ""
    assert rows[1].split("|")[5].strip() == "0.8512"
    # without the curve in results/, the copies and the section go away
    for p in cdir.iterdir():
        p.unlink()
    R.render_report(res, out, tasks=["gmm"], image_datasets=["mnist"])
    assert not (out / "tables/epoch_curve_fashion-mnist.csv").exists()
    assert not (out / "figures/images/epoch_curve_fashion-mnist.png").exists()
    assert "auto-encoder epochs" not in (out / "README.md").read_text()


# ----------------------------------------------------------------------------------------------
# the performance benchmark
# ----------------------------------------------------------------------------------------------
def test_render_with_benchmark(tmp_path):
    res = fake_results(tmp_path / "results", with_benchmark=True)
    out = tmp_path / "report"
    written = R.render_report(res, out, tasks=["gmm", "gmm_some"])
    expected = R.report_outputs(out, TWO_TASKS)
    # every declared output, plus the benchmark figure and precision table as undeclared side files
    assert sorted(set(str(p) for p in written.values()) - set(expected)) == sorted(
        [str(out / R.BENCH_FIGURE), str(out / "tables" / "metric_precision.csv"),
         str(out / "tables" / "op_profile.csv")])
    assert (out / R.BENCH_FIGURE).read_bytes() == tiny_png((0, 0, 255))
    md = (out / "README.md").read_text()
    prec = md[md.index("### Metric precision"):md.index("## How it was produced")]
    assert "n_eval = 200 samples" in prec
    prof = md[md.index("### Where a training step's time goes"):md.index("### Metric precision")]
    row = next(line for line in prof.splitlines() if line.startswith("| ours/paper "))
    assert [c.strip() for c in row.split("|")[1:-1]] == ["ours/paper", "1600", "0.80", "0.20", "1.100"]
    cells = [[c.strip() for c in line.split("|")[1:-1]] for line in prec.splitlines()
             if line.startswith("| w2 ")]
    assert cells == [["w2", "500", "0.0700 ± 0.0141", "0.100"], ["w2", "2000", "0.0300 ± 0.0000", "1.100"]]
    sec = md[md.index("## Cost of training"):md.index("## How it was produced")]
    assert "| ours/paper " in sec and "| inn/full " in sec and "| cinn/default " in sec
    assert "| 1600 " in sec and "0.25" in sec           # ratio at 1600: 0.02 / 0.08
    # one row per method and batch, every method measured the same way
    cells = [[c.strip() for c in ln.strip().strip("|").split("|")] for ln in sec.splitlines()
             if ln.startswith("| ") and ("ours/paper" in ln or "inn/full" in ln)]
    for m in ("ours/paper", "inn/full"):
        assert [m, "400", "0.1000", "10.00", "40.0", "0.250"] in cells
        assert [m, "1600", "0.2000", "20.00", "40.0", "0.500"] in cells
    assert cells.index(["ours/paper", "400", "0.1000", "10.00", "40.0", "0.250"]) < cells.index(
        ["ours/paper", "1600", "0.2000", "20.00", "40.0", "0.500"])
    assert f"]({R.BENCH_FIGURE})" in sec and "on `cpu`" in sec
    claims = pd.read_csv(out / "tables" / "claims.csv").set_index("id")
    assert claims.loc["C6", "evidence"].startswith("benchmark, one process, one method at a time, batch 1600")
    assert "r = 0.25" in claims.loc["C6", "evidence"] and claims.loc["C6", "verdict"] == R.REPRODUCED
    # the benchmark removed from results/: the section says so and the stale figure goes
    for f in (res / "benchmark").iterdir():
        f.unlink()
    (res / "benchmark").rmdir()
    R.render_report(res, out, tasks=["gmm", "gmm_some"])
    assert not (out / R.BENCH_FIGURE).exists()
    assert not (out / "tables" / "metric_precision.csv").exists()
    assert not (out / "tables" / "op_profile.csv").exists()
    assert "The performance benchmark was not run" in (out / "README.md").read_text()


def test_render_benchmark_without_figure_or_fraction(tmp_path):
    res = fake_results(tmp_path / "results", with_benchmark=True)
    (res / "benchmark" / "scaling.png").unlink()
    (res / "benchmark" / "matmul_fraction.json").unlink()
    written = R.render_report(res, tmp_path / "report", tasks=["gmm"])
    assert R.BENCH_FIGURE not in written
    md = written["README.md"].read_text()
    assert "*scaling.png: not produced.*" in md and "No matmul fraction" in md
    assert "| ours/paper " in md


# ----------------------------------------------------------------------------------------------
# files and imports
# ----------------------------------------------------------------------------------------------
def test_report_files_are_written_atomically(tmp_path, monkeypatch):
    from flowbench.report import files
    res = fake_results(tmp_path / "results", with_images=True, with_benchmark=True)
    out = tmp_path / "report"
    R.render_report(res, out)
    assert not [p for p in out.rglob(".*")]   # no temporary file left behind
    f = out / "README.md"
    before = f.read_bytes()

    def fail(src, dst):
        raise OSError("disk full")
    monkeypatch.setattr(files.os, "replace", fail)
    for write in (lambda: files.write_text(f, "partial"), lambda: files.copy(res / "provenance.json", f)):
        with pytest.raises(OSError, match="disk full"):
            write()
        assert f.read_bytes() == before           # the old file stays whole
        assert not [p for p in out.glob(".*")]


def test_report_imports_no_torch(tmp_path):
    """The report reads results/ only: importing it, and rendering, loads no training or benchmark
    code and so no torch."""
    import os
    import subprocess
    import sys
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", "import flowbench.report, sys; assert 'torch' not in sys.modules"],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    res = fake_results(tmp_path / "results", with_images=True, with_benchmark=True)
    code = ("import sys; from flowbench import report; report.render_report(sys.argv[1], sys.argv[2]); "
            "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if m.startswith('flowbench'))")
    done = subprocess.run([sys.executable, "-c", code, str(res), str(tmp_path / "report")],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "report" / "README.md").exists()


def test_the_light_jobs_import_neither_torch_nor_pot(tmp_path):
    """The aggregate steps and the run table import no torch and no POT (about 2.5 s a job), and
    a training job loads POT only when it computes a W2 (its probes or validation)."""
    import os
    import subprocess
    import sys
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    code = ("import sys, flowbench.aggregate, flowbench.io, flowbench.report.inputs; "
            "bad = {'torch', 'ot'} & set(sys.modules); assert not bad, bad; "
            "import flowbench.pipeline; assert 'ot' not in sys.modules; "
            "import numpy as np; from flowbench.metrics import w2; w2(np.zeros((3, 2)), np.ones((3, 2))); "
            "assert 'ot' in sys.modules")
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
