"""Cluster execution without a cluster: every rule's resources, the SLURM profile, GPU requests and
the threads of training jobs (flowbench/cluster.py, profiles/slurm/, README "On a cluster").
The real SLURM check is tests/slurm/run_slurm_check.sh (not part of the test suite: ~30 min)."""
import os
from pathlib import Path
import re
import shutil
import subprocess
import sys

import pytest
import tomllib
import yaml

from flowbench import cluster

ROOT = Path(__file__).resolve().parents[1]
#: every file that declares rules: the Snakefile and each rule file it includes
RULE_FILES = ["Snakefile", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "workflow" / "rules").glob("*.smk"))]
# rules of the smoke DAG that read `device`, i.e. torch jobs that can run on a GPU
DEVICE_RULES = {r for r, m in cluster.MEASURED.items() if m.uses_device}


def _rule_blocks(text):
    """rule name -> its text, for every `rule NAME:` of a Snakefile, and for every rule stated once
    per task in a loop (`rule:` with `name: f"NAME_{task}"`), under NAME, its body dedented to the
    same four spaces."""
    parts = re.split(r"^rule (\w+):\n", text, flags=re.MULTILINE)
    # a rule's block ends at the first line back at the left margin (a comment, a loop, a def)
    blocks = {name: re.split(r"^(?=\S)", body, maxsplit=1, flags=re.MULTILINE)[0]
              for name, body in zip(parts[1::2], parts[2::2])}
    for m in re.finditer(r'^    rule:\n        name:\n            f"(\w+?)_\{\w+\}"\n(.*?)(?=^\S|\Z)', text,
                         re.MULTILINE | re.DOTALL):
        blocks[m.group(1)] = re.sub(r"^    ", "", m.group(2), flags=re.MULTILINE)
    return blocks


def sized_as(job_rule: str) -> str:
    """The sizing a job's rule uses: its own, or for a rule stated once per task
    (`figure_task_<task>`) the one of its loop (`figure_task`)."""
    return next((r for r in cluster.MEASURED if job_rule.startswith(r + "_")), job_rule)


def _declared_rules(root):
    rules = {}
    for f in RULE_FILES:
        for name, body in _rule_blocks((root / f).read_text()).items():
            rules[name] = (f, body)
    return rules


def test_every_rule_with_an_action_declares_resources(root):
    rules = _declared_rules(root)
    acting = {n: fb for n, fb in rules.items() if re.search(r"^    (script|shell|run|wrapper):", fb[1], re.MULTILINE)}
    assert {"train_run", "evaluate_run", "render_report", "images_autoencoder"} <= set(acting)
    for name, (f, body) in acting.items():
        assert re.search(rf'^    resources:\n        \*\*job_resources\("{name}"\),$', body, re.MULTILINE), \
            f"{f}: rule {name} declares no resources: add `resources: **job_resources(\"{name}\")`"
        assert name in cluster.MEASURED, f"{name}: no measured peak in flowbench/cluster.py MEASURED"
    # the rules without an action (targets: all, benchmark, tuning_all) never run as a job
    assert set(rules) - set(acting) <= {"all", "benchmark", "tuning_all"}
    assert set(cluster.MEASURED) <= set(acting), "a sizing for a rule that no longer exists"


def test_sizes_follow_the_measured_peaks():
    for rule, m in cluster.MEASURED.items():
        mem, minutes = cluster.mem_mb(rule), cluster.runtime(rule)
        assert mem >= m.rss_mb * cluster.MEM_FACTOR + cluster.SNAKEMAKE_MB and mem % 250 == 0, rule
        assert minutes >= max(m.minutes * cluster.TIME_FACTOR, cluster.MIN_MINUTES), rule
        # a job killed for memory or time is resubmitted (restart-times) with more of both
        assert cluster.mem_mb(rule, attempt=2) == 2 * mem and cluster.runtime(rule, attempt=3) == 3 * minutes
        assert cluster.mem_mb(rule, gpu=True) == mem + cluster.CUDA_HOST_MB or not m.uses_device
    res = cluster.rule_resources("train_run", "cuda:1")
    assert res["gpu"] == 1 and res["mem_mb"](None, 2) == cluster.mem_mb("train_run", 2, gpu=True)
    assert "gpu" not in cluster.rule_resources("evaluate_run", "cuda")   # reads no device
    for device in ("cpu", "auto"):
        assert "gpu" not in cluster.rule_resources("train_run", device)


def test_readme_table_is_the_sizing(root):
    readme = (root / "README.md").read_text()
    section = readme[readme.index("## On a cluster"):]
    section = section[:section.index("\n## ", 5)]
    for row in cluster.resource_table():
        line = next((ln for ln in section.splitlines() if ln.startswith(f"| `{row['rule']}` ")), None)
        assert line is not None, f"README 'On a cluster' lists no row for {row['rule']}"
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[2] == f"{row['mem_mb']:,}" and cells[3] == str(row["runtime_min"]), (line, row)
        assert (cells[4] == "yes") == row["gpu_when_cuda"], line


def test_slurm_profile(root):
    from snakemake.cli import get_profile_dir
    _, prof_file = get_profile_dir(str(root / "profiles" / "slurm"))
    assert prof_file.name == "profile.yaml"   # the name Snakemake 9 looks for first
    prof = yaml.safe_load(prof_file.read_text())
    assert prof["executor"] == "slurm"
    assert prof["jobs"] >= 1 and prof["latency-wait"] >= 30 and prof["restart-times"] >= 1
    assert prof["rerun-incomplete"] is True
    # job states from squeue: sacct's "CANCELLED by <uid>" after a scancel is not a failure to the
    # plugin, which would then wait for the job forever (tests/slurm/README.md)
    assert prof["slurm-status-command"] == "squeue"
    # account and partition are the user's: documented, not set
    text = prof_file.read_text()
    assert "default-resources" not in prof and "slurm_account" in text and "slurm_partition" in text
    # nothing in the profile names resources the rules already size
    assert not ({"default-resources", "set-resources", "set-threads"} & set(prof))


def test_slurm_extra_pinned_alike(root):
    extra = tomllib.loads((root / "pyproject.toml").read_text())["project"]["optional-dependencies"]["slurm"]
    env = yaml.safe_load((root / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    slurm = [r for r in pip if r.startswith("snakemake-executor-plugin-slurm")]
    assert sorted(extra) == sorted(slurm)
    # the rest of the pip section: the sbi extra, at requirements/sbi-lock.txt's versions
    from flowbench.report import read_lock
    sbi_lock = read_lock(root / "requirements" / "sbi-lock.txt")
    sbi_extra = tomllib.loads((root / "pyproject.toml").read_text())["project"]["optional-dependencies"]["sbi"]
    names = {re.match(r"[A-Za-z0-9_.\-]+", r).group(0).lower() for r in sbi_extra}
    assert sorted(set(pip) - set(slurm)) == sorted(f"{n}=={sbi_lock[n]['version']}" for n in names)
    assert any(r.startswith("snakemake-executor-plugin-slurm==") for r in extra)
    assert "snakemake-executor-plugin-slurm" not in (root / "requirements" / "lock.txt").read_text()


# ---- threads -------------------------------------------------------------------------------------

def test_threads_setting():
    assert cluster.resolve_threads(1, on_cluster=False, cores=8, jobs=1) == 1   # an integer is kept
    assert cluster.resolve_threads(3, on_cluster=True) == 3
    assert cluster.resolve_threads("auto", on_cluster=True, cores=64, jobs=1) == 1
    assert cluster.resolve_threads("auto", on_cluster=False, cores=2, jobs=1) == 2
    assert cluster.resolve_threads("auto", on_cluster=False, cores=2, jobs=115) == 1
    assert cluster.auto_threads(8, 3) == 2 and cluster.auto_threads(8, 2) == 4 and cluster.auto_threads(1, 1) == 1


def test_requested_training_jobs(smoke_config):
    r = "results/smoke"
    n_all = cluster.config_training_jobs(smoke_config)
    assert n_all >= 10
    one = [f"{r}/gmm/ours/paper/seed0/metrics.json", f"{r}/gmm/ours/paper/seed0/posterior_samples.npz"]
    assert cluster.requested_training_jobs(one, r, smoke_config) == 1
    two = one + [f"./{r}/gmm/cinn/default/seed0/model.pt"]
    assert cluster.requested_training_jobs(two, r, smoke_config) == 2
    assert cluster.requested_training_jobs([f"{r}/images/mnist/seed0/ours.pt"], r, smoke_config) == 2
    for other in ([], ["all"], [f"{r}/gmm/metrics.csv"], one + ["benchmark"], ["results/full/gmm/ours/paper/seed0/x"]):
        assert cluster.requested_training_jobs(other, r, smoke_config) == n_all, other


@pytest.fixture(scope="module")
def workflow_copy(tmp_path_factory):
    from tests.conftest import ROOT
    dst = tmp_path_factory.mktemp("cluster") / "repo"
    ignore = shutil.ignore_patterns("__pycache__")
    for d in ("workflow", "config", "profiles", "flowbench", "requirements"):
        shutil.copytree(ROOT / d, dst / d, ignore=ignore)
    shutil.copy(ROOT / "Snakefile", dst / "Snakefile")
    return dst


def dry_run(repo, *args, cores=2):
    res = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--cores", str(cores), "--configfile",
                          "config/smoke.yaml", *args], cwd=repo, capture_output=True, text=True, timeout=300, check=False,
                         env=dict(os.environ, PYTHONPATH=str(repo)))
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    jobs = []
    for block in re.split(r"^\[.*\]\n(?=(?:local)?rule )", res.stdout, flags=re.MULTILINE)[1:]:
        name = re.match(r"(?:local)?rule (\w+):", block).group(1)
        threads = re.search(r"^    threads: (\d+)$", block, re.MULTILINE)
        resources = re.search(r"^    resources: (.*)$", block, re.MULTILINE)
        res_map = dict(kv.split("=", 1) for kv in resources.group(1).split(", ")) if resources else {}
        jobs.append((name, int(threads.group(1)) if threads else 1, res_map))
    assert jobs, res.stdout[-2000:]
    return jobs


def test_dry_run_resources_cpu(workflow_copy):
    jobs = dry_run(workflow_copy)
    for name, threads, res in jobs:
        if name == "all":
            continue
        name = sized_as(name)
        assert {"mem_mb", "runtime"} <= set(res), (name, res)
        assert int(res["mem_mb"]) == cluster.mem_mb(name) and int(res["runtime"]) == cluster.runtime(name)
        assert "gpu" not in res, name      # the smoke config runs on the CPU
        assert threads == 1, name          # smoke sets threads_per_job: 1 and images.threads: 1
    assert {"train_run", "evaluate_run", "images_autoencoder", "render_report"} <= {j[0] for j in jobs}


def test_dry_run_cuda_asks_for_gpus_and_auto_threads(workflow_copy):
    # every run of the config: auto packs one-thread jobs
    jobs = dry_run(workflow_copy, "--config", "device=cuda", "threads_per_job=auto")
    seen = set()
    for name, threads, res in jobs:
        if name == "all":
            continue
        wants = name in DEVICE_RULES
        assert (res.get("gpu") == "1") == wants, (name, res)
        if wants:
            assert int(res["mem_mb"]) == cluster.mem_mb(name, gpu=True)
            seen.add(name)
        if name == "train_run":
            assert threads == 1
    assert {"train_run", "images_autoencoder", "images_flow"} <= seen
    # one target run: auto gives its training job both cores
    target = "results/smoke/gmm/ours/paper/seed0/metrics.json"
    jobs = dry_run(workflow_copy, "--config", "threads_per_job=auto", "--", target)
    assert [(n, t) for n, t, _ in jobs if n == "train_run"] == [("train_run", 2)]
    assert all(t == 1 for n, t, _ in jobs if n != "train_run")
