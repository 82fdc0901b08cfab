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

Probes and early stopping work as in ``train``: every ``probe_every`` steps each live seed's
parameters are loaded into its own module and probed; every ``validate_every`` steps each is
validated, keeps its best parameters and stops (is frozen, as a diverged seed) when its patience
runs out. While a seed is probed or validated, torch's global generator of the device holds that
seed's generator state, so the draws of probes and validation, and the training noise after them,
are those of its separate run, whose single generator serves all three.

Scope: methods with ``ensemble_ready`` (their training step's noise given: ours, the four-loss
INN, the cINN, CFM and the cVAE). Off by
default; on a CPU it saves nothing (the seeds' work is the same, done in one process).
"""
from __future__ import annotations

import contextlib
import copy
import math
import sys
import time

import numpy as np
import torch
from torch import nn

from .training import TrainResult, _EarlyStopping, _sync, lr_scheduler


class _LossOf(nn.Module):
    """``forward`` = the method's ``loss_terms``: what ``torch.func.functional_call`` calls."""

    def __init__(self, method):
        super().__init__()
        self.m = method

    def forward(self, x, y, step, noise):
        return self.m.loss_terms(x, y, step, noise)


@contextlib.contextmanager
def _global_generator(gen: torch.Generator, device: torch.device):
    """Inside: torch's default generator of ``device`` holds ``gen``'s state; after: ``gen`` holds
    what was drawn from it, and the default generator its state from before."""
    if device.type == "cuda":
        saved = torch.cuda.get_rng_state(device)
        torch.cuda.set_rng_state(gen.get_state(), device)
    else:
        saved = torch.get_rng_state()
        torch.set_rng_state(gen.get_state())
    try:
        yield
    finally:
        if device.type == "cuda":
            gen.set_state(torch.cuda.get_rng_state(device))
            torch.cuda.set_rng_state(saved, device)
        else:
            gen.set_state(torch.get_rng_state())
            torch.set_rng_state(saved)


def _load_member(method, params: dict, k: int) -> None:
    """Copy seed ``k``'s slice of the stacked ``params`` into ``method``'s own parameters."""
    with torch.no_grad():
        for n, p in method.named_parameters():
            p.copy_(params[f"m.{n}"][k])


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
                   log_every: int = 20, probe=None, probe_every: int = 0, log=None, validate=None,
                   validate_every: int = 0, patience: int = 5,
                   min_improvement: float = 0.01) -> list[TrainResult]:
    """Train ``methods`` (one per seed, built with that seed) on ``task`` as one ensemble; returns
    one ``TrainResult`` per seed, as ``train`` would, and leaves each method holding its trained
    (with early stopping: its best) parameters. ``probe``, ``validate`` and their arguments as in
    ``train``. ``seconds`` is the ensemble's step time, shared by its live members."""
    if iterations < 1 or batch_size < 1:
        raise ValueError(f"iterations and batch_size must be >= 1, got {iterations}, {batch_size}")
    if validate is not None and validate_every < 1:
        raise ValueError(f"validate_every must be >= 1 with a validation function, got {validate_every}")
    _check(methods, seeds)
    stoppers = ([_EarlyStopping(patience, min_improvement) for _ in methods] if validate is not None
                else None)
    settled = int(getattr(methods[0], "schedule_steps", 0))
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
        drawn = [m.draw_step_noise(x, g, step) for m, x, g in zip(methods, xs, gens)]
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
        probing = probe is not None and probe_every and ((step + 1) % probe_every == 0 or step + 1 == iterations)
        validating = stoppers is not None and ((step + 1) % validate_every == 0 or step + 1 == iterations)
        live = [k for k in range(k_all) if k not in frozen]
        for k in live:
            res = results[k]
            res.seconds += dt
            res.last_finite_loss = values[k]
            res.steps_done = step + 1
            row = {"step": step, "loss": values[k], **{key: float(v[k]) for key, v in part_values.items()},
                   "seconds": res.seconds}
            if probing or validating:
                m = methods[k]
                _load_member(m, params, k)
                m.eval()
                with _global_generator(gens[k], device):
                    if probing:
                        row.update(probe(m))
                    if validating:
                        row["val_w2"] = float(validate(m))
                m.train()
                if validating and (stoppers[k].update(row["val_w2"], step + 1, m) and step + 1 < iterations
                                   and step + 1 >= settled):
                    res.stopped_early = True
                    frozen[k] = {n: p[k].detach().clone() for n, p in params.items()}
                    log(f"seed {seeds[k]}: step {step + 1}: stopped early, no validation improvement of "
                        f"{stoppers[k].min_improvement:g} in {stoppers[k].patience} checks; keeping step "
                        f"{stoppers[k].best_step} (val W2 {stoppers[k].best:.4g})")
            res.rows.append(row)
        if (step + 1) % log_every == 0 or step + 1 == iterations:
            log(f"step {step + 1}/{iterations}  {len(live)} seeds, loss {np.mean([values[k] for k in live]):.4f} "
                f"(mean)  wall {time.perf_counter() - t_wall0:.1f}s")
        if len(frozen) == k_all:
            break
    for k, m in enumerate(methods):
        _load_member(m, params, k)
        if stoppers is not None and stoppers[k].state is not None:
            m.load_state_dict(stoppers[k].state)
            results[k].best_step, results[k].best_val = stoppers[k].best_step, stoppers[k].best
        m.eval()
    return results
