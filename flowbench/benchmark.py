"""Cost of one training step, per method and batch size, measured in one process.

- ``step_costs``: seconds per training iteration (median of timed steps after warm-up) and peak
  memory of a training step (each measured in a fresh process) for each method at each batch size. MMD terms are quadratic in the batch size, the likelihood linear.
- ``matmul_fraction``: for each method, the time of its training step's own matrix multiplies
  (recorded with their shapes by the torch profiler, replayed alone on fresh operands) over the
  step's time, in the same process with the same threads. 1.0 would mean no time beyond the
  matrix multiplies; the same measurement for every method.
"""
from __future__ import annotations

import resource
import time

import numpy as np
import torch

from .methods import make_method
from .tables import PRECISION_COLUMNS, precision_summary  # noqa: F401  (re-exported)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _build(task, kind, params, seed, device):
    """A fresh training-mode model of ``kind`` on ``device`` (seeded)."""
    torch.manual_seed(seed)
    model = make_method(kind, task.x_dim, task.y_dim, params, total_steps=400, seed=seed,
                        label_prior=task.label_prior).to(device)
    model.train()
    return model


def _train_step(model, opt, x, y):
    opt.zero_grad(set_to_none=True)
    loss, _ = model.loss(x, y, 10_000)  # late step: the INN's ramp is on (full cost)
    loss.backward()
    opt.step()


def _time_steps(model, task, batch, n_warmup, n_steps, rng, device):
    opt = model.make_optimizer()
    times = []
    for i in range(n_warmup + n_steps):
        x, y = task.sample_batch(batch, rng)
        x, y = x.to(device), y.to(device)
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        _train_step(model, opt, x, y)
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i >= n_warmup:
            times.append(time.perf_counter() - t0)
    return float(np.median(times))


def _one_cost(task_cfg, kind, params, batch, n_warmup, n_steps, seed, device_str, threads):
    """One (method, batch) measurement; runs in a fresh process so that peak RSS is its own."""
    from .tasks import make_task
    torch.set_num_threads(threads)
    task = make_task(task_cfg)
    device = torch.device(device_str)
    model = _build(task, kind, params, seed, device)
    rss0 = _rss_mb()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    s = _time_steps(model, task, batch, n_warmup, n_steps, np.random.default_rng(seed), device)
    mem = (torch.cuda.max_memory_allocated(device) / 2 ** 20 if device.type == "cuda"
           else _rss_mb() - rss0)
    return s, mem


def step_costs(task_cfg: dict, methods: dict, batch_sizes, n_warmup=2, n_steps=5, seed=0, device=None,
               log=print):
    """Rows ``method, batch_size, seconds_per_iteration, peak_mem_mb`` for each (method, batch).

    Each measurement runs in its own fresh Python process (one at a time, same thread count), so
    ``peak_mem_mb`` is the growth of that process's peak RSS over the model's own footprint: the
    activations, gradients and optimiser state of a training step (on CUDA: peak allocated memory).
    """
    import json
    import subprocess
    import sys

    device = device or torch.device("cpu")
    threads = torch.get_num_threads()
    rows = []
    for name, (kind, params) in methods.items():
        for b in batch_sizes:
            job = json.dumps([task_cfg, kind, params, b, n_warmup, n_steps, seed, str(device), threads])
            out = subprocess.run([sys.executable, "-m", "flowbench.benchmark"], input=job, text=True,
                                 capture_output=True, check=False)
            if out.returncode != 0:
                raise RuntimeError(f"benchmark of {name} at batch {b} failed:\n{out.stderr[-2000:]}")
            s, mem = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append({"method": name, "batch_size": b, "seconds_per_iteration": s, "peak_mem_mb": mem})
            log(f"{name} batch {b}: {s:.4f} s/iteration, peak +{mem:.0f} MB")
    return rows


# the matrix-multiply kernels themselves, and how to replay each (aten::linear and aten::matmul
# dispatch to these, so counting only these counts every multiply once); the add-multiply forms
# take their added operand first
_LEAF_MATMULS = {"aten::mm": torch.mm, "aten::addmm": torch.addmm, "aten::bmm": torch.bmm,
                 "aten::baddbmm": torch.baddbmm}
_ADD_FORMS = ("aten::addmm", "aten::baddbmm")


def step_matmuls(model, opt, task, batch: int, rng, device) -> list[tuple[str, tuple]]:
    """Every matrix multiply that one training step runs (forward, backward, optimiser), as
    ``(op, operand shapes)``, recorded by the torch profiler (``record_shapes``; scalar
    arguments dropped)."""
    from torch.profiler import ProfilerActivity, profile

    x, y = task.sample_batch(batch, rng)
    x, y = x.to(device), y.to(device)
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        _train_step(model, opt, x, y)
    out = []
    for ev in prof.events():
        if ev.name in _LEAF_MATMULS:
            out.append((ev.name, tuple(tuple(int(d) for d in sh) for sh in ev.input_shapes if sh)))
    return out


def _tensor_shapes(op: str, shapes: tuple) -> tuple:
    """The tensor operands' shapes of one recorded multiply: (A, B), or (C, A, B) for the
    add-multiply forms."""
    return shapes[:3] if op in _ADD_FORMS else shapes[:2]


def _flops(op: str, shapes: tuple) -> int:
    a, b = _tensor_shapes(op, shapes)[-2:]
    if op in ("aten::bmm", "aten::baddbmm"):
        return 2 * a[0] * a[1] * a[2] * b[2]
    return 2 * a[0] * a[1] * b[1]


def matmul_fraction(task, kind: str, params: dict, batch: int, n_steps=5, seed=0, device=None) -> dict:
    """How close one training step of method ``kind`` comes to the plain-matmul limit: the step's
    own matrix multiplies (every aten mm/addmm/bmm/baddbmm it runs, recorded with their shapes by
    the torch profiler) replayed alone on fresh operands, divided by the step's time; both the
    median of ``n_steps`` timings in the same process with the same threads. 1.0 would mean no
    time beyond the multiplies (element-wise work, copies, autograd and Python are the rest)."""
    device = device or torch.device("cpu")
    model = _build(task, kind, params, seed, device)
    rng = np.random.default_rng(seed)
    step = _time_steps(model, task, batch, 2, n_steps, rng, device)
    mms = step_matmuls(model, model.make_optimizer(), task, batch, rng, device)
    # fresh random operands at the recorded shapes
    calls = [(_LEAF_MATMULS[op], [torch.randn(*sh, device=device) for sh in _tensor_shapes(op, shapes)])
             for op, shapes in mms]
    flops = sum(_flops(op, shapes) for op, shapes in mms)

    def run():
        for fn, args in calls:
            fn(*args)
        if device.type == "cuda":
            torch.cuda.synchronize()

    run()
    ts = []
    for _ in range(n_steps):
        t0 = time.perf_counter()
        run()
        ts.append(time.perf_counter() - t0)
    mm = float(np.median(ts))
    return {"method": kind, "batch_size": batch, "step_seconds": step, "matmul_seconds": mm,
            "matmuls_per_step": len(mms), "flops_per_step": int(flops),
            "step_gflops": flops / step / 1e9, "matmul_gflops": flops / mm / 1e9 if mm > 0 else float("nan"),
            "fraction": mm / step, "threads": torch.get_num_threads()}


if __name__ == "__main__":  # one measurement, for step_costs: JSON args on stdin, JSON result on stdout
    import json
    import sys
    print(json.dumps(_one_cost(*json.loads(sys.stdin.read()))))


# ------------------------------------------------------------------------- metric precision
# (PRECISION_COLUMNS and precision_summary live in flowbench.tables: the report reads them too)


def metric_precision(task, metric_names, sample_sizes, repeats: int = 3, labels=(0,), seed: int = 0,
                     log=None) -> list[dict]:
    """Each posterior metric between two *independent exact* samples of the same posterior, at each
    sample size: the value a perfect model gets (the finite-sample floor), its spread over repeats
    and the seconds per call. This is what chooses ``n_eval`` (the final evaluation) and
    ``probe_n`` (the W2-vs-time probe): the floor must sit well below the thresholds read off it.
    """
    from . import metrics as M

    for name in metric_names:
        if name not in M.POSTERIOR_METRICS:
            raise ValueError(f"metric_precision: unknown metric {name!r}; "
                             f"known: {sorted(M.POSTERIOR_METRICS)}")
    bad = [lab for lab in labels if not 0 <= int(lab) < task.n_labels]
    if bad:
        raise ValueError(f"metric_precision: labels {bad} out of range; the task has labels "
                         f"0..{task.n_labels - 1}")
    rows = []
    for n in sample_sizes:
        for lab in labels:
            for r in range(int(repeats)):
                rng = np.random.default_rng([seed, int(n), int(lab), r])
                a = task.sample_posterior(int(lab), int(n), rng)
                b = task.sample_posterior(int(lab), int(n), rng)
                for name in metric_names:
                    t0 = time.perf_counter()
                    v = M.POSTERIOR_METRICS[name](a, b)
                    rows.append({"metric": name, "n": int(n), "label": int(lab), "repeat": r,
                                 "value": float(v), "seconds": time.perf_counter() - t0})
        if log:
            got = [x for x in rows if x["n"] == n]
            log(f"n={n}: " + ", ".join(
                f"{m} {np.mean([x['value'] for x in got if x['metric'] == m]):.4f}" for m in metric_names))
    return rows


# ------------------------------------------------------------------------------- op profile

PROFILE_COLUMNS = ["method", "batch_size", "group", "self_seconds_per_step", "share"]
_MATMUL_OPS = {"aten::mm", "aten::addmm", "aten::bmm", "aten::matmul", "aten::linear"}
_COPY_OPS = {"aten::copy_", "aten::to", "aten::_to_copy", "aten::index", "aten::_index_put_impl_",
             "aten::cat", "aten::clone", "aten::contiguous", "aten::empty", "aten::empty_strided",
             "aten::zeros", "aten::fill_", "aten::zero_"}


def _op_group(name: str) -> str:
    if name in _MATMUL_OPS:
        return "matmul"
    if name in _COPY_OPS:
        return "copy/index/alloc"
    if name.startswith("aten::"):
        return "element-wise/reduction"
    return "python/autograd/optimizer"


def op_profile(task, kind: str, params: dict, batch: int, n_steps: int = 3, seed: int = 0,
               device=None) -> list[dict]:
    """Where one training step's time goes (torch profiler, CPU self time): matrix multiplies,
    element-wise and reduction kernels, copies/indexing/allocation, and the rest. Rows per group
    with seconds per step and share of the profiled self time."""
    from torch.profiler import ProfilerActivity, profile

    device = device or torch.device("cpu")
    model = _build(task, kind, params, seed, device)
    opt = model.make_optimizer()
    rng = np.random.default_rng(seed)

    def step():
        x, y = task.sample_batch(batch, rng)
        _train_step(model, opt, x.to(device), y.to(device))

    step()  # warm-up
    t0 = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(n_steps):
            step()
    wall = (time.perf_counter() - t0) / n_steps
    groups: dict[str, float] = {}
    for ev in prof.key_averages():
        g = _op_group(ev.key)
        groups[g] = groups.get(g, 0.0) + ev.self_cpu_time_total / 1e6 / n_steps
    total = sum(groups.values())
    rows = [{"method": kind, "batch_size": int(batch), "group": g, "self_seconds_per_step": s,
             "share": s / total if total > 0 else float("nan")} for g, s in sorted(groups.items())]
    rows.append({"method": kind, "batch_size": int(batch), "group": "wall (profiled step)",
                 "self_seconds_per_step": wall, "share": float("nan")})
    return rows
