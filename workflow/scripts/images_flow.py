from _common import finish, setup  # noqa: I001  (sets the import path)

from flowbench.images.stages import run_flow

log = setup(snakemake)  # noqa: F821
w, out = snakemake.wildcards, snakemake.output  # noqa: F821
run_flow(snakemake.config, w.dataset, int(w.seed), w.flow, snakemake.input.latents,  # noqa: F821
         out.model, out.info, out.log_csv, device=snakemake.params.device, log=log)  # noqa: F821
finish(__name__)   # skips the interpreter's teardown (_common.finish)
