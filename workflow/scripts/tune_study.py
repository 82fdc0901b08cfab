"""Run (or resume) one tuning study and write its trials and best recipe."""
from _common import finish, setup  # noqa: I001  (sets the import path)

from flowbench.io import resolve_device
from flowbench.tuning import run_study, write_study_outputs

log = setup(snakemake)  # noqa: F821
w, p = snakemake.wildcards, snakemake.params  # noqa: F821
study = run_study(snakemake.config, w.task, w.method, p.storage, log=log,  # noqa: F821
                  device=resolve_device(p.device))
write_study_outputs(snakemake.config, study, w.task, w.method,  # noqa: F821
                    snakemake.output.trials, snakemake.output.best)  # noqa: F821
finish(__name__)   # skips the interpreter's teardown (_common.finish)
