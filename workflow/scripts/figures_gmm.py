from _common import setup  # noqa: I001
from pathlib import Path

from flowbench import plots

log = setup(snakemake)  # noqa: F821
task = snakemake.wildcards.task  # noqa: F821
outdir = Path(snakemake.output[0]).parent  # noqa: F821
task_dir = Path(snakemake.input.metrics).parent  # noqa: F821  (results/<name>/<task>)
made = plots.gmm_figures(snakemake.config, task, task_dir, outdir)  # noqa: F821
log("wrote " + ", ".join(str(p) for p in made))
