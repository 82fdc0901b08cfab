"""A method's variant of the full config on gmm (default ours/paper): 5 seeds trained separately vs as
one ensemble (flowbench.ensemble), one thread, in one process.
Usage: PYTHONPATH=. python notes/bench_ensemble.py ITERATIONS BATCH [METHOD VARIANT]"""
import time, sys, torch, yaml
torch.set_num_threads(1)
from flowbench.config import validate_config
from flowbench.pipeline import build
from flowbench.training import train
from flowbench.ensemble import train_ensemble
cfg = validate_config(yaml.safe_load(open("config/config.yaml")))
it, bs, seeds = int(sys.argv[1]), int(sys.argv[2]), [0, 1, 2, 3, 4]
method, variant = (sys.argv[3], sys.argv[4]) if len(sys.argv) > 4 else ("ours", "paper")
quiet = lambda m: None
for rep in range(2):
    t = time.perf_counter()
    for s in seeds:
        task, m, _ = build(cfg, "gmm", method, variant, s)
        train(m, task, it, bs, s, log=quiet)
    sep = time.perf_counter() - t
    built = [build(cfg, "gmm", method, variant, s) for s in seeds]
    t = time.perf_counter()
    train_ensemble([b[1] for b in built], built[0][0], it, bs, seeds, log=quiet)
    ens = time.perf_counter() - t
    print(f"{method}/{variant}, batch {bs}, {it} steps, 5 seeds: separate {sep:.2f} s, ensemble {ens:.2f} s, ratio {ens/sep:.3f}", flush=True)
