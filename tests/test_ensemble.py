"""Seeds trained as one batched ensemble (flowbench.ensemble) give each seed's numbers of its
separate run (flowbench.training.train) within float tolerance."""
import numpy as np
import pytest
import torch

from flowbench.ensemble import train_ensemble
from flowbench.pipeline import build
from flowbench.training import train

SEEDS = [0, 1, 2]


def _members(cfg, method, variant, seeds=SEEDS):
    built = [build(cfg, "gmm", method, variant, s) for s in seeds]
    return built[0][0], [m for _, m, _ in built]


def _separate(cfg, method, variant, iterations, seeds=SEEDS):
    task, models = _members(cfg, method, variant, seeds)
    return models, [train(m, task, iterations, 64, s, log=lambda msg: None) for m, s in zip(models, seeds)]


def _params(m):
    return {n: p.detach().clone() for n, p in m.named_parameters()}


@pytest.mark.parametrize("method, variant, parts, tol", [
    # ours on the mixture (padding noise, 10-d flow)
    ("ours", "paper", ("loss", "nll_z", "nll_y", "logdet"), 1e-4),
    # the four-loss INN (padding, y noise, the ramped L_x, L_rec): the ensemble batches the
    # batchable MMD, the separate run the fused one, equal to float32 rounding (tests/test_baselines.py)
    ("inn", "full", ("loss", "L_y", "L_z", "L_x", "L_rec", "ramp"), 1e-4),
    # the cINN with its condition noise and a padded flow (both draws of its step)
    ("cinn", "noisy_padded", ("loss",), 1e-4),
    # flow matching (the path's source draws and times)
    ("cfm", "default", ("loss",), 1e-4),
    # the cVAE (the reparametrisation's draw; its KL warm-up weight a logged part)
    ("cvae", "default", ("loss", "rec", "kl", "kl_weight", "elbo"), 1e-4)])
def test_each_seed_of_the_ensemble_trains_as_its_separate_run(smoke_config, method, variant, parts, tol):
    """40 steps of batch 64 for seeds 0, 1, 2 on the mixture."""
    if variant == "noisy_padded":
        import copy
        smoke_config = copy.deepcopy(smoke_config)
        smoke_config["methods"]["cinn"]["variants"]["noisy_padded"] = {"dim": 4, "cond_noise": 0.05, "pad_noise": 0.05}
    ref_models, ref = _separate(smoke_config, method, variant, 40)
    task, models = _members(smoke_config, method, variant)
    got = train_ensemble(models, task, 40, 64, SEEDS, log=lambda msg: None)
    for a, b, ma, mb in zip(ref, got, ref_models, models):
        assert b.steps_done == a.steps_done == 40 and not b.diverged
        assert list(b.rows[-1]) == list(a.rows[-1])      # the same log columns
        for key in parts:
            np.testing.assert_allclose([r[key] for r in b.rows], [r[key] for r in a.rows], rtol=tol, atol=tol)
        pa, pb = _params(ma), _params(mb)
        assert pa.keys() == pb.keys()
        for n in pa:
            torch.testing.assert_close(pb[n], pa[n], rtol=tol, atol=10 * tol)
    # the seeds differ from each other far beyond that tolerance
    assert abs(ref[0].rows[-1]["loss"] - ref[1].rows[-1]["loss"]) > 1e-2


class _NaNAt:
    """The task, except that seed ``seed``'s batch at step ``step`` is NaN (its loss turns
    non-finite there; the seed is read from its generator: train's rng is default_rng(seed))."""

    def __init__(self, task, seed, step):
        self.task, self.seed, self.step, self.calls = task, seed, step, {}

    def sample_batch(self, n, rng):
        x, y = self.task.sample_batch(n, rng)
        i = self.calls[id(rng)] = self.calls.get(id(rng), -1) + 1
        if rng.bit_generator.seed_seq.entropy == self.seed and i == self.step:
            x = x * float("nan")
        return x, y


def test_a_diverged_seed_keeps_its_last_finite_parameters_and_the_others_go_on(smoke_config):
    task, ref_models = _members(smoke_config, "ours", "paper")
    ref = [train(m, _NaNAt(task, 1, 6), 20, 64, s, log=lambda msg: None) for m, s in zip(ref_models, SEEDS)]
    assert [r.diverged_step for r in ref] == [None, 6, None] and [r.steps_done for r in ref] == [20, 6, 20]
    _, models = _members(smoke_config, "ours", "paper")
    got = train_ensemble(models, _NaNAt(task, 1, 6), 20, 64, SEEDS, log=lambda msg: None)
    for a, b, ma, mb in zip(ref, got, ref_models, models):
        assert (b.diverged, b.diverged_step, b.steps_done, len(b.rows)) == (a.diverged, a.diverged_step,
                                                                             a.steps_done, len(a.rows))
        np.testing.assert_allclose(b.last_finite_loss, a.last_finite_loss, rtol=1e-4)
        pa, pb = _params(ma), _params(mb)
        for n in pa:
            torch.testing.assert_close(pb[n], pa[n], rtol=1e-4, atol=1e-5)


def test_refuses_mixed_members_and_methods_without_given_noise(smoke_config):
    task, ours = _members(smoke_config, "ours", "paper", [0, 1])
    with pytest.raises(ValueError, match="one method per seed"):
        train_ensemble(ours, task, 2, 8, [0])
    with pytest.raises(ValueError, match="seeds must differ"):
        train_ensemble(ours, task, 2, 8, [3, 3])
    _, cgan = _members(smoke_config, "cgan", "default", [0, 1])
    with pytest.raises(ValueError, match="cgan does not give its training step's noise"):
        train_ensemble(cgan, task, 2, 8, [0, 1])
    _, other = _members(smoke_config, "inn", "full", [1])
    with pytest.raises(ValueError, match="same method with the same params"):
        train_ensemble([ours[0], other[0]], task, 2, 8, [0, 1])


def test_probes_and_early_stopping_give_each_seed_its_separate_run(smoke_config):
    """Probes and validation draw from torch's generator between training steps: each seed's
    draws, its stopping step and its kept (best) parameters are those of its separate run."""
    from flowbench.pipeline import make_probe, make_validation

    def kwargs(task):
        return {"probe": make_probe(task, 64), "probe_every": 5, "validate": make_validation(task, 200),
                "validate_every": 5, "patience": 2, "min_improvement": 0.0, "log": lambda msg: None}

    task, ref_models = _members(smoke_config, "ours", "paper")
    ref = [train(m, task, 100, 64, s, **kwargs(task)) for m, s in zip(ref_models, SEEDS)]
    # the case is only a test if the seeds stop early, and not all at once
    assert all(r.stopped_early for r in ref) and len({r.steps_done for r in ref}) > 1
    _, models = _members(smoke_config, "ours", "paper")
    got = train_ensemble(models, task, 100, 64, SEEDS, **kwargs(task))
    for a, b, ma, mb in zip(ref, got, ref_models, models):
        assert (b.steps_done, b.stopped_early, b.best_step, len(b.rows)) == (a.steps_done, a.stopped_early,
                                                                            a.best_step, len(a.rows))
        for key in ("loss", "probe_w2", "val_w2"):
            got_k = [r.get(key, np.nan) for r in b.rows]
            np.testing.assert_allclose(got_k, [r.get(key, np.nan) for r in a.rows], rtol=1e-3, atol=1e-4)
        np.testing.assert_allclose(b.best_val, a.best_val, rtol=1e-3)
        pa, pb = _params(ma), _params(mb)
        for n in pa:
            torch.testing.assert_close(pb[n], pa[n], rtol=1e-4, atol=1e-5)
