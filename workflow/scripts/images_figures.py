from _common import finish, setup  # noqa: I001  (sets the import path)
from pathlib import Path

from flowbench.images.figures import image_figures

log = setup(snakemake)  # noqa: F821
made = image_figures(snakemake.input.samples, snakemake.wildcards.dataset,  # noqa: F821
                     Path(snakemake.output[0]).parent)  # noqa: F821
log("wrote " + ", ".join(str(p) for p in made))
finish(__name__)   # skips the interpreter's teardown (_common.finish)
