"""Fusing ours' element-wise work: one training step of the paper's method (the full config's
`ours/paper` on `gmm`, batch 1600) eager against ``torch.compile`` of its loss (TorchInductor's CPU
code generation fuses the couplings' element-wise work), interleaved in one process: A B A B ...,
the ratio of medians. The compiled part is the loss's tensor work (``_log_prob_parts``;
its scalar logging stays eager). Both variants start from the same weights and see the same batches and the
same padding noise; the first step's loss and gradients are compared.

    PYTHONPATH=. python notes/bench_compile_ours.py [threads]
"""
import sys
import time

import numpy as np
import torch
import torch._inductor.config
import yaml

from flowbench.pipeline import build

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
torch._inductor.config.fallback_random = True   # the padding noise as eager draws it
torch.set_num_threads(threads)
cfg = yaml.safe_load(open("config/config.yaml"))
BATCH, REPS, STEPS = 1600, 5, 4


def make(compiled: bool):
    task, model, _ = build(cfg, "gmm", "ours", "paper", 0)
    if compiled:   # the tensor part of the loss: padding, the flow, the two log-densities
        model._log_prob_parts = torch.compile(model._log_prob_parts, dynamic=False)
    return task, model, model.make_optimizer(), model.loss


def step(model, opt, loss_fn, x, y, seed):
    torch.manual_seed(seed)   # the padding noise drawn inside the loss
    opt.zero_grad(set_to_none=True)
    loss, _ = loss_fn(x, y, 10)
    loss.backward()
    opt.step()
    return loss


rng = np.random.default_rng(0)
task, eager, eager_opt, eager_loss = make(False)
_, comp, comp_opt, comp_loss = make(True)
comp.load_state_dict(eager.state_dict())
batches = [task.sample_batch(BATCH, rng) for _ in range(4)]

# equality on the first step: loss and every gradient, from the same weights
x, y = batches[0]
losses = []
first = []
for model, fn in ((eager, eager_loss), (comp, comp_loss)):
    t0 = time.perf_counter()
    model.zero_grad(set_to_none=True)
    torch.manual_seed(1)
    loss = fn(x, y, 10)[0]
    loss.backward()
    losses.append(loss.item())
    first.append(time.perf_counter() - t0)
max_rel = max(float((pe.grad - pc.grad).abs().max() / pe.grad.abs().max().clamp_min(1e-12))
              for pe, pc in zip(eager.parameters(), comp.parameters()) if pe.grad is not None)
print(f"first-step loss eager {losses[0]:.6f} compiled {losses[1]:.6f}; "
      f"max relative gradient difference {max_rel:.2e}")

print(f"first forward and backward: eager {first[0]:.1f} s, compiled {first[1]:.1f} s (its compilation)")
times = {"eager": [], "compiled": []}
for r in range(REPS):
    for name, (model, opt, fn) in (("eager", (eager, eager_opt, eager_loss)),
                                   ("compiled", (comp, comp_opt, comp_loss))):
        t0 = time.perf_counter()
        for k in range(STEPS):
            xb, yb = batches[k % len(batches)]
            step(model, opt, fn, xb, yb, 100 + k)
        times[name].append((time.perf_counter() - t0) / STEPS)
me, mc = np.median(times["eager"]), np.median(times["compiled"])
print(f"threads {threads}, batch {BATCH}: eager {me:.4f} s/step, compiled {mc:.4f} s/step, "
      f"compiled / eager {mc / me:.3f}")
