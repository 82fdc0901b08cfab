from _common import finish, setup  # noqa: I001  (sets the import path)
from pathlib import Path

from flowbench.pipeline import run_train

log = setup(snakemake)  # noqa: F821
w = snakemake.wildcards  # noqa: F821
run_train(snakemake.config, w.task, w.method, w.variant, int(w.seed),  # noqa: F821
          Path(snakemake.output.info).parent, device=snakemake.params.device, log=log)  # noqa: F821
finish(__name__)   # skips the interpreter's teardown (_common.finish)
