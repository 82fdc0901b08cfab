from _common import setup  # noqa: I001  (sets the import path)
from pathlib import Path

from flowbench.images.figures import image_figures

log = setup(snakemake)  # noqa: F821
made = image_figures(snakemake.input.samples, snakemake.wildcards.dataset,  # noqa: F821
                     Path(snakemake.output[0]).parent)  # noqa: F821
log("wrote " + ", ".join(str(p) for p in made))
