"""Weight schedules for the INN's backward MMD loss (Ardizzone et al. 2018).

Time is counted in epochs: ``epoch = step // iters_per_epoch`` (the original code: 8 iterations
per epoch, 50 epochs), constant within an epoch.

- ``exp``: the original ramp ``min(1, 2 * base ** (1 - speed * epoch / n_epochs))`` with
  ``base = 0.002``; ``speed`` 1 is the original (0.004 at epoch 0, 0.048 at 20, 0.577 at 40, 1 from
  45 of 50); ``speed > 1`` ramps faster, ``< 1`` slower.
- ``linear``: ``min(1, speed * epoch / n_epochs)`` (the paper's description of the ramp).
- ``constant``: 1 throughout (no ramp).
- ``none``: 0 throughout (backward MMD switched off).
"""
from __future__ import annotations

SCHEDULES = ("exp", "linear", "constant", "none")


def ramp_weight(kind: str, step: int, total_steps: int, iters_per_epoch: int = 8,
                speed: float = 1.0, base: float = 0.002) -> float:
    if kind not in SCHEDULES:
        raise ValueError(f"unknown schedule {kind!r}; allowed: {list(SCHEDULES)}")
    if iters_per_epoch < 1:
        raise ValueError(f"iters_per_epoch must be >= 1, got {iters_per_epoch}")
    n_epochs = max(total_steps / iters_per_epoch, 1.0)
    epoch = step // iters_per_epoch
    if kind == "exp":
        return min(1.0, 2.0 * base ** (1.0 - speed * epoch / n_epochs))
    if kind == "linear":
        return min(1.0, speed * epoch / n_epochs)
    if kind == "constant":
        return 1.0
    return 0.0
