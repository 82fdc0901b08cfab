"""The GMM stage as plain functions: train (and sample), evaluate, aggregate.

Outputs per run, in ``results/<task>/<method>/<variant>/seed<k>/``:
- ``model.pt``: state dict + identity (method, hyper-parameters, dims)
- ``train_log.csv``: ``step, loss, <loss parts>, seconds[, probe_w2]``
- ``train_info.json``: diverged flag and step, last finite loss, seconds, seconds per iteration,
  the settings the run used (iterations, batch size, n_eval) and its config digest
- ``posterior_samples.npz``: ``labels [K]``, ``conditions [K, M]``, ``samples [K, n, 2]``
- ``predictions.npz``: test ``x [N, 2]``, ``labels [N]``, ``predicted [N]``
- ``metrics.json`` (evaluate): tidy rows ``task, method, variant, seed, condition, metric, value``
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from . import metrics as M
from .config import digest, method_params
from .identity import train_digest
from .io import resolve_device, save_checkpoint, write_csv, write_json, write_npz
from .methods import make_method
from .tasks import make_task
from .training import train

REFERENCE_SEED = 20191107  # exact-posterior draws: the same for every method and seed


def build(config: dict, task_name: str, method: str, variant: str, seed: int):
    tcfg = config["tasks"][task_name]
    task = make_task(tcfg)
    params = method_params(config, method, variant)
    model = make_method(method, task.x_dim, task.y_dim, params,
                        total_steps=tcfg["train"]["iterations"], seed=seed,
                        label_prior=task.label_prior)
    identity = {"method": method, "variant": variant, "params": params, "x_dim": task.x_dim,
                "y_dim": task.y_dim, "params_digest": digest(params)}
    return task, model, identity


def reference_samples(task, label: int, n: int) -> np.ndarray:
    return task.sample_posterior(label, n, np.random.default_rng(REFERENCE_SEED + 7919 * label))


def make_probe(task, n: int):
    """W2 of each label's posterior on ``n`` samples, averaged over labels (for W2-vs-time curves)."""
    refs = [reference_samples(task, k, n) for k in range(task.n_labels)]
    conds = task.one_hot(np.arange(task.n_labels))

    def probe(model):
        with torch.no_grad():
            s = model.sample_posterior(conds.to(next(model.parameters()).device), n).cpu().numpy()
        if not np.all(np.isfinite(s)):
            return {"probe_w2": float("nan")}
        return {"probe_w2": float(np.mean([M.w2(s[k], refs[k]) for k in range(task.n_labels)]))}

    return probe


def run_train(config: dict, task_name: str, method: str, variant: str, seed: int, outdir,
              device: str = "auto", log=None) -> dict:
    log = log or (lambda m: print(m, file=sys.stderr, flush=True))
    outdir = Path(outdir)
    dev = resolve_device(device)
    task, model, identity = build(config, task_name, method, variant, seed)
    tr = config["tasks"][task_name]["train"]
    log(f"[{task_name}/{method}/{variant}/seed{seed}] device {dev}, "
        f"{sum(p.numel() for p in model.parameters())} parameters, "
        f"{tr['iterations']} iterations of batch {tr['batch_size']}")
    probe = make_probe(task, tr.get("probe_n", 500)) if tr.get("probe_every", 0) else None
    res = train(model, task, tr["iterations"], tr["batch_size"], seed, dev,
                log_every=tr.get("log_every", 20), probe=probe,
                probe_every=tr.get("probe_every", 0), log=log)
    write_csv(outdir / "train_log.csv", pd.DataFrame(res.rows, columns=_log_columns(res.rows)))
    save_checkpoint(outdir / "model.pt", model, identity)
    # samples and forward predictions
    n_eval = config["tasks"][task_name].get("n_eval", 2000)
    torch.manual_seed(seed + 1_000_003)
    labels = np.arange(task.n_labels)
    conds = task.one_hot(labels)
    x_test, y_test = task.test_set()  # fixed draw of its own generator
    t0 = time.perf_counter()
    if res.diverged:
        samples = np.full((len(labels), n_eval, task.x_dim), np.nan, dtype=np.float32)
        predicted = np.full(task.n_test, -1)
    else:
        with torch.no_grad():
            samples = model.sample_posterior(conds.to(dev), n_eval).cpu().numpy()
            predicted = model.predict(torch.from_numpy(x_test).to(dev)).argmax(1).cpu().numpy()
    sample_seconds = time.perf_counter() - t0
    write_npz(outdir / "posterior_samples.npz", labels=labels, conditions=conds.numpy(),
              samples=samples.astype(np.float32))
    write_npz(outdir / "predictions.npz", x=x_test, labels=y_test, predicted=predicted)
    info = {**res.info(), "sample_seconds": sample_seconds, "device": str(dev),
            "threads": torch.get_num_threads(), "identity_digest": identity["params_digest"],
            "config_digest": train_digest(config, task_name, method, variant, seed),
            "iterations": int(tr["iterations"]), "batch_size": int(tr["batch_size"]),
            "n_eval": int(n_eval), "n_parameters": sum(p.numel() for p in model.parameters())}
    write_json(outdir / "train_info.json", info)
    log(f"done: {res.steps_done} steps, {res.seconds_per_iteration:.3f} s/iteration"
        + (f", DIVERGED at step {res.diverged_step}" if res.diverged else ""))
    return info


def _log_columns(rows):
    cols = ["step", "loss"]
    for r in rows:
        for k in r:
            if k not in cols and k != "seconds":
                cols.append(k)
    return cols + ["seconds"]


class StaleRun(RuntimeError):
    """A run's files were made under another config than the one being evaluated."""


def check_run_current(config: dict, task_name: str, method: str, variant: str, seed: int,
                      info: dict, rundir) -> None:
    """Refuse a run whose ``train_info.json`` records another config digest than this config's."""
    want = train_digest(config, task_name, method, variant, seed)
    got = info.get("config_digest")
    if got != want:
        raise StaleRun(f"{rundir} was trained under config digest {got!r}, but the config now gives "
                       f"{want!r}: its hyper-parameters or task settings changed. Rerun `snakemake` "
                       f"without `--rerun-triggers mtime` (which ignores changed parameters), or "
                       f"delete {rundir} and rerun.")


RUN_COLUMNS = ["task", "method", "variant", "seed", "config_digest", "iterations", "batch_size",
               "n_eval", "steps_done", "diverged", "device", "threads", "n_parameters"]


def runs_table(info_files) -> pd.DataFrame:
    """One row per run from its ``train_info.json`` (path ``.../<task>/<method>/<variant>/seed<k>/``):
    the settings each run actually used, which the report states."""
    import json
    rows = []
    for f in info_files:
        f = Path(f)
        info = json.loads(f.read_text())
        seed_dir, variant_dir = f.parent, f.parent.parent
        rows.append({"task": variant_dir.parent.parent.name, "method": variant_dir.parent.name,
                     "variant": variant_dir.name, "seed": int(seed_dir.name.removeprefix("seed")),
                     **{k: info.get(k) for k in RUN_COLUMNS[4:]}})
    df = pd.DataFrame(rows, columns=RUN_COLUMNS)
    return df.sort_values(["task", "method", "variant", "seed"], kind="stable").reset_index(drop=True)


def evaluate_run(config: dict, task_name: str, method: str, variant: str, seed: int, rundir) -> list[dict]:
    """Tidy metric rows for one run (from its npz files and train_info.json alone)."""
    import json
    rundir = Path(rundir)
    tcfg = config["tasks"][task_name]
    task = make_task(tcfg)
    info = json.loads((rundir / "train_info.json").read_text())
    check_run_current(config, task_name, method, variant, seed, info, rundir)
    base = {"task": task_name, "method": method, "variant": variant, "seed": seed}
    rows = []

    def add(metric, value, condition=""):
        rows.append({**base, "condition": condition, "metric": metric, "value": float(value)})

    if info["steps_done"] > 0:
        add("seconds_per_iteration", info["seconds_per_iteration"])
        add("train_seconds", info["seconds"])
    add("diverged", float(info["diverged"]))
    if info["diverged"]:
        add("diverged_step", info["diverged_step"])
        if info["last_finite_loss"] is not None:
            add("last_finite_loss", info["last_finite_loss"])
        return rows
    add("final_loss", info["last_finite_loss"])
    pred = np.load(rundir / "predictions.npz")
    add("accuracy", M.accuracy(pred["predicted"], pred["labels"]))
    post = np.load(rundir / "posterior_samples.npz")
    n = post["samples"].shape[1]
    fns = {name: M.POSTERIOR_METRICS[name] for name in tcfg.get("metrics", list(M.POSTERIOR_METRICS))}
    for k, lab in enumerate(post["labels"]):
        ref = reference_samples(task, int(lab), n)
        for name, fn in fns.items():
            add(name, fn(post["samples"][k], ref), condition=str(int(lab)))
    return rows
