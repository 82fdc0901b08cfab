from _common import finish, setup  # noqa: I001
from pathlib import Path

from flowbench.plots import draw_figure

log = setup(snakemake)  # noqa: F821
task = snakemake.params.task  # noqa: F821
task_dir = Path(snakemake.input.metrics).parent  # noqa: F821  (results/<name>/<task>)
for out in snakemake.output:  # noqa: F821  (results/<name>/<task>/figures/<figure>.png)
    made = draw_figure(snakemake.config, task, Path(out).stem, task_dir, Path(out))  # noqa: F821
    log(f"wrote {made}")
finish(__name__)   # skips the interpreter's teardown (_common.finish)
