"""Shared fixtures, and the synthetic data several test modules build from (plain functions:
``from conftest import metrics_with``): tidy metrics of runs, noise floors, the image stage, the
benchmark's step costs and a small fake ``results/`` tree for the report."""
import flowbench.io as flowbench_io
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from flowbench import tables as T  # noqa: E402  (after the repository root is on sys.path)

# Each test process (an xdist worker, README's command runs one per core) computes with one
# thread: two workers and the background smoke run's jobs already keep the cores busy, and
# torch's OpenMP threads spin-wait when they outnumber the cores (several times the CPU time).
# Tests that check a job's threads run Snakemake in a subprocess, which sets its own.
if os.environ.get("PYTEST_XDIST_WORKER"):
    import torch  # noqa: E402

    torch.set_num_threads(1)


# ----------------------------------------------------------------------------------------------
# the smoke workflow: one finished run per test session, shared; copies of it for tests that
# damage, change or rerun it
# ----------------------------------------------------------------------------------------------
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
SMOKE = "results/smoke"  # the smoke config's results folder (its `name`)
IGNORE = shutil.ignore_patterns("results", "carried", ".snakemake", ".venv", ".git", "__pycache__",
                                ".pytest_cache", "*.egg-info")


def _ignore_committed_figures(src, names):
    """copytree's ignore: IGNORE, and the committed report's PNGs (a smoke run never reads them;
    the report's text files are kept, and a smoke run must leave them untouched)."""
    out = set(IGNORE(src, names))
    if Path(src).resolve() == (ROOT / "report").resolve() or (ROOT / "report").resolve() in Path(src).resolve().parents:
        out |= {n for n in names if n.endswith(".png")}
    return out


def copy_repo(root: Path, dst: Path) -> Path:
    """A copy of the repository (no results, no carried runs, no git, no committed figures) with an
    empty results/."""
    shutil.copytree(root, dst, ignore=_ignore_committed_figures)
    (dst / "results").mkdir(exist_ok=True)
    return dst


def image_data():
    """The MNIST folder for the image stage of the smoke run: $FLOWBENCH_DATA, else the original
    repository's ../shared/data (the copy's relative data_root would not resolve); None if absent."""
    d = Path(os.environ.get("FLOWBENCH_DATA") or (ROOT.parent / "shared" / "data")).resolve()
    return d if (d / "mnist").is_dir() else None


def _snakemake_env(cwd) -> dict:
    env = dict(os.environ, PYTHONPATH=str(cwd))
    if image_data() is not None:
        env["FLOWBENCH_DATA"] = str(image_data())
    return env


def snakemake(cwd, *args, timeout=900, cores=2):
    return subprocess.run(SNAKEMAKE + ["--cores", str(cores), "--scheduler", "greedy", *args], cwd=cwd,
                          env=_snakemake_env(cwd), capture_output=True, text=True, timeout=timeout)


def tree_digest(folder: Path) -> dict:
    import hashlib
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# The smoke run is the suite's longest single piece of work (~2 minutes on 2 cores, mostly the
# jobs' interpreter start-up). One run serves the whole session, workers included (pytest-xdist:
# README's test command runs two): the controller makes a shared folder before any worker starts
# ($FLOWBENCH_SMOKE_SHARED), the first process whose collection holds a test that needs the run
# starts it there in the background (the controller itself, before any worker starts, when the
# session runs the whole suite), and the tests that need it are ordered last, so the unit tests
# run while it works. The controller stops it, if still running, and removes the folder
# when the session ends.
SMOKE_FIXTURES = {"smoke_run", "smoke_copy"}
SHARED_ENV = "FLOWBENCH_SMOKE_SHARED"


def _uses_smoke(item) -> bool:
    return bool(SMOKE_FIXTURES & set(getattr(item, "fixturenames", ())))


def _whole_suite(config) -> bool:
    """Whether this session runs every test (README's command): no paths but the test folder,
    no -k or -m selection."""
    tests = (ROOT / "tests").resolve()
    return (all(Path(str(a).split("::")[0]).resolve() == tests for a in config.args)
            and not config.option.keyword and not config.option.markexpr)


def pytest_configure(config):
    if not hasattr(config, "workerinput") and SHARED_ENV not in os.environ:   # the controller
        os.environ[SHARED_ENV] = tempfile.mkdtemp(prefix="flowbench-smoke-")
        config._flowbench_shared = Path(os.environ[SHARED_ENV])
        # the whole suite needs the smoke run: start it now, before the workers start and collect
        if _whole_suite(config) and not config.option.collectonly and not os.environ.get("FLOWBENCH_SMOKE_RUN"):
            _start_smoke_run()


def pytest_collection_modifyitems(session, config, items):
    """The tests that read the smoke run after every other, and among them those that rerun its
    jobs (marked ``reruns``, the longest) first, so the short ones fill the workers' last gaps
    (a stable sort: order kept within each group; every worker sorts the same way)."""
    items.sort(key=lambda item: (_uses_smoke(item), item.get_closest_marker("reruns") is None))


def _shared() -> Path:
    return Path(os.environ[SHARED_ENV])


def _start_smoke_run() -> None:
    """Copy the repository and start the smoke workflow in it, in the background, unless another
    process of this session already did (an atomic mkdir decides who)."""
    base = _shared()
    try:
        (base / "started").mkdir()
    except FileExistsError:
        return
    repo = copy_repo(ROOT, base / "repo")
    if image_data() is None:  # no MNIST here: run the smoke workflow without the image stage
        cfg = yaml.safe_load((repo / "config/smoke.yaml").read_text())
        cfg["images"]["datasets"] = []
        (repo / "config/smoke.yaml").write_text(yaml.safe_dump(cfg))
    (base / "committed.json").write_text(json.dumps(tree_digest(repo / "report")))
    # --cores 8 on a 2-core machine: several 1-thread jobs at once, none writing another's files.
    # A small wrapper records the exit status in `rc` (written last, atomically) for every process
    # of the session to wait on.
    cmd = SNAKEMAKE + ["--cores", "8", "--scheduler", "greedy", "--configfile", "config/smoke.yaml"]
    wrapper = ("import os, subprocess, sys; base = sys.argv[1]; "
               "out = open(os.path.join(base, 'stdout.log'), 'w'); err = open(os.path.join(base, 'stderr.log'), 'w'); "
               "rc = subprocess.call(sys.argv[2:], stdout=out, stderr=err); "
               "open(os.path.join(base, 'rc.tmp'), 'w').write(str(rc)); "
               "os.replace(os.path.join(base, 'rc.tmp'), os.path.join(base, 'rc'))")
    proc = subprocess.Popen([sys.executable, "-c", wrapper, str(base), *cmd], cwd=repo, env=_snakemake_env(repo),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    (base / "pid").write_text(str(proc.pid))


def pytest_collection_finish(session):
    if (not session.config.option.collectonly and not os.environ.get("FLOWBENCH_SMOKE_RUN")
            and SHARED_ENV in os.environ and any(_uses_smoke(i) for i in session.items)):
        _start_smoke_run()


def pytest_unconfigure(config):
    """The controller: stop a smoke run still going (a session ended early: -x, Ctrl-C) and
    remove the shared folder."""
    base = getattr(config, "_flowbench_shared", None)
    if base is None:
        return
    pid_file = base / "pid"
    if pid_file.exists() and not (base / "rc").exists():
        pid = int(pid_file.read_text())
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                break
            time.sleep(2)
    shutil.rmtree(base, ignore_errors=True)
    os.environ.pop(SHARED_ENV, None)


@pytest.fixture
def run_script(monkeypatch):
    """Run ``workflow/scripts/<name>`` in this process with ``snakemake`` bound to a stand-in
    object, as Snakemake runs it; the settings the script changes for its job (torch's threads,
    OMP_NUM_THREADS, stderr) are restored for the other tests."""
    import runpy

    import torch
    scripts = ROOT / "workflow" / "scripts"
    monkeypatch.syspath_prepend(str(scripts))
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", ""))

    def run(name, smk):
        threads, stderr = torch.get_num_threads(), sys.stderr
        try:
            runpy.run_path(str(scripts / name), init_globals={"snakemake": smk})
        finally:
            sys.stderr = stderr
            torch.set_num_threads(threads)

    return run


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """A repository copy holding the finished smoke run (``results/smoke/``): read it, do not
    change it (``smoke_copy`` gives a copy to change)."""
    reuse = os.environ.get("FLOWBENCH_SMOKE_RUN")
    if reuse:   # day-to-day work: a finished smoke run of this tree, copied instead of rerun
        dst = tmp_path_factory.mktemp("smoke") / "repo"
        shutil.copytree(reuse, dst, symlinks=True, ignore=shutil.ignore_patterns("locks", ".venv", ".git"))
        return dst
    _start_smoke_run()   # no-op when collection (here or in another worker) started it
    base = _shared()
    t0 = time.time()
    while not (base / "rc").exists():
        assert time.time() - t0 < 1800, "the smoke run did not finish within 30 minutes"
        time.sleep(0.5)
    rc = int((base / "rc").read_text())
    out = (base / "stdout.log").read_text() + (base / "stderr.log").read_text()
    assert rc == 0, out[-6000:]
    repo = base / "repo"
    # the committed full-run report is neither rewritten nor added to by the smoke config
    assert tree_digest(repo / "report") == json.loads((base / "committed.json").read_text())
    return repo


@pytest.fixture
def smoke_copy(smoke_run, tmp_path_factory):
    """``smoke_copy() -> Path``: a fresh, independent copy of the finished smoke run (results and
    their hidden integrity records included), for a test that damages, changes or reruns it."""
    def make() -> Path:
        dst = tmp_path_factory.mktemp("smoke_copy") / "repo"
        # Snakemake's metadata comes along (its params and code triggers), its locks do not
        shutil.copytree(smoke_run, dst, symlinks=True, ignore=shutil.ignore_patterns("locks"))
        return dst
    return make


@pytest.fixture
def root():
    return ROOT


@pytest.fixture
def full_config():
    with open(ROOT / "config" / "config.yaml") as fh:
        return yaml.safe_load(fh)


@pytest.fixture
def full_config_with_stages(full_config):
    """config/config.yaml with every stage config of config/stages/ read over it (their tasks added)."""
    for f in sorted((ROOT / "config" / "stages").glob("*.yaml")):
        with open(f) as fh:
            full_config["tasks"].update(yaml.safe_load(fh)["tasks"])
    return full_config


@pytest.fixture
def smoke_config():
    """config/smoke.yaml without its tuning section (which names the smoke tasks; the tests that
    take tasks away would make it invalid; tests/test_tuning.py tests it)."""
    with open(ROOT / "config" / "smoke.yaml") as fh:
        cfg = yaml.safe_load(fh)
    cfg.pop("tuning", None)
    return cfg


# ----------------------------------------------------------------------------------------------
# synthetic tidy metrics
# ----------------------------------------------------------------------------------------------
N_LABELS = 8


def run_rows(method, variant, seed, w2=None, acc=1.0, spi=0.1, diverged=False, step=None, task="gmm",
             c2st=0.55, far_outside=None):
    """Rows of one run; per-label W2 spread around ``w2`` so that its label mean is exactly ``w2``."""
    base = {"task": task, "method": method, "variant": variant, "seed": seed}
    rows = [{**base, "condition": "", "metric": "seconds_per_iteration", "value": spi},
            {**base, "condition": "", "metric": "train_seconds", "value": spi * 100},
            {**base, "condition": "", "metric": "diverged", "value": float(diverged)}]
    if diverged:
        rows.append({**base, "condition": "", "metric": "diverged_step", "value": float(step)})
        rows.append({**base, "condition": "", "metric": "last_finite_loss", "value": 12.5})
        return rows
    rows.append({**base, "condition": "", "metric": "final_loss", "value": 1.0})
    rows.append({**base, "condition": "", "metric": "accuracy", "value": acc})
    offsets = np.linspace(-0.01, 0.01, N_LABELS)
    offsets -= offsets.mean()
    for k in range(N_LABELS):
        rows.append({**base, "condition": str(k), "metric": "w2", "value": w2 + offsets[k] * min(w2, 1)})
        rows.append({**base, "condition": str(k), "metric": "c2st", "value": c2st})
        if far_outside is not None:   # the share of draws far outside the reference, label 0 only
            rows.append({**base, "condition": str(k), "metric": "far_outside",
                         "value": far_outside if k == 0 else 0.0})
    return rows


def frame(*runs):
    rows = []
    for r in runs:
        rows.extend(r)
    return T.tidy(pd.DataFrame(rows))


def seeds(method, variant, values, **kw):
    return [run_rows(method, variant, s, w2=v, **kw) for s, v in enumerate(values)]


def metrics_with(*groups):
    return frame(*[r for g in groups for r in g])


def floor_rows(value=0.03, task="gmm", n=2000, probe_n=None):
    """A noise floor: W2 between two exact samples = ``value`` at size n (and 1.6x at probe_n)."""
    rows = [{"task": task, "condition": str(k), "metric": "w2", "n": n, "repeat": r, "value": value}
            for k in range(N_LABELS) for r in range(3)]
    if probe_n:
        rows += [{**x, "n": probe_n, "value": 1.6 * value} for x in rows]
    return pd.DataFrame(rows)


def tidy_rows(task, method, variant, seeds, w2, extra=None):
    rows = []
    for s in seeds:
        for c in ("0", "1"):
            rows.append((task, method, variant, s, c, "w2", w2[s]))
            rows.append((task, method, variant, s, c, "c2st", 0.6))
            for k, v in (extra or {}).items():
                rows.append((task, method, variant, s, c, k, v))
        rows.append((task, method, variant, s, "", "diverged", 0.0))
        rows.append((task, method, variant, s, "", "seconds_per_iteration", 0.1))
    return rows


# ----------------------------------------------------------------------------------------------
# the image stage and the performance benchmark
# ----------------------------------------------------------------------------------------------
def image_stage(datasets=("mnist", "fashion-mnist"), seeds_=(0, 1)):
    """A full synthetic results/images/metrics.csv: the four methods, every metric."""
    rows = []
    acc = {"ours": 0.98, "cinn": 0.97, "latent_classifier": 0.985, "cnn": 0.99}
    gen = {"ours": (0.95, 0.93, 0.20), "cinn": (0.90, 0.50, 0.05)}
    for ds in datasets:
        for s in seeds_:
            for m in T.IMAGE_METHODS:
                b = {"task": ds, "method": m, "variant": "paper" if m == "ours" else "default", "seed": s,
                     "condition": ""}
                rows += [{**b, "metric": "accuracy", "value": acc[m] - 0.002 * s},
                         {**b, "metric": "train_seconds", "value": 10.0}]
                if m in gen:
                    rows.append({**b, "metric": "diverged", "value": 0.0})
                    rows.append({**b, "metric": "z_label_accuracy", "value": 0.105 + 0.001 * s})
                    for metric, v in zip(T.GENERATION_METRICS, gen[m]):
                        rows.append({**b, "metric": metric, "value": v + 0.01 * s})
    return T.tidy(pd.DataFrame(rows))


def step_costs(ours=(0.010, 0.020), inn=(0.030, 0.080), batches=(400, 1600)):
    rows = []
    for name, vals in (("ours/paper", ours), ("inn/full", inn), ("cinn/default", [v * 1.1 for v in ours])):
        for b, v in zip(batches, vals):
            rows.append({"method": name, "batch_size": b, "seconds_per_iteration": v, "peak_mem_mb": b / 10})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------
# a fake results/ tree for the report
# ----------------------------------------------------------------------------------------------
def tiny_png(color=(255, 0, 0)) -> bytes:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"\x00" + bytes(color)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


GMM_FIGURES = ["fig5_1", "fig5_2", "w2_comparison", "training_curves", "w2_vs_time"]
GMM_RECORD = {"kind": "gmm", "conditions": "label", "description": "Kind `gmm`: a mixture.",
              "paper_claims": True, "figures": GMM_FIGURES, "forward_metrics": ["accuracy"]}
TWO_TASKS = {"gmm": GMM_FIGURES, "gmm_some": GMM_FIGURES}


RUNS = [("ours", "paper", [0.08, 0.09], 0.01), ("inn", "full", [0.10, 0.12], 0.03),
        ("inn", "forward_only", [0.40, 0.45], 0.02), ("inn", "ramp_fast", [0.30], 0.03),
        ("cinn", "default", [0.2], 0.01)]


def run_info(**overrides) -> dict:
    """A complete run record (``train_info.json``) with the given fields replaced."""
    info = {"diverged": False, "diverged_step": None, "last_finite_loss": 1.0, "seconds": 10.0,
            "steps_done": 100, "seconds_per_iteration": 0.1, "sample_seconds": 1.0, "device": "cpu",
            "threads": 1, "identity_digest": "0" * 16, "config_digest": "0" * 16, "iterations": 100,
            "batch_size": 64, "n_eval": 200, "n_parameters": 1000}
    return {**info, **overrides}


def fake_results(root, with_images=False, with_benchmark=False, image_datasets=("mnist", "fashion-mnist")):
    """A small results/ tree: metrics.csv, train logs, figures, provenance.json, benchmarks."""
    from flowbench import report as R
    rows, run_settings = [], []
    for task in ("gmm", "gmm_some"):
        for method, variant, w2s, spi in RUNS:
            for seed, w2 in enumerate(w2s):
                rows += run_rows(method, variant, seed, w2=w2, spi=spi, task=task)
                base = {"task": task, "method": method, "variant": variant, "seed": seed, "condition": ""}
                rows += [{**base, "metric": "probe_count", "value": 4.0},
                         {**base, "metric": "probe_best_w2", "value": w2},
                         {**base, "metric": "probe_threshold", "value": 0.144}]
                if w2 <= 0.144:
                    rows.append({**base, "metric": "seconds_to_probe_threshold", "value": 20 * spi})
                d = root / task / method / variant / f"seed{seed}"
                d.mkdir(parents=True)
                steps = np.arange(20)
                probe = np.where(steps % 5 == 4, w2 * (1 + 3.0 / (steps + 1)), np.nan)
                flowbench_io.write_csv(d / "train_log.csv", pd.DataFrame(
                    {"step": steps, "loss": 10.0 / (steps + 1), "probe_w2": probe, "seconds": (steps + 1) * spi}))
                run_settings.append({"task": task, "method": method, "variant": variant, "seed": seed,
                                     "iterations": 20 if method != "inn" else 40, "batch_size": 64,
                                     "n_eval": 200, "device": "cpu"})
        rows += run_rows("inn", "no_ramp", 0, diverged=True, step=7, task=task)
        flowbench_io.write_csv(root / task / "runs.csv", pd.DataFrame([r for r in run_settings if r["task"] == task]))
        flowbench_io.write_json(root / task / "task.json", GMM_RECORD)
        flowbench_io.write_csv(root / task / "noise_floor.csv", floor_rows(0.03, task=task, n=200, probe_n=100))
        for name in GMM_FIGURES:
            f = root / task / "figures" / f"{name}.png"
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_bytes(tiny_png())
        flowbench_io.write_csv(root / task / "metrics.csv", pd.DataFrame(rows).query("task == @task"))
    if with_images:
        flowbench_io.write_csv(root / "images" / "metrics.csv", image_stage(datasets=image_datasets))
        for i, ds in enumerate(image_datasets):
            for name in R.IMAGE_FIGURE_NAMES:
                f = root / "images" / ds / "figures" / f"{name}.png"
                f.parent.mkdir(parents=True, exist_ok=True)
                f.write_bytes(tiny_png((0, 255 - i, 0)))
    if with_benchmark:
        b = root / "benchmark"
        b.mkdir(parents=True)
        flowbench_io.write_csv(b / "step_costs.csv", step_costs())
        frac = {m: {str(bs): {"method": m.split("/")[0], "batch_size": bs, "step_seconds": 0.1 * k,
                              "step_gflops": 10.0 * k, "matmul_gflops": 40.0, "fraction": 0.25 * k}
                    for k, bs in ((1, 400), (2, 1600))} for m in ("ours/paper", "inn/full")}
        flowbench_io.write_json(b / "matmul_fraction.json", {"device": "cpu", "fractions": frac})
        (b / "scaling.png").write_bytes(tiny_png((0, 0, 255)))
        flowbench_io.write_csv(b / "metric_precision.csv", pd.DataFrame(
            {"metric": "w2", "n": [500, 500, 2000, 2000], "label": 0, "repeat": [0, 1, 0, 1],
             "value": [0.06, 0.08, 0.03, 0.03], "seconds": [0.1, 0.1, 1.0, 1.2]}))
        flowbench_io.write_csv(b / "op_profile.csv", pd.DataFrame(
            {"method": ["ours/paper"] * 3, "batch_size": 1600,
             "group": ["matmul", "element-wise/reduction", "wall (profiled step)"],
             "self_seconds_per_step": [0.8, 0.2, 1.1], "share": [0.8, 0.2, float("nan")]}))
    prov = {"config_digest": "0123456789abcdef", "configfiles": ["config/smoke.yaml"],
            "command": R.reproduce_command(["config/smoke.yaml"]),
            "config": {"tasks": {"gmm": {"kind": "gmm", "labels": "all",
                                         "train": {"iterations": 20, "batch_size": 128}, "n_eval": 200}}},
            "packages": {"numpy": "2.0", "python": "3.11.0"},
            "hardware": {"platform": "Linux", "cpu_count": 2, "cuda_available": False, "cuda_device": None},
            "git": {"commit": None, "dirty": None},
            "benchmarks": R.summarise_benchmarks([
                {"file": "a/train.tsv", "rule": "train_gmm", "s": 3.0, "cpu_time": 2.0, "max_rss": 300.0},
                {"file": "b/evaluate.tsv", "rule": "evaluate_gmm", "s": 1.0, "cpu_time": 1.0, "max_rss": 200.0}])}
    flowbench_io.write_json(root / "provenance.json", prov)
    return root


# ---------------------------------------------------------------- registry contract helpers
#: small values for declared keys, so that every registered method builds in milliseconds
SMALL_VALUES = {"blocks": 1, "subnet_layers": 2, "width": 16, "layers": 2, "clamp": 2.0,
                "eps": 0.5, "pad_noise": 0.01, "y_noise": 0.05, "steps": 4, "iwae_samples": 16,
                "weights": {"y": 1.0, "z": 1.0, "x": 1.0, "rec": 1.0}, "ramp": {"kind": "constant"},
                "mmd_widths": [0.2, 0.9], "n_critic": 1}


def tiny_params(cls, x_dim: int, y_dim: int) -> dict:
    """The smallest sensible parameters of a registered method class on (x_dim, y_dim): every
    declared key of ``SMALL_VALUES`` and a flow ``dim`` at the method's minimum."""
    p = {k: v for k, v in SMALL_VALUES.items() if k in cls.PARAMS}
    if "dim" in cls.PARAMS:
        p["dim"] = cls.min_dim(x_dim, y_dim)[0]
    return p


def tiny_task_section(kind: str) -> dict:
    """A small config section of a registered task kind (schema-valid once validated)."""
    common = {"kind": kind, "n_test": 100, "n_eval": 100,
              "train": {"iterations": 2, "batch_size": 16}}
    own = {"gmm": {"modes": {"std": 0.2, "n": 4, "radius": 2.0}, "labels": "all"},
           "gaussian_linear": {"dim": 3, "n_obs": 2},
           "sbibm": {"name": "two_moons", "n_obs": 2, "budget": 200}}
    sim = {"n_obs": 2, "reference": {"pool": 60_000, "keep": 200},
           "calibration": {"n_obs": 10, "n_samples": 20}}
    return {**common, **own.get(kind, sim)}
