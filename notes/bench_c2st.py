"""C2ST with its folds trained one after another (loop) against one batched model (batched),
interleaved in one process on one thread, 2,000 + 2,000 points (the full config's n_eval) at
each dimension; prints the ratio of median times (loop / batched) and both accuracies.

    PYTHONPATH=. python notes/bench_c2st.py [dims...]
"""
import sys
import time

import numpy as np
import torch

from flowbench import metrics as M

torch.set_num_threads(1)
dims = [int(a) for a in sys.argv[1:]] or [2, 3, 4, 6, 10]
reps = 3
for d in dims:
    rng = np.random.default_rng(d)
    X, Y = rng.normal(size=(2000, d)), rng.normal(size=(2000, d)) + 0.1
    t = {False: [], True: []}
    acc = {False: [], True: []}
    for r in range(reps):
        for batched in (False, True):
            t0 = time.perf_counter()
            acc[batched].append(M.c2st(X, Y, seed=r, batched=batched))
            t[batched].append(time.perf_counter() - t0)
    lo, ba = np.median(t[False]), np.median(t[True])
    print(f"d = {d}: loop {lo:.2f} s, batched {ba:.2f} s, ratio {lo / ba:.2f} "
          f"(pairwise {np.round(np.array(t[False]) / np.array(t[True]), 2).tolist()}); "
          f"accuracy loop {np.round(acc[False], 4).tolist()} batched {np.round(acc[True], 4).tolist()}",
          flush=True)
