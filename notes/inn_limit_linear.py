"""Does the four-loss INN at a given y noise converge to the transported target that
flowbench/eps_split.py derives for it ("The INN's y noise")? The INN (the project's class, its `inverse` recipe's losses,
weights, ramp and optimiser, a smaller network: x in R^2 padded to 4 dimensions, [z (2), pad (1),
y (1)]) trained on x ~ N(0, I), y = x_1 (deterministic), then sampled at y* = 1.5 the way it
samples (y* + y_noise n fed to the inverse). Its x_1 mean and variance beside the derived limit
(y~ ~ N(y*, s^2) mapped back by the transport from N(0, 1) to N(0, 1 + s^2), x on the fibre), the
fibre mixture (phi = id), ours's limit at eps = s and the Gaussian-kernel ABC posterior, which
differ at s = 0.5. Measured (2 seeds, ~80 s each on one core): s = 0.5: x_1 mean 1.331 / 1.311,
variance 0.198 / 0.205 (derived 1.342, 0.200); s = 0.2: mean 1.458 / 1.477, variance 0.041 / 0.042
(derived 1.471, 0.0385).

    PYTHONPATH=. python notes/inn_limit_linear.py [y_noise ...]
"""
import sys
import time

import numpy as np
import torch

from flowbench import eps_limit as E
from flowbench.methods import make_method

SIGMA, A, Y_STAR, STEPS, BATCH = np.eye(2), np.array([[1.0, 0.0]]), 1.5, 4000, 512
torch.set_num_threads(1)
for s_noise in [float(e) for e in sys.argv[1:]] or [0.5]:
    for seed in (0, 1):
        torch.manual_seed(seed)
        params = dict(dim=4, blocks=4, subnet_layers=2, width=64, clamp=2.0, init_scale=None, y_noise=s_noise,
                      pad_noise=0.05, pad_resample="per_sample",
                      weights={"y": 3.0, "z": 300.0, "x": 400.0, "rec": 3.0},
                      ramp={"kind": "exp", "speed": 1.0, "base": 0.002, "iters_per_epoch": 8},
                      mmd_widths=[0.05, 0.2, 0.9], lr=1e-3, betas=[0.8, 0.9], adam_eps=1e-6,
                      weight_decay=2e-5, grad_clamp=15.0)
        m = make_method("inn", 2, 1, params, total_steps=STEPS, seed=seed, conditions="continuous")
        opt = m.make_optimizer()
        t0 = time.time()
        for step in range(STEPS):
            x = torch.randn(BATCH, 2)
            opt.zero_grad(set_to_none=True)
            loss, _ = m.loss(x, x[:, :1].clone(), step)
            loss.backward()
            for p in m.parameters():
                if p.grad is not None:
                    p.grad.data.clamp_(-m.grad_clamp, m.grad_clamp)
            opt.step()
        m.eval()
        with torch.no_grad():
            s = m.sample_posterior(torch.tensor([[Y_STAR]]), 50_000)[0].numpy()
        print(f"y_noise {s_noise} seed {seed} ({time.time() - t0:.0f} s): INN x_1 mean {s[:, 0].mean():.3f} "
              f"var {s[:, 0].var():.3f}; x_2 mean {s[:, 1].mean():.3f} var {s[:, 1].var():.3f}", flush=True)
    for name, fn in (("derived limit (transport)", E.inn_limit_linear_gaussian),
                     ("fibre mixture (phi = id)", E.fibre_mixture_linear_gaussian),
                     ("ours's limit at eps = y_noise", E.ours_limit_linear_gaussian),
                     ("ABC", E.abc_linear_gaussian)):
        mean, cov = fn(SIGMA, A, [Y_STAR], s_noise)
        print(f"  {name}: x_1 mean {mean[0]:.3f} var {cov[0, 0]:.3f}; x_2 mean {mean[1]:.3f} var {cov[1, 1]:.3f}")
