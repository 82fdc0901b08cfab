# flowbench: replication of Xiao, Yan & Amit (2019) against the four-loss INN and the cINN.
#
#   snakemake --cores 8                                   # full replication (config/config.yaml)
#   snakemake --cores 2 --configfile config/smoke.yaml    # tiny: minutes, CI
#
# The config is validated against workflow/schemas/config.schema.yaml before any job starts.
import sys
from pathlib import Path

import yaml

sys.path.insert(0, workflow.basedir)
from flowbench.config import ConfigError, validate_config  # noqa: E402
from flowbench.locks import clear_stale_locks  # noqa: E402

# A run killed by SIGKILL leaves its lock; rerunning the same command should simply resume.
clear_stale_locks(Path.cwd(), log=lambda m: sys.stderr.write(m + "\n"))

# No `configfile:` directive: Snakemake would deep-merge --configfile over it, mixing the full
# and the smoke config. The default applies only when no --configfile is given.
if not config:
    with open(Path(workflow.basedir) / "config" / "config.yaml") as _fh:
        config.update(yaml.safe_load(_fh))
try:
    validate_config(config)
except ConfigError as _err:
    sys.stderr.write(f"\nInvalid configuration: {_err}\n\n")
    sys.exit(1)

include: "workflow/rules/common.smk"
include: "workflow/rules/gmm.smk"
include: "workflow/rules/images.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/benchmark.smk"


rule all:
    input:
        gmm_all_targets(),
        images_targets(),
        report_targets(),
    default_target: True
