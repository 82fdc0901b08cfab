"""The image stage's names (paper Sec. 5.2): classes, flows, variants and figures.

Which flows a run trains is the config's choice: each method of :data:`FLOWS` whose section is
present in ``config["images"]`` (:func:`configured_flows`). Ours and the cINN always are (their
sections have schema defaults); the generative baselines (cvae, cgan, cfm) are opted in by writing
their section (``images.cvae: {width: ..., epochs: ..., batch_size: ...}``).

Plain Python, no torch and no numpy: the Snakefile (at parse time) and the report import the figure
list from here, and the stage's own modules take every name from here too, so each is written once.
"""
from __future__ import annotations

N_CLASSES = 10
#: the methods that can be trained on the auto-encoder's latents, in report order: ours (Xiao, Yan
#: & Amit 2019), the cINN (Ardizzone et al. 2019), and the generative baselines of issue #16, the
#: conditional VAE (Sohn et al. 2015), the conditional WGAN-GP (Mirza & Osindero 2014; Gulrajani et
#: al. 2017) and conditional flow matching (Lipman et al. 2023). The index of a flow here is its
#: evaluation seed offset, so a flow's numbers do not depend on which others run.
FLOWS = ("ours", "cinn", "cvae", "cgan", "cfm")
#: the flows whose config sections have schema defaults: every run of the image stage trains them
DEFAULT_FLOWS = ("ours", "cinn")
#: the ``variant`` column of the tidy metric rows, per method
VARIANT = {"ours": "paper", "cinn": "default", "cvae": "default", "cgan": "default", "cfm": "default",
           "latent_classifier": "default", "cnn": "default"}
CLASS_NAMES = {
    "mnist": [str(k) for k in range(10)],
    "fashion-mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                      "Sneaker", "Bag", "Ankle boot"],
}

#: each image figure (``results/<name>/images/<dataset>/figures/<figure>.png``) and what it shows:
#: ``(flow, panel)``, the flow whose samples it draws and the paper figure's layout (Fig. 5.3: one
#: row per class; Fig. 5.4: one fixed z per row, the labels across). Order: the report's order.
FIGURE_SOURCES = {
    "fig5_3": ("ours", "fig5_3"),
    "fig5_4": ("ours", "fig5_4"),
    "fig5_3_cinn": ("cinn", "fig5_3"),
    "fig5_4_cinn": ("cinn", "fig5_4"),
    # the generative baselines, where configured; Fig. 5.4's fixed noise is each method's
    # ``generate`` noise (cvae: z and the decoder noise; cgan: z; cfm: the ODE's start x0)
    "fig5_3_cvae": ("cvae", "fig5_3"),
    "fig5_4_cvae": ("cvae", "fig5_4"),
    "fig5_3_cgan": ("cgan", "fig5_3"),
    "fig5_4_cgan": ("cgan", "fig5_4"),
    "fig5_3_cfm": ("cfm", "fig5_3"),
    "fig5_4_cfm": ("cfm", "fig5_4"),
}
#: every image figure's name, in order: the one list the rules, the plots and the report share
#: (a run draws those of its flows: :func:`flow_figures`)
IMAGE_FIGURES = tuple(FIGURE_SOURCES)


def configured_flows(images: dict | None) -> tuple[str, ...]:
    """The flows a config's ``images`` section trains: those of :data:`FLOWS` with a section."""
    images = images or {}
    return tuple(f for f in FLOWS if images.get(f) is not None)


def flow_figures(flows) -> tuple[str, ...]:
    """The image figures of these flows, in :data:`IMAGE_FIGURES` order."""
    flows = set(flows)
    return tuple(n for n in IMAGE_FIGURES if FIGURE_SOURCES[n][0] in flows)


#: what Fig. 5.4 holds fixed along a row: the noise ``generate`` takes (``noise_dims``), per flow
FIXED_NOISE = {"ours": "z", "cinn": "z", "cvae": "z and decoder noise", "cgan": "z",
               "cfm": "ODE start x0"}

#: the figures of every run of the image stage (those of :data:`DEFAULT_FLOWS`)
DEFAULT_FIGURES = flow_figures(DEFAULT_FLOWS)

# seed offsets: every model and evaluation draw has its own stream, all from the run's seed
CNN_SEED, LATCLS_SEED, EVAL_SEED, ZCLS_SEED = 1_000, 2_000, 3_000, 4_000
