from _common import finish, setup  # noqa: I001
from pathlib import Path

from flowbench.pipeline import evaluate_run
from flowbench.io import write_json

log = setup(snakemake)  # noqa: F821
w = snakemake.wildcards  # noqa: F821
rows = evaluate_run(snakemake.config, w.task, w.method, w.variant, int(w.seed),  # noqa: F821
                    Path(snakemake.input.info).parent, floor_csv=snakemake.input.floor)  # noqa: F821
write_json(snakemake.output[0], rows)  # noqa: F821
log(f"{len(rows)} metric rows")
finish(__name__)   # skips the interpreter's teardown (_common.finish)
