"""How sbibm's C2ST reads at 2,000 draws per side (the suite's n_eval on sbibm tasks) against
10,000 (sbibm's), for a slightly wrong posterior: N(0, I_d) against N(delta, I_d) (a shift of
delta along every coordinate), 3 seeds of draws and classifier each, d = 2 and 10.
Usage: PYTHONPATH=. python notes/c2st_sample_size.py"""
import time

import numpy as np
import torch

from flowbench.metrics import c2st_sbibm

torch.set_num_threads(1)
for d, delta in ((2, 0.1), (10, 0.05)):
    for n in (2000, 10000):
        vals = []
        t = time.perf_counter()
        for seed in range(3):
            rng = np.random.default_rng(seed)
            vals.append(c2st_sbibm(rng.standard_normal((n, d)), rng.standard_normal((n, d)) + delta, seed=seed))
        print(f"d {d}, shift {delta}: n {n}: C2ST {np.mean(vals):.3f} (sd {np.std(vals, ddof=1):.3f}, "
              f"seeds {np.round(vals, 3).tolist()}), {time.perf_counter() - t:.0f} s", flush=True)
