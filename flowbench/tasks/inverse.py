"""Inverse problems with a deterministic simulator, after Kruse, Ardizzone, Rother & Köthe (2021),
"Benchmarking Invertible Architectures on Inverse Problems": what ``arm`` and ``ballistics``
share.

A task of this kind has a prior p(x), a deterministic forward model y = f(x) and no closed-form
posterior. Its pieces:

- **Observations.** ``n_obs`` observations y*_k = f(x*_k), x*_k drawn once from the prior with a
  fixed seed (ids "0".."K-1"), plus any fixed observations of the task (the arm's y* = (1.5, 0),
  id "ystar"). Conditions are continuous, as in ``gaussian_linear``.
- **Reference posterior by rejection ABC** (Kruse et al. 2021, Sec. 4: the 4,000 nearest of 10^8
  prior draws). A prior pool of ``reference.pool`` draws is streamed in chunks of
  ``reference.chunk`` (bounded memory); for each observation the ``reference.keep`` draws with the
  smallest ||f(x) - y*|| are kept, ties broken by the draw's index in the pool. The pool is a
  sequence of blocks of ``BLOCK`` draws, block b drawn from its own generator
  ``default_rng([reference.seed, b])``, so the kept set does not depend on the chunk size
  (``chunk`` is rounded down to whole blocks, at least one). The kept draws are stored in a fixed
  random order, with their distance, the acceptance radius (the largest kept distance) and the
  reference's own re-simulation error (the mean kept distance); the same reference is built from
  the first tenth of the pool (the "10x smaller pool" check), and W2 between the two references
  is set against W2 between two disjoint halves of the full one (the floor at that size). The
  file is a workflow output, ``results/<name>/<task>/reference.npz`` (rule ``reference_task``).
- ``reference_posterior(k, n)`` is the first n kept draws; ``reference_posterior(k, n, rng)``
  walks through one random permutation of the kept draws per generator, so successive calls with
  one generator (the noise floor's pair) are disjoint subsets: ``keep`` must be at least twice
  every sample size the task is scored at (checked in ``config_dims``).
- **Metrics.** Every posterior metric of ``flowbench.metrics`` against the reference, including
  ``mmd_kruse``; per observation the re-simulation error ``resim_error`` = mean ||f(x_hat) - y*||
  over the model's samples (in the task's physical units of y).
- **Calibration** (no reference needed): ``calibration.n_obs`` observations from the prior
  predictive with known true x (a seed of their own), ``calibration.n_samples`` posterior draws
  each, sampled by the training job beside the posterior samples; evaluation turns them into the
  expected coverage of central credible intervals (``flowbench.metrics.coverage``).
"""
from __future__ import annotations

from dataclasses import dataclass

import time
import weakref
from collections import OrderedDict
from functools import cached_property
from pathlib import Path

import numpy as np

from ..params import resolved
from ..records import read_npz
from .base import TASK_PARAMS, VALIDATION_SEED, NonFiniteReference, Task
from .calibration import CalibratedTask
from .simulator_params import SIMULATION_PARAMS, simulation_params

OBSERVATION_SEED = 20210707   # the K evaluation observations (the same for every method and seed)
CALIBRATION_SEED = 20210708   # the calibration observations and their true x
BLOCK = 10_000                # prior draws per random block of the reference pool


class StaleReference(RuntimeError):
    """A reference file built for other observations or pool settings than the task's."""


def _config_error(msg: str):
    from ..errors import ConfigError
    return ConfigError(msg)


class _Nearest:
    """The ``keep`` draws nearest to one observation, kept while the pool streams past: distances,
    pool indices and the draws, ordered by (distance, index) once ``finish`` is called."""

    def __init__(self, keep: int, x_dim: int):
        self.keep = keep
        self.d = np.empty(0)
        self.idx = np.empty(0, dtype=np.int64)
        self.x = np.empty((0, x_dim))

    @property
    def radius(self) -> float:
        return float(self.d.max()) if len(self.d) >= self.keep else np.inf

    def offer(self, d: np.ndarray, idx: np.ndarray, x: np.ndarray) -> None:
        cand = np.flatnonzero(d <= self.radius)
        if len(cand) > self.keep:   # cut a large batch (the first chunk) before sorting it
            thr = np.partition(d[cand], self.keep - 1)[self.keep - 1]
            cand = cand[d[cand] <= thr]
        if not len(cand):
            return
        d = np.concatenate([self.d, d[cand]])
        idx = np.concatenate([self.idx, idx[cand]])
        x = np.concatenate([self.x, x[cand]])
        order = np.lexsort((idx, d))[: self.keep]
        self.d, self.idx, self.x = d[order], idx[order], x[order]


@dataclass
class SimulatorTask(CalibratedTask, Task):
    """Base of the deterministic-simulator inverse problems (subclasses: ``arm``, ``ballistics``).

    A subclass gives ``x_dim``, ``y_dim``, ``prior_sample(n, rng)`` (float64 draws of x in the
    task's units), ``forward(x)`` (y = f(x) in the task's units, float64, defined for any x a
    model may sample), ``y_scale`` (physical units of y per task unit: distances and the
    re-simulation error are reported physically) and optionally ``extra_conditions()``.
    The dataclass fields below are every subclass's; ``config_dims`` is (x_dim, y_dim).
    """
    PARAMS = simulation_params()
    n_obs: int = SIMULATION_PARAMS["n_obs"].default
    n_val_obs: int = SIMULATION_PARAMS["n_val_obs"].default
    n_test: int = TASK_PARAMS["n_test"].default
    n_eval: int = TASK_PARAMS["n_eval"].default
    pool: int = SIMULATION_PARAMS["reference"].fields["pool"].default
    keep: int = SIMULATION_PARAMS["reference"].fields["keep"].default
    chunk: int = SIMULATION_PARAMS["reference"].fields["chunk"].default
    reference_seed: int = SIMULATION_PARAMS["reference"].fields["seed"].default
    calibration_n_obs: int = SIMULATION_PARAMS["calibration"].fields["n_obs"].default
    calibration_n_samples: int = SIMULATION_PARAMS["calibration"].fields["n_samples"].default
    conditions = "continuous"
    reference_file = True
    practical = True      # a practical inverse problem of Kruse et al. (2021): the suite's claim C9
    forward_metric_names = ("y_rmse",)
    summary_metrics = ("resim_error", "mmd_kruse", "calibration_error", "tarp_error", "hpd_error")
    y_scale = 1.0
    # --- config ---------------------------------------------------------------------------
    @classmethod
    def _common_fields(cls, cfg: dict) -> dict:
        cfg = resolved(cls.PARAMS, cfg)
        ref, cal = cfg["reference"], cfg["calibration"]
        return {"n_obs": int(cfg["n_obs"]), "n_val_obs": int(cfg["n_val_obs"]), "n_test": int(cfg["n_test"]),
                "n_eval": int(cfg["n_eval"]), "pool": int(ref["pool"]), "keep": int(ref["keep"]),
                "chunk": int(ref["chunk"]), "reference_seed": int(ref["seed"]),
                "calibration_n_obs": int(cal["n_obs"]),
                "calibration_n_samples": int(cal["n_samples"])}

    @classmethod
    def config_dims(cls, where: str, cfg: dict) -> tuple[int, int]:
        cls.check_config(where, cfg)
        return cls.x_dim, cls.y_dim

    @classmethod
    def check_config(cls, where: str, cfg: dict) -> None:
        """The reference's sizes against the sizes the task is scored at (ConfigError naming
        the keys)."""
        f = cls._common_fields(cfg)
        keep, pool = f["keep"], f["pool"]
        sizes = {f"{where}.n_eval": f["n_eval"]}
        tr = resolved(cls.PARAMS, cfg)["train"]
        if tr["probe_every"]:
            sizes[f"{where}.train.probe_n"] = int(tr["probe_n"])
        for key, n in sizes.items():
            if keep < 2 * n:
                raise _config_error(
                    f"config key '{where}.reference.keep': {keep} kept draws per observation cannot "
                    f"give the noise floor two disjoint reference samples of '{key}' = {n}; need "
                    f"'{where}.reference.keep' >= {2 * n} (or a smaller '{key}')")
        if pool < 10 * keep:
            raise _config_error(
                f"config key '{where}.reference.pool': the 10x-smaller-pool check keeps "
                f"'{where}.reference.keep' = {keep} draws of the first tenth of the pool; need pool "
                f">= {10 * keep}, got {pool}")

    @classmethod
    def validation_requirement(cls, where: str, cfg: dict) -> str | None:
        if cls._common_fields(cfg)["n_val_obs"] < 1:
            return (f"task kind {cls.kind!r} validates on observations of its own with rejection-ABC "
                    f"references: set '{where}.n_val_obs' >= 1")
        n = int(resolved(cls.PARAMS, cfg)["train"]["early_stopping"].get("n", 500))
        if cls._common_fields(cfg)["keep"] < n:
            return f"'{where}.reference.keep' must be at least the validation draws '{where}.train.early_stopping.n' = {n}"
        return None

    def __post_init__(self):
        self._reference_path: Path | None = None
        self._ref: dict | None = None
        self._splits: OrderedDict = OrderedDict()

    # --- subclass hooks ---------------------------------------------------------------------
    def prior_sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def extra_conditions(self) -> list[tuple[str, np.ndarray]]:
        """Fixed observations beside the K drawn ones: (id, y in task units)."""
        return []

    # --- sampling ---------------------------------------------------------------------------
    def sample(self, n: int, rng: np.random.Generator):
        """n joint draws: x [n, x_dim] and y = f(x) [n, y_dim], float32."""
        x = self.prior_sample(n, rng)
        return x.astype(np.float32), self.forward(x).astype(np.float32)

    def sample_batch(self, n: int, rng: np.random.Generator):
        import torch
        x, y = self.sample(n, rng)
        return torch.from_numpy(x), torch.from_numpy(y)

    @cached_property
    def _observations(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """ids, y [K, y_dim] (float64) and the true x [K, x_dim] (NaN for a fixed observation)."""
        x = self.prior_sample(self.n_obs, np.random.default_rng(OBSERVATION_SEED))
        ids = [str(k) for k in range(self.n_obs)]
        ys = [self.forward(x)]
        xs = [x]
        for cid, y in self.extra_conditions():
            ids.append(cid)
            ys.append(np.asarray(y, dtype=np.float64).reshape(1, self.y_dim))
            xs.append(np.full((1, self.x_dim), np.nan))
        # rounded to float32, the precision the methods are conditioned with: the reference, the
        # re-simulation error and the models all see the same y*
        return ids, np.concatenate(ys).astype(np.float32).astype(np.float64), np.concatenate(xs)

    def evaluation_conditions(self) -> tuple[list[str], np.ndarray]:
        ids, ys, _ = self._observations
        return list(ids), ys.astype(np.float32)

    @cached_property
    def _validation_observations(self) -> np.ndarray:
        """The validation observations y [V, y_dim] (float32-rounded as the test's)."""
        x = self.prior_sample(self.n_val_obs, np.random.default_rng(VALIDATION_SEED))
        return self.forward(x).astype(np.float32).astype(np.float64).reshape(self.n_val_obs, self.y_dim)

    def validation_conditions(self) -> tuple[list[str], np.ndarray]:
        """``n_val_obs`` observations from the prior predictive with a seed of their own."""
        if self.n_val_obs < 1:
            raise NotImplementedError(f"task {self.label()} has no validation observations (n_val_obs: 0)")
        return [f"val{k}" for k in range(self.n_val_obs)], self._validation_observations.astype(np.float32)

    def validation_reference(self, k: int, n: int) -> np.ndarray:
        """The first n kept ABC draws at validation observation k (built with the test's)."""
        x = self.reference["validation_x"][k]
        if n > len(x):
            raise ValueError(f"{self.kind}: {n} validation reference draws asked for, the reference "
                             f"keeps {len(x)} per observation (reference.keep)")
        return x[:n].astype(np.float32)

    def test_set(self, seed: int = 12345):
        return self.sample(self.n_test, np.random.default_rng(seed))

    def forward_metrics(self, y_hat: np.ndarray, y: np.ndarray) -> dict[str, float]:
        """Root-mean-square error per coordinate of the predicted y, in physical units (the
        simulator is deterministic: the floor is 0)."""
        err = (np.asarray(y_hat, float) - np.asarray(y, float)) * self.y_scale
        return {"y_rmse": float(np.sqrt(np.mean(err ** 2)))}

    def calibration_set(self):
        """(x_true [M, x_dim], y [M, y_dim], draws per observation) for the calibration rows."""
        if self.calibration_n_obs <= 0:
            return None
        x, y = self.sample(self.calibration_n_obs, np.random.default_rng(CALIBRATION_SEED))
        return x, y, int(self.calibration_n_samples)

    def distance(self, y: np.ndarray, ystar: np.ndarray) -> np.ndarray:
        """||y - y*|| in physical units, one value per row of y."""
        d = np.asarray(y, dtype=np.float64) - np.asarray(ystar, dtype=np.float64)
        return np.sqrt((d * d).sum(axis=-1)) * self.y_scale

    def posterior_extra_metrics(self, k: int, samples: np.ndarray, reference: np.ndarray) -> dict[str, float]:
        """``resim_error``: mean ||f(x_hat) - y*_k|| over the samples (Kruse et al. 2021, Sec. 4)."""
        _, ys, _ = self._observations
        return {"resim_error": float(self.distance(self.forward(np.asarray(samples, np.float64)), ys[k]).mean())}

    # --- the reference file -----------------------------------------------------------------
    def reference_identity(self) -> dict:
        """What the reference depends on, stored in the file and checked on load."""
        ids, ys, _ = self._observations
        out = {"kind": self.kind, "condition_ids": list(ids),
               "conditions": [round(float(v), 10) for v in ys.ravel()], "pool": self.pool,
               "keep": self.keep, "seed": self.reference_seed, "block": BLOCK}
        if self.n_val_obs:
            out["validation_conditions"] = [round(float(v), 10) for v in self._validation_observations.ravel()]
        return out

    def _pool(self, start: int, stop: int) -> np.ndarray:
        """Draws start..stop-1 of the prior pool (whole blocks generated, then sliced)."""
        b0, b1 = start // BLOCK, (stop - 1) // BLOCK
        x = np.concatenate([self.prior_sample(BLOCK, np.random.default_rng([self.reference_seed, b]))
                            for b in range(b0, b1 + 1)])
        return x[start - b0 * BLOCK: stop - b0 * BLOCK]

    def build_reference(self, log=None, quality: bool = True) -> dict[str, np.ndarray]:
        """Rejection ABC over the prior pool (module docstring); the arrays of reference.npz."""
        from .. import metrics as M
        log = log or (lambda m: None)
        ids, ys, _ = self._observations
        n_cond, keep, pool = len(ids), self.keep, self.pool
        small = pool // 10
        step = max(BLOCK, (self.chunk // BLOCK) * BLOCK)
        full = [_Nearest(keep, self.x_dim) for _ in ids]
        part = [_Nearest(keep, self.x_dim) for _ in ids]
        val_ys = self._validation_observations if self.n_val_obs else np.zeros((0, self.y_dim))
        val = [_Nearest(keep, self.x_dim) for _ in range(len(val_ys))]
        t0 = time.perf_counter()
        for start in range(0, pool, step):
            stop = min(start + step, pool)
            x = self._pool(start, stop)
            y = self.forward(x)
            idx = np.arange(start, stop)
            for k in range(n_cond):
                d = self.distance(y, ys[k])
                full[k].offer(d, idx, x)
                if start < small:
                    m = min(stop, small) - start
                    part[k].offer(d[:m], idx[:m], x[:m])
            for k, yv in enumerate(val_ys):
                val[k].offer(self.distance(y, yv), idx, x)
            if (start // step) % 10 == 9:
                log(f"[{self.kind}] reference: {stop:,} of {pool:,} prior draws "
                    f"({time.perf_counter() - t0:.0f} s)")
        seconds = time.perf_counter() - t0
        out = {"condition_ids": np.asarray(ids), "conditions": ys, "pool": np.int64(pool),
               "keep": np.int64(keep), "seed": np.int64(self.reference_seed),
               "seconds": np.float64(seconds)}
        for name, sets in (("", full), ("_small", part)):
            xs, ds = [], []
            for k, s in enumerate(sets):
                order = np.random.default_rng([self.reference_seed, 1 + len(name), k]).permutation(len(s.d))
                xs.append(s.x[order])
                ds.append(s.d[order])
            out[f"x{name}"] = np.stack(xs)
            out[f"dist{name}"] = np.stack(ds)
            out[f"radius{name}"] = out[f"dist{name}"].max(axis=1)
            out[f"resim_error{name}"] = out[f"dist{name}"].mean(axis=1)
        if val:
            out["validation_conditions"] = val_ys
            out["validation_x"] = np.stack([s.x[np.random.default_rng([self.reference_seed, 9, k]).permutation(len(s.d))]
                                            for k, s in enumerate(val)])
        if quality:
            nq = min(keep // 2, 2000)
            out["n_quality"] = np.int64(nq)
            out["w2_pools"] = np.array([M.w2(out["x"][k][:nq], out["x_small"][k][:nq]) for k in range(n_cond)])
            out["w2_split"] = np.array([M.w2(out["x"][k][:nq], out["x"][k][nq:2 * nq]) for k in range(n_cond)])
        import json
        out["identity"] = np.asarray(json.dumps(self.reference_identity(), sort_keys=True))
        log(f"[{self.kind}] reference: kept {keep} of {pool:,} draws per observation in {seconds:.1f} s; "
            f"radius {out['radius'].min():.4g}..{out['radius'].max():.4g}")
        return out

    def reference_source(self) -> str:
        return f"the reference file {self._reference_path}"

    def attach_reference(self, path) -> None:
        """Use the reference file at ``path`` (read when first needed)."""
        path = Path(path)
        if path != self._reference_path:
            self._reference_path, self._ref = path, None

    @property
    def reference(self) -> dict:
        if self._ref is None:
            import json
            p = self._reference_path
            if p is None:
                raise StaleReference(f"task kind {self.kind!r} scores against a simulation reference, "
                                     f"but none is attached (make_task(cfg, reference=path))")
            if not p.exists():
                raise FileNotFoundError(f"{p}: the {self.kind} task's reference posterior is missing; "
                                        f"build it with `snakemake ... {p}` (rule reference_task)")
            ref = read_npz(p)   # its record, format and finite arrays checked
            if ref["x"].shape[2] != self.x_dim:
                from ..records import REBUILD_DELETE, DamagedFile
                raise DamagedFile(p, f"as the {self.kind} task's reference, 'x' has shape {ref['x'].shape}; "
                                     f"the task's x has dimension {self.x_dim}",
                                  REBUILD_DELETE)
            got = json.loads(str(ref["identity"]))
            want = json.loads(json.dumps(self.reference_identity(), sort_keys=True))
            if got != want:
                diff = sorted(k for k in set(got) | set(want) if got.get(k) != want.get(k))
                raise StaleReference(f"{p} was built for other task settings ({', '.join(diff)} "
                                     f"differ); delete it and rerun")
            bad = [self.condition_id(k) for k in range(len(ref["x"])) if not np.isfinite(ref["x"][k]).all()]
            if bad:
                raise NonFiniteReference(f"{p}: the reference file of task {self.label()} holds NaN or inf "
                                         f"draws at condition(s) {bad}; it is the task's reference (rejection "
                                         f"ABC), not a model's samples: delete it and rerun (rule reference_task)")
            self._ref = ref
        return self._ref

    def reference_posterior(self, k: int, n: int, rng: np.random.Generator | None = None) -> np.ndarray:
        """n of the kept ABC draws for observation k: the first n without ``rng``; with ``rng``
        the next n of one random permutation per generator (disjoint across calls)."""
        x = self.reference["x"][k]
        if n > len(x):
            raise ValueError(f"{self.kind}: {n} reference draws asked for, the reference keeps "
                             f"{len(x)} per observation (reference.keep)")
        if rng is None:
            return x[:n].astype(np.float32)
        entry = self._splits.get(id(rng))
        if entry is None or entry[0]() is not rng or entry[1] != k or entry[3] + n > len(x):
            entry = [_ref_to(rng), k, rng.permutation(len(x)), 0]
            self._splits[id(rng)] = entry
            while len(self._splits) > 16:
                self._splits.popitem(last=False)
        pick = entry[2][entry[3]: entry[3] + n]
        entry[3] += n
        return x[pick].astype(np.float32)

    def reference_quality(self) -> dict:
        """The reference's own numbers for task.json (Kruse et al.'s acceptance radius, the
        reference's re-simulation error, the 10x smaller pool against the split floor)."""
        r = self.reference
        ids = [str(c) for c in r["condition_ids"]]
        per = {c: {"radius": float(r["radius"][k]), "resim_error": float(r["resim_error"][k]),
                   "radius_small_pool": float(r["radius_small"][k]),
                   "resim_error_small_pool": float(r["resim_error_small"][k])}
               for k, c in enumerate(ids)}
        out = {"pool": int(r["pool"]), "keep": int(r["keep"]), "seed": int(r["seed"]),
               "build_seconds": float(r["seconds"]), "per_condition": per,
               "radius_mean": float(r["radius"].mean()), "radius_max": float(r["radius"].max()),
               "resim_error_mean": float(r["resim_error"].mean()),
               "radius_small_pool_mean": float(r["radius_small"].mean())}
        if "w2_pools" in r:
            for k, c in enumerate(ids):
                per[c]["w2_full_vs_small_pool"] = float(r["w2_pools"][k])
                per[c]["w2_split_floor"] = float(r["w2_split"][k])
            out.update(n_quality=int(r["n_quality"]), w2_full_vs_small_pool_mean=float(r["w2_pools"].mean()),
                       w2_split_floor_mean=float(r["w2_split"].mean()),
                       w2_small_pool_over_floor=float(r["w2_pools"].mean() / max(r["w2_split"].mean(), 1e-300)))
        return out

    def record(self) -> dict:
        rec = super().record()
        rec["reference_kind"] = "rejection ABC"
        if self._reference_path is not None and self._reference_path.exists():
            rec["reference"] = self.reference_quality()
        rec["calibration"] = {"n_obs": self.calibration_n_obs, "n_samples": self.calibration_n_samples}
        return rec

    # --- figures ----------------------------------------------------------------------------
    def _ensure_reference(self, task_dir) -> None:
        if self._reference_path is None:
            self.attach_reference(Path(task_dir) / "reference.npz")

    def _panel_runs(self, config, task_name, task_dir, k: int):
        """[(title, samples or None, why)] of the reference and the first seed of each run (its
        figure data's draws: flowbench.figure_data)."""
        from ..figure_data import read_figure_data
        self._ensure_reference(task_dir)
        panels = [("reference (rejection ABC)", self.reference_posterior(k, min(self.keep, 2000)), "")]
        for (m, v), seeds in sorted(self._runs(config, task_name).items()):
            fd = read_figure_data(Path(task_dir) / m / v / f"seed{seeds[0]}")
            if fd is None:
                panels.append((f"{m}/{v}", None, "not run"))
                continue
            s = fd["samples"][k]
            if not np.all(np.isfinite(s)):
                panels.append((f"{m}/{v}", None, "diverged"))
            else:
                panels.append((f"{m}/{v} (seed {seeds[0]})", s, ""))
        return panels


def _ref_to(rng):
    """A weak reference to the generator where numpy allows one, else a strong one (the memo is
    bounded, so a strong reference only delays freeing a few generators)."""
    try:
        return weakref.ref(rng)
    except TypeError:
        return lambda: rng
