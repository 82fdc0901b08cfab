# flowbench: replication of Xiao, Yan & Amit (2019) against the four-loss INN and the cINN.
#
#   snakemake --cores 8                                   # full replication (config/config.yaml)
#   snakemake --cores 2 --configfile config/smoke.yaml    # tiny: minutes, CI
#   snakemake --cores 8 --configfile config/config.yaml config/stages/sbibm.yaml   # + the sbibm stage
#
# The config is validated against workflow/schemas/config.schema.yaml before any job starts.
import sys
from pathlib import Path

sys.path.insert(0, workflow.basedir)
from flowbench.config import ConfigError, deep_merge, read_config_file, validate_config  # noqa: E402
from flowbench.configfile import check_config_files, merged_configfiles_note, repeated_configfile_error  # noqa: E402
from flowbench.locks import clear_stale_locks  # noqa: E402
from flowbench.records import scan, set_aside  # noqa: E402
from flowbench.outputs import check_name_reuse, check_report_dir, check_stages, record_owner  # noqa: E402

# A run killed by SIGKILL leaves its lock; rerunning the same command should simply resume (the
# lock is kept while jobs of the killed run are still alive).
clear_stale_locks(Path.cwd(), log=lambda m: sys.stderr.write(m + "\n"))

# No `configfile:` directive: Snakemake would deep-merge --configfile over it, mixing the full
# and the smoke config. The default applies only when no --configfile is given (--config
# key=value pairs still apply over it). A missing file or a YAML syntax error stops Snakemake
# before this Snakefile runs (`python -m flowbench.configfile FILE` names file, line and column).
try:
    if workflow.is_main_process:
        _msg = repeated_configfile_error(sys.argv)  # --configfile a --configfile b drops a
        if _msg:
            raise ConfigError(_msg)
        _note = merged_configfiles_note(workflow.configfiles)
        if _note:
            sys.stderr.write(_note + "\n")
    check_config_files(workflow.configfiles)  # a key given twice in one file
    check_stages(workflow.configfiles, workflow.basedir)  # config/stages/*.yaml only add tasks
    if not workflow.configfiles:
        config.update(deep_merge(read_config_file(Path(workflow.basedir) / "config" / "config.yaml"), config))
    validate_config(config)
    # the published best recipes of the tuning studies (`tuned.from`): variants tuned_<task> and their
    # runs, checked against the task and recipe they were tuned on, then validated like the rest
    if config.get("tuned"):
        from flowbench.tuning import apply_tuned  # noqa: E402
        if apply_tuned(config, workflow.basedir):
            validate_config(config)
    # Each config writes under results/<name>/ (report included: results/<name>/report/ unless
    # report_dir names another folder there); only config/config.yaml read alone writes the
    # committed report/ (flowbench/outputs.py). The --config overrides, as Snakemake parsed them:
    _overrides = dict(workflow.config_settings.config)
    config["report_dir"] = check_report_dir(config, workflow.configfiles, _overrides, workflow.basedir,
                                            Path.cwd())
    # results/<name>/ belongs to the configuration that first ran there: another one that would
    # retrain its finished runs needs --config replace_runs=true. The record is written when the
    # workflow starts (onstart below: not on a dry run, not in a job's own process).
    _owner_record = (check_name_reuse(config, workflow.configfiles, _overrides, workflow.basedir, Path.cwd())
                     if workflow.is_main_process else None)
    config.pop("replace_runs", None)  # a permission, not a setting: it enters no digest
except ConfigError as _err:
    sys.stderr.write(f"\nInvalid configuration: {_err}\n\n")
    sys.exit(1)


onstart:
    if _owner_record is not None:
        record_owner(_owner_record, Path.cwd())

# `carry` (flowbench/carry.py): the runs an earlier machine finished and carried (their small
# files, committed under carry/<name>/) are copied back into results/<name>/ before the jobs are
# planned, each only where its config digests and its files' SHA-256 match; at the end, every run
# scored here is carried. A run longer than one machine's time so finishes in pieces.
if config.get("carry") and workflow.is_main_process:
    from flowbench.carry import restore as _carry_restore, save as _carry_save  # noqa: E402
    _carry_restore(config, Path(f"results/{config['name']}"), workflow.basedir,
                   log=lambda m: sys.stderr.write(m + "\n"))

    def _carry_at_end():
        if not (workflow.dryrun or workflow.touch):
            _carry_save(config, Path(f"results/{config['name']}"), workflow.basedir,
                        log=lambda m: sys.stderr.write(m + "\n"))
else:
    def _carry_at_end():
        pass


onsuccess:
    _carry_at_end()


onerror:
    _carry_at_end()

# Every results file a producer wrote carries its SHA-256 beside it (flowbench/records.py). One
# whose bytes differ from it (truncated, edited, replaced) or that has none is set aside here, as
# <file>.damaged, before the DAG is built: Snakemake then reruns the rule that makes it and
# everything downstream, so a plain `snakemake` repairs it; no job ever reads it.
if workflow.is_main_process:
    for _path, _problem in scan(f"results/{config['name']}", skip=[config["report_dir"]]):
        if workflow.dryrun or workflow.touch:
            sys.stderr.write(f"{_path}: {_problem}; a run without -n sets it aside and rebuilds it\n")
        else:
            sys.stderr.write(f"{_path}: {_problem}; set aside as {set_aside(_path).name}, rebuilding it\n")

include: "workflow/rules/common.smk"
include: "workflow/rules/tasks.smk"
include: "workflow/rules/images.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/benchmark.smk"
include: "workflow/rules/tuning.smk"
include: "workflow/rules/sbibm.smk"


rule all:
    input:
        task_all_targets(),
        images_targets(),
        report_targets(),
        tuning_targets(),
    default_target: True
