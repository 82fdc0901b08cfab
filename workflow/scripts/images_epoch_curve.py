from _common import ROOT, finish, setup  # noqa: I001  (sets the import path)

from flowbench.images.epoch_curve import run_epoch_curve
from flowbench.tables import PAPER_TABLE1
from flowbench.plots import epoch_curve_figure

log = setup(snakemake)  # noqa: F821
ds = snakemake.wildcards.dataset  # noqa: F821
curve = run_epoch_curve(snakemake.config, ds, snakemake.output.csv, repo_root=ROOT,  # noqa: F821
                        autoencoder=getattr(snakemake.input, "autoencoder", None),  # noqa: F821
                        device=snakemake.params.device, log=log)  # noqa: F821
epoch_curve_figure(curve, snakemake.output.figure, PAPER_TABLE1.get(ds),  # noqa: F821
                   snakemake.config["images"]["autoencoder"]["epochs"])  # noqa: F821
log(f"wrote {snakemake.output.csv} and {snakemake.output.figure}")  # noqa: F821
finish(__name__)   # skips the interpreter's teardown (_common.finish)
