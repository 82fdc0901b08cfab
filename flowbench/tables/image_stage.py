"""Tables of the image stage: Table 1 (test accuracy on MNIST and Fashion-MNIST) and the
generated-image metrics, from the image stage's tidy metrics (the frame of ``METRIC_COLUMNS``, with
the data set in ``task``).

The flows are trained on the latents of GLF's auto-encoder (Xiao, Yan & Amit 2019b, arXiv
1905.10485): ours (arXiv 1911.02052), the conditional INN (Ardizzone et al. 2019, arXiv
1907.02392) and the generative baselines, the conditional VAE (Sohn et al. 2015), the conditional
WGAN-GP (Gulrajani et al. 2017, arXiv 1704.00028) and conditional flow matching (Lipman et al.
2023, arXiv 2210.02747).
"""
from __future__ import annotations

import pandas as pd

from ..images.names import DEFAULT_FLOWS, FLOWS, flow_figures
from ..registry import method_label
from .metrics import _finite_runs_of, mean_ci, runs

PAPER_TABLE1 = {"mnist": 0.984, "fashion-mnist": 0.901}
# the image stage's methods of every run, in report order, with what each accuracy measures
IMAGE_METHODS = (*DEFAULT_FLOWS, "latent_classifier", "cnn")
#: the generative baselines on the latents (cVAE, cGAN, CFM): in Table 1 (after the cINN) and the
#: generated images table only where they ran; no forward predictor, so no accuracy of theirs
IMAGE_BASELINES = tuple(f for f in FLOWS if f not in DEFAULT_FLOWS)
IMAGE_METHOD_LABELS = {**{f: method_label(f, long=True) for f in FLOWS},
                       "latent_classifier": "latent classifier (same latents)",
                       "cnn": "CNN (real images)"}
#: every method the image stage can train on the latents, in report order
IMAGE_FLOWS = FLOWS
GENERATION_METRICS = ("generated_accuracy", "style_follows_label", "style_consistency", "z_label_accuracy")
#: Table 1's cell for a method that ran but has no forward process to classify with
NO_FORWARD_PREDICTOR = "no forward predictor"


def image_datasets_of(images: pd.DataFrame | None) -> list[str]:
    """The data sets of the image metrics: the paper's two first, then any other, sorted."""
    present = set() if images is None or images.empty else set(images["task"].unique())
    return [d for d in PAPER_TABLE1 if d in present] + sorted(present - set(PAPER_TABLE1))


def image_seed_values(images: pd.DataFrame | None, dataset: str, method: str, metric: str) -> list[float]:
    """Per-seed values of a whole-run image metric (sorted by seed), diverged runs excluded."""
    if images is None or images.empty:
        return []
    m = images[(images["task"] == dataset) & (images["method"] == method)
               & (images["metric"] == metric) & (images["condition"] == "")]
    m = _finite_runs_of(images, m)
    if m.empty:
        return []
    return m.groupby("seed")["value"].mean().sort_index().astype(float).tolist()


def image_diverged(images: pd.DataFrame | None, dataset: str, method: str) -> tuple[int, int]:
    """(diverged runs, runs) of one image method on one data set."""
    if images is None or images.empty:
        return 0, 0
    r = runs(images, dataset)
    r = r[r["method"] == method]
    return int(r["diverged"].sum()), int(len(r))


def image_baselines_of(images: pd.DataFrame | None) -> list[str]:
    """The generative baselines (``IMAGE_BASELINES``) with any row in the image metrics."""
    if images is None or images.empty:
        return []
    present = set(images["method"].unique())
    return [m for m in IMAGE_BASELINES if m in present]


def image_figure_names(images: pd.DataFrame | None) -> tuple[str, ...]:
    """The image figures of the flows that ran: ours' and the cINN's (every run of the stage
    draws them), and those of each baseline with image metrics."""
    return flow_figures((*DEFAULT_FLOWS, *image_baselines_of(images)))


def table1_methods(images: pd.DataFrame | None) -> list[str]:
    """Table 1's methods, in column order: ours, the cINN, the baselines that ran, the latent
    classifier and the CNN."""
    return [*DEFAULT_FLOWS, *image_baselines_of(images), "latent_classifier", "cnn"]


def image_has_forward(images: pd.DataFrame | None, method: str, dataset: str | None = None) -> bool:
    """False when ``method`` ran (has image metric rows; on ``dataset``, if given) but recorded no
    ``accuracy`` at all: a method without a forward predictor (the generative baselines). True
    otherwise (also when it did not run: that is "not run", not "no forward predictor")."""
    if images is None or images.empty:
        return True
    m = images[(images["method"] == method)
               & ((images["task"] == dataset) if dataset is not None else True)]
    return m.empty or bool((m["metric"] == "accuracy").any())


def table1(images: pd.DataFrame | None) -> pd.DataFrame:
    """Table 1, one row per data set of the paper: the paper's accuracy and, for each image method
    (``table1_methods``: ours, cinn, the generative baselines that ran, latent_classifier, cnn),
    the test accuracy as mean, 95% CI half-width and number of (non-diverged) seeds: columns
    ``<method>_accuracy_mean``, ``<method>_accuracy_ci95``, ``<method>_n_seeds``, and for a
    baseline ``<method>_forward_predictor`` (``image_has_forward``: False for the three, whose
    accuracy is then NaN / 0 seeds). NaN / 0 where not run."""
    methods = table1_methods(images)
    rows = []
    for ds in PAPER_TABLE1:
        row = {"dataset": ds, "paper_accuracy": PAPER_TABLE1[ds]}
        for method in methods:
            mean, half, n = mean_ci(image_seed_values(images, ds, method, "accuracy"))
            row.update({f"{method}_accuracy_mean": mean, f"{method}_accuracy_ci95": half,
                        f"{method}_n_seeds": n})
            if method in IMAGE_BASELINES:
                row[f"{method}_forward_predictor"] = image_has_forward(images, method, ds)
        rows.append(row)
    cols = ["dataset", "paper_accuracy"] + [
        f"{m}_{c}" for m in methods
        for c in ("accuracy_mean", "accuracy_ci95", "n_seeds")
        + (("forward_predictor",) if m in IMAGE_BASELINES else ())]
    return pd.DataFrame(rows, columns=cols)


def generation_table(images: pd.DataFrame | None) -> pd.DataFrame:
    """Generated-image metrics per (data set, flow): runs, diverged, and for each of
    ``GENERATION_METRICS`` the mean, 95% CI half-width and number of non-diverged seeds (NaN / 0
    where the flow has none: ``z_label_accuracy`` needs the method's ``noise_of``, which the cGAN
    lacks). Only data sets with image metrics, only flows (``IMAGE_FLOWS``) that ran there."""
    rows = []
    for ds in image_datasets_of(images):
        for method in IMAGE_FLOWS:
            div, n_runs = image_diverged(images, ds, method)
            if n_runs == 0:
                continue
            row = {"dataset": ds, "method": method, "runs": n_runs, "diverged": div}
            for metric in GENERATION_METRICS:
                mean, half, n = mean_ci(image_seed_values(images, ds, method, metric))
                row.update({f"{metric}_mean": mean, f"{metric}_ci95": half, f"{metric}_n": n})
            rows.append(row)
    cols = ["dataset", "method", "runs", "diverged"] + [f"{m}_{c}" for m in GENERATION_METRICS
                                                        for c in ("mean", "ci95", "n")]
    return pd.DataFrame(rows, columns=cols)

