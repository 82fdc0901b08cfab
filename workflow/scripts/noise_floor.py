from _common import setup  # noqa: I001  (sets the import path)

from flowbench.io import write_csv
from flowbench.pipeline import noise_floor

log = setup(snakemake)  # noqa: F821
cfg = snakemake.config  # noqa: F821
df = noise_floor(cfg, snakemake.wildcards.task, int(cfg["noise_floor"]["repeats"]), log=log)  # noqa: F821
write_csv(snakemake.output[0], df)  # noqa: F821
log(f"{len(df)} floor rows")
