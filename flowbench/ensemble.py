"""Several seeds of one (method, variant) trained as one batched ensemble.

On a GPU a small flow leaves most of the device idle: the full config's runs are 2-10-d flows of a
few hundred units at batches of 500-1,600. Training the seeds of one recipe together, as one
network whose every weight carries a leading seed dimension, fills it: ``torch.func``'s
``stack_module_state`` stacks the seeds' parameters, ``vmap`` of ``grad`` computes every seed's
gradient in one batched call, and one optimiser of the method's own class and settings updates the
stacked tensors (Adam's update is element-wise, so it is each seed's own update).

Each seed's numbers are those of its separate run (``flowbench.training.train``) to float
tolerance: the same initial parameters (the methods are built with their seeds as for separate
runs), the same batches (one ``numpy`` generator per seed, seeded as ``train`` seeds its own), the
same noise inside the loss (each method's ``draw_step_noise``, drawn from one ``torch.Generator``
per seed, seeded as ``train`` seeds torch's global generator), and the same optimiser, learning-rate
schedule and gradient clamp. Only the floating-point order of the batched matrix products differs
(tests/test_ensemble.py). A seed whose loss turns non-finite keeps the parameters of the step
before, as a separate run that stops there, while the others go on.

Scope: fixed-length training (the paper's recipe, C1-C6), without probes, validation or early
stopping; methods with ``ensemble_ready`` (their training step's noise given: ``ours``).
Off by default; on a CPU it saves nothing (the seeds' work is the same, done in one process).
"""
from __future__ import annotations

import copy
import math
import sys
import time

import numpy as np
import torch
from torch import nn

from .training import TrainResult, _sync, lr_scheduler


class _LossOf(nn.Module):
    """``forward`` = the method's ``loss_terms``: what ``torch.func.functional_call`` calls."""

    def __init__(self, method):
        super().__init__()
        self.m = method

    def forward(self, x, y, step, noise):
        return self.m.loss_terms(x, y, step, noise)


def _check(methods, seeds) -> None:
    if not methods or len(methods) != len(seeds):
        raise ValueError(f"train_ensemble: one method per seed, got {len(methods)} methods and {len(seeds)} seeds")
    first = methods[0]
    if not getattr(first, "ensemble_ready", False):
        raise ValueError(f"train_ensemble: {first.name} does not give its training step's noise "
                         f"(ensemble_ready); train its seeds separately")
    for m in methods[1:]:
        if type(m) is not type(first) or m.params != first.params:
            raise ValueError(f"train_ensemble: every member must be the same method with the same params; "
                             f"{m.name} differs from {first.name}")
    if len(set(int(s) for s in seeds)) != len(seeds):
        raise ValueError(f"train_ensemble: seeds must differ, got {list(seeds)}")


def train_ensemble(methods, task, iterations: int, batch_size: int, seeds, device=None,
                   log_every: int = 20, log=None) -> list[TrainResult]:
    """Train ``methods`` (one per seed, built with that seed) on ``task`` as one ensemble; returns
    one ``TrainResult`` per seed, as ``train`` would, and leaves each method holding its trained
    parameters. ``seconds`` is the ensemble's step time, shared by its members."""
    if iterations < 1 or batch_size < 1:
        raise ValueError(f"iterations and batch_size must be >= 1, got {iterations}, {batch_size}")
    _check(methods, seeds)
    device = device or torch.device("cpu")
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    k_all = len(methods)
    for m in methods:
        m.to(device).train()
    rngs = [np.random.default_rng(int(s)) for s in seeds]
    gens = [torch.Generator(device=device).manual_seed(int(s)) for s in seeds]
    wrappers = [_LossOf(m) for m in methods]
    params, buffers = torch.func.stack_module_state(wrappers)
    base = copy.deepcopy(wrappers[0]).to("meta")
    first_opt = methods[0].make_optimizer()
    if len(first_opt.param_groups) != 1:
        raise ValueError(f"train_ensemble: {methods[0].name}'s optimiser has several parameter groups")
    opt = type(first_opt)(list(params.values()), **first_opt.defaults)
    sched = lr_scheduler(opt, methods[0].params, iterations)
    clamp = methods[0].grad_clamp

    def one(p, b, x, y, noise, step):
        loss, parts = torch.func.functional_call(base, (p, b), (x, y, step, noise))
        return loss, (loss.detach(), parts)

    step_grads = torch.func.vmap(torch.func.grad(one, has_aux=True), in_dims=(0, 0, 0, 0, 0, None))
    results = [TrainResult() for _ in methods]
    frozen: dict[int, dict[str, torch.Tensor]] = {}
    t_wall0 = time.perf_counter()
    for step in range(iterations):
        t0 = time.perf_counter()
        batches = [task.sample_batch(batch_size, r) for r in rngs]
        xs = [x.to(device) for x, _ in batches]
        X = torch.stack(xs)
        Y = torch.stack([y.to(device) for _, y in batches])
        drawn = [m.draw_step_noise(x, g) for m, x, g in zip(methods, xs, gens)]
        noise = {key: torch.stack([d[key] for d in drawn]) for key in drawn[0]}
        grads, (losses, parts) = step_grads(params, buffers, X, Y, noise, step)
        values = losses.tolist()
        for k in range(k_all):
            if k not in frozen and not math.isfinite(values[k]):
                res = results[k]
                res.diverged, res.diverged_step = True, step
                frozen[k] = {n: p[k].detach().clone() for n, p in params.items()}
                log(f"seed {seeds[k]}: step {step}: non-finite loss ({values[k]}); run recorded as diverged "
                    f"(last finite loss {res.last_finite_loss})")
        if len(frozen) == k_all:
            break
        for n, p in params.items():
            p.grad = grads[n]
            if clamp is not None:
                p.grad.clamp_(-clamp, clamp)
        opt.step()
        if sched is not None:
            sched.step()
        with torch.no_grad():
            for k, snap in frozen.items():   # a diverged seed keeps its last finite parameters
                for n, p in params.items():
                    p[k].copy_(snap[n])
        _sync(device)
        dt = time.perf_counter() - t0
        part_values = {key: v.tolist() for key, v in parts.items()}
        for k, res in enumerate(results):
            if k in frozen:
                continue
            res.seconds += dt
            res.last_finite_loss = values[k]
            res.steps_done = step + 1
            res.rows.append({"step": step, "loss": values[k], **{key: float(v[k]) for key, v in part_values.items()},
                             "seconds": res.seconds})
        if (step + 1) % log_every == 0 or step + 1 == iterations:
            live = [v for k, v in enumerate(values) if k not in frozen]
            log(f"step {step + 1}/{iterations}  {len(live)} seeds, loss {np.mean(live):.4f} (mean)  "
                f"wall {time.perf_counter() - t_wall0:.1f}s")
    with torch.no_grad():
        for k, m in enumerate(methods):
            for n, p in m.named_parameters():
                p.copy_(params[f"m.{n}"][k])
            m.eval()
    return results
