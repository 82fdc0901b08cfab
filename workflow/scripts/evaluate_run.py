from _common import finish, setup  # noqa: I001
from pathlib import Path

from flowbench.figure_data import write_figure_data
from flowbench.pipeline import evaluate_run, figure_data
from flowbench.io import write_json

log = setup(snakemake)  # noqa: F821
w = snakemake.wildcards  # noqa: F821
rundir = Path(snakemake.input.info).parent  # noqa: F821
rows = evaluate_run(snakemake.config, w.task, w.method, w.variant, int(w.seed),  # noqa: F821
                    rundir, floor_csv=snakemake.input.floor)  # noqa: F821
write_json(snakemake.output.metrics, rows)  # noqa: F821
# what the task's figures and its eps split read of this run (flowbench.figure_data)
write_figure_data(snakemake.output.figure_data,  # noqa: F821
                  figure_data(snakemake.config, w.task, w.method, w.variant, int(w.seed), rundir))  # noqa: F821
log(f"{len(rows)} metric rows")
finish(__name__)   # skips the interpreter's teardown (_common.finish)
