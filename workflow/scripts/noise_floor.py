from _common import finish, setup  # noqa: I001  (sets the import path)

from flowbench.io import write_csv
from flowbench.pipeline import floor_repeats, noise_floor

log = setup(snakemake)  # noqa: F821
cfg = snakemake.config  # noqa: F821
task = snakemake.wildcards.task  # noqa: F821
if snakemake.input.source:  # noqa: F821  (the same floor, computed for an earlier task)
    from flowbench.records import read_csv
    df = read_csv(snakemake.input.source[0], dtype={"condition": str}, keep_default_na=False).assign(task=task)  # noqa: F821
    log(f"copied from {snakemake.input.source[0]} (identity.floor_source)")  # noqa: F821
else:
    df = noise_floor(cfg, task, floor_repeats(cfg, task), log=log)
write_csv(snakemake.output[0], df)  # noqa: F821
log(f"{len(df)} floor rows")
finish(__name__)   # skips the interpreter's teardown (_common.finish)
