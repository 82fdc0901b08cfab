"""Does ours at a given eps converge to the limit derived in flowbench/eps_limit.py? Ours (the
project's class, no padding: x in R^2 maps to [z (1), y~ (1)]) trained by its likelihood on
x ~ N(0, I), y = x_1 (deterministic), then sampled at y* = 1.5; its x_1 mean and variance beside
the derived limit, the Gaussian-kernel ABC posterior and the kernel-weighted fibres (phi = id).

    PYTHONPATH=. python notes/eps_limit_linear.py [eps ...]
"""
import sys
import time

import numpy as np
import torch

from flowbench import eps_limit as E
from flowbench.methods import make_method

SIGMA, A, Y_STAR, STEPS, BATCH = np.eye(2), np.array([[1.0, 0.0]]), 1.5, 4000, 512
for eps in [float(e) for e in sys.argv[1:]] or [0.5]:
    for seed in (0, 1):
        torch.manual_seed(seed)
        params = dict(dim=2, blocks=4, subnet_layers=2, width=64, clamp=2.0, init_scale=None, eps=eps,
                      pad_noise=0.05, pad_resample="per_sample", lr=1e-3)
        m = make_method("ours", 2, 1, params, total_steps=STEPS, seed=seed, conditions="continuous")
        opt = m.make_optimizer()
        t0 = time.time()
        for step in range(STEPS):
            x = torch.randn(BATCH, 2)
            opt.zero_grad(set_to_none=True)
            loss, _ = m.loss(x, x[:, :1].clone(), step)
            loss.backward()
            opt.step()
        m.eval()
        s = m.sample_posterior(torch.tensor([[Y_STAR]]), 50_000)[0].numpy()
        print(f"eps {eps} seed {seed} ({time.time() - t0:.0f} s): ours x_1 mean {s[:, 0].mean():.3f} "
              f"var {s[:, 0].var():.3f}; x_2 mean {s[:, 1].mean():.3f} var {s[:, 1].var():.3f}")
    for name, fn in (("derived limit", E.ours_limit_linear_gaussian), ("ABC", E.abc_linear_gaussian)):
        mean, cov = fn(SIGMA, A, [Y_STAR], eps)
        print(f"  {name}: x_1 mean {mean[0]:.3f} var {cov[0, 0]:.3f}")
    print(f"  kernel-weighted fibres: x_1 mean {Y_STAR:.3f} var {eps ** 2:.3f}")
