# The Gaussian-mixture stage: train (and sample) every (task, method, variant, seed), evaluate it
# against the exact posterior, aggregate into one tidy metrics.csv per task, draw the figures.


def gmm_all_targets():
    """The stage's final outputs and every run's own files: a deleted or failed per-run file is
    rebuilt by a plain `snakemake` even when the aggregate that read it is still present."""
    out = []
    for task in config["tasks"]:
        out.append(f"{RESULTS}/{task}/metrics.csv")
        out.append(f"{RESULTS}/{task}/runs.csv")
        out.extend(gmm_figures(task))
        out.extend(f"{d}/{f}" for d in run_dirs(task) for f in RUN_FILES)
    return out


RUN_FILES = ("model.pt", "train_log.csv", "train_info.json", "posterior_samples.npz",
             "predictions.npz", "metrics.json")


def gmm_figures(task):
    return [f"{RESULTS}/{task}/figures/{name}.png"
            for name in ("fig5_1", "fig5_2", "w2_comparison", "training_curves", "w2_vs_time")]


rule train_gmm:
    output:
        model=f"{RESULTS}/{{task}}/{{method}}/{{variant}}/seed{{seed}}/model.pt",
        log_csv=f"{RESULTS}/{{task}}/{{method}}/{{variant}}/seed{{seed}}/train_log.csv",
        info=f"{RESULTS}/{{task}}/{{method}}/{{variant}}/seed{{seed}}/train_info.json",
        samples=f"{RESULTS}/{{task}}/{{method}}/{{variant}}/seed{{seed}}/posterior_samples.npz",
        predictions=f"{RESULTS}/{{task}}/{{method}}/{{variant}}/seed{{seed}}/predictions.npz",
    log:
        f"{RESULTS}/logs/{{task}}/{{method}}/{{variant}}/seed{{seed}}/train.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{task}}/{{method}}/{{variant}}/seed{{seed}}/train.tsv"
    threads: job_threads()
    params:
        device=config.get("device", "auto"),
        # the run's slice of the config: a change retrains this run (and only this run)
        identity=lambda wc: train_digest(config, wc.task, wc.method, wc.variant, int(wc.seed)),
    script:
        "../scripts/train_gmm.py"


rule evaluate_gmm:
    input:
        info=rules.train_gmm.output.info,
        samples=rules.train_gmm.output.samples,
        predictions=rules.train_gmm.output.predictions,
    output:
        f"{RESULTS}/{{task}}/{{method}}/{{variant}}/seed{{seed}}/metrics.json",
    log:
        f"{RESULTS}/logs/{{task}}/{{method}}/{{variant}}/seed{{seed}}/evaluate.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{task}}/{{method}}/{{variant}}/seed{{seed}}/evaluate.tsv"
    threads: 1
    params:
        identity=lambda wc: evaluate_digest(config, wc.task),
    script:
        "../scripts/evaluate_gmm.py"


rule aggregate_gmm:
    input:
        metrics=lambda wc: [f"{d}/metrics.json" for d in run_dirs(wc.task)],
        infos=lambda wc: [f"{d}/train_info.json" for d in run_dirs(wc.task)],
    output:
        metrics=f"{RESULTS}/{{task}}/metrics.csv",
        runs=f"{RESULTS}/{{task}}/runs.csv",
    log:
        f"{RESULTS}/logs/{{task}}/aggregate.log",
    threads: 1
    script:
        "../scripts/aggregate_gmm.py"


rule figures_gmm:
    input:
        metrics=f"{RESULTS}/{{task}}/metrics.csv",
        runs=lambda wc: [f"{d}/{f}" for d in run_dirs(wc.task)
                         for f in ("posterior_samples.npz", "predictions.npz", "train_log.csv")],
    output:
        [report(f"{RESULTS}/{{task}}/figures/{name}.png", caption=f"../report/{name}.rst",
                category="2. Figures", subcategory="{task}")
         for name in ("fig5_1", "fig5_2", "w2_comparison", "training_curves", "w2_vs_time")],
    log:
        f"{RESULTS}/logs/{{task}}/figures.log",
    threads: 1
    params:
        identity=lambda wc: task_digest(config, wc.task),
    script:
        "../scripts/figures_gmm.py"
