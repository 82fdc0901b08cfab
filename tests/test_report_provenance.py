"""Provenance: the Snakemake benchmark files, the config digest and packages, the lock file, and
git's state with the rendered report ignored."""
import json

import numpy as np
import pytest

from conftest import fake_results
from flowbench.io import write_json
from flowbench import report as R
from flowbench import tables as T


def test_pattern_regex_and_benchmarks(tmp_path, monkeypatch):
    rx = R.pattern_regex("results/benchmarks/{task,[A-Za-z0-9_]+}/{method}/seed{seed,[0-9]+}/train.tsv")
    assert rx.match("results/benchmarks/gmm/ours/seed3/train.tsv")
    assert not rx.match("results/benchmarks/gmm/ours/seedx/train.tsv")
    assert not rx.match("results/benchmarks/gmm/ours/seed3/evaluate.tsv")
    monkeypatch.chdir(tmp_path)
    head = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    for i, (stage, s) in enumerate([("train", 4.0), ("train", 6.0), ("evaluate", 1.5), ("other", 0.5)]):
        f = tmp_path / "results" / "benchmarks" / "gmm" / f"seed{i}" / f"{stage}.tsv"
        f.parent.mkdir(parents=True)
        f.write_text(head + f"{s}\t0:00:0{int(s)}\t{100 + i}\t0\t0\t0\t0\t0\t50\t{s / 2}\n")
    pats = {"train_gmm": "results/benchmarks/{task}/seed{seed}/train.tsv",
            "evaluate_gmm": "results/benchmarks/{task}/seed{seed}/evaluate.tsv"}
    jobs = R.read_benchmarks("results/benchmarks", pats)
    assert [j["rule"] for j in jobs] == ["train_gmm", "train_gmm", "evaluate_gmm", "other"]
    summary = R.summarise_benchmarks(jobs)
    assert summary["per_rule"]["train_gmm"]["jobs"] == 2
    assert summary["per_rule"]["train_gmm"]["s"] == 10.0
    assert summary["total"]["s"] == 12.0 and summary["total"]["jobs"] == 4
    wall = T.wall_time_table({"benchmarks": summary})
    assert wall["rule"].tolist() == ["evaluate_gmm", "other", "train_gmm", "total"]
    assert wall.iloc[-1]["wall_s"] == 12.0


def test_collect_provenance(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    f = tmp_path / "results" / "benchmarks" / "gmm" / "train.tsv"
    f.parent.mkdir(parents=True)
    f.write_text("s\tmax_rss\tcpu_time\n2.5\t100\t2.0\n")
    cfg = {"tasks": {"gmm": {}}, "device": "cpu"}
    p = R.collect_provenance(cfg, ["config/smoke.yaml"], "results/benchmarks",
                             {"train_gmm": "results/benchmarks/{task}/train.tsv"})
    from flowbench.config import digest
    assert p["config_digest"] == digest(cfg)
    assert p["command"] == "snakemake --cores all --configfile config/smoke.yaml"
    assert set(R.PACKAGES) | {"python"} <= set(p["packages"])
    assert p["packages"]["pot"] and p["packages"]["numpy"] == np.__version__
    assert {"platform", "cpu_count", "cuda_available", "cuda_device"} <= set(p["hardware"])
    assert p["benchmarks"]["per_rule"]["train_gmm"]["s"] == 2.5
    json.dumps(p)  # serialisable


def test_lock_file_in_provenance_and_report(tmp_path, monkeypatch):
    """Provenance records the lock file's path, SHA-256 and the packages that differ from it; the
    report names the file and its digest and says to install from it."""
    import hashlib
    from importlib import metadata
    lock = tmp_path / "requirements" / "lock.txt"
    lock.parent.mkdir()
    lock.write_text(f"NumPy=={metadata.version('numpy')} \\\n    --hash=sha256:{'a' * 64} \\\n"
                    f"    --hash=sha256:{'c' * 64}\n    # via flowbench (pyproject.toml)\n"
                    f"tabulate==0.0.1 \\\n    --hash=sha256:{'b' * 64}\n    # via flowbench\n")
    assert R.read_lock(lock) == {"numpy": {"version": metadata.version("numpy"),
                                           "hashes": [f"sha256:{'a' * 64}", f"sha256:{'c' * 64}"]},
                                 "tabulate": {"version": "0.0.1", "hashes": [f"sha256:{'b' * 64}"]}}
    monkeypatch.chdir(tmp_path)
    p = R.collect_provenance({"tasks": {}}, [], "results/benchmarks")
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    assert p["lock_file"] == {"path": "requirements/lock.txt", "sha256": digest,
                              "differs": [f"tabulate 0.0.1 locked, {metadata.version('tabulate')} installed"]}

    res = fake_results(tmp_path / "results")
    prov = json.loads((res / "provenance.json").read_text())
    prov["lock_file"] = p["lock_file"]
    prov["packages"]["torch"] = "2.13.0+cpu"
    write_json(res / "provenance.json", prov)
    md = R.render_report(res, tmp_path / "report", tasks=["gmm"])["README.md"].read_text()
    assert f"lock file `requirements/lock.txt`, SHA-256 `{digest}`" in md
    assert "1 installed package differed from it: tabulate 0.0.1 locked" in md
    assert ("`pip install torch==2.13.0`, then `pip install --require-hashes -r requirements/lock.txt` "
            "and `pip install --no-deps -e .`") in md
    # a run that matched the lock says so; one without a lock file says that
    prov["lock_file"]["differs"] = []
    write_json(res / "provenance.json", prov)
    md = R.render_report(res, tmp_path / "report", tasks=["gmm"])["README.md"].read_text()
    assert "every package it pins was installed at its locked version" in md
    lock.unlink()
    assert R.lock_provenance() == {"path": "requirements/lock.txt", "sha256": None, "differs": []}
    prov["lock_file"] = R.lock_provenance()
    write_json(res / "provenance.json", prov)
    md = R.render_report(res, tmp_path / "report", tasks=["gmm"])["README.md"].read_text()
    assert "no lock file `requirements/lock.txt` was found" in md and "after `pip install -e .`" in md


def test_git_state_ignores_the_rendered_report_but_not_the_code(tmp_path):
    import shutil
    import subprocess
    if shutil.which("git") is None:
        pytest.skip("git not installed")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "README.md").write_text("old report\n")
    (tmp_path / "code.py").write_text("x = 1\n")
    subprocess.run(git + ["add", "."], cwd=tmp_path, check=True)
    subprocess.run(git + ["commit", "-q", "-m", "init"], cwd=tmp_path, check=True)
    assert R.git_state(tmp_path, ignore=["report"])["dirty"] is False
    (tmp_path / "report" / "README.md").write_text("rendered again\n")
    (tmp_path / "untracked.txt").write_text("ignored\n")
    assert R.git_state(tmp_path)["dirty"] is True                   # the report is tracked
    assert R.git_state(tmp_path, ignore=["report"])["dirty"] is False
    assert R.git_state(tmp_path, ignore=["report/"])["commit"]
    (tmp_path / "code.py").write_text("x = 2\n")
    assert R.git_state(tmp_path, ignore=["report"])["dirty"] is True


def test_carried_runs_are_in_provenance_and_the_report(tmp_path, monkeypatch):
    """The runs restored from earlier machines (results/<name>/carried.json, flowbench.carry) are
    recorded in provenance and named in "How it was produced", by commit; none: no line."""
    monkeypatch.chdir(tmp_path)
    ledger = tmp_path / "carried.json"
    ledger.write_text(json.dumps({"gmm/ours/paper/seed0": "a" * 40, "gmm/ours/paper/seed1": "a" * 40,
                                  "gmm/inn/full/seed0": "b" * 40}))
    p = R.collect_provenance({"tasks": {}}, [], "results/benchmarks", carried=ledger)
    assert p["carried"]["gmm/inn/full/seed0"] == "b" * 40
    assert R.collect_provenance({"tasks": {}}, [], "results/benchmarks", carried=tmp_path / "none")["carried"] == {}
    res = fake_results(tmp_path / "results")
    prov = json.loads((res / "provenance.json").read_text())
    prov["carried"] = p["carried"]
    write_json(res / "provenance.json", prov)
    md = R.render_report(res, tmp_path / "report", tasks=["gmm"])["README.md"].read_text()
    assert "- Carried runs: 3 runs were trained and scored on earlier machines" in md
    assert f"commit `{'a' * 10}` (2), commit `{'b' * 10}` (1)" in md
    prov["carried"] = {}
    write_json(res / "provenance.json", prov)
    assert "Carried runs" not in R.render_report(res, tmp_path / "report", tasks=["gmm"])["README.md"].read_text()
