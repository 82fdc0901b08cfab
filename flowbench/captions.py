"""One source for the figure captions: the report's Markdown and Snakemake's HTML report
(workflow/report/figure.rst renders the rule's ``caption`` parameter) both read them here.

The common task figures' captions and the image stage's (``IMAGE_CAPTIONS``, Fig. 5.3 / 5.4 of the
paper, for ours, the conditional INN and the generative baselines) are below; a task kind's own
figures carry theirs in the task class (``figure_captions``), so a new task is still one file.
Needs no torch.
"""
from __future__ import annotations

from .images.names import FIGURE_SOURCES, IMAGE_FIGURES
from .registry import method_infos

# the time-to-quality threshold, defined beside the rule that applies it (importable from here too)
from .tables.time_to_w2 import TIME_FLOOR_MULTIPLE, W2_THRESHOLD_TIME  # noqa: F401

COMMON_CAPTIONS = {
    "w2_comparison": "W2 distance to the reference posterior (log scale, lower is better). Left: every "
                     "run, one dot per seed (its mean over the evaluation conditions), the geometric "
                     "mean over seeds (diamond) and its 95% t-interval on the log scale (bar), the "
                     "statistics the claims use; the solid line is the noise floor (two independent "
                     "exact samples of the same size: what a perfect sampler scores), the dotted line 3x "
                     "the floor. A run off the scale is drawn at the edge with its number. Right: each "
                     "method at its recipe, condition by condition (geometric mean over seeds).",
    "training_curves": "Training loss against iteration, one panel per method, one line per variant (mean over "
                       "seeds); the y axis covers the steps after the first 10% of each run. Ours "
                       "has one loss (the negative log-likelihood); the INN's weighted sum contains the "
                       "ramped backward MMD, so it can rise while the ramp grows. Compare shapes and "
                       "stability, not levels across methods.",
    "validation_curves": "Where each run flattened: the validation distance its early stopping read (W2 at "
                         "validation conditions the test never uses; on an sbibm task the energy score "
                         "at held-out simulations) against the training step, one thin line per seed, "
                         "one panel per method (its variants in colour); the dot marks the step whose "
                         "parameters were kept (the lowest value), the dotted line the cap. A curve still "
                         "falling at the cap had not converged.",
    "w2_vs_time": f"Mean W2 over the evaluation conditions from the periodic probe against training "
                  f"wall-clock seconds (probe time excluded; jobs ran side by side, so compare shapes, "
                  f"and take timings from the benchmark), one line per seed: first every method at its "
                  f"recipe, then each method with several variants. The dotted line is the threshold of "
                  f"the time-to-quality table ({TIME_FLOOR_MULTIPLE:g}x the noise floor at the probe's "
                  f"sample size; {W2_THRESHOLD_TIME} without a floor). Lines further left reach a given "
                  f"quality sooner.",
}

#: the image stage's figures (``results/images/<dataset>/figures/<name>.png``), in report order
IMAGE_CAPTIONS = {
    "fig5_3": "Fig. 5.3, ours (first seed): samples conditioned on the label, one row per class, "
              "20 samples each, decoded from f^-1([z, y + eps v]) with fresh z per sample. Look that "
              "every row shows its own class and that the samples within a row vary (stroke "
              "thickness, slant, shape); a row of near-copies would mean z is ignored.",
    "fig5_4": "Fig. 5.4, ours (first seed): each row one fixed z, decoded under the ten labels across. "
              "Look that the style (thickness, slant, width) stays the same across a row while the "
              "class changes with the column: the paper's evidence that z is independent of y "
              "(claim C8).",
    "fig5_3_cinn": "Fig. 5.3 for the conditional INN (the label enters every subnet), same layout: "
                   "one row per class, 20 samples each; look for the class in every row and variety "
                   "within it.",
    "fig5_4_cinn": "Fig. 5.4 for the conditional INN, same layout: each row one fixed z, the ten labels "
                   "across; look for a style that stays across the row while the class changes.",
    # the generative baselines (issue #16), where the config trains them on the latents
    "fig5_3_cvae": "Fig. 5.3 for the conditional VAE (Sohn et al. 2015), same layout: one row per class, "
                   "20 samples each, z and the decoder noise drawn fresh per sample.",
    "fig5_4_cvae": "Fig. 5.4 for the conditional VAE: each row one fixed noise (z and the decoder noise), "
                   "the ten labels across; look for a style that stays across the row while the class "
                   "changes.",
    "fig5_3_cgan": "Fig. 5.3 for the conditional WGAN-GP (Gulrajani et al. 2017), same layout: one row per "
                   "class, 20 samples each, fresh z per sample.",
    "fig5_4_cgan": "Fig. 5.4 for the conditional WGAN-GP: each row one fixed z, the ten labels across; "
                   "look for a style that stays across the row while the class changes.",
    "fig5_3_cfm": "Fig. 5.3 for conditional flow matching (Lipman et al. 2023), same layout: one row per "
                  "class, 20 samples each, fresh ODE start x0 per sample.",
    "fig5_4_cfm": "Fig. 5.4 for conditional flow matching: each row one fixed ODE start x0, the ten labels "
                  "across; look for a style that stays across the row while the class changes.",
}



def _generated_caption(name: str) -> str:
    """Fig. 5.3 / 5.4's caption for an image method without a hand-written one, from its
    registry entry (label, summary, the noise ``generate`` takes)."""
    method, panel = FIGURE_SOURCES[name]
    info = method_infos()[method]
    if panel == "fig5_3":
        return (f"Fig. 5.3 for the {info.summary}, same layout: one row per class, 20 samples each, "
                f"fresh noise ({info.fixed_noise}) per sample; look for the class in every row "
                f"and variety within it.")
    return (f"Fig. 5.4 for the {info.summary}: each row one fixed noise ({info.fixed_noise}), the "
            f"ten labels across; look for a style that stays across the row while the class "
            f"changes.")


# every image figure of the registry's image methods has a caption, in report order
IMAGE_CAPTIONS = {n: IMAGE_CAPTIONS.get(n) or _generated_caption(n) for n in IMAGE_FIGURES}


def figure_caption(name: str) -> str:
    """The caption of figure ``name``: a common figure's, an image-stage figure's, else the task
    kind's that draws it."""
    if name in COMMON_CAPTIONS:
        return COMMON_CAPTIONS[name]
    if name in IMAGE_CAPTIONS:
        return IMAGE_CAPTIONS[name]
    from .tasks import TASK_KINDS
    for cls in TASK_KINDS.values():
        if name in getattr(cls, "figure_captions", {}):
            return cls.figure_captions[name]
    return ""
