from _common import finish, setup  # noqa: I001  (sets the import path)

from flowbench.io import aggregate_metrics as aggregate, write_csv, write_json
from flowbench.aggregate import runs_table, task_record

log = setup(snakemake)  # noqa: F821
inp, out = snakemake.input, snakemake.output  # noqa: F821
df = aggregate(inp.metrics, out.metrics)
runs = runs_table(inp.infos)
write_csv(out.runs, runs)
write_json(out.task, task_record(snakemake.config, snakemake.wildcards.task))  # noqa: F821
log(f"{len(df)} rows from {len(inp.metrics)} runs; settings of {len(runs)} runs")
finish(__name__)   # skips the interpreter's teardown (_common.finish)
