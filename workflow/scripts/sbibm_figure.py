"""C2ST against the simulation budget over the config's sbibm tasks, sbibm's published NPE beside it."""
from _common import finish, setup  # noqa: I001  (sets the import path)
from pathlib import Path

import pandas as pd

from flowbench.plots import sbibm_budget_figure
from flowbench.report.inputs import _metrics, read_json
from flowbench.sbibm_published import PUBLISHED_C2ST, c2st_by_seed, published_means, sbibm_tasks

log = setup(snakemake)  # noqa: F821
inp = snakemake.input  # noqa: F821
records = {Path(p).parent.name: read_json(Path(p)) for p in inp.records}
metrics = pd.concat([_metrics(Path(p)) for p in inp.metrics], ignore_index=True)
by_seed = c2st_by_seed(metrics, records)
names = {r["name"] for r in sbibm_tasks(records).values()}
sbibm_budget_figure(by_seed, published_means(names), snakemake.output[0],  # noqa: F821
                    at_size=c2st_by_seed(metrics, records, metric=PUBLISHED_C2ST))
log(f"{len(by_seed)} runs over {len(names)} sbibm tasks")
finish(__name__)   # skips the interpreter's teardown (_common.finish)
