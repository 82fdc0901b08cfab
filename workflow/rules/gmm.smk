# The Gaussian-mixture stage: train (and sample) every (task, method, variant, seed), evaluate it
# against the exact posterior, aggregate into one tidy metrics.csv per task, draw the figures.


def gmm_all_targets():
    out = []
    for task in config["tasks"]:
        out.append(f"{RESULTS}/{task}/metrics.csv")
        out.extend(gmm_figures(task))
    return out


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
    script:
        "../scripts/evaluate_gmm.py"


rule aggregate_gmm:
    input:
        lambda wc: [f"{d}/metrics.json" for d in run_dirs(wc.task)],
    output:
        f"{RESULTS}/{{task}}/metrics.csv",
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
    script:
        "../scripts/figures_gmm.py"
