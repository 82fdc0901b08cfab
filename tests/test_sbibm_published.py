"""The published sbibm NPE numbers (flowbench/data, extracted from sbi-benchmark/results) and the
rule that decides whether the suite's NPE reproduces them: tested where it must pass and fail."""
import numpy as np

from flowbench.sbibm_published import C2ST_TOLERANCE, compare, published_npe


def test_the_extract_holds_ten_observations_per_task_and_budget():
    df = published_npe()
    assert set(df["num_simulations"]) == {1000, 10000, 100000}
    counts = df.groupby(["task", "num_simulations"]).size()
    assert (counts == 10).all() and len(counts) == 7 * 3
    assert df["c2st"].between(0.45, 1.0).all()
    tm = published_npe("two_moons", 1000)
    assert list(tm["num_observation"]) == list(range(1, 11))
    assert np.isclose(tm["c2st"].mean(), 0.725, atol=0.001)      # the paper's Fig. 2 two_moons 10^3


def _pub():
    tm = published_npe("two_moons", 10000)
    return dict(zip(tm["num_observation"], tm["c2st"]))


def test_a_run_within_its_spread_of_the_published_one_reproduces_it():
    pub = _pub()
    rng = np.random.default_rng(0)
    ours = {k: v + 0.01 * rng.standard_normal() for k, v in pub.items()}
    r = compare(ours, pub)
    assert r["verdict"] == "reproduced" and r["n"] == 10
    assert abs(r["z"]) <= 2 or abs(r["diff"]) <= C2ST_TOLERANCE


def test_a_run_consistently_worse_than_the_published_one_does_not():
    pub = _pub()
    rng = np.random.default_rng(1)
    ours = {k: v + 0.05 + 0.01 * rng.standard_normal() for k, v in pub.items()}
    r = compare(ours, pub)
    assert r["verdict"] == "not reproduced" and r["diff"] > 0.04 and r["z"] > 2


def test_too_few_shared_observations_are_not_tested():
    assert compare({1: 0.6}, _pub())["verdict"] == "not tested"
