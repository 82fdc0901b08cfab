# The report stage: results/<name>/provenance.json (config digest, packages, hardware, benchmark
# times), then the report folder (`report_dir`: report/ for the full config, results/<name>/report/
# otherwise; README.md with the claim verdicts, tables/*.csv, figures/<task>/*.png and, for each
# data set of `images.datasets`, figures/images/<dataset>/*.png), rendered from results/ alone by
# flowbench.report.render_report.
#
# The performance benchmark (`snakemake benchmark`, workflow/rules/benchmark.smk) is off the default
# path, so its files are neither inputs nor outputs here: when results/benchmark/step_costs.csv
# exists at render time the report adds a "Cost of training" section, claim C6 uses its ratio, and
# results/benchmark/scaling.png is copied to report/figures/benchmark/scaling.png as an undeclared
# side file. After `snakemake benchmark`, re-render with `snakemake --forcerun render_report`.
import os
from pathlib import Path

from flowbench.config import digest
from flowbench.images.names import configured_flows, flow_figures
from flowbench.report import report_outputs

# report/ (committed) for config/config.yaml (alone or with its stage configs); a folder under results/<name>/ for any
# other config (the Snakefile refuses anything else: flowbench/outputs.py), so a smoke or a trial
# run never overwrites the committed report
REPORT_DIR = config["report_dir"].rstrip("/")

# Snakemake's own HTML report (`snakemake --report report/report.html`): its front page.
report: "../report/workflow.rst"
REPORT_TASKS = sorted(config["tasks"])
REPORT_TASK_FIGURES = {t: list(figure_names(t)) for t in REPORT_TASKS}
# the image data sets whose figures the report copies (none when `images` is absent or empty),
# and those figures: ours' and the cINN's, and each generative baseline's the config trains
REPORT_IMAGE_DATASETS = sorted((config.get("images") or {}).get("datasets") or [])
REPORT_IMAGE_FIGURES = flow_figures(configured_flows(config.get("images")))


def lock_digest():
    import hashlib
    lock = Path(workflow.basedir) / "requirements" / "lock.txt"
    return hashlib.sha256(lock.read_bytes()).hexdigest() if lock.exists() else None


def report_targets():
    return report_outputs(REPORT_DIR, REPORT_TASK_FIGURES, REPORT_IMAGE_DATASETS, REPORT_IMAGE_FIGURES)


def report_upstream():
    """Everything the report reads; a later stage joins by defining `images_all_targets()`."""
    targets = list(task_all_targets())
    images = globals().get("images_all_targets")
    if callable(images):
        targets += list(images())
    tuning = globals().get("tuning_report_inputs")   # the tuning studies, where the config has them
    if callable(tuning):
        targets += list(tuning())
    sbibm = globals().get("sbibm_report_inputs")     # the sbibm figure, where the config has sbibm tasks
    if callable(sbibm):
        targets += list(sbibm())
    return targets


def benchmark_patterns():
    """rule name -> its benchmark pattern, so provenance attributes each TSV to its rule."""
    return {r.name: str(r.benchmark) for r in workflow.rules
            if r.benchmark is not None and not callable(r.benchmark)}


rule provenance:
    input:
        lambda wc: report_upstream(),
    output:
        f"{RESULTS}/provenance.json",
    log:
        f"{RESULTS}/logs/report/provenance.log",
    params:
        configfiles=[os.path.relpath(str(f)) for f in workflow.configfiles],
        # the whole config: any change re-records provenance and so re-renders the report
        config_digest=digest(config),
        # the environment: a changed lock file re-records provenance too
        lock_digest=lock_digest(),
        benchmark_root=f"{RESULTS}/benchmarks",
        benchmark_patterns=lambda wc: benchmark_patterns(),
        # what this run renders: its changes do not make the tree dirty
        report_dir=REPORT_DIR,
    threads: 1
    resources:
        **job_resources("provenance"),
    script:
        "../scripts/provenance.py"


def _report_output(path):
    """Flag the claims and summary tables (and the README) for Snakemake's HTML report."""
    name = os.path.relpath(path, REPORT_DIR)
    if name == "tables/claims.csv":
        return report(path, caption="../report/claims.rst", category="1. Claims")
    if name == "tables/claims_by_task.csv":
        return report(path, caption="../report/claims_by_task.rst", category="1. Claims")
    if name.startswith("tables/summary_"):
        task = name[len("tables/summary_"):-len(".csv")]
        return report(path, caption="../report/summary.rst", category="3. Tables", subcategory=task)
    return path


rule render_report:
    input:
        upstream=lambda wc: report_upstream(),
        provenance=f"{RESULTS}/provenance.json",
    output:
        [_report_output(p) for p in report_outputs(REPORT_DIR, REPORT_TASK_FIGURES, REPORT_IMAGE_DATASETS,
                                                   REPORT_IMAGE_FIGURES)],
    log:
        f"{RESULTS}/logs/report/report.log",
    params:
        results=RESULTS,
        report_dir=REPORT_DIR,
        tasks=REPORT_TASKS,
        image_datasets=REPORT_IMAGE_DATASETS,
        tuning_dir=lambda wc: tuning_report_dir() or "",
    threads: 1
    resources:
        **job_resources("render_report"),
    script:
        "../scripts/report.py"
