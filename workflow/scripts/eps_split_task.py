"""What smoothing costs on a simulation task: every run of ours (eps) and of the INN (y noise) split
at its smoothed target."""
from _common import finish, setup  # noqa: I001  (sets the import path)

from flowbench.eps_split import task_split
from flowbench.io import write_csv

log = setup(snakemake)  # noqa: F821
runs = {(k.split("|")[0], k.split("|")[1], int(k.split("|")[2])): d  # (method, variant, seed)
        for k, d in snakemake.params.runs.items()}  # noqa: F821
ref = snakemake.input.reference[0] if snakemake.input.reference else None  # noqa: F821
write_csv(snakemake.output[0], task_split(snakemake.config, snakemake.wildcards.task, runs,  # noqa: F821
                                          reference=ref, log=log))
finish(__name__)   # skips the interpreter's teardown (_common.finish)
