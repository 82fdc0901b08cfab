# The tuning studies (flowbench.tuning): one Optuna study per (task, method) of the config's
# `tuning` section, stored in SQLite beside its outputs, or in a journal file under `tuning.storage`
# (config/tuning.yaml: committed, so a study carries over to another machine or session). The
# storage is no output, so Snakemake never deletes it: a killed job resumes from its finished
# trials. Then every study's trials and
# best recipe in one table and one record; with `tuning.publish`, copied to that committed folder.
# `snakemake tuning_all` runs the studies alone (config/tuning.yaml).
from flowbench.tuning import settings as tuning_settings, storage_path, studies as tuning_studies, study_digest

TUNING = f"{RESULTS}/tuning"
TUNING_FILES = ("trials.csv", "tuned_recipes.json", "expected_best.png")
# the published folder also says what the studies found (C10, their cost, the tables)
PUBLISHED_FILES = (*TUNING_FILES, "README.md")


def tuning_targets():
    t = tuning_settings(config)
    if t is None:
        return []
    out = [f"{TUNING}/{f}" for f in TUNING_FILES]
    if t.get("publish"):
        out += [f"{PUBLISH}/{f}" for f in PUBLISHED_FILES]
    return out


def study_files(name):
    return [f"{TUNING}/{task}/{method}/{name}" for task, method in tuning_studies(config)]


rule tune_study:
    input:
        reference=lambda wc: reference_files(wc.task),   # the validation references of a simulation task
    output:
        trials=f"{TUNING}/{{task}}/{{method}}/trials.csv",
        best=f"{TUNING}/{{task}}/{{method}}/best.json",
    log:
        f"{RESULTS}/logs/tuning/{{task}}/{{method}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/tuning/{{task}}/{{method}}.tsv"
    threads: job_threads()
    resources:
        **job_resources("tune_study"),
    params:
        device=config.get("device", "auto"),
        storage=lambda wc: storage_path(config, RESULTS, wc.task, wc.method),
        identity=lambda wc: study_digest(config, wc.task, wc.method),
    script:
        "../scripts/tune_study.py"


rule tuning_summary:
    input:
        trials=lambda wc: study_files("trials.csv"),
        best=lambda wc: study_files("best.json"),
    output:
        trials=f"{TUNING}/trials.csv",
        recipes=f"{TUNING}/tuned_recipes.json",
        figure=f"{TUNING}/expected_best.png",
    log:
        f"{RESULTS}/logs/tuning/summary.log",
    threads: 1
    resources:
        **job_resources("tuning_summary"),
    script:
        "../scripts/tuning_summary.py"


# where tuning_publish writes: `tuning.publish` (config/tuning.yaml: tuning/, committed); a config
# without it never asks for this rule's outputs
PUBLISH = ((tuning_settings(config) or {}).get("publish") or f"{TUNING}/unpublished").rstrip("/")


rule tuning_publish:
    input:
        trials=f"{TUNING}/trials.csv",
        recipes=f"{TUNING}/tuned_recipes.json",
        figure=f"{TUNING}/expected_best.png",
    output:
        [f"{PUBLISH}/{f}" for f in PUBLISHED_FILES],
    log:
        f"{RESULTS}/logs/tuning/publish.log",
    threads: 1
    resources:
        **job_resources("tuning_publish"),
    script:
        "../scripts/tuning_publish.py"


rule tuning_all:
    input:
        tuning_targets(),


def tuning_report_dir():
    """Where the report reads the tuning studies: this config's own summary (a `tuning` section),
    else the published folder of `tuned.from`, else none."""
    if tuning_settings(config) is not None:
        return TUNING
    tuned = config.get("tuned")
    return tuned["from"].rstrip("/") if tuned else None


def tuning_report_inputs():
    d = tuning_report_dir()
    return [] if d is None else [f"{d}/{f}" for f in TUNING_FILES]
