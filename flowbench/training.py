"""The one training loop every method uses.

It draws batches from the task, calls ``method.loss(x, y, step)``, clamps gradients element-wise
if the method asks for it, and logs one row per step (``step, loss, <parts>, seconds``) where
``seconds`` is the cumulative *training* time (probes excluded). A non-finite loss stops the run
and records it as diverged, with the step and the last finite loss.

Early stopping (optional, ``validate``): every ``validate_every`` steps a validation distance is
measured on data the test never uses (``val_w2`` in the log row). The parameters of the lowest
value are kept and restored at the end; the run stops when ``patience`` validations in a row have
not improved on the value of the last improvement by at least the fraction ``min_improvement``, or
at ``iterations`` (the cap), but never inside the method's own schedule (``schedule_steps``: the
INN's ramp, the cVAE's KL warm-up, which run over the cap). Prechelt (1998, "Early stopping -- but when?", Neural Networks:
Tricks of the Trade) discusses such patience criteria.
"""
from __future__ import annotations

import copy
import math
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import torch


@dataclass
class TrainResult:
    rows: list = field(default_factory=list)
    diverged: bool = False
    diverged_step: int | None = None
    last_finite_loss: float | None = None
    seconds: float = 0.0
    steps_done: int = 0
    #: early stopping: the step (1-based count of steps done) whose parameters were kept, its
    #: validation distance, and whether the run stopped before its cap
    best_step: int | None = None
    best_val: float | None = None
    stopped_early: bool = False

    @property
    def seconds_per_iteration(self) -> float:
        return self.seconds / max(self.steps_done, 1)

    def mark_sampling_failure(self) -> None:
        """The model trained with finite losses but drew non-finite samples: the run counts as
        diverged at its last step (``steps_done``), its last finite loss kept."""
        self.diverged, self.diverged_step = True, self.steps_done

    def info(self) -> dict:
        return {"diverged": self.diverged, "diverged_step": self.diverged_step,
                "last_finite_loss": self.last_finite_loss, "seconds": self.seconds,
                "steps_done": self.steps_done, "seconds_per_iteration": self.seconds_per_iteration,
                "best_step": self.best_step, "best_val_w2": self.best_val,
                "stopped_early": self.stopped_early}


def lr_scheduler(opt, params: dict, iterations: int):
    """``lr_schedule: constant`` (the paper's recipe: no schedule) or ``cosine`` (decay from lr to
    ``lr * lr_final_factor`` over the run)."""
    kind = params.get("lr_schedule", "constant")
    if kind == "constant":
        return None
    if kind == "cosine":
        f = float(params.get("lr_final_factor", 0.01))
        return torch.optim.lr_scheduler.LambdaLR(
            opt, lambda t: f + (1 - f) * 0.5 * (1 + math.cos(math.pi * min(t, iterations) / iterations)))
    raise ValueError(f"unknown lr_schedule {kind!r}; allowed: ['constant', 'cosine']")


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class _EarlyStopping:
    """The best parameters so far and the patience count (module docstring)."""

    def __init__(self, patience: int, min_improvement: float):
        if patience < 1 or not 0 <= min_improvement < 1:
            raise ValueError(f"early stopping needs patience >= 1 and 0 <= min_improvement < 1, got "
                             f"{patience}, {min_improvement}")
        self.patience, self.min_improvement = int(patience), float(min_improvement)
        self.best = self.anchor = math.inf
        self.best_step, self.state, self.waited = None, None, 0

    def update(self, value: float, step: int, module) -> bool:
        """Record the validation ``value`` after ``step`` steps; True when the run should stop."""
        if math.isfinite(value) and value < self.best:
            self.best, self.best_step = value, step
            self.state = copy.deepcopy(module.state_dict())
        if math.isfinite(value) and value < self.anchor * (1 - self.min_improvement):
            self.anchor, self.waited = value, 0
        else:
            self.waited += 1
        return self.waited >= self.patience


def train(method, task, iterations: int, batch_size: int, seed: int, device=None,
          log_every: int = 20, probe=None, probe_every: int = 0, log=None, validate=None,
          validate_every: int = 0, patience: int = 5, min_improvement: float = 0.01) -> TrainResult:
    """Train ``method`` on ``task``; ``probe(method) -> dict`` runs every ``probe_every`` steps
    (its time is not counted in ``seconds``). With ``validate(method) -> float`` (a distance on
    validation data) every ``validate_every`` steps, the run stops early and keeps its best
    parameters (module docstring); ``iterations`` is then the cap."""
    if iterations < 1 or batch_size < 1:
        raise ValueError(f"iterations and batch_size must be >= 1, got {iterations}, {batch_size}")
    if validate is not None and validate_every < 1:
        raise ValueError(f"validate_every must be >= 1 with a validation function, got {validate_every}")
    stopper = _EarlyStopping(patience, min_improvement) if validate is not None else None
    settled = int(getattr(method, "schedule_steps", 0))   # no early stop inside the method's schedule
    device = device or torch.device("cpu")
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    method.to(device).train()
    opt = method.make_optimizer()
    sched = lr_scheduler(opt, method.params, iterations)
    clamp = method.grad_clamp
    res = TrainResult()
    t_wall0 = time.perf_counter()
    for step in range(iterations):
        t0 = time.perf_counter()
        x, y = task.sample_batch(batch_size, rng)
        x, y = x.to(device), y.to(device)
        opt.zero_grad(set_to_none=True)
        loss, parts = method.loss(x, y, step)
        loss_val = float(loss.detach())
        if not math.isfinite(loss_val):
            res.diverged, res.diverged_step = True, step
            log(f"step {step}: non-finite loss ({loss_val}); run recorded as diverged "
                f"(last finite loss {res.last_finite_loss})")
            break
        loss.backward()
        if clamp is not None:
            for p in method.parameters():
                if p.grad is not None:
                    p.grad.data.clamp_(-clamp, clamp)
        opt.step()
        if sched is not None:
            sched.step()
        _sync(device)
        res.seconds += time.perf_counter() - t0
        res.last_finite_loss = loss_val
        res.steps_done = step + 1
        row = {"step": step, "loss": loss_val, **{k: float(v) for k, v in parts.items()},
               "seconds": res.seconds}
        if probe is not None and probe_every and ((step + 1) % probe_every == 0 or step + 1 == iterations):
            method.eval()
            row.update(probe(method))
            method.train()
        stop = False
        if stopper is not None and ((step + 1) % validate_every == 0 or step + 1 == iterations):
            method.eval()
            row["val_w2"] = float(validate(method))
            method.train()
            stop = (stopper.update(row["val_w2"], step + 1, method) and step + 1 < iterations
                    and step + 1 >= settled)
        res.rows.append(row)
        if (step + 1) % log_every == 0 or step + 1 == iterations:
            log(f"step {step + 1}/{iterations}  loss {loss_val:.4f}  "
                f"train {res.seconds:.1f}s  wall {time.perf_counter() - t_wall0:.1f}s")
        if stop:
            res.stopped_early = True
            log(f"step {step + 1}: stopped early, no validation improvement of {stopper.min_improvement:g} "
                f"in {stopper.patience} checks; keeping step {stopper.best_step} (val W2 {stopper.best:.4g})")
            break
    if stopper is not None and stopper.state is not None:
        method.load_state_dict(stopper.state)
        res.best_step, res.best_val = stopper.best_step, stopper.best
    method.eval()
    return res
