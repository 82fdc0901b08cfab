"""The image stage's names (paper Sec. 5.2): classes, flows, variants and figures.

Which flows a run trains is the config's choice: each method of :data:`FLOWS` whose section is
present in ``config["images"]`` (:func:`configured_flows`). The methods with
``image_defaults`` always are (their sections have defaults); the others are opted in by writing
their section (``images.<method>: {width: ..., epochs: ..., batch_size: ...}``).

The lists are read from the method registry (``flowbench.registry``, torch-free): a method that can train on
the latents declares it (``image_flow``, ``image_defaults``, ``image_variant``, ``fixed_noise``),
and its figures and rows appear here. The Snakefile, the report and the stage's own modules take
every name from here.
"""
from __future__ import annotations

from ..registry import method_infos

N_CLASSES = 10


def _image_methods() -> tuple[str, ...]:
    return tuple(n for n, i in method_infos().items() if i.image_flow)


def _method(name: str):
    return method_infos()[name]


#: the methods that can be trained on the auto-encoder's latents, in report order (the method
#: registry's ``image_flow`` methods by ``order``). The index of a flow here is its evaluation
#: seed offset, so a flow's numbers do not depend on which others run.
FLOWS = _image_methods()
#: the flows whose config sections have defaults (``image_defaults``): every image run trains them
DEFAULT_FLOWS = tuple(f for f in FLOWS if _method(f).image_defaults)
#: the seed paper's method (Xiao, Yan & Amit 2019): the epoch curve trains it
PAPER_FLOW = next(f for f in FLOWS if _method(f).role == "paper")
#: the ``variant`` column of the tidy metric rows, per method (and the two reference classifiers)
VARIANT = {**{f: _method(f).image_variant for f in FLOWS},
           "latent_classifier": "default", "cnn": "default"}
CLASS_NAMES = {
    "mnist": [str(k) for k in range(10)],
    "fashion-mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                      "Sneaker", "Bag", "Ankle boot"],
}

#: each image figure (``results/<name>/images/<dataset>/figures/<figure>.png``) and what it shows:
#: ``(flow, panel)``, the flow whose samples it draws and the paper figure's layout (Fig. 5.3: one
#: row per class; Fig. 5.4: one fixed z per row, the labels across). The paper's method keeps the
#: paper's names; every other flow's figures carry its name. Order: the report's order.
FIGURE_SOURCES = {(panel if f == PAPER_FLOW else f"{panel}_{f}"): (f, panel)
                  for f in FLOWS for panel in ("fig5_3", "fig5_4")}
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
FIXED_NOISE = {f: _method(f).fixed_noise for f in FLOWS}

#: the figures of every run of the image stage (those of :data:`DEFAULT_FLOWS`)
DEFAULT_FIGURES = flow_figures(DEFAULT_FLOWS)

# seed offsets: every model and evaluation draw has its own stream, all from the run's seed
CNN_SEED, LATCLS_SEED, EVAL_SEED, ZCLS_SEED = 1_000, 2_000, 3_000, 4_000
