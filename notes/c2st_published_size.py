"""C2ST of the suite's NPE (sbibm's recipe) at 2,000 and at 10,000 draws per side (sbibm's size),
the same trained model, observations 1-10: how much of a gap to sbibm's published NPE (Lueckmann
et al. 2021, arXiv:2101.04653) the sample size makes.

    PYTHONPATH=. python notes/c2st_published_size.py sbibm_two_moons_1e3 0

reads the run results/full/<task>/npe/sbibm/seed<k>/ of the sbibm stage (config/config.yaml +
config/stages/sbibm.yaml) and prints per observation the C2ST at 2,000 and at 10,000."""
import sys, time, yaml, numpy as np, torch
sys.path.insert(0, ".")
torch.set_num_threads(1)
from flowbench.config import validate_config
from flowbench.pipeline import build
from flowbench.io import load_checkpoint
from flowbench.metrics import c2st_sbibm_metric
cfg = yaml.safe_load(open("config/config.yaml"))
cfg["tasks"].update(yaml.safe_load(open("config/stages/sbibm.yaml"))["tasks"])
cfg = validate_config(cfg)
task_name, seed = sys.argv[1], int(sys.argv[2])
task, model, ident = build(cfg, task_name, "npe", "sbibm", seed)
load_checkpoint(f"results/full/{task_name}/npe/sbibm/seed{seed}/model.pt", model, ident)
model.eval()
torch.manual_seed(12345)
ids, conds = task.evaluation_conditions()
with torch.no_grad():
    S = model.sample_posterior(torch.from_numpy(conds), 10000).numpy()
for k, cid in enumerate(ids):
    ref = task.reference_posterior(k, 10000)
    t0 = time.time()
    a = c2st_sbibm_metric(S[k][:2000], ref[:2000])
    b = c2st_sbibm_metric(S[k], ref)
    print(task_name, seed, cid, f"{a:.4f}", f"{b:.4f}", f"{time.time()-t0:.0f}s", flush=True)
