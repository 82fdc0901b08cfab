"""Copy the tuning summary (checked against its record) to the committed folder, with records."""
from _common import finish, setup  # noqa: I001  (sets the import path)

from flowbench.tuning import publish

log = setup(snakemake)  # noqa: F821
publish(snakemake.input.trials, snakemake.input.recipes, snakemake.output, snakemake.input.figure)  # noqa: F821
log("published " + ", ".join(map(str, snakemake.output)))  # noqa: F821
finish(__name__)   # skips the interpreter's teardown (_common.finish)
