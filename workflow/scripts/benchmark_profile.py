from _common import finish, setup  # noqa: I001

import pandas as pd

from flowbench.benchmark import PROFILE_COLUMNS, op_profile
from flowbench.config import method_params
from flowbench.io import resolve_device, write_csv
from flowbench.tasks import make_task

log = setup(snakemake)  # noqa: F821
cfg = snakemake.config  # noqa: F821
b = cfg["benchmark"]
task = make_task(cfg["tasks"][b["task"]])
dev = resolve_device(snakemake.params.device)  # noqa: F821
rows = []
for r in b["runs"]:
    name = f"{r['method']}/{r['variant']}"
    got = op_profile(task, r["method"], method_params(cfg, r["method"], r["variant"]),
                     b["profile_batch"], b["n_steps"], device=dev)
    for row in got:
        row["method"] = name
    rows += got
    log(f"{name}: " + ", ".join(f"{x['group']} {x['share']:.2f}" for x in got if x["share"] == x["share"]))
write_csv(snakemake.output[0], pd.DataFrame(rows, columns=PROFILE_COLUMNS))  # noqa: F821
finish(__name__)   # skips the interpreter's teardown (_common.finish)
