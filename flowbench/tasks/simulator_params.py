"""The config keys of the simulation tasks (Kruse et al. 2021, arXiv:2101.10763: arm,
ballistics): the observations, the rejection-ABC reference and the calibration set."""
from __future__ import annotations

from ..params import Param
from .base import POSTERIOR_METRICS, TASK_PARAMS, metrics_param

#: the keys of the simulation tasks (arm, ballistics) beside ``TASK_PARAMS``
SIMULATION_PARAMS = {
    "n_obs": Param("integer", "evaluation observations from the prior predictive", minimum=1,
                   maximum=1000, default=10),
    "n_val_obs": Param("integer", "validation observations of early stopping (their own draw from "
                       "the prior predictive, never the test's), with references built beside the "
                       "test's in one pass over the pool (0: none)", minimum=0, maximum=1000,
                       default=0, filled=False),
    "metrics": metrics_param((*POSTERIOR_METRICS, "mmd_kruse")),
    "reference": Param(
        "object", "the reference posterior (rule reference_task, results/<name>/<task>/"
        "reference.npz): for each observation the `keep` prior draws of a pool of `pool` whose "
        "simulated y is nearest to it, streamed in chunks of `chunk` draws (rejection ABC; Kruse "
        "et al. 2021 keep 4,000 of 10^8); keep must be at least twice n_eval (the noise floor "
        "draws two disjoint subsets) and pool at least 10 keep (the 10x smaller pool check)",
        default={}, fields={
            "pool": Param("integer", "prior draws simulated", minimum=1000, maximum=10000000000,
                          default=100000000, maximum_reason="a sanity bound on the prior draws "
                          "the reference job simulates (10^8 takes minutes)"),
            "keep": Param("integer", "nearest draws kept per observation", minimum=20,
                          maximum=1000000, default=4000, maximum_reason="a sanity bound: the kept "
                          "draws of every observation are held in memory"),
            "chunk": Param("integer", "prior draws simulated at once (rounded down to whole "
                           "blocks of 10,000); the kept draws do not depend on it", minimum=10000,
                           maximum=10000000, default=1000000, maximum_reason="a chunk of 10^7 "
                           "draws already takes a few GiB of intermediate arrays"),
            "seed": Param("integer", "seed of the pool", minimum=0, default=20210709)}),
    "eps_split": Param(
        "object", "what eps costs (flowbench.eps_split): for every variant of ours run on the task, "
        "its samples split at the smoothed target its training converges to at its eps (the bias: "
        "target vs reference; the training error: samples vs target), at the first `conditions` "
        "evaluation observations (the fixed extra ones, such as the arm's y*, first); absent: not "
        "computed", filled=False, fields={
            "conditions": Param("integer", "evaluation observations split", minimum=1, default=2),
            "n": Param("integer", "draws per distance (at most n_eval)", minimum=10, default=2000),
            "pool": Param("integer", "most prior draws streamed per target sample", minimum=10000,
                          maximum=1000000000, default=32000000, maximum_reason="a sanity bound on the "
                          "simulated draws of one target sample"),
            "fit_n": Param("integer", "prior-predictive draws the reparametrisation phi is fitted on",
                           minimum=100, default=20000),
            "seed": Param("integer", "seed of the targets' draws", minimum=0, default=20191106)}),
    "calibration": Param(
        "object", "expected coverage of central credible intervals: n_obs observations from the "
        "prior predictive with known true x, n_samples posterior draws each, sampled by the "
        "training job", default={}, fields={
            "n_obs": Param("integer", "0: no calibration rows", minimum=0, maximum=100000,
                           default=500),
            "n_samples": Param("integer", "posterior draws per observation", minimum=10,
                               maximum=100000, default=200)}),
}


def simulation_params(**own: Param) -> dict:
    """A simulation task kind's keys: kind, n_obs, its ``own`` keys, then the common ones."""
    common = {k: v for k, v in TASK_PARAMS.items() if k not in ("kind", "metrics")}
    return {"kind": TASK_PARAMS["kind"], "n_obs": SIMULATION_PARAMS["n_obs"],
            "n_val_obs": SIMULATION_PARAMS["n_val_obs"], **own,
            "n_test": common.pop("n_test"), "n_eval": common.pop("n_eval"),
            **{k: v for k, v in SIMULATION_PARAMS.items() if k not in ("n_obs", "n_val_obs")}, **common}
