from _common import setup  # noqa: I001
from pathlib import Path

from flowbench.plots import draw_figure

log = setup(snakemake)  # noqa: F821
w = snakemake.wildcards  # noqa: F821
task_dir = Path(snakemake.input.metrics).parent  # noqa: F821  (results/<name>/<task>)
made = draw_figure(snakemake.config, w.task, w.figure, task_dir, Path(snakemake.output[0]))  # noqa: F821
log(f"wrote {made}")
