"""The task protocol: what every task gives the one generic pipeline (train, sample, evaluate).

A task is a conditional density problem p(x | y) with samples of the joint for training and exact
(or documented reference) samples of the posterior at a fixed set of evaluation conditions, in the
manner of sbibm's tasks (Lueckmann et al. 2021, "Benchmarking simulation-based inference").
Nothing outside a task knows whether its conditions are class labels or continuous observations:

- ``x_dim``, ``y_dim``; ``conditions``: ``"label"`` (y one-hot, ``label_prior`` given) or
  ``"continuous"``.
- ``sample_batch(n, rng) -> (x [n, x_dim], y [n, y_dim])``: training draws of the joint (tensors).
- ``evaluation_conditions() -> (ids, y [K, y_dim])``: the K fixed conditions every method is scored
  at, with one string id each (the ``condition`` column of ``metrics.csv``).
- ``reference_posterior(k, n, rng=None) -> [n, x_dim]``: n exact draws of p(x | y_k), the same for
  every method and seed (with ``rng``: an independent draw, for the finite-sample noise floor);
  it and ``perfect_sample`` never return NaN or inf: every subclass's own definitions are wrapped
  (``NonFiniteReference`` names the task, the condition and that it is the reference);
  ``posterior_extra_metrics(k, samples, reference)``: task-specific numbers per condition.
- ``test_set() -> (x [N, x_dim], y [N, y_dim])``: a fixed draw for the forward predictor.
- ``forward_metrics(y_hat, y) -> {name: value}``: how good the forward predictor ``y_hat`` of the
  test set is (accuracy for labels; the error of the predicted y for continuous tasks).
- ``reference_file``: True for a task whose reference posterior is a workflow output (rule
  ``reference_task``, ``results/<name>/<task>/reference.npz``, built by ``build_reference``); the
  task gets its path by ``attach_reference`` (``make_task(cfg, reference=path)``). False (the
  default): the reference is exact and needs no file.
- ``calibration_set()``: None (the default), or ``(x_true [M, x_dim], y [M, y_dim], n)`` for a task
  whose training job also samples n posterior draws at M observations with known true x (the
  expected coverage of credible intervals, ``flowbench.metrics.calibration_rows``).
- ``figure_names()``: the task's figures (its own, ``own_figures``, drawn by ``make_figure``, with
  captions in ``figure_captions``; then the common ones); ``describe()``: one sentence for the
  report.

A new task is one module in this package that subclasses ``Task`` with ``@register_task`` and
declares its config keys in ``PARAMS`` (:class:`flowbench.params.Param`); the config schema's
``$defs/task_<kind>`` is generated from them (``flowbench.schema``).
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from ..params import Param

# seed of the exact-posterior draws: the same for every method and seed
REFERENCE_SEED = 20191107
#: the validation observations and the validation reference draws (early stopping), a stream of
#: their own so no validation draw is a test draw
VALIDATION_SEED = 20261204

TASK_KINDS: dict[str, type] = {}

#: the posterior metrics of ``flowbench.metrics`` a task can be scored on
POSTERIOR_METRICS = ("w2", "sliced_w2", "mmd", "c2st")


def metrics_param(names=POSTERIOR_METRICS) -> Param:
    """The ``metrics`` key of a task kind scored on these metrics (default: all of them)."""
    return Param("array", "the posterior metrics scored", items={"enum": list(names)},
                 default=list(names))


#: the keys of every task kind: sample sizes, the training schedule and the runs (the methods'
#: names are filled in from the method registry: ``$defs/task_runs``)
TASK_PARAMS = {
    "kind": Param("string", "the task kind (its module in flowbench.tasks)", required=True),
    "n_test": Param("integer", "test points of the forward predictor", minimum=10, default=2000),
    "n_eval": Param("integer", "posterior draws per evaluation condition", minimum=10,
                    default=2000),
    "metrics": metrics_param(),
    "train": Param("object", "the training schedule of every run", required=True, fields={
        "iterations": Param("integer", "optimiser steps", minimum=1, required=True),
        "batch_size": Param("integer", "joint draws per step", minimum=1, required=True),
        "log_every": Param("integer", "steps between log rows", minimum=1, default=20),
        "probe_every": Param("integer", "W2 probe interval (0: off)", minimum=0, default=0),
        "probe_n": Param("integer", "posterior draws of each probe", minimum=10, default=500),
        # absent: a fixed budget of `iterations` steps (the paper's recipe)
        "early_stopping": Param("object", "train until the validation distance (W2 at the task's "
                                "validation conditions, never the test's) stops improving, keeping the "
                                "best parameters; `iterations` is then the cap", filled=False, fields={
            "every": Param("integer", "steps between validations", minimum=1, required=True),
            "patience": Param("integer", "validations without improvement before stopping", minimum=1,
                              default=5),
            "min_improvement": Param("number", "relative decrease of the validation W2 that counts as "
                                     "an improvement", minimum=0, exclusive_maximum=1, default=0.01),
            "n": Param("integer", "posterior draws per validation condition", minimum=10, default=500)})}),
    "runs": Param(None, "which methods, variants and seeds run", required=True,
                  schema={"$ref": "#/$defs/task_runs"}),
    "floor_repeats": Param(("integer", "null"), "pairs per condition and size of this task's noise floor "
                           "(null: the config's noise_floor.repeats)", minimum=1, default=None, filled=False),
}


class NonFiniteReference(ValueError):
    """A task's reference posterior (its exact sampler or its reference file) gave NaN or inf:
    the task, not a model, is at fault, and nothing is scored against it."""


#: the draws of each checked sampler, as the error names them
_DRAWS = {"reference_posterior": "the reference posterior's draws",
          "validation_reference": "the validation reference's draws",
          "perfect_sample": "the exact draws of the noise floor (perfect_sample)"}


def _finite_draws(fn, what: str):
    """``fn`` (a task's ``reference_posterior`` or ``perfect_sample``), refusing non-finite draws."""
    @functools.wraps(fn)
    def checked(self, k, n, *args, **kwargs):
        x = fn(self, k, n, *args, **kwargs)
        ok = np.isfinite(x)
        if not ok.all():
            bad = int((~ok).reshape(len(x), -1).any(axis=1).sum())
            raise NonFiniteReference(
                f"task {self.label()}: {_DRAWS[what]} at condition {self.condition_id(k)!r} hold "
                f"NaN or inf ({bad} of {len(x)} draws). This is the task's reference ({self.reference_source()}), "
                f"not a model's samples, so nothing can be scored against it: check the task's "
                f"settings (a scale so large or small that float32 overflows)")
        return x

    checked.checks_finite = True
    return checked


def register_task(cls):
    """Class decorator: make ``cls`` the task of config ``kind: <cls.kind>``."""
    if cls.kind in TASK_KINDS and TASK_KINDS[cls.kind] is not cls:
        raise ValueError(f"task kind {cls.kind!r} registered twice")
    TASK_KINDS[cls.kind] = cls
    return cls


class Task:
    kind = "base"
    #: one line for the schema and the README
    description = ""
    #: the config keys of this kind (``TASK_PARAMS`` and its own)
    PARAMS: dict = TASK_PARAMS
    conditions = "label"          # or "continuous"
    #: figures of the generic pipeline, drawn for every task (flowbench.plots)
    common_figures = ("w2_comparison", "training_curves", "w2_vs_time")
    #: the task's own figures (``make_figures`` draws them)
    own_figures: tuple[str, ...] = ()
    #: whether the paper's claims C1-C4 (stated on the Gaussian mixture) are evaluated on it
    paper_claims = False
    #: the task whose runs the paper's claims C1-C8 are judged on by default
    headline: bool = False
    #: whether it is a practical inverse problem (Kruse et al. 2021), on which the suite's claim C9
    #: compares ours with the four-loss INN
    practical = False
    label_prior = None
    #: the names ``forward_metrics`` returns (summary-table columns)
    forward_metric_names: tuple[str, ...] = ()
    #: whether the reference posterior is a workflow output (``build_reference``; rule reference_task)
    reference_file = False
    #: the task's own per-condition numbers (``posterior_extra_metrics``) shown beside W2
    summary_metrics: tuple[str, ...] = ()
    #: whether ``validation_reference`` gives reference draws at the validation conditions (tuning's
    #: floor and useless level need them); a kind without sets ``validation_distance`` instead
    validation_references = True
    #: the task's key under ``tasks`` in the config (set by ``flowbench.tasks.load_task``)
    name: str | None = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for what in _DRAWS:
            fn = cls.__dict__.get(what)
            if fn is not None and not getattr(fn, "checks_finite", False):
                setattr(cls, what, _finite_draws(fn, what))

    def label(self) -> str:
        """How errors name the task: its config key and kind."""
        return f"{self.name!r} (kind {self.kind!r})" if self.name else f"of kind {self.kind!r}"

    def condition_id(self, k: int) -> str:
        """The id of evaluation condition ``k`` (``evaluation_conditions``), for messages."""
        try:
            return str(self.evaluation_conditions()[0][k])
        except Exception:  # a message must not fail: the index then
            return str(k)

    def reference_source(self) -> str:
        """Where the reference posterior comes from, for messages."""
        return "its exact sampler"

    # --- construction and config checks (before any job) ----------------------------------
    @classmethod
    def from_config(cls, cfg: dict) -> "Task":
        raise NotImplementedError

    @classmethod
    def config_dims(cls, where: str, cfg: dict) -> tuple[int, int]:
        """(x_dim, y_dim) of a schema-valid config section; raise ``ConfigError`` naming the key
        when the section's parts do not fit together. Needs no torch."""
        raise NotImplementedError

    # --- the protocol -----------------------------------------------------------------------
    x_dim: int
    y_dim: int

    def sample_batch(self, n: int, rng: np.random.Generator):
        raise NotImplementedError

    def evaluation_conditions(self) -> tuple[list[str], np.ndarray]:
        raise NotImplementedError

    def published_draws(self, method: str, variant: str, seed: int) -> int:
        """Extra posterior draws per evaluation condition that this run makes for a comparison
        with a published number at the publication's own sample size (sbibm's tasks:
        ``flowbench.sbibm_published``); 0: none."""
        return 0

    def training_set(self, n: int, rng: np.random.Generator):
        """The fixed set a method that trains itself (``ConditionalMethod.trains_itself``: sbi's
        estimators) trains on: n joint draws by default; a task with a simulation budget (sbibm's)
        gives its budget whatever n."""
        return self.sample_batch(n, rng)

    def reference_posterior(self, k: int, n: int, rng: np.random.Generator | None = None) -> np.ndarray:
        """n exact draws of p(x | y_k); without ``rng`` the fixed draw every method is scored
        against, with ``rng`` an independent one (noise floors)."""
        raise NotImplementedError

    # --- validation data (early stopping): never the test's conditions and draws -------------
    @classmethod
    def validation_requirement(cls, where: str, cfg: dict) -> str | None:
        """None when a config section of this kind has validation data for early stopping; else
        what to set (the error names it)."""
        return f"task kind {cls.kind!r} has no validation data"

    def validation_conditions(self) -> tuple[list[str], np.ndarray]:
        """(ids, conditions) of the validation distance: observations the test never uses (or, on
        a label task, the labels, with reference draws of their own)."""
        raise NotImplementedError(f"task {self.label()} has no validation data")

    def validation_reference(self, k: int, n: int) -> np.ndarray:
        """n draws of the reference posterior at validation condition k, independent of every
        draw the test scores against."""
        raise NotImplementedError(f"task {self.label()} has no validation data")

    def perfect_sample(self, k: int, n: int, rng: np.random.Generator) -> np.ndarray:
        """n draws of p(x | y_k) as a perfect sampler gives them: independent draws of the
        posterior. The noise floor scores this against an independent reference draw, so the
        floor is what a perfect sampler scores. By default the reference's own draw, for kinds
        whose reference is itself such a draw; a kind whose reference is stratified (the
        mixture, exact mode proportions) overrides it."""
        return self.reference_posterior(k, n, rng)

    # the default is checked too (the subclasses' own definitions are wrapped by __init_subclass__)
    perfect_sample = _finite_draws(perfect_sample, "perfect_sample")

    def posterior_extra_metrics(self, k: int, samples: np.ndarray, reference: np.ndarray) -> dict[str, float]:
        """Task-specific per-condition numbers beside the distances (the mixture: mode weights
        and W2 within modes); none by default."""
        return {}

    def attach_reference(self, path) -> None:
        """Use the reference file at ``path`` (tasks with ``reference_file`` only)."""
        raise TypeError(f"task kind {self.kind!r} has an exact reference and reads no reference file")

    def build_reference(self, log=None) -> dict:
        """The arrays of the task's reference file (tasks with ``reference_file`` only)."""
        raise TypeError(f"task kind {self.kind!r} has an exact reference and builds no reference file")

    def x_support(self):
        """None, or ``(low [x_dim], high [x_dim])``: the box, in the model's (standardised) units,
        outside which the prior of x has no mass (a bounded prior). sbi's estimators reject their
        draws outside it, as sbi's posteriors do by default (``methods.base.SbiTrainedMethod``)."""
        return None

    def calibration_set(self):
        """None, or ``(x_true [M, x_dim], y [M, y_dim], n_samples)``: observations with known true
        x at which the training job samples the model for the calibration rows."""

    def test_set(self):
        raise NotImplementedError

    def forward_metrics(self, y_hat: np.ndarray, y: np.ndarray) -> dict[str, float]:
        raise NotImplementedError

    def describe(self) -> str:
        return f"Kind `{self.kind}`."

    #: what its early stopping reads, for the validation-curve figure's axis
    validation_label = "validation W2"
    #: config keys of the task that its noise floor does not read (``identity.floor_digest``):
    #: tasks equal but for these share one floor computation (``identity.floor_source``)
    floor_ignores: tuple[str, ...] = ()

    @classmethod
    def figure_names(cls, cfg: dict | None = None) -> tuple[str, ...]:
        """The kind's own figures, then the common ones; with the task's config section ``cfg``,
        ``validation_curves`` too when its runs stop early (``train.early_stopping``)."""
        stops = bool(((cfg or {}).get("train") or {}).get("early_stopping"))
        return tuple(cls.own_figures) + tuple(cls.common_figures) + (("validation_curves",) if stops else ())

    #: the draws per condition of the first seed's samples that the kind's figures show (kept in
    #: each run's figure data, flowbench.figure_data; 0: its figures show no samples)
    figure_points: int = 0

    def figure_arrays(self, predictions: dict) -> dict:
        """The kind's own arrays of a first-seed run's figure data, from its ``predictions.npz``
        (flowbench.figure_data); none by default."""
        return {}

    #: caption of each own figure (flowbench.captions reads them)
    figure_captions: dict[str, str] = {}

    def make_figure(self, name: str, config: dict, task_name: str, task_dir: Path, out: Path) -> Path:
        """Draw own figure ``name`` to ``out`` from the task's results folder ``task_dir`` (the
        common figures are drawn by flowbench.plots)."""
        raise KeyError(f"task kind {self.kind!r} has no figure {name!r}; it has {self.own_figures}")

    def record(self) -> dict:
        """What the report needs to know of the task, written beside its metrics (task.json)."""
        return {"kind": self.kind, "conditions": self.conditions, "x_dim": self.x_dim,
                "y_dim": self.y_dim, "description": self.describe(), "paper_claims": self.paper_claims,
                "practical": self.practical,
                "figures": list(self.figure_names()), "forward_metrics": list(self.forward_metric_names),
                "summary_metrics": list(self.summary_metrics)}
