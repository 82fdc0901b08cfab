from _common import finish, setup  # noqa: I001  (sets the import path)
from pathlib import Path

from flowbench.pipeline import run_train_ensemble

log = setup(snakemake)  # noqa: F821
w = snakemake.wildcards  # noqa: F821
seeds = list(snakemake.params.seeds)  # noqa: F821
out = Path(snakemake.output[0])  # noqa: F821
run_train_ensemble(snakemake.config, w.task, w.method, w.variant, seeds,  # noqa: F821
                   [out / f"seed{s}" for s in seeds], device=snakemake.params.device, log=log)  # noqa: F821
finish(__name__)   # skips the interpreter's teardown (_common.finish)
