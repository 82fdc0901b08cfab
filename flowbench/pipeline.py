"""The one pipeline of every task, as plain functions: train (and sample), evaluate, aggregate.

It speaks only the task protocol (``flowbench.tasks.base.Task``) and the method interface
(``flowbench.methods``): nothing here knows whether the conditions are labels.

Outputs per run, in ``results/<name>/<task>/<method>/<variant>/seed<k>/``:
- ``model.pt``: state dict + identity (method, hyper-parameters, dims)
- ``train_log.csv``: ``step, loss, <loss parts>, seconds[, probe_w2][, val_w2]`` (``val_w2``: the
  early-stopping distance on validation data, where the task's ``train.early_stopping`` is set;
  the checkpoint and samples are then those of the best validation, ``best_step`` in the record)
- ``train_info.json``: diverged flag and step, last finite loss, seconds, seconds per iteration,
  the settings the run used (iterations, batch size, n_eval) and its config digest
- ``posterior_samples.npz``: ``condition_ids [K]`` (str), ``conditions [K, y_dim]``,
  ``samples [K, n, x_dim]`` at the task's K evaluation conditions; for a task with a calibration
  set (``Task.calibration_set``) also ``calibration_x [M, x_dim]``, ``calibration_conditions
  [M, y_dim]`` and ``calibration_samples [M, n_cal, x_dim]``, and for a method with an exact density
  ``calibration_hpd_f [M]`` (``metrics.hpd_f``); for a run compared with a published number at the
  publication's own sample size (``Task.published_draws``: sbibm's NPE) ``published_samples [K, n_pub,
  x_dim]``, scored as ``c2st_sbibm_published``
- ``predictions.npz``: test ``x [N, x_dim]``, ``y [N, y_dim]``, ``y_hat [N, y_dim]`` (the forward
  predictor's output; NaN when the method has none or the run diverged)
- ``metrics.json`` (evaluate): tidy rows ``task, method, variant, seed, condition, metric, value``

A task whose reference posterior is a workflow output (``Task.reference_file``: the simulation
tasks' rejection ABC) reads ``results/<name>/<task>/reference.npz`` (``load_task``).
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
from .records import read_csv, read_json, read_npz
from .methods import make_method
from .tasks import load_task, make_task
from .training import train
from .sbibm_published import PUBLISHED_C2ST
from .aggregate import RUN_COLUMNS, runs_table, task_record  # noqa: F401  (their home before)


def build(config: dict, task_name: str, method: str, variant: str, seed: int):
    tcfg = config["tasks"][task_name]
    task = load_task(config, task_name)   # a simulation reference is read only by the probe
    params = method_params(config, method, variant)
    model = make_method(method, task.x_dim, task.y_dim, params,
                        total_steps=run_iterations(tcfg, params), seed=seed,
                        label_prior=task.label_prior, conditions=task.conditions)
    if hasattr(model, "set_support"):   # sbi's estimators: rejection at a bounded prior's support
        model.set_support(task.x_support())
    identity = {"method": method, "variant": variant, "params": params, "x_dim": task.x_dim,
                "y_dim": task.y_dim, "params_digest": digest(params)}
    return task, model, identity


def run_iterations(tcfg: dict, params: dict) -> int:
    """The task's ``train.iterations``, times the variant's ``iterations_factor`` (default 1)."""
    return int(tcfg["train"]["iterations"]) * int(params.get("iterations_factor", 1))


def make_probe(task, n: int):
    """W2 at each evaluation condition on ``n`` samples, averaged over conditions (for W2-vs-time
    curves)."""
    _, conds = task.evaluation_conditions()
    refs = [task.reference_posterior(k, n) for k in range(len(conds))]
    conds = torch.from_numpy(conds)

    def probe(model):
        with torch.no_grad():
            s = model.sample_posterior(conds.to(next(model.parameters()).device), n).cpu().numpy()
        if not np.all(np.isfinite(s)):
            return {"probe_w2": float("nan")}
        return {"probe_w2": float(np.mean([M.w2(s[k], refs[k]) for k in range(len(refs))]))}

    return probe


def make_validation(task, n: int):
    """The early-stopping distance: W2 on ``n`` samples at each of the task's validation
    conditions against its validation reference (never the test's conditions or draws), averaged
    over conditions; inf when the model draws non-finite samples. A task kind with no references
    there (``Task.validation_distance``: sbibm's, an energy score on held-out simulations) gives
    its own."""
    own = getattr(task, "validation_distance", None)
    if own is not None:          # a task without references at validation conditions scores itself
        return own(n)
    _, conds = task.validation_conditions()
    refs = [task.validation_reference(k, n) for k in range(len(conds))]
    conds = torch.from_numpy(np.asarray(conds, dtype=np.float32))

    def validate(model) -> float:
        with torch.no_grad():
            s = model.sample_posterior(conds.to(next(model.parameters()).device), n).cpu().numpy()
        if not np.all(np.isfinite(s)):
            return float("inf")
        return float(np.mean([M.w2(s[k], refs[k]) for k in range(len(refs))]))

    return validate


def _schedule(config: dict, task_name: str, task, identity: dict, tag: str, log) -> dict:
    """The task's training schedule for one (method, variant): iterations (the cap with early
    stopping), batch size, probe and early-stopping arguments of ``train`` / ``train_ensemble``."""
    tr = config["tasks"][task_name]["train"]
    iterations = run_iterations(config["tasks"][task_name], identity["params"])
    probe = make_probe(task, tr.get("probe_n", 500)) if tr.get("probe_every", 0) else None
    es = tr.get("early_stopping") or {}
    stopping = ({"validate": make_validation(task, int(es.get("n", 500))), "validate_every": int(es["every"]),
                 "patience": int(es.get("patience", 5)), "min_improvement": float(es.get("min_improvement", 0.01))}
                if es else {})
    if es:
        log(f"[{tag}] early stopping: validation every {es['every']} "
            f"steps, patience {stopping['patience']}, cap {iterations}")
    return {"iterations": iterations, "batch_size": int(tr["batch_size"]), "log_every": tr.get("log_every", 20),
            "probe": probe, "probe_every": tr.get("probe_every", 0), **stopping}


def run_train(config: dict, task_name: str, method: str, variant: str, seed: int, outdir,
              device: str = "auto", log=None) -> dict:
    log = log or (lambda m: print(m, file=sys.stderr, flush=True))
    dev = resolve_device(device)
    task, model, identity = build(config, task_name, method, variant, seed)
    tag = f"{task_name}/{method}/{variant}/seed{seed}"
    sched = _schedule(config, task_name, task, identity, tag, log)
    log(f"[{tag}] device {dev}, {sum(p.numel() for p in model.parameters())} parameters, "
        f"{sched['iterations']} iterations of batch {sched['batch_size']}")
    if getattr(model, "trains_itself", False):   # its library's own loop (sbi), on a fixed training set
        log(f"[{tag}] trains itself: the task's iterations, batch size, probes and early stopping do not apply")
        model.to(dev)
        res = model.fit(task, seed, dev, log)
    else:
        args = dict(sched)
        res = train(model, task, args.pop("iterations"), args.pop("batch_size"), seed, dev, log=log, **args)
    return write_run(config, task_name, method, variant, seed, outdir, task, model, identity, res, dev, log)


def ensemble_members(config: dict, task_name: str, method: str, variant: str) -> list[int]:
    """The seeds of (method, variant) on the task, in the config's order: the members of its
    ensemble (``train_ensemble``)."""
    seeds: list[int] = []
    for run in config["tasks"][task_name].get("runs", []):
        if run["method"] == method and variant in run["variants"]:
            seeds += [int(s) for s in run["seeds"] if int(s) not in seeds]
    return seeds


def run_train_ensemble(config: dict, task_name: str, method: str, variant: str, seeds, outdirs,
                       device: str = "auto", log=None) -> list[dict]:
    """The seeds of one (method, variant) trained as one batched ensemble (flowbench.ensemble),
    then each written out as ``run_train`` writes a separate run (``outdirs``: one per seed)."""
    from .ensemble import train_ensemble
    log = log or (lambda m: print(m, file=sys.stderr, flush=True))
    seeds = [int(s) for s in seeds]
    if len(outdirs) != len(seeds):
        raise ValueError(f"run_train_ensemble: one output directory per seed, got {len(outdirs)} for {seeds}")
    dev = resolve_device(device)
    built = [build(config, task_name, method, variant, s) for s in seeds]
    task = built[0][0]
    tag = f"{task_name}/{method}/{variant}/seeds{','.join(map(str, seeds))}"
    args = _schedule(config, task_name, task, built[0][2], tag, log)
    log(f"[{tag}] device {dev}: {len(seeds)} seeds as one ensemble, {args['iterations']} iterations "
        f"of batch {args['batch_size']}")
    models = [m for _, m, _ in built]
    results = train_ensemble(models, task, args.pop("iterations"), args.pop("batch_size"), seeds, dev,
                             log=log, **args)
    return [write_run(config, task_name, method, variant, s, d, task, m, ident, res, dev, log,
                      extra={"ensemble_seeds": seeds})
            for s, d, (_, m, ident), res in zip(seeds, outdirs, built, results)]


def write_run(config: dict, task_name: str, method: str, variant: str, seed: int, outdir, task, model,
              identity: dict, res, dev, log, extra: dict | None = None) -> dict:
    """A trained run's files: train_log.csv, model.pt, posterior_samples.npz (with the calibration
    draws), predictions.npz and train_info.json (``extra`` added to it)."""
    outdir = Path(outdir)
    tr = config["tasks"][task_name]["train"]
    es = tr.get("early_stopping") or {}
    iterations = run_iterations(config["tasks"][task_name], identity["params"])
    write_csv(outdir / "train_log.csv", pd.DataFrame(res.rows, columns=_log_columns(res.rows)))
    save_checkpoint(outdir / "model.pt", model, identity)
    # samples and forward predictions
    n_eval = config["tasks"][task_name].get("n_eval", 2000)
    torch.manual_seed(seed + 1_000_003)
    ids, conds = task.evaluation_conditions()
    x_test, y_test = task.test_set()  # fixed draw of its own generator
    t0 = time.perf_counter()
    y_hat = np.full(y_test.shape, np.nan, dtype=np.float32)
    if res.diverged:
        samples = np.full((len(ids), n_eval, task.x_dim), np.nan, dtype=np.float32)
    else:
        with torch.no_grad():
            samples = model.sample_posterior(torch.from_numpy(conds).to(dev), n_eval).cpu().numpy()
            try:
                y_hat = model.predict(torch.from_numpy(x_test).to(dev)).cpu().numpy()
            except NotImplementedError:
                pass  # no forward predictor for these conditions: no forward metric
    sample_seconds = time.perf_counter() - t0
    calibration, cal_seconds = calibration_samples(task, model, dev, res.diverged)
    # draws at a publication's own sample size (sbibm's 10,000), after every other draw so that
    # those stay as they were; their own seed
    n_pub = 0 if res.diverged else task.published_draws(method, variant, seed)
    if n_pub:
        torch.manual_seed(seed + 2_000_003)
        with torch.no_grad():
            calibration["published_samples"] = model.sample_posterior(
                torch.from_numpy(conds).to(dev), n_pub).cpu().numpy().astype(np.float32)
    # A model that trained with finite losses can still draw NaN or inf samples (an INN or flow
    # pushed outside its numerically stable range). Such a run fails at sampling: its draws are
    # recorded as NaN throughout and the run as diverged, so it is counted, never scored on the
    # finite part of its draws.
    failed = {"posterior_samples": _nonfinite_rows(samples),
              "calibration_samples": _nonfinite_rows(calibration.get("calibration_samples")),
              "published_samples": _nonfinite_rows(calibration.get("published_samples"))}
    failed = {k: v for k, v in failed.items() if v}
    if failed:
        samples = np.full_like(samples, np.nan)
        for key in ("calibration_samples", "published_samples"):
            if key in calibration:
                calibration[key] = np.full_like(calibration[key], np.nan)
        res.mark_sampling_failure()
        log(f"[{task_name}/{method}/{variant}/seed{seed}] non-finite draws after a finite training "
            f"({', '.join(f'{v} row(s) of {k}' for k, v in failed.items())}): recorded as diverged at sampling")
    if not np.all(np.isfinite(y_hat)):
        y_hat = np.full_like(y_hat, np.nan)   # NaN throughout: no forward metric for this run
    write_npz(outdir / "posterior_samples.npz", condition_ids=np.asarray(ids), conditions=conds,
              samples=samples.astype(np.float32), **calibration)
    write_npz(outdir / "predictions.npz", x=x_test, y=y_test, y_hat=y_hat.astype(np.float32))
    info = {**res.info(), "sample_seconds": sample_seconds, "device": str(dev),
            "threads": torch.get_num_threads(), "identity_digest": identity["params_digest"],
            "config_digest": train_digest(config, task_name, method, variant, seed),
            "iterations": int(iterations), "batch_size": int(tr["batch_size"]),
            "early_stopping": bool(es),
            "n_eval": int(n_eval), "n_parameters": sum(p.numel() for p in model.parameters())}
    if calibration:
        info["calibration_seconds"] = cal_seconds
    if failed:
        info["nonfinite_sample_rows"] = failed
    info.update(extra or {})
    write_json(outdir / "train_info.json", info)
    log(f"done: {res.steps_done} steps, {res.seconds_per_iteration:.3f} s/iteration"
        + (f", DIVERGED at step {res.diverged_step}" if res.diverged else ""))
    return info


def _nonfinite_rows(samples) -> int:
    """How many conditions (first axis) of ``samples [k, n, d]`` hold a NaN or inf draw (0 for
    ``None``)."""
    if samples is None:
        return 0
    return int((~np.isfinite(samples)).reshape(len(samples), -1).any(axis=1).sum())


def calibration_samples(task, model, dev, diverged: bool) -> tuple[dict, float]:
    """For a task with a calibration set (``Task.calibration_set``): the extra arrays of
    posterior_samples.npz, ``calibration_x [M, x_dim]`` (the true x), ``calibration_conditions
    [M, y_dim]`` and ``calibration_samples [M, n, x_dim]`` (NaN for a diverged run), and the
    seconds they took; ``({}, 0.0)`` for every other task (their files stay as they were)."""
    cal = task.calibration_set()
    if cal is None:
        return {}, 0.0
    x_true, y, n = cal
    t0 = time.perf_counter()
    if diverged:
        s = np.full((len(y), n, task.x_dim), np.nan, dtype=np.float32)
    else:
        with torch.no_grad():
            s = model.sample_posterior(torch.from_numpy(np.asarray(y, np.float32)).to(dev), n).cpu().numpy()
    out = {"calibration_x": np.asarray(x_true, np.float32), "calibration_conditions": np.asarray(y, np.float32),
           "calibration_samples": s.astype(np.float32)}
    if model.exact_density and not diverged:
        out["calibration_hpd_f"] = hpd_shares(model, x_true, y, s, dev).astype(np.float32)
    return out, time.perf_counter() - t0


def hpd_shares(model, x_true, y, samples, dev, rows: int = 50_000) -> np.ndarray:
    """``metrics.hpd_f`` of a model with an exact density: its log q(. | y_i) at the true x_i and at
    its own draws ``samples [M, S, d]``, evaluated in chunks of about ``rows`` points."""
    m, n, d = samples.shape
    pts = np.concatenate([np.asarray(x_true, np.float32)[:, None, :], samples.astype(np.float32)], axis=1)
    per = max(1, rows // (n + 1))
    lq = np.empty((m, n + 1))
    with torch.no_grad():
        for i in range(0, m, per):
            x = torch.from_numpy(pts[i:i + per].reshape(-1, d)).to(dev)
            c = torch.from_numpy(np.repeat(np.asarray(y[i:i + per], np.float32), n + 1, axis=0)).to(dev)
            lq[i:i + per] = model.log_prob(x, c).double().cpu().numpy().reshape(-1, n + 1)
    return M.hpd_f(lq[:, 1:], lq[:, 0])


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


def probe_threshold(config: dict, task_name: str, floor_csv=None) -> float:
    """The probe-W2 threshold of time to quality: TIME_FLOOR_MULTIPLE x the task's W2 floor at the
    probe's sample size (``noise_floor.csv``), or the fixed W2_THRESHOLD_TIME without a floor."""
    from .tables import TIME_FLOOR_MULTIPLE, W2_THRESHOLD_TIME
    if floor_csv is None or not Path(floor_csv).exists():
        return W2_THRESHOLD_TIME
    f = read_csv(floor_csv, dtype={"condition": str}, keep_default_na=False)
    n = int(config["tasks"][task_name]["train"].get("probe_n", 500))
    f = f[(f["metric"] == "w2") & (f["n"] == n)]
    return TIME_FLOOR_MULTIPLE * float(f["value"].astype(float).mean()) if len(f) else W2_THRESHOLD_TIME


def probe_rows(log: pd.DataFrame | None, threshold: float) -> dict[str, float]:
    """From a training log with periodic probes: ``probe_count``, ``probe_best_w2``,
    ``probe_threshold`` and, when a probe reached it, ``seconds_to_probe_threshold`` (training
    seconds of the first probe at or below the threshold, probes excluded)."""
    from .tables import time_to_threshold
    if log is None or "probe_w2" not in log:
        return {}
    w = pd.to_numeric(log["probe_w2"], errors="coerce")
    w = w[np.isfinite(w)]
    out = {"probe_count": float(len(w)), "probe_threshold": float(threshold)}
    if len(w):
        out["probe_best_w2"] = float(w.min())
    t = time_to_threshold(log, threshold)
    if t is not None:
        out["seconds_to_probe_threshold"] = float(t)
    return out


def evaluate_run(config: dict, task_name: str, method: str, variant: str, seed: int, rundir,
                 floor_csv=None, reference=None) -> list[dict]:
    """Tidy metric rows for one run (from its files, train_info.json and train_log.csv, and the
    task's noise floor): everything the report says of the run is one of these rows.
    ``reference``: the task's reference file, for a kind that has one (default: the workflow's
    path, ``flowbench.tasks.reference_path``)."""
    rundir = Path(rundir)
    tcfg = config["tasks"][task_name]
    task = load_task(config, task_name, reference)
    info = read_json(rundir / "train_info.json")
    check_run_current(config, task_name, method, variant, seed, info, rundir)
    base = {"task": task_name, "method": method, "variant": variant, "seed": seed}
    rows = []

    def add(metric, value, condition=""):
        # a metric that is undefined for this run (NaN: e.g. w2_within_modes when the model put
        # fewer than 2 samples on every mode) has no row, so every recorded value is a number
        if np.isfinite(float(value)):
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
    if info.get("best_step") is not None:   # early stopping: the kept step and its validation W2
        add("best_step", info["best_step"])
        add("best_val_w2", info["best_val_w2"])
        add("stopped_early", float(bool(info.get("stopped_early"))))
    log_csv = rundir / "train_log.csv"
    log_df = read_csv(log_csv) if log_csv.exists() else None
    for name, value in probe_rows(log_df, probe_threshold(config, task_name, floor_csv)).items():
        add(name, value)
    pred = read_npz(rundir / "predictions.npz")
    _check_dims(rundir / "predictions.npz", {"x": pred["x"].shape[1], "y": pred["y"].shape[1]},
                {"x": task.x_dim, "y": task.y_dim})
    if np.all(np.isfinite(pred["y_hat"])):
        for name, value in task.forward_metrics(pred["y_hat"], pred["y"]).items():
            add(name, value)
    post = read_npz(rundir / "posterior_samples.npz")
    ids, _ = task.evaluation_conditions()
    got = [str(c) for c in post["condition_ids"]]
    if got != list(ids):
        raise StaleRun(f"{rundir}/posterior_samples.npz holds conditions {got}, the task evaluates "
                       f"{list(ids)}; retrain the run")
    _check_dims(rundir / "posterior_samples.npz",
                {"samples": post["samples"].shape[2], "conditions": post["conditions"].shape[1]},
                {"samples": task.x_dim, "conditions": task.y_dim})
    n = post["samples"].shape[1]
    fns = {name: M.POSTERIOR_METRICS[name] for name in tcfg.get("metrics", list(M.POSTERIOR_METRICS))}
    for k, cid in enumerate(ids):
        ref = task.reference_posterior(k, n)
        try:
            for name, fn in fns.items():
                add(name, fn(post["samples"][k], ref), condition=cid)
            # every run's stability: the share of draws far outside the reference's range
            add("far_outside", M.far_outside(post["samples"][k], ref), condition=cid)
            for name, value in task.posterior_extra_metrics(k, post["samples"][k], ref).items():
                add(name, value, condition=cid)
        except M.MetricInputError as err:
            raise _blamed(err, f"{rundir}, condition {cid!r}",
                          samples=f"the model's posterior samples ({rundir}/posterior_samples.npz), although "
                                  f"train_info.json records no divergence: delete {rundir} and rerun",
                          reference=f"the reference posterior of task {task.label()}, not the model's "
                                    f"samples: check the task's settings") from None
    if "published_samples" in post and np.all(np.isfinite(post["published_samples"])):
        # the runs compared with a published number, scored at its sample size (sbibm's C2ST)
        pub = post["published_samples"]
        for k, cid in enumerate(ids):
            add(PUBLISHED_C2ST, M.c2st_sbibm_metric(pub[k], task.reference_posterior(k, pub.shape[1])),
                condition=cid)
    if "calibration_samples" in post:   # tasks with a calibration set only
        for name, value in M.calibration_rows(post["calibration_samples"], post["calibration_x"],
                                              hpd_f=post.get("calibration_hpd_f")).items():
            add(name, value)
    return rows


def figure_data(config: dict, task_name: str, method: str, variant: str, seed: int, rundir,
                task=None) -> dict:
    """The arrays of ``figure_data.npz`` for the run in ``rundir`` (``flowbench.figure_data``): the
    first seed's first ``Task.figure_points`` draws per condition and the kind's own arrays, the
    coverage curve, the eps split's draws; copied from the run's files, none drawn anew."""
    from .eps_split import split_conditions, smoothed_runs
    from .recipes import first_seed

    rundir = Path(rundir)
    task = task or load_task(config, task_name)
    post = read_npz(rundir / "posterior_samples.npz")
    out: dict = {"condition_ids": np.asarray([str(c) for c in post["condition_ids"]])}
    if first_seed(config, task_name, method, variant) == int(seed):
        out["samples"] = np.ascontiguousarray(post["samples"][:, :task.figure_points])
        out.update(task.figure_arrays(read_npz(rundir / "predictions.npz")))
    if "calibration_samples" in post:
        smp, tru = post["calibration_samples"], post["calibration_x"]
        ok = np.all(np.isfinite(smp), axis=(1, 2))
        if ok.any():
            out["coverage"] = M.coverage(smp[ok], tru[ok], np.asarray(M.COVERAGE_LEVELS))
    tcfg = config["tasks"][task_name]
    if tcfg.get("eps_split") and (method, variant) in smoothed_runs(config, task_name):
        picked, n = split_conditions(task, tcfg)
        ids = [str(c) for c in post["condition_ids"]]
        out["eps_samples"] = np.ascontiguousarray(post["samples"][picked, :n])
        out["eps_condition_ids"] = np.asarray([ids[k] for k in picked])
    return out


def _check_dims(path, got: dict, want: dict) -> None:
    """Refuse a run file whose arrays have other trailing dimensions than the task's."""
    from .records import REBUILD_DELETE, DamagedFile
    bad = [f"'{k}' has dimension {got[k]}, the task's is {want[k]}" for k in want if got[k] != want[k]]
    if bad:
        raise DamagedFile(path, f"as a run file of this task, {'; '.join(bad)}", REBUILD_DELETE)


def _blamed(err: M.MetricInputError, where: str, samples: str, reference: str) -> M.MetricInputError:
    """``err`` prefixed with ``where`` and followed by whose draws are at fault (``samples``: the
    metric's first argument, ``reference``: its second)."""
    whose = {"samples": samples, "reference": reference}.get(err.argument)
    return M.MetricInputError(f"{where}: {err}" + (f". The non-finite draws are {whose}" if whose else ""),
                              err.argument)


FLOOR_SEED = 4_000_037   # the independent exact draws of the noise floors


# the metrics whose floor is read at the probe's sample size: W2 only (``probe_threshold``, the
# report's time-to-quality threshold ``report.claims.speed.time_threshold``, the W2-vs-time
# figure ``plots.w2_vs_time``); every other reader takes the floor at n_eval
PROBE_FLOOR_METRICS = ("w2",)


def floor_repeats(config: dict, task_name: str) -> int:
    """The pairs per condition and size of a task's noise floor: its ``floor_repeats``, else the
    config's ``noise_floor.repeats``."""
    own = config["tasks"][task_name].get("floor_repeats")
    return int(own if own is not None else config["noise_floor"]["repeats"])


def noise_floor(config: dict, task_name: str, repeats: int, log=None, reference=None,
                probe_metrics=PROBE_FLOOR_METRICS) -> pd.DataFrame:
    """The finite-sample floor of every posterior metric: its value between two independent exact
    samples of the same size, at each evaluation condition, over ``repeats`` pairs, at the size
    the task scores at (``n_eval``: every metric and the task's own per-condition numbers) and at
    the probe's ``probe_n`` when probing (only ``probe_metrics``, the ones read there; None: every
    metric, as at n_eval). The first sample is drawn as a perfect sampler draws
    (``Task.perfect_sample``: independent draws), the second as the reference is (stratified by
    mode on the mixture), so the floor is what a perfect sampler scores against the reference.
    Each (size, condition, repeat) has its own seed, so a row's value does not depend on which
    other rows are computed.

    A perfect sampler scores about this; a threshold below it cannot be passed by anyone, and a
    difference of two methods smaller than its spread is noise. Rows: task, condition, metric,
    n, repeat, value.
    """
    log = log or (lambda m: None)
    tcfg = config["tasks"][task_name]
    task = load_task(config, task_name, reference)
    ids, _ = task.evaluation_conditions()
    names = tcfg.get("metrics", list(M.POSTERIOR_METRICS))
    only = (config.get("noise_floor") or {}).get("metrics")
    names = [m for m in names if only is None or m in only]
    n_eval = int(tcfg.get("n_eval", 2000))
    # size -> (metrics, whether the task's own per-condition numbers are computed)
    plan = {n_eval: (names, True)}
    if tcfg["train"].get("probe_every"):
        n_probe = int(tcfg["train"].get("probe_n", 500))
        if n_probe not in plan:
            at_probe = [m for m in names if probe_metrics is None or m in probe_metrics]
            if at_probe or probe_metrics is None:
                plan[n_probe] = (at_probe, probe_metrics is None)
    rows = []
    for n in sorted(plan):
        metric_names, extra = plan[n]
        for k, cid in enumerate(ids):
            for r in range(repeats):
                rng = np.random.default_rng([FLOOR_SEED, n, k, r])
                a, b = task.perfect_sample(k, n, rng), task.reference_posterior(k, n, rng)
                try:
                    vals = {name: M.POSTERIOR_METRICS[name](a, b) for name in metric_names}
                    if extra:
                        vals.update(task.posterior_extra_metrics(k, a, b))
                except M.MetricInputError as err:
                    raise _blamed(err, f"noise floor of task {task.label()}, condition {cid!r}, n = {n}",
                                  samples="the task's own exact draws (perfect_sample), not a model's",
                                  reference="the task's reference posterior, not a model's samples") from None
                rows += [{"task": task_name, "condition": cid, "metric": m, "n": n, "repeat": r,
                          "value": float(v)} for m, v in vals.items() if np.isfinite(float(v))]
        what = ", ".join(metric_names) + (" and the task's own numbers" if extra else "")
        log(f"[{task_name}] floor at n = {n} ({what}): {len(ids)} conditions x {repeats} repeats")
    return pd.DataFrame(rows, columns=["task", "condition", "metric", "n", "repeat", "value"])


def build_reference(config: dict, task_name: str, out, log=None) -> dict:
    """Build the reference file of a task whose kind has one (``Task.reference_file``: rejection
    ABC over a streamed prior pool, ``flowbench.tasks.inverse``) and write it to ``out``; returns
    its quality record (acceptance radius, the reference's re-simulation error, the 10x smaller
    pool against the split floor)."""
    task = make_task(config["tasks"][task_name])
    if not task.reference_file:
        raise ValueError(f"task {task_name!r} (kind {task.kind!r}) has an exact reference: no reference file")
    arrays = task.build_reference(log=log)
    write_npz(out, **arrays)
    task.attach_reference(out)
    return task.reference_quality()


