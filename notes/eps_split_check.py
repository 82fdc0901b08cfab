"""What eps costs on the nonlinear tasks, before any training: the smoothed target that ours
converges to at eps (flowbench/eps_split.py; Xiao, Yan & Amit 2019, arXiv 1911.02052, Eq. 5-6)
and the Gaussian-kernel ABC posterior at the same eps, each against a small rejection-ABC
reference (the 2,000 nearest of a prior pool: cheap, and smoothed by its own acceptance radius,
printed; the benchmark's reference keeps 4,000 of 10^8), with the W2 floor between two
independent target draws. arm at y* = (1.5, 0); ballistics at its first observation.

The prior predictive density of the arm at (1.5, 0) is low (about 0.017 per unit area): 2,000 of
2e6 draws reach out to a radius of 0.135, more than every eps but 0.3, so the arm's reference
pool is 2e7 (radius about 0.04); ballistics keeps 2,000 of 2e6. For the same reason the arm's
samplers at eps = 0.01 would need about 2e8 prior draws each for 2,000 draws: there the target's
pool stops at ``CAP`` draws (its distinct fraction is printed) and kernel ABC is not run.

    OMP_NUM_THREADS=1 PYTHONPATH=. python notes/eps_split_check.py
"""
import time

import numpy as np

from flowbench import eps_split as S
from flowbench.metrics import w2
from flowbench.tasks.arm import ArmTask
from flowbench.tasks.ballistics import BallisticsTask

EPS, N, REF_KEEP, FIT_N, CAP, CHUNK = (0.01, 0.03, 0.1, 0.3), 2000, 2000, 20_000, 32_000_000, 1_000_000


def abc_reference(task, y_star, pool, rng):
    """The REF_KEEP prior draws nearest to y* of ``pool``, streamed in chunks."""
    xs, ds = np.empty((0, task.x_dim)), np.empty(0)
    for _ in range(pool // CHUNK):
        x = task.prior_sample(CHUNK, rng)
        d = np.linalg.norm(task.forward(x) - y_star, axis=1)
        xs, ds = np.concatenate([xs, x]), np.concatenate([ds, d])
        keep = np.argpartition(ds, REF_KEEP - 1)[:REF_KEEP]
        xs, ds = xs[keep], ds[keep]
    return xs[rng.permutation(REF_KEEP)], float(ds.max())


def main():
    ball = BallisticsTask()
    cases = [("arm", ArmTask(n_obs=3), np.array([1.5, 0.0]), 20_000_000),
             ("ballistics", ball, ball.evaluation_conditions()[1][0].astype(np.float64), 2_000_000)]
    for name, task, y_star, ref_pool in cases:
        t0 = time.process_time()
        rng = np.random.default_rng(0)
        ref, radius = abc_reference(task, y_star, ref_pool, rng)
        print(f"{name}: y* = {np.round(y_star, 4)}; ABC reference: {REF_KEEP} nearest of {ref_pool:,}, "
              f"acceptance radius {radius:.4f} (y units); n = {N}")
        print("    eps   W2(target,ref)  W2(kABC,ref)  W2(target,kABC)  floor   | phi: J_hold  iters "
              "| pool: draws  nn_median  distinct  far")
        for eps in EPS:
            phi = S.fit_reparametrisation(task.forward(task.prior_sample(FIT_N, rng)), eps, seed=1)
            a, info = S.sample_target(task, y_star, eps, N, rng, pool=CAP, phi=phi, return_info=True)
            b = S.sample_target(task, y_star, eps, N, rng, pool=CAP, phi=phi)
            try:
                k = S.sample_kernel_abc(task, y_star, eps, N, rng, pool=CAP)
                kr, ka = f"{w2(k, ref):12.4f}", f"{w2(a, k):15.4f}"
            except ValueError:          # acceptance too low for CAP draws (module docstring)
                kr, ka = f"{'n/a':>12}", f"{'n/a':>15}"
            print(f"  {eps:5.2f}   {w2(a, ref):12.4f}  {kr}  {ka}  {w2(a, b):6.4f}  "
                  f"| {phi.j_holdout:10.5f} {phi.iterations:5d} | {info['pool_draws']:11,d}  "
                  f"{info['nn_median']:9.2e}  {info['distinct']:8.3f}  {info['far']:.3f}", flush=True)
        print(f"  ({time.process_time() - t0:.0f} CPU-s)")


if __name__ == "__main__":
    main()
