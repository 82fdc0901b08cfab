"""C6 and C6b, speed: seconds per iteration from the workflow's runs or the performance benchmark,
diverged runs excluded, and time to a probe W2."""
import numpy as np
import pandas as pd
import pytest

from conftest import metrics_with, run_rows, seeds, step_costs
from flowbench import report as R
from flowbench import tables as T


# ----------------------------------------------------------------------------------------------
# the workflow's runs
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("ours, verdict", [(0.04, R.REPRODUCED), (0.05, R.REPRODUCED), (0.08, R.PARTLY),
                                           (0.10, R.NOT_REPRODUCED), (0.12, R.NOT_REPRODUCED)])
def test_c6_speed_ratio(ours, verdict):
    m = metrics_with(seeds("ours", "paper", [0.1, 0.1], spi=ours), seeds("inn", "full", [0.1], spi=0.1))
    assert R.claim_c6(m).verdict == verdict
    assert R.claim_c6(metrics_with(seeds("ours", "paper", [0.1]))).verdict == R.NOT_TESTED


def test_c6_reports_time_to_threshold():
    m = metrics_with(seeds("ours", "paper", [0.1, 0.1], spi=0.01), seeds("inn", "full", [0.1], spi=0.1))
    ttt = pd.DataFrame([
        {"task": "gmm", "method": "ours", "variant": "paper", "seed": 0, "probes": 4, "reached": True,
         "seconds_to_threshold": 2.0},
        {"task": "gmm", "method": "ours", "variant": "paper", "seed": 1, "probes": 4, "reached": True,
         "seconds_to_threshold": 4.0},
        {"task": "gmm", "method": "inn", "variant": "full", "seed": 0, "probes": 4, "reached": False,
         "seconds_to_threshold": float("nan")}])
    c = R.claim_c6(m, ttt=ttt)
    assert "ours/paper 2/2 seeds, mean 3.00 s" in c.evidence and "inn/full 0/1 seeds" in c.evidence


def test_c6_ignores_diverged_runs():
    """Runs that diverged at step 1 time one step, not the method: C6 is not tested on them."""
    inn = seeds("inn", "full", [0.1, 0.1], spi=1.0)
    m = metrics_with(seeds("ours", "paper", [0.1, 0.1], spi=0.009, diverged=True, step=1), inn)
    c = R.claim_c6(m)
    assert c.verdict == R.NOT_TESTED
    assert "ours/paper: all 2 runs diverged, no speed measured" in c.evidence
    # one of two ours runs diverged: decided on the other alone (0.3 / 1.0 = 0.30 -> reproduced)
    m = metrics_with(seeds("ours", "paper", [0.1], spi=0.3), inn,
                     [run_rows("ours", "paper", 1, spi=0.009, diverged=True, step=1)])
    c = R.claim_c6(m)
    assert c.verdict == R.REPRODUCED and "ours/paper 0.3000 (1 run)" in c.evidence
    # and the summary table's s/iteration excludes the diverged run too
    assert T.per_seed(m, "gmm", "ours", "paper", "seconds_per_iteration").tolist() == [0.3]


def test_time_to_threshold():
    log = pd.DataFrame({"step": [0, 1, 2, 3], "loss": [4, 3, 2, 1],
                        "probe_w2": [np.nan, 0.3, 0.14, 0.1], "seconds": [0.5, 1.0, 1.5, 2.0]})
    assert T.time_to_threshold(log, 0.15) == 1.5
    assert T.time_to_threshold(log, 0.05) is None
    assert T.time_to_threshold(log.drop(columns="probe_w2"), 0.15) is None


# ----------------------------------------------------------------------------------------------
# the performance benchmark in C6
# ----------------------------------------------------------------------------------------------
def test_c6_uses_the_benchmark_at_batch_1600():
    # workflow runs say partly (r = 0.8); the controlled benchmark at 1600 says reproduced (0.25)
    m = metrics_with(seeds("ours", "paper", [0.1], spi=0.08), seeds("inn", "full", [0.1], spi=0.1))
    assert R.claim_c6(m).verdict == R.PARTLY
    assert "benchmark (`snakemake benchmark`) was not run" in R.claim_c6(m).evidence
    c = R.claim_c6(m, costs=step_costs())
    assert c.verdict == R.REPRODUCED
    assert c.evidence.startswith("benchmark, one process, one method at a time, batch 1600")
    assert "r = 0.25" in c.evidence and "jobs side by side, noisier" in c.evidence and "r = 0.80" in c.evidence
    # the benchmark decides even when it disagrees the other way
    assert R.claim_c6(m, costs=step_costs(ours=(0.01, 0.09), inn=(0.03, 0.08))).verdict == R.NOT_REPRODUCED
    # batch 1600 absent: the largest batch measured for both
    c = R.claim_c6(m, costs=step_costs(ours=(0.01, 0.04), inn=(0.03, 0.1), batches=(200, 800)))
    assert "batch 800 (batch 1600 not measured" in c.evidence and c.verdict == R.REPRODUCED
    # the benchmark alone (no workflow runs of inn/full) still decides
    c = R.claim_c6(metrics_with(seeds("ours", "paper", [0.1])), costs=step_costs())
    assert c.verdict == R.REPRODUCED and "inn/full not run" in c.evidence
    # a benchmark without inn/full falls back to the workflow runs
    c = R.claim_c6(m, costs=step_costs().query("method != 'inn/full'"))
    assert c.verdict == R.PARTLY and "lacks ours/paper or inn/full" in c.evidence


def test_step_cost_ratios_sorted():
    costs = T.sort_step_costs(step_costs().iloc[::-1].reset_index(drop=True))
    assert costs["method"].tolist()[:2] == ["ours/paper", "ours/paper"]
    assert costs["method"].tolist()[-1] == "cinn/default" and costs["batch_size"].tolist()[:2] == [400, 1600]
    r = T.step_cost_ratios(costs)
    assert r["batch_size"].tolist() == [400, 1600]
    assert np.allclose(r["ratio"], [0.01 / 0.03, 0.25])
