"""Every study's trials in one table and every best recipe in one record."""
from _common import finish, setup  # noqa: I001  (sets the import path)

from flowbench.tuning import summarise_studies

log = setup(snakemake)  # noqa: F821
summarise_studies(snakemake.input.trials, snakemake.input.best,  # noqa: F821
                  snakemake.output.trials, snakemake.output.recipes, snakemake.output.figure)  # noqa: F821
log(f"{len(snakemake.input.best)} studies")  # noqa: F821
finish(__name__)   # skips the interpreter's teardown (_common.finish)
