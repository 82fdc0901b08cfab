from _common import ROOT, finish, setup  # noqa: I001  (sets the import path)

from flowbench.images.stages import run_autoencoder

log = setup(snakemake)  # noqa: F821
w, out = snakemake.wildcards, snakemake.output  # noqa: F821
run_autoencoder(snakemake.config, w.dataset, int(w.seed), out.model, out.latents, out.info,  # noqa: F821
                repo_root=ROOT, device=snakemake.params.device, log=log)  # noqa: F821
finish(__name__)   # skips the interpreter's teardown (_common.finish)
