"""results/provenance.json: config digest, package versions, lock file digest, hardware, benchmark wall times."""
from _common import finish, setup  # noqa: I001  (sets the import path)

from pathlib import Path

from flowbench.io import write_json
from flowbench.report import collect_provenance

log = setup(snakemake)  # noqa: F821
p = snakemake.params  # noqa: F821
prov = collect_provenance(dict(snakemake.config), configfiles=p.configfiles,  # noqa: F821
                          benchmark_root=p.benchmark_root, benchmark_patterns=dict(p.benchmark_patterns),
                          report_dir=p.report_dir,
                          carried=Path(p.benchmark_root).parent / "carried.json")  # flowbench.carry
write_json(snakemake.output[0], prov)  # noqa: F821
b = prov["benchmarks"]["total"]
lock = prov["lock_file"]
log(f"config digest {prov['config_digest']}; {b['jobs']} benchmarked jobs, {b['s']:.1f} s in all; "
    f"lock file {lock['path']} sha256 {lock['sha256']}, {len(lock['differs'])} installed packages differ")
for d in lock["differs"]:
    log(f"  differs from the lock: {d}")
finish(__name__)   # skips the interpreter's teardown (_common.finish)
