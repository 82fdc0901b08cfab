from _common import finish, setup  # noqa: I001  (sets the import path)

from flowbench.io import aggregate_metrics as aggregate

log = setup(snakemake)  # noqa: F821
df = aggregate(snakemake.input, snakemake.output[0])  # noqa: F821
log(f"{len(df)} rows from {len(snakemake.input)} runs")  # noqa: F821
finish(__name__)   # skips the interpreter's teardown (_common.finish)
