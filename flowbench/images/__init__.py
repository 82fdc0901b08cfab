"""The image stage (paper Sec. 5.2: Fig. 5.3, Fig. 5.4, Table 1), one module per step.

Latent flow (GLF, Xiao, Yan & Amit 2019b, arXiv 1905.10485): a deterministic auto-encoder maps each
image to a 20-d latent u; ours and the cINN (and the generative baselines cvae, cgan and cfm, where
the config has their sections) are then trained on the detached, standardised latents; a latent
classifier and an independent CNN give reference accuracies and score generated images.

- :mod:`.names`: classes, flows, variants, seed offsets and ``IMAGE_FIGURES``, the figure list the
  rules, the plots and the report share (no torch);
- :mod:`.inputs`: data folders, train/test subsets, ``latents.npz``, standardisation;
- :mod:`.models`: the networks (GLF's auto-encoder, the latent classifier, the small CNN);
- :mod:`.autoencoder`: training, encoding, decoding; :mod:`.latent_flows`: the latent task and
  the flows;
- :mod:`.classifiers`: latent classifier and CNN; :mod:`.generation`: grids and generation metrics;
- :mod:`.figures`: Fig. 5.3 / 5.4 (no torch); :mod:`.epoch_curve`: accuracy against AE epochs;
- :mod:`.stages`: ``run_autoencoder``, ``run_flow``, ``run_cnn``, ``run_evaluate`` (the rules' steps).

Every public name of those modules is available here too (``from flowbench import images as I;
I.train_autoencoder``). They load on first use, so importing the package, or its torch-free
modules (``names``, ``figures``), does not import torch: the Snakefile and the report need only the
figure list.
"""
from __future__ import annotations

import importlib

_SUBMODULES = ("names", "inputs", "models", "autoencoder", "latent_flows", "classifiers",
               "generation", "figures", "epoch_curve", "stages")

_EXPORTS = {
    "names": ("N_CLASSES", "FLOWS", "DEFAULT_FLOWS", "PAPER_FLOW", "VARIANT", "CLASS_NAMES", "FIGURE_SOURCES",
              "IMAGE_FIGURES", "DEFAULT_FIGURES", "FIXED_NOISE", "configured_flows", "flow_figures",
              "CNN_SEED", "LATCLS_SEED", "EVAL_SEED", "ZCLS_SEED"),
    "inputs": ("default_log", "images_config", "resolve_data_root", "load_images", "train_test",
               "one_hot", "batches", "latent_scale", "standardise", "unstandardise", "load_latents"),
    "models": ("IMAGE_SHAPE", "init_normal_002", "Encoder", "Decoder", "AutoEncoder", "ae_loss",
               "LatentClassifier", "SmallCNN"),
    "autoencoder": ("autoencoder_identity", "train_autoencoder", "encode", "decode",
                    "reconstruction_mse"),
    "latent_flows": ("TRAIN_KEYS", "LatentTask", "flow_params", "flow_identity",
                     "build_flow_method", "train_flow", "flow_accuracy"),
    "classifiers": ("cnn_identity", "predict_labels", "train_latent_classifier", "train_cnn"),
    "generation": ("draw_noise", "generate_latents", "class_grid", "style_grid",
                   "style_consistency", "to_uint8", "evaluate_generation", "noise_features"),
    "figures": ("FIGURES", "fig5_3", "fig5_4", "image_figures"),
    "epoch_curve": ("EPOCH_CURVE_COLUMNS", "run_epoch_curve"),
    "stages": ("metric_row", "curve_snapshots", "run_autoencoder", "run_flow", "run_cnn", "run_evaluate"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__) | set(_SUBMODULES))
