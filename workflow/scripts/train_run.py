from _common import finish, setup  # noqa: I001  (sets the import path)
from pathlib import Path

log = setup(snakemake)  # noqa: F821
w = snakemake.wildcards  # noqa: F821
if snakemake.input.ensemble:  # noqa: F821
    # trained with its fellow seeds as one ensemble (rule train_ensemble): its files, checked
    # against their records, copied into the run's folder
    from flowbench.io import copy_recorded
    src = Path(snakemake.input.ensemble[0]) / f"seed{w.seed}"  # noqa: F821
    for f in snakemake.output:  # noqa: F821
        copy_recorded(src / Path(f).name, f)
    log(f"copied from {src} (trained as one ensemble of its seeds)")
else:
    from flowbench.pipeline import run_train
    run_train(snakemake.config, w.task, w.method, w.variant, int(w.seed),  # noqa: F821
              Path(snakemake.output.info).parent, device=snakemake.params.device, log=log)  # noqa: F821
finish(__name__)   # skips the interpreter's teardown (_common.finish)
