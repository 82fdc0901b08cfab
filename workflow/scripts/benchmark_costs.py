from _common import finish, setup  # noqa: I001

import pandas as pd

from flowbench.benchmark import matmul_fraction, step_costs
from flowbench.config import method_params
from flowbench.io import resolve_device, write_csv, write_json
from flowbench.plots import scaling_figure
from flowbench.tasks import make_task

log = setup(snakemake)  # noqa: F821
cfg = snakemake.config  # noqa: F821
b = cfg["benchmark"]
task = make_task(cfg["tasks"][b["task"]])
dev = resolve_device(snakemake.params.device)  # noqa: F821
methods = {f"{r['method']}/{r['variant']}": (r["method"], method_params(cfg, r["method"], r["variant"]))
           for r in b["runs"]}
rows = step_costs(cfg["tasks"][b["task"]], methods, b["batch_sizes"], b["n_warmup"], b["n_steps"], device=dev, log=log)
df = pd.DataFrame(rows)
write_csv(snakemake.output.costs, df)  # noqa: F821
# every method's step against its own matmuls, the same measurement for each
frac = {}
for name, (kind, params) in methods.items():
    frac[name] = {str(bs): matmul_fraction(task, kind, params, bs, b["n_steps"], device=dev) for bs in (400, 1600)}
    for k, v in frac[name].items():
        log(f"{name} batch {k}: step {v['step_gflops']:.1f} GFLOP/s vs its matmuls alone "
            f"{v['matmul_gflops']:.1f}: fraction {v['fraction']:.2f}")
write_json(snakemake.output.fraction, {"device": str(dev), "fractions": frac})  # noqa: F821
scaling_figure(df, snakemake.output.figure)  # noqa: F821
finish(__name__)   # skips the interpreter's teardown (_common.finish)
