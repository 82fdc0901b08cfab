# The image stage (paper Sec. 5.2: Fig. 5.3, Fig. 5.4, Table 1), per data set and seed:
# auto-encoder + latents -> ours / cINN (and each generative baseline with a section in `images`:
# cvae, cgan, cfm) on the latents; an independent CNN on real images -> evaluate (accuracy,
# generated_accuracy, style_follows_label) -> one tidy metrics.csv; figures.
# Nothing runs when the config has no `images` section or `images.datasets` is empty.

import os

# the flow and figure lists the plots and the report use too (torch-free: keeps the parse light)
from flowbench.images.names import FLOWS, configured_flows, flow_figures

IMAGES = config.get("images") or {}
IMG = f"{RESULTS}/images"
IMG_RUN = f"{IMG}/{{dataset}}/seed{{seed}}"
IMG_LOG = f"{RESULTS}/logs/images/{{dataset}}/seed{{seed}}"
IMG_BENCH = f"{RESULTS}/benchmarks/images/{{dataset}}/seed{{seed}}"
# the flows this config trains on the latents: ours, the cINN and each opted-in baseline
IMAGE_FLOWS = configured_flows(IMAGES)
IMAGE_FIGURES = flow_figures(IMAGE_FLOWS)
IMAGE_RUN_FILES = ("autoencoder.pt", "latents.npz", "autoencoder.json",
                   *(f"{flow}{ext}" for flow in IMAGE_FLOWS for ext in (".pt", ".json", "_train_log.csv")),
                   "classifier_cnn.pt", "classifier_cnn.json", "metrics.json", "samples.npz")

wildcard_constraints:
    dataset="mnist|fashion-mnist",
    flow="|".join(IMAGE_FLOWS or FLOWS),


def images_datasets():
    return list(IMAGES.get("datasets") or [])


def images_seeds():
    return [int(s) for s in IMAGES.get("seeds", [0])]


def images_threads():
    """Threads of an image training job: `images.threads` (an integer, or `auto`, as
    `threads_per_job`: flowbench/cluster.py)."""
    return training_threads(IMAGES.get("threads", AUTO))


def images_targets():
    """The image stage's final outputs; [] when the config runs no image data set."""
    datasets = images_datasets()
    if not datasets:
        return []
    out = [f"{IMG}/metrics.csv"]
    for d in datasets:
        out += [f"{IMG}/{d}/figures/{name}.png" for name in IMAGE_FIGURES]
        # every run's own files too: one deleted (say a corrupt checkpoint) is rebuilt by a plain
        # `snakemake` even when the aggregate that read it is still present
        out += [f"{IMG}/{d}/seed{s}/{f}" for s in images_seeds() for f in IMAGE_RUN_FILES]
    for d in epoch_curve_datasets():
        out += [f"{IMG}/epoch_curve/{d}.csv", f"{IMG}/epoch_curve/{d}.png"]
    return out


def epoch_curve_datasets():
    """Data sets of `images.epoch_curve` (accuracy against auto-encoder epochs); [] by default."""
    return list((IMAGES.get("epoch_curve") or {}).get("datasets") or [])


def epoch_curve_inputs(wc):
    """The data check, and the main auto-encoder of the curve's seed where the stage trains it:
    the curve goes on from that run instead of retraining its epochs (flowbench.images.epoch_curve)."""
    out = {"data_check": f"{IMG}/{wc.dataset}/data_check.json"}
    seed = int((IMAGES.get("epoch_curve") or {}).get("seed", -1))
    if wc.dataset in images_datasets() and seed in images_seeds():
        out["autoencoder"] = f"{IMG}/{wc.dataset}/seed{seed}/autoencoder.pt"
    return out


# the report stage picks the image outputs up under this name
images_all_targets = images_targets

# results/<name>/images/metrics.csv also matches aggregate_task's results/<name>/{task}/metrics.csv
ruleorder: images_aggregate > aggregate_task


rule images_verify_data:
    # the IDX files checked once against their published checksums before any stage reads them
    output:
        f"{IMG}/{{dataset}}/data_check.json",
    log:
        f"{RESULTS}/logs/images/{{dataset}}/verify_data.log",
    threads: 1
    resources:
        **job_resources("images_verify_data"),
    params:
        data_root=IMAGES.get("data_root", "../shared/data"),
        download=IMAGES.get("download", True),
        # read again at run time by resolve_data_root; as a param, a changed folder re-checks
        flowbench_data=os.environ.get("FLOWBENCH_DATA", ""),
    script:
        "../scripts/images_verify_data.py"


rule images_autoencoder:
    input:
        data_check=f"{IMG}/{{dataset}}/data_check.json",
    output:
        model=f"{IMG_RUN}/autoencoder.pt",
        latents=f"{IMG_RUN}/latents.npz",
        info=f"{IMG_RUN}/autoencoder.json",
    log:
        f"{IMG_LOG}/autoencoder.log",
    benchmark:
        f"{IMG_BENCH}/autoencoder.tsv"
    threads: images_threads()
    resources:
        **job_resources("images_autoencoder"),
    params:
        device=config.get("device", "auto"),
        identity=images_digest(config, "autoencoder"),
    script:
        "../scripts/images_autoencoder.py"


rule images_flow:
    input:
        latents=f"{IMG_RUN}/latents.npz",
    output:
        model=f"{IMG_RUN}/{{flow}}.pt",
        info=f"{IMG_RUN}/{{flow}}.json",
        log_csv=f"{IMG_RUN}/{{flow}}_train_log.csv",
    log:
        f"{IMG_LOG}/{{flow}}.log",
    benchmark:
        f"{IMG_BENCH}/{{flow}}.tsv"
    threads: images_threads()
    resources:
        **job_resources("images_flow"),
    params:
        device=config.get("device", "auto"),
        identity=lambda wc: images_digest(config, wc.flow),
    script:
        "../scripts/images_flow.py"


rule images_classifier_cnn:
    input:
        data_check=f"{IMG}/{{dataset}}/data_check.json",
    output:
        model=f"{IMG_RUN}/classifier_cnn.pt",
        info=f"{IMG_RUN}/classifier_cnn.json",
    log:
        f"{IMG_LOG}/classifier_cnn.log",
    benchmark:
        f"{IMG_BENCH}/classifier_cnn.tsv"
    threads: images_threads()
    resources:
        **job_resources("images_classifier_cnn"),
    params:
        device=config.get("device", "auto"),
        identity=images_digest(config, "classifier_cnn"),
    script:
        "../scripts/images_cnn.py"


rule images_evaluate:
    input:
        autoencoder=f"{IMG_RUN}/autoencoder.pt",
        latents=f"{IMG_RUN}/latents.npz",
        cnn=f"{IMG_RUN}/classifier_cnn.pt",
        cnn_info=f"{IMG_RUN}/classifier_cnn.json",
        # <flow>, <flow>_info for each flow of the config
        **{k: v for flow in IMAGE_FLOWS
           for k, v in ((flow, f"{IMG_RUN}/{flow}.pt"), (f"{flow}_info", f"{IMG_RUN}/{flow}.json"))},
    output:
        metrics=f"{IMG_RUN}/metrics.json",
        samples=f"{IMG_RUN}/samples.npz",
    log:
        f"{IMG_LOG}/evaluate.log",
    benchmark:
        f"{IMG_BENCH}/evaluate.tsv"
    threads: images_threads()
    resources:
        **job_resources("images_evaluate"),
    params:
        device=config.get("device", "auto"),
        identity=images_digest(config, "evaluate"),
    script:
        "../scripts/images_evaluate.py"


rule images_aggregate:
    input:
        [f"{IMG}/{d}/seed{s}/metrics.json" for d in images_datasets() for s in images_seeds()],
    output:
        f"{IMG}/metrics.csv",
    log:
        f"{RESULTS}/logs/images/aggregate.log",
    threads: 1
    resources:
        **job_resources("images_aggregate"),
    script:
        "../scripts/images_aggregate.py"


rule images_figures:
    input:
        samples=lambda wc: f"{IMG}/{wc.dataset}/seed{min(images_seeds())}/samples.npz",
    output:
        [report(f"{IMG}/{{dataset}}/figures/{name}.png", category="2. Figures",
                caption=f"../report/{name[:6]}.rst", subcategory="{dataset}")
         for name in IMAGE_FIGURES],
    log:
        f"{RESULTS}/logs/images/{{dataset}}/figures.log",
    threads: 1
    resources:
        **job_resources("images_figures"),
    params:
        identity=images_digest(config, "figures"),
    script:
        "../scripts/images_figures.py"


rule images_epoch_curve:
    input:
        unpack(epoch_curve_inputs),
    output:
        csv=f"{IMG}/epoch_curve/{{dataset}}.csv",
        figure=report(f"{IMG}/epoch_curve/{{dataset}}.png", caption="../report/epoch_curve.rst",
                      category="2. Figures", subcategory="{dataset}"),
    log:
        f"{RESULTS}/logs/images/{{dataset}}/epoch_curve.log",
    benchmark:
        f"{RESULTS}/benchmarks/images/{{dataset}}/epoch_curve.tsv"
    threads: images_threads()
    resources:
        **job_resources("images_epoch_curve"),
    params:
        device=config.get("device", "auto"),
        identity=images_digest(config, "epoch_curve"),
    script:
        "../scripts/images_epoch_curve.py"
