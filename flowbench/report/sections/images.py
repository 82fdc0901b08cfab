"""The image stage: Table 1 extended, generated images (Fig. 5.3, Fig. 5.4), accuracy against
auto-encoder epochs."""
from __future__ import annotations

from ... import tables as T
from ...captions import IMAGE_CAPTIONS
from ...images.names import FLOWS
from ...registry import method_label
from ..claims import finite
from ..context import ReportContext
from ..markdown import markdown
from .common import ci_cell, figure_block

#: short names of the image stage's reference classifiers (the methods' come from the registry)
_CLASSIFIER_NAMES = {"latent_classifier": "latent", "cnn": "CNN"}


def _short_name(method: str) -> str:
    return _CLASSIFIER_NAMES.get(method) or method_label(method)


def _table1_methods(t1) -> list[str]:
    """Table 1's methods, in column order: those with columns (the baselines only where they ran)."""
    return [m for m in (*FLOWS, *_CLASSIFIER_NAMES) if f"{m}_n_seeds" in t1.columns]


def _no_forward(row, method: str) -> bool:
    """The method ran but has no forward predictor (a generative baseline)."""
    return method in T.IMAGE_BASELINES and not bool(getattr(row, f"{method}_forward_predictor"))


def _accuracy_cell(row, method: str) -> str:
    if _no_forward(row, method):
        return T.NO_FORWARD_PREDICTOR
    return ci_cell(getattr(row, f"{method}_accuracy_mean"), getattr(row, f"{method}_accuracy_ci95"))


def _seeds_cell(row, methods) -> str:
    ns = {m: int(getattr(row, f"{m}_n_seeds")) for m in methods if not _no_forward(row, m)}
    if len(set(ns.values())) == 1:
        return str(next(iter(ns.values())))
    return ", ".join(f"{_short_name(m)} {n}" for m, n in ns.items())


def table1(ctx: ReportContext) -> list[str]:
    t1 = ctx.table1
    methods = _table1_methods(t1)
    baselines = [m for m in methods if m in T.IMAGE_BASELINES]
    lines = ["## Table 1: classification accuracy of the forward process", ""]
    if ctx.images_ran and (t1[[f"{m}_n_seeds" for m in T.IMAGE_METHODS]].to_numpy() > 0).any():
        lines += [
            "Test-set accuracy, mean ± 95% t-interval half-width over seeds (diverged runs excluded). "
            "Ours: the forward process f(x) -> [z, y~], argmax of y~ (the paper's Table 1). cINN: "
            "Bayes' rule over the ten labels. Latent classifier: a plain classifier on the same "
            "auto-encoder latents, the reference for what the latents allow. CNN: an independent "
            "small CNN on the real images (the same CNN scores the generated images below)."
            + (" " + ", ".join(_short_name(m) for m in baselines) + ": generative baselines "
               "trained on the same latents with ours' epochs and batch size; they have no forward "
               "predictor, so no accuracy here (their generated images are scored below)."
               if baselines else ""),
            "",
            markdown([[r.dataset, f"{r.paper_accuracy:.3f}"]
                        + [_accuracy_cell(r, m) for m in methods] + [_seeds_cell(r, methods)]
                        for r in t1.itertuples(index=False)],
                       ["dataset", "paper (ours)"] + [T.IMAGE_METHOD_LABELS[m] for m in methods]
                       + ["seeds"])]
    else:
        lines.append("The image stage (MNIST / Fashion-MNIST) was not run in this configuration; the paper "
                     "reports MNIST 0.984 and Fashion-MNIST 0.901.")
    return lines + ["", "CSV: [tables/table1.csv](tables/table1.csv).", ""]


def _z_cell(r) -> str:
    """z → label: the mean ± CI, or why there is none (a run that generated but recorded no
    z_label_accuracy: the method has no map from data to its noise, ``noise_of``)."""
    if r.z_label_accuracy_n == 0 and r.generated_accuracy_n > 0:
        return "no noise_of"
    return ci_cell(r.z_label_accuracy_mean, r.z_label_accuracy_ci95, ".3f")


def generated(ctx: ReportContext) -> list[str]:
    gen = ctx.generation
    lines = ["## Generated images (Fig. 5.3, Fig. 5.4)", ""]
    if len(gen):
        lines += [
            "Scored by the independent CNN trained on real images. Generated accuracy: the fraction of "
            "samples generated for label k that the CNN assigns to k (Fig. 5.3). Style follows label: "
            "with z held fixed and y varied over the ten labels, the fraction of decoded images the CNN "
            "assigns to the y they were generated with (Fig. 5.4; claim C8). Style consistency: mean "
            "pixel correlation between images sharing z across labels minus that between images of "
            "different z; > 0 when z carries a style shared across labels. z → label: test accuracy of a "
            "classifier of y trained on the noise the flow assigns to the training latents (chance 0.1 "
            "when the noise is independent of y; claim C8). Mean ± 95% CI over seeds, diverged runs "
            "excluded."
            + (" The generative baselines' fixed noise (Fig. 5.4, style metrics) is the noise their "
               "generator takes: the cVAE's z and decoder noise, the cGAN's z, the CFM's ODE start x0. "
               "Their z → label classifies the noise that the method's inverse map assigns (cVAE: the "
               "encoder mean and the decoder residual; CFM: the ODE run backwards); the cGAN has no "
               "such map, so it has none." if set(gen["method"]) & set(T.IMAGE_BASELINES) else ""),
            "",
            markdown([[r.dataset, _short_name(r.method),
                         ci_cell(r.generated_accuracy_mean, r.generated_accuracy_ci95, ".3f"),
                         ci_cell(r.style_follows_label_mean, r.style_follows_label_ci95, ".3f"),
                         ci_cell(r.style_consistency_mean, r.style_consistency_ci95, ".3f"),
                         _z_cell(r), str(r.runs - r.diverged), str(r.diverged)]
                        for r in gen.itertuples(index=False)],
                       ["dataset", "method", "generated accuracy", "style follows label",
                        "style consistency", "z → label", "seeds", "diverged"])]
    else:
        lines.append("The image stage was not run in this configuration.")
    lines += ["", "CSV: [tables/image_generation.csv](tables/image_generation.csv).", ""]
    for d in ctx.image_datasets:
        lines += figure_block(d, ctx.image_figure_names, ctx.image_figures.get(d, []), IMAGE_CAPTIONS,
                              f"figures/images/{d}")
    return lines


def epoch_curves(ctx: ReportContext) -> list[str]:
    if not ctx.curves:
        return []
    lines = ["## Accuracy against auto-encoder epochs", "",
             "One auto-encoder per data set (seed in the table) trained past the main stage's epoch count; at "
             "each checkpoint the train and test images are re-encoded, the latent classifier is trained on "
             "the latents, and at the marked checkpoints ours too (its configured epochs). Up to the main "
             "stage's epoch count the auto-encoder is the main stage's run of the same seed. How far the "
             "accuracy of the latents rises with auto-encoder training says whether the flow or the latent "
             "limits Table 1.",
             ""]
    for ds, c in ctx.curves.items():
        lines += [markdown([[str(int(r.epoch)), f"{r.train_loss:.2f}", f"{r.test_reconstruction_mse:.2f}",
                               f"{r.latent_classifier_accuracy:.4f}",
                               f"{r.ours_accuracy:.4f}" if finite(r.ours_accuracy) else "",
                               f"{r.ae_train_seconds:.0f}"]
                              for r in c.itertuples(index=False)],
                             [f"{ds}: AE epoch", "train loss", "test reconstruction error",
                              "latent classifier", "ours", "AE training seconds"]),
                  "",
                  f"![epoch curve {ds}](figures/images/epoch_curve_{ds}.png)",
                  "",
                  f"CSV: [tables/epoch_curve_{ds}.csv](tables/epoch_curve_{ds}.csv).",
                  ""]
    return lines
