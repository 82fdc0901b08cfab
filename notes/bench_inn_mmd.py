"""Step time of the four-loss INN with the fused MMD against the reference mmd_multiscale,
interleaved in one process (one thread): A B A B ..., the ratio of medians per configuration.

    PYTHONPATH=. python notes/bench_inn_mmd.py
"""
import sys
import time

import numpy as np
import torch
import yaml

from flowbench.methods import inn as inn_module
from flowbench.pipeline import build

torch.set_num_threads(1)
cfg = yaml.safe_load(open("config/config.yaml"))
FUSED = inn_module.mmd_multiscale_fused
cases = [("gmm", "full", 1600), ("gmm", "orig16_full", 1600), ("gaussian_linear", "linear", 1600),
         ("arm", "inverse", 500)]
if len(sys.argv) > 1:
    cases = [c for c in cases if c[1] in sys.argv[1:]]
reps = 6
for task_name, variant, batch in cases:
    if task_name == "arm":
        cfg["tasks"]["arm"]["train"]["probe_every"] = 0
    task, model, _ = build(cfg, task_name, "inn", variant, 0)
    opt = model.make_optimizer()
    rng = np.random.default_rng(0)
    x, y = task.sample_batch(batch, rng)
    times = {"reference": [], "fused": []}

    def step(fn):
        inn_module.mmd_multiscale_fused = fn
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss, _ = model.loss(x, y, 300)    # ramp > 0: both MMD terms
        loss.backward()
        opt.step()
        return time.perf_counter() - t0

    step(FUSED), step(inn_module.mmd_multiscale)   # warm up
    for _ in range(reps):
        times["reference"].append(step(inn_module.mmd_multiscale))
        times["fused"].append(step(FUSED))
    r, f = np.median(times["reference"]), np.median(times["fused"])
    ratios = np.array(times["reference"]) / np.array(times["fused"])
    print(f"{task_name}/inn/{variant} batch {batch}: reference {r:.3f} s, fused {f:.3f} s per step; "
          f"ratio of medians {r / f:.2f} (pairwise ratios {np.round(ratios, 2).tolist()})", flush=True)
inn_module.mmd_multiscale_fused = FUSED
