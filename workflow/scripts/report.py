"""report/: README.md, tables/*.csv and figures/ rendered from results/ alone."""
from _common import finish, setup  # noqa: I001  (sets the import path)

from flowbench.report import render_report

log = setup(snakemake)  # noqa: F821
p = snakemake.params  # noqa: F821
written = render_report(p.results, p.report_dir, tasks=list(p.tasks),
                        image_datasets=list(p.image_datasets), tuning_dir=p.tuning_dir)
expected = {str(f) for f in snakemake.output}  # noqa: F821
missing = sorted(expected - {str(f) for f in written.values()})
if missing:
    raise RuntimeError(f"the report did not write {missing}")
log("wrote " + ", ".join(sorted(written)))
finish(__name__)   # skips the interpreter's teardown (_common.finish)
