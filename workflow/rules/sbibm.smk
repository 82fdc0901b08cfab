# The comparison with sbibm (Lueckmann et al. 2021): C2ST against the simulation budget over every
# task of kind `sbibm` in the config (one suite task per sbibm task and budget), with sbibm's
# published NPE beside it. The report computes the tables from the tasks' metrics; this rule draws
# the one figure that spans tasks. A config without sbibm tasks never asks for it.
SBIBM_DIR = f"{RESULTS}/sbibm"


def sbibm_task_names():
    return [t for t, cfg in config["tasks"].items() if cfg.get("kind") == "sbibm"]


def sbibm_report_inputs():
    return [f"{SBIBM_DIR}/c2st_vs_budget.png"] if sbibm_task_names() else []


rule sbibm_figure:
    input:
        metrics=lambda wc: [f"{RESULTS}/{t}/metrics.csv" for t in sbibm_task_names()],
        records=lambda wc: [f"{RESULTS}/{t}/task.json" for t in sbibm_task_names()],
    output:
        f"{SBIBM_DIR}/c2st_vs_budget.png",
    log:
        f"{RESULTS}/logs/sbibm/figure.log",
    threads: 1
    resources:
        **job_resources("sbibm_figure"),
    script:
        "../scripts/sbibm_figure.py"
