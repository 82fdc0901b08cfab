from _common import finish, setup  # noqa: I001  (sets the import path)

from flowbench.images.stages import run_evaluate

log = setup(snakemake)  # noqa: F821
w, inp, out = snakemake.wildcards, snakemake.input, snakemake.output  # noqa: F821
# every named input: autoencoder, latents, cnn, cnn_info, and <flow>, <flow>_info per flow of the config
paths = dict(inp.items())
rows = run_evaluate(snakemake.config, w.dataset, int(w.seed), paths, out.metrics,  # noqa: F821
                    out.samples, device=snakemake.params.device, log=log)  # noqa: F821
log(f"{len(rows)} metric rows")
finish(__name__)   # skips the interpreter's teardown (_common.finish)
