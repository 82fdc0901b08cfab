"""Faults and bad input: the suite keeps its results and says exactly what went wrong."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from flowbench.config import validate_config
from flowbench.pipeline import evaluate_run, run_train
from flowbench.io import CheckpointMismatch, aggregate_metrics, atomic_path, load_checkpoint, save_checkpoint, write_json
from flowbench.methods import make_method
from flowbench.records import DamagedFile, read_json, write_record
from flowbench.training import train


class NaNAfter(torch.nn.Module):
    """A method whose loss becomes NaN at a given step."""

    def __init__(self, at):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(1))
        self.at = at
        self.params = {}
        self.grad_clamp = None

    def make_optimizer(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)

    def loss(self, x, y, step):
        val = (self.w * x).pow(2).mean()
        if step >= self.at:
            val = val * float("nan")
        return val, {}


class TinyTask:
    def sample_batch(self, n, rng):
        return torch.from_numpy(rng.standard_normal((n, 2)).astype(np.float32)), torch.zeros(n, 1)


def test_training_loop_records_divergence():
    res = train(NaNAfter(3), TinyTask(), iterations=10, batch_size=8, seed=0, log=lambda m: None)
    assert res.diverged and res.diverged_step == 3 and res.steps_done == 3
    assert np.isfinite(res.last_finite_loss)
    assert len(res.rows) == 3


def diverging_config(smoke_config):
    cfg = smoke_config
    cfg["methods"]["ours"]["variants"]["diverge"] = {"clamp": 60.0, "lr": 5.0}
    cfg["tasks"]["gmm"]["runs"] = [{"method": "ours", "variants": ["diverge", "paper"], "seeds": [0]}]
    cfg["tasks"]["gmm"]["train"]["iterations"] = 6
    cfg["tasks"]["gmm"]["metrics"] = ["w2"]
    return validate_config(cfg)


def test_diverged_run_is_marked_not_passed_on_as_numbers(smoke_config, tmp_path):
    cfg = diverging_config(smoke_config)
    files = []
    for v in ("diverge", "paper"):
        d = tmp_path / v
        info = run_train(cfg, "gmm", "ours", v, 0, d, "cpu", log=lambda m: None)
        rows = evaluate_run(cfg, "gmm", "ours", v, 0, d)
        write_json(d / "metrics.json", rows)
        files.append(d / "metrics.json")
        if v == "diverge":
            assert info["diverged"] and info["diverged_step"] is not None
            metrics = {r["metric"]: r["value"] for r in rows}
            assert metrics["diverged"] == 1.0 and "diverged_step" in metrics
            assert "w2" not in metrics and "accuracy" not in metrics
            assert all(np.isfinite(r["value"]) for r in rows)
    df = aggregate_metrics(files, tmp_path / "metrics.csv")
    assert set(df[df.metric == "w2"].variant) == {"paper"}


def test_checkpoint_under_other_architecture_refused(tmp_path):
    params = dict(dim=5, blocks=2, subnet_layers=2, width=16, clamp=2.0, eps=0.1, pad_noise=0.05)
    m = make_method("ours", 2, 3, params)
    ident = {"method": "ours", "params": params}
    save_checkpoint(tmp_path / "m.pt", m, ident)
    other = dict(params, width=32)
    m2 = make_method("ours", 2, 3, other)
    with pytest.raises(CheckpointMismatch, match="width|params"):
        load_checkpoint(tmp_path / "m.pt", m2, {"method": "ours", "params": other})
    m3 = make_method("ours", 2, 3, params)
    load_checkpoint(tmp_path / "m.pt", m3, ident)
    x = torch.randn(4, 2)
    torch.manual_seed(0)
    a = m.predict(x)
    torch.manual_seed(0)
    assert torch.equal(a, m3.predict(x))


def test_truncated_checkpoint_refused(tmp_path):
    p = tmp_path / "m.pt"
    save_checkpoint(p, torch.nn.Linear(1, 1), {})
    p.write_bytes(p.read_bytes()[:40])
    with pytest.raises(DamagedFile, match=r"m\.pt: its bytes differ from the SHA-256"):
        load_checkpoint(p, torch.nn.Linear(1, 1), {})
    write_record(p)   # even with a matching record, a truncated file is refused as unreadable
    with pytest.raises(DamagedFile, match=r"m\.pt: it is not a checkpoint that loads safely"):
        load_checkpoint(p, torch.nn.Linear(1, 1), {})


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("partial")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


# --- interruption of the real workflow ---------------------------------------------------------
RUN_FILES = ("model.pt", "train_log.csv", "train_info.json", "posterior_samples.npz", "predictions.npz",
             "metrics.json")
KILLED_RUNS = ["results/smoke/gmm/ours/paper/seed0"]


def _start(repo, *targets):
    env = dict(os.environ, PYTHONPATH=str(repo))
    # the targets before --configfile, which takes every argument after it as a config file
    return subprocess.Popen([sys.executable, "-m", "snakemake", "--cores", "2", *targets, "--configfile",
                             "config/smoke.yaml"], cwd=repo, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def _wait_for_training(logs, timeout=120):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if any(p.exists() and "step" in p.read_text() for p in logs):
            return
        time.sleep(0.2)
    raise AssertionError("no training job started")


@pytest.mark.slow
@pytest.mark.reruns
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_killed_workflow_completes_on_rerun(smoke_copy, sig):
    """A finished smoke run whose ours run (seed 0) on gmm must retrain (50x its iterations, long
    enough to be caught mid-run): killed mid-training, the same command completes it, and no
    finished job of the run is redone."""
    import yaml
    from tests.conftest import snakemake
    repo = smoke_copy()
    cfg = yaml.safe_load((repo / "config/smoke.yaml").read_text())
    cfg["methods"]["ours"]["variants"]["paper"]["iterations_factor"] = 50
    (repo / "config/smoke.yaml").write_text(yaml.safe_dump(cfg))
    logs = [repo / d.replace("results/smoke/", "results/smoke/logs/") / "train.log" for d in KILLED_RUNS]
    for p in logs:
        p.unlink()
    # every file of the run, as the workflow's default target lists them (an intermediate
    # that a killed job removed is rebuilt only when it is asked for, or read by a newer job)
    targets = [f"{d}/{f}" for d in KILLED_RUNS for f in RUN_FILES]
    done_before = {f: f.stat().st_mtime_ns for f in (repo / "results").rglob("metrics.json")
                   if not any(str(f.parent).endswith(d) for d in KILLED_RUNS)}
    assert len(done_before) >= 10
    proc = _start(repo, *targets)
    _wait_for_training(logs)
    os.killpg(proc.pid, sig)
    proc.wait(timeout=60)
    infos = [repo / d / "train_info.json" for d in KILLED_RUNS]
    assert any(not f.exists() or read_json(f)["iterations"] != 1000 for f in infos), "killed after training"
    # nothing partial is taken as complete: every npz present is loadable
    for f in (repo / "results").rglob("*.npz"):
        with np.load(f) as arrays:
            [arrays[k] for k in arrays.files]
    res = snakemake(repo, *targets, "--configfile", "config/smoke.yaml")
    assert res.returncode == 0, res.stderr[-3000:]
    for d in KILLED_RUNS:
        info = read_json(repo / d / "train_info.json")
        assert info["iterations"] == 1000 and info["steps_done"] == 1000
        assert (repo / d / "metrics.json").exists()
    for f, mtime in done_before.items():  # finished jobs are not redone
        assert f.stat().st_mtime_ns == mtime, f


def test_a_script_that_finishes_exits_0_with_its_log_flushed_and_one_that_raises_fails(tmp_path):
    """The workflow scripts end with _common.finish(__name__) (no interpreter teardown): what they logged
    through a buffered stream is on disk, the status is 0; a script that raises never reaches it
    and fails with its error. Every script ends with that call."""
    from pathlib import Path
    scripts = Path(__file__).resolve().parents[1] / "workflow" / "scripts"
    log = tmp_path / "job.log"
    body = ("import sys; sys.path.insert(0, {d!r}); from _common import finish\n"
            "fh = open({log!r}, 'w', buffering=1 << 20); sys.stderr = fh; sys.stdout = fh\n"
            "print('written before the end')\n{last}\n")
    ok = subprocess.run([sys.executable, "-c", body.format(d=str(scripts), log=str(log), last="finish(__name__)")],
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert log.read_text() == "written before the end\n"
    bad = subprocess.run([sys.executable, "-c", body.format(d=str(scripts), log=str(log),
                                                             last="raise RuntimeError('bad input')\nfinish(__name__)")],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "RuntimeError: bad input" in log.read_text()
    for f in sorted(scripts.glob("*.py")):
        if f.name != "_common.py":
            assert f.read_text().rstrip().splitlines()[-1].startswith("finish(__name__)"), f.name
