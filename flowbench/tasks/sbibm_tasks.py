"""The tasks of sbibm (Lueckmann et al. 2021, "Benchmarking simulation-based inference",
arXiv:2101.04653) as flowbench tasks, with their priors, simulators and shipped reference
posterior samples (10 observations, 10,000 draws each).

Names: flowbench's x is what is inferred, sbibm's parameters theta; flowbench's y is the
condition, sbibm's data x.

- **A simulation budget, as sbibm measures it.** Every method trains on one fixed set of
  ``budget`` simulations (theta ~ prior, data ~ simulator), drawn once with ``simulation_seed``
  and shared by every method and seed; ``val_fraction`` of it is held out for validation, the rest
  is sampled with replacement for the training batches. sbibm draws new simulations for every
  run, so the seed spread here holds the training's randomness, not the data's.
- **Standardisation (the task's rule):** theta z-scored by the prior's mean and standard deviation
  (estimated from 100,000 prior draws: prior draws cost no simulation), the data by the mean and
  standard deviation of the training simulations (as sbi's ``z_score_x='independent'``). Every
  distance is in the standardised theta (C2ST is invariant to this per-coordinate affine map).
- **References:** sbibm's reference samples for observations 1..``n_obs``; the scored reference
  is the first n of a fixed permutation; the noise floor draws its two samples from the two
  disjoint halves (so n_eval <= 5,000).
- **Validation (early stopping):** no reference exists at other observations, so the validation
  distance is the energy score (Gneiting & Raftery 2007, a strictly proper scoring rule) of the
  model's samples at the held-out simulations' data against their true theta, averaged over up to
  ``val_pairs`` pairs with ``n // val_pairs`` draws each (lower is better; the true posterior
  minimises its expectation). It needs no reference, so tuning (whose floor and useless level are
  reference distances) does not run on these tasks.

Not available here: ``sir`` and ``lotka_volterra`` simulate with Julia; ``slcp_distractors``
fails to load its files under torch >= 2.6 (``weights_only``); ``bernoulli_glm_raw`` and
``two_moons`` et al. work.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..params import Param, resolved
from .base import POSTERIOR_METRICS, TASK_PARAMS, Task, metrics_param, register_task
from .calibration import CalibratedTask
from .simulator_params import SIMULATION_PARAMS

#: the sbibm tasks with reference samples that run here (see the module docstring for the others),
#: with their (parameter, data) dimensions: the config check needs them without importing sbibm
#: (seconds per Snakemake start); tests/test_sbibm_task.py checks them against sbibm's tasks
SBIBM_DIMS = {"two_moons": (2, 2), "gaussian_linear": (10, 10), "gaussian_linear_uniform": (10, 10),
              "gaussian_mixture": (2, 2), "slcp": (5, 8), "bernoulli_glm": (10, 10),
              "bernoulli_glm_raw": (10, 100)}
SBIBM_TASKS = tuple(SBIBM_DIMS)
REFERENCE_DRAWS = 10_000
PRIOR_MOMENT_DRAWS = 100_000
_PERMUTATION_SEED = 20210108


def _sbibm_task(name: str):
    try:
        import sbibm
    except ImportError as err:   # the second install step (requirements/README.md)
        raise ImportError("task kind 'sbibm' needs sbibm: pip install --require-hashes -r "
                          "requirements/sbi-lock.txt && pip install --no-deps --require-hashes -r "
                          "requirements/sbibm.txt (requirements/README.md)") from err
    return sbibm.get_task(name)


def _seed_torch(seed: int):
    import torch
    torch.manual_seed(int(seed))


@register_task
@dataclass
class SbibmTask(CalibratedTask, Task):
    kind = "sbibm"
    conditions = "continuous"
    forward_metric_names = ("y_rmse",)
    #: sbibm's own C2ST beside W2 in the summaries (where the task's metrics compute it), and the
    #: calibration at simulations with known theta: marginal, joint (TARP) and, for methods with
    #: an exact density, of highest-density regions
    summary_metrics = ("c2st_sbibm", "calibration_error", "tarp_error", "hpd_error")
    own_figures = ("calibration_curves",)
    validation_label = "validation energy score (held-out simulations)"
    # the floor compares halves of sbibm's reference draws, standardised by the prior's moments:
    # the simulation budget, its validation split and the calibration simulations play no part
    floor_ignores = ("budget", "val_fraction", "val_pairs", "calibration", "published")
    figure_captions = {"calibration_curves": CalibratedTask.calibration_caption}
    description = ("an sbibm task (Lueckmann et al. 2021): its prior, simulator and reference "
                   "posterior samples at its observations; methods train on a fixed simulation budget")
    PARAMS = {
        "kind": TASK_PARAMS["kind"],
        "name": Param("string", "the sbibm task", required=True, enum=list(SBIBM_TASKS)),
        "n_obs": Param("integer", "sbibm observations scored (1..n_obs)", minimum=1, maximum=10, default=10),
        "budget": Param("integer", "simulations every method trains (and validates) on", minimum=20,
                        maximum=10_000_000, required=True, maximum_reason="a sanity bound on the "
                        "simulations held in memory"),
        "val_fraction": Param("number", "share of the budget held out for validation", exclusive_minimum=0,
                              exclusive_maximum=1, default=0.1),
        "val_pairs": Param("integer", "held-out simulations the validation energy score averages over",
                           minimum=1, default=100),
        "simulation_seed": Param("integer", "seed of the simulations", minimum=0, default=20210108),
        # theta from the prior, its data simulated (a seed of their own), as the simulator tasks do
        "calibration": SIMULATION_PARAMS["calibration"],
        **{k: v for k, v in TASK_PARAMS.items() if k not in ("kind", "metrics", "n_eval")},
        "n_eval": Param("integer", "posterior draws per observation (the noise floor draws two disjoint "
                        "halves of the 10,000 reference draws)", minimum=10, maximum=REFERENCE_DRAWS // 2,
                        default=2000),
        "published": Param(
            "object", "the runs compared with sbibm's published NPE (flowbench.sbibm_published) also "
            "draw n samples per observation, scored by sbibm's C2ST at that size (sbibm's own: 10,000 "
            "per side; C2ST reads lower at fewer draws when the sets differ)", default={}, fields={
                "n": Param("integer", "draws per side; 0: none (the comparison reads c2st_sbibm at n_eval)",
                           minimum=0, maximum=REFERENCE_DRAWS, default=0),
                "method": Param("string", "the method compared", default="npe"),
                "variant": Param("string", "its variant compared", default="sbibm"),
                "seeds": Param("array", "its seeds that draw them", items={"type": "integer", "minimum": 0},
                               default=[0])}),
        # c2st_sbibm: sbibm's own C2ST (its MLP recipe; seconds per observation at n_eval 2,000,
        # and the noise floor computes it 2 x repeats times per observation)
        "metrics": metrics_param((*POSTERIOR_METRICS, "c2st_sbibm")),
    }

    name_: str = "two_moons"
    n_obs: int = 10
    budget: int = 1000
    val_fraction: float = 0.1
    val_pairs: int = 100
    simulation_seed: int = 20210108
    n_test: int = TASK_PARAMS["n_test"].default
    n_eval: int = 2000
    calibration_n_obs: int = SIMULATION_PARAMS["calibration"].fields["n_obs"].default
    calibration_n_samples: int = SIMULATION_PARAMS["calibration"].fields["n_samples"].default
    published: tuple = (0, "npe", "sbibm", ())    # (n, method, variant, seeds)

    @classmethod
    def from_config(cls, cfg: dict) -> "SbibmTask":
        cfg = resolved(cls.PARAMS, cfg)
        return cls(name_=str(cfg["name"]), n_obs=int(cfg["n_obs"]), budget=int(cfg["budget"]),
                   val_fraction=float(cfg["val_fraction"]), val_pairs=int(cfg["val_pairs"]),
                   simulation_seed=int(cfg["simulation_seed"]), n_test=int(cfg["n_test"]),
                   n_eval=int(cfg["n_eval"]), calibration_n_obs=int(cfg["calibration"]["n_obs"]),
                   calibration_n_samples=int(cfg["calibration"]["n_samples"]),
                   published=(int(cfg["published"]["n"]), str(cfg["published"]["method"]),
                              str(cfg["published"]["variant"]), tuple(int(k) for k in cfg["published"]["seeds"])))

    @classmethod
    def config_dims(cls, where: str, cfg: dict) -> tuple[int, int]:
        return SBIBM_DIMS[resolved(cls.PARAMS, cfg)["name"]]

    @classmethod
    def validation_requirement(cls, where: str, cfg: dict) -> str | None:
        return None   # held-out simulations (the energy score)

    #: no reference at validation conditions: the validation distance is a score (tuning refuses it)
    validation_references = False

    # --- sbibm's objects, the simulations and the standardisation ----------------------------
    @cached_property
    def _task(self):
        return _sbibm_task(self.name_)

    @property
    def x_dim(self) -> int:
        return SBIBM_DIMS[self.name_][0]

    @property
    def y_dim(self) -> int:
        return SBIBM_DIMS[self.name_][1]

    def _simulate(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """n (theta, data) pairs in sbibm's units, float64, from torch's generator at ``seed``."""
        _seed_torch(seed)
        theta = self._task.get_prior()(num_samples=n)
        data = self._task.get_simulator()(theta)
        return theta.double().numpy(), data.double().numpy()

    @cached_property
    def _theta_moments(self) -> tuple[np.ndarray, np.ndarray]:
        _seed_torch(self.simulation_seed + 1)
        theta = self._task.get_prior()(num_samples=PRIOR_MOMENT_DRAWS).double().numpy()
        return theta.mean(0), theta.std(0)

    @cached_property
    def _simulations(self) -> dict:
        """The budget's simulations, standardised, split into training and validation."""
        theta, data = self._simulate(self.budget, self.simulation_seed)
        n_val = max(1, int(round(self.val_fraction * self.budget)))
        tr = slice(n_val, None)
        mu, sd = data[tr].mean(0), data[tr].std(0)
        sd = np.where(sd > 0, sd, 1.0)
        return {"data_mu": mu, "data_sd": sd,
                "x": self.std_theta(theta).astype(np.float32), "y": ((data - mu) / sd).astype(np.float32),
                "n_val": n_val}

    def std_theta(self, theta) -> np.ndarray:
        mu, sd = self._theta_moments
        return (np.asarray(theta, np.float64) - mu) / sd

    def x_support(self):
        """The box of a uniform prior (sbibm's ``prior_params`` low and high: two_moons, slcp,
        gaussian_mixture, gaussian_linear_uniform), standardised as theta is; None for the others
        (bernoulli_glm's and gaussian_linear's Gaussian priors)."""
        pp = getattr(self._task, "prior_params", None) or {}
        if "low" not in pp or "high" not in pp:
            return None
        low, high = (np.broadcast_to(np.asarray(pp[k], np.float64), (self.x_dim,)) for k in ("low", "high"))
        return self.std_theta(low), self.std_theta(high)

    def std_data(self, data) -> np.ndarray:
        s = self._simulations
        return (np.asarray(data, np.float64) - s["data_mu"]) / s["data_sd"]

    # --- the protocol -------------------------------------------------------------------------
    def sample_batch(self, n: int, rng: np.random.Generator):
        """n training pairs drawn with replacement from the budget's training simulations."""
        import torch
        s = self._simulations
        idx = s["n_val"] + rng.integers(0, self.budget - s["n_val"], n)
        return torch.from_numpy(s["x"][idx]), torch.from_numpy(s["y"][idx])

    def training_set(self, n: int, rng: np.random.Generator):
        """The whole budget (training and held-out simulations; a method that trains itself makes
        its own validation split), whatever n."""
        import torch
        s = self._simulations
        return torch.from_numpy(s["x"]), torch.from_numpy(s["y"])

    @cached_property
    def _observations(self) -> np.ndarray:
        return np.concatenate([self._task.get_observation(num_observation=k).double().numpy()
                               for k in range(1, self.n_obs + 1)])

    def evaluation_conditions(self) -> tuple[list[str], np.ndarray]:
        return [f"obs{k}" for k in range(1, self.n_obs + 1)], self.std_data(self._observations).astype(np.float32)

    @cached_property
    def _references(self) -> list[np.ndarray]:
        out = []
        for k in range(1, self.n_obs + 1):
            ref = self.std_theta(self._task.get_reference_posterior_samples(num_observation=k).double().numpy())
            out.append(ref[np.random.default_rng([_PERMUTATION_SEED, k]).permutation(len(ref))])
        return out

    def reference_source(self) -> str:
        return f"sbibm's reference samples of task {self.name_!r}"

    def published_draws(self, method: str, variant: str, seed: int) -> int:
        """``published.n`` for the compared runs (``published``: method, variant, seeds), else 0."""
        n, m, v, seeds = self.published
        return n if (method, variant) == (m, v) and int(seed) in seeds else 0

    def reference_posterior(self, k: int, n: int, rng: np.random.Generator | None = None) -> np.ndarray:
        """The first n of the observation's reference draws (a fixed permutation); with ``rng`` a
        random n of the second half (the floor's reference side)."""
        ref = self._references[k]
        if rng is None:
            if n > len(ref):
                raise ValueError(f"sbibm task {self.name_!r}: {n} reference draws asked for, it ships {len(ref)}")
            return ref[:n].astype(np.float32)
        half = ref[len(ref) // 2:]
        return self._subset(half, n, rng)

    def perfect_sample(self, k: int, n: int, rng: np.random.Generator) -> np.ndarray:
        """A random n of the first half of the reference draws: disjoint from the floor's reference
        side, so the floor is what an exact sampler scores."""
        return self._subset(self._references[k][: len(self._references[k]) // 2], n, rng)

    def _subset(self, draws, n, rng):
        if n > len(draws):
            raise ValueError(f"sbibm task {self.name_!r}: the noise floor needs {n} draws from each half of "
                             f"the {REFERENCE_DRAWS} reference draws; n_eval and probe_n must be <= "
                             f"{len(draws)}")
        return draws[rng.choice(len(draws), n, replace=False)].astype(np.float32)

    def validation_conditions(self) -> tuple[list[str], np.ndarray]:
        s = self._simulations
        m = min(self.val_pairs, s["n_val"])
        return [f"val{i}" for i in range(m)], s["y"][:m].copy()

    def validation_distance(self, n: int):
        """The early-stopping distance: the mean energy score (Gneiting & Raftery 2007, Sec. 4.3)
        ES = E|S - theta| - 1/2 E|S - S'| of ``n // pairs`` model draws S at each held-out
        simulation's data against its true theta, over up to ``val_pairs`` pairs; inf for
        non-finite draws."""
        import torch
        s = self._simulations
        ids, conds = self.validation_conditions()
        truth = s["x"][: len(ids)].astype(np.float64)
        m = max(2, n // len(ids))
        conds_t = torch.from_numpy(conds)

        def score(model) -> float:
            with torch.no_grad():
                draws = model.sample_posterior(conds_t.to(next(model.parameters()).device), m).cpu().numpy()
            draws = draws.astype(np.float64)
            if not np.all(np.isfinite(draws)):
                return float("inf")
            to_truth = np.linalg.norm(draws - truth[:, None, :], axis=-1).mean(1)
            pair = np.linalg.norm(draws[:, :, None, :] - draws[:, None, :, :], axis=-1).sum((1, 2)) / (m * (m - 1))
            return float(np.mean(to_truth - 0.5 * pair))

        return score

    @cached_property
    def _test(self) -> tuple[np.ndarray, np.ndarray]:
        theta, data = self._simulate(self.n_test, self.simulation_seed + 2)
        return self.std_theta(theta).astype(np.float32), self.std_data(data).astype(np.float32)

    def calibration_set(self):
        """``calibration.n_obs`` simulations of their own seed (theta from the prior, standardised)
        with the draws per observation: the calibration rows (coverage, TARP, HPD)."""
        if self.calibration_n_obs <= 0:
            return None
        theta, data = self._simulate(self.calibration_n_obs, self.simulation_seed + 3)
        return (self.std_theta(theta).astype(np.float32), self.std_data(data).astype(np.float32),
                int(self.calibration_n_samples))

    def test_set(self):
        """n_test simulations of their own seed (never trained on), standardised."""
        return self._test

    def forward_metrics(self, y_hat: np.ndarray, y: np.ndarray) -> dict[str, float]:
        """Root-mean-square error per coordinate of the predicted (standardised) data; the
        simulator's noise is its floor."""
        return {"y_rmse": float(np.sqrt(np.mean((np.asarray(y_hat, float) - np.asarray(y, float)) ** 2)))}

    def record(self) -> dict:
        """The task record, with the sbibm task and budget the report's sbibm section groups by."""
        return {**super().record(), "sbibm": {"name": self.name_, "budget": int(self.budget),
                                              "n_obs": int(self.n_obs), "n_eval": int(self.n_eval)}}

    def describe(self) -> str:
        return (f"Kind `sbibm`, task `{self.name_}` (Lueckmann et al. 2021): {self.x_dim}-d parameters, "
                f"{self.y_dim}-d data; {self.budget:,} simulations ({self.val_fraction:.0%} held out for the "
                f"validation energy score); sbibm's reference samples at observations 1-{self.n_obs}; "
                f"parameters z-scored by the prior, data by the training simulations")
