"""The image stage's names (paper Sec. 5.2): classes, flows, variants and figures.

Plain Python, no torch and no numpy: the Snakefile (at parse time) and the report import the figure
list from here, and the stage's own modules take every name from here too, so each is written once.
"""
from __future__ import annotations

N_CLASSES = 10
#: the two flows trained on the auto-encoder's latents: ours (Xiao, Yan & Amit 2019) and the cINN
FLOWS = ("ours", "cinn")
#: the ``variant`` column of the tidy metric rows, per method
VARIANT = {"ours": "paper", "cinn": "default", "latent_classifier": "default", "cnn": "default"}
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
}
#: the image figures' names, in order: the one list the rules, the plots and the report share
IMAGE_FIGURES = tuple(FIGURE_SOURCES)

# seed offsets: every model and evaluation draw has its own stream, all from the run's seed
CNN_SEED, LATCLS_SEED, EVAL_SEED, ZCLS_SEED = 1_000, 2_000, 3_000, 4_000
