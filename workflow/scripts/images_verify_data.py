"""Check one data set's IDX files against their published checksums, once, before the image stage
reads them; write the per-file digests to the output JSON. Missing files are downloaded first when
``download`` allows it, as the image stage does; the data root resolves as the image stage resolves
it (FLOWBENCH_DATA, when set, over ``images.data_root``)."""
from _common import ROOT, finish, setup  # noqa: I001  (sets the import path)

from flowbench.datasets import ensure_dataset, verify_dataset
from flowbench.images.inputs import resolve_data_root
from flowbench.io import write_json

log = setup(snakemake)  # noqa: F821
dataset = snakemake.wildcards.dataset  # noqa: F821
p = snakemake.params  # noqa: F821
folder = ensure_dataset(resolve_data_root(p.data_root, ROOT) / dataset, dataset, download=p.download)
record = verify_dataset(folder, dataset)
for name, f in sorted(record["files"].items()):
    log(f"{folder / name}: md5 {f['md5']}, sha256 {f['sha256']}: {f['matched']}")
write_json(snakemake.output[0], record)  # noqa: F821
finish(__name__)   # skips the interpreter's teardown (_common.finish)
