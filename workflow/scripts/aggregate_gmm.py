from _common import setup  # noqa: I001  (sets the import path)

from flowbench.gmm_pipeline import runs_table
from flowbench.io import aggregate_metrics as aggregate, write_csv

log = setup(snakemake)  # noqa: F821
inp, out = snakemake.input, snakemake.output  # noqa: F821
df = aggregate(inp.metrics, out.metrics)
runs = runs_table(inp.infos)
write_csv(out.runs, runs)
log(f"{len(df)} rows from {len(inp.metrics)} runs; settings of {len(runs)} runs")
