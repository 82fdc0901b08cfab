"""results/<name>/<task>/reference.npz: a simulation task's reference posterior by rejection ABC."""
from _common import finish, setup  # sets the import path

from flowbench.pipeline import build_reference

log = setup(snakemake)  # noqa: F821
q = build_reference(snakemake.config, snakemake.wildcards.task, snakemake.output[0], log=log)  # noqa: F821
log(f"acceptance radius mean {q['radius_mean']:.4g} (max {q['radius_max']:.4g}), reference "
    f"re-simulation error {q['resim_error_mean']:.4g}; W2 full vs 10x smaller pool "
    f"{q.get('w2_full_vs_small_pool_mean', float('nan')):.4g} against the split floor "
    f"{q.get('w2_split_floor_mean', float('nan')):.4g}; {q['build_seconds']:.0f} s")
finish(__name__)   # skips the interpreter's teardown (_common.finish)
