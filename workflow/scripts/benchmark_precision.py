from _common import finish, setup  # noqa: I001

import pandas as pd

from flowbench.benchmark import PRECISION_COLUMNS, metric_precision
from flowbench.io import write_csv
from flowbench.tasks import make_task

log = setup(snakemake)  # noqa: F821
cfg = snakemake.config  # noqa: F821
b = cfg["benchmark"]
p = b["precision"]
tcfg = cfg["tasks"][b["task"]]
rows = metric_precision(make_task(tcfg), tcfg["metrics"], p["sample_sizes"], p["repeats"],
                        p["labels"], log=log)
write_csv(snakemake.output[0], pd.DataFrame(rows, columns=PRECISION_COLUMNS))  # noqa: F821
finish(__name__)   # skips the interpreter's teardown (_common.finish)
