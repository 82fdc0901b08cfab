"""The summary's answer to "is the paper's flow worth using today?" (flowbench.report.today):
the rule must say best, not separated and behind on per-seed numbers built to be each."""
import numpy as np
import pandas as pd
import pytest

from flowbench import tables as T
from conftest import run_info
from flowbench.io import write_json
from flowbench.pipeline import runs_table
from flowbench.report.today import answer, standing, standing_sentence


def _metrics(w2_by_method: dict, task="t", spi=None) -> pd.DataFrame:
    rows = []
    for (method, variant), seeds in w2_by_method.items():
        for seed, w in enumerate(seeds):
            for cond in ("0", "1"):
                rows.append(dict(task=task, method=method, variant=variant, seed=seed, condition=cond,
                                 metric="w2", value=float(w)))
            rows.append(dict(task=task, method=method, variant=variant, seed=seed, condition="",
                             metric="seconds_per_iteration", value=(spi or {}).get(method, 0.1)))
    return pd.DataFrame(rows)


def _standing(w2_by_method, **kw):
    m = _metrics(w2_by_method, **kw)
    return standing("t", T.summary_table(m, "t", forward=()), m)


RNG = np.random.default_rng(0)


def _lognormal(gm, n=5, sd=0.1):
    return gm * np.exp(sd * RNG.standard_normal(n))


def test_ours_best_when_the_runner_up_is_worse_beyond_the_interval():
    s = _standing({("ours", "paper"): _lognormal(0.1), ("cfm", "default"): _lognormal(0.3),
                   ("cgan", "default"): _lognormal(1.0)})
    assert (s.rank, s.position, s.other) == (1, "best", "cfm/default")
    assert s.ratio == pytest.approx(3.0, rel=0.3) and s.ci[0] > 1
    assert "ranks 1st of 3" in standing_sentence(s)


def test_ours_behind_when_the_leader_is_better_beyond_the_interval():
    s = _standing({("ours", "paper"): _lognormal(0.3), ("cfm", "default"): _lognormal(0.1)},
                  spi={"ours": 0.3, "cfm": 0.1})
    assert (s.rank, s.position, s.other) == (2, "behind", "cfm/default")
    assert s.ours_spi / s.other_spi == pytest.approx(3.0)
    assert "behind cfm/default" in standing_sentence(s)
    assert "costs 3x" in standing_sentence(s)


def test_overlapping_seeds_are_not_separated_either_way():
    # the same distribution: ranked first or second, the interval contains 1
    a = np.array([0.10, 0.2, 0.12, 0.3, 0.15])
    s = _standing({("ours", "paper"): a, ("cvae", "default"): a[::-1] * 1.02})
    assert s.position == "tied" and s.ci[0] < 1 < s.ci[1]


def test_one_seed_is_undecided_and_all_diverged_ranks_last():
    s = _standing({("ours", "paper"): [0.1], ("cfm", "default"): [0.3]})
    assert s.position == "undecided"
    s = _standing({("ours", "paper"): [np.nan] * 3, ("cfm", "default"): _lognormal(0.3, 3)})
    assert s.rank == 2 and s.position == "undecided"


def test_no_answer_without_ours_or_a_second_method():
    assert _standing({("cfm", "default"): _lognormal(0.1)}) is None
    assert _standing({("ours", "paper"): _lognormal(0.1)}) is None


def test_the_answer_counts_and_names_the_leaders():
    best = _standing({("ours", "paper"): _lognormal(0.1), ("cfm", "default"): _lognormal(0.3)})
    behind = _standing({("ours", "paper"): _lognormal(0.3), ("cfm", "default"): _lognormal(0.1)})
    text = answer([best, behind])
    assert "best method on 1" in text and "behind on 1 (t: cfm/default)" in text
    assert "Where ours is not behind (t)" in text and "where cfm leads (t), it is the better sampler" in text
    assert "no method sampled the posterior better" in answer([best])
    assert "every decided task" in answer([behind])
    one = answer([_standing({("ours", "paper"): [0.1], ("cfm", "default"): [0.3]})])
    assert "no answer" in one and one.startswith("Over 1 task, ") and "1 has too few seeds" in one
    assert answer([best, behind]).startswith("Over 2 tasks, ")


def test_method_costs_per_1000_samples_from_the_runs(tmp_path):
    import json
    infos = []
    for method, secs, div in (("ours", 2.0, False), ("cfm", 8.0, False), ("cgan", 0.0, True)):
        d = tmp_path / "t" / method / "default" / "seed0"
        d.mkdir(parents=True)
        write_json(d / "train_info.json", run_info(sample_seconds=secs, n_eval=500, diverged=div,
                                                   n_parameters=1000))
        infos.append(d / "train_info.json")
    runs = runs_table(infos)
    m = _metrics({("ours", "default"): [0.1], ("cfm", "default"): [0.1], ("cgan", "default"): [0.1]})
    c = T.method_costs(runs, m, "t").set_index("method")
    # 2 conditions x 500 samples = 1,000 samples
    assert c.loc["ours", "sample_seconds_per_1000"] == pytest.approx(2.0)
    assert c.loc["cfm", "sample_seconds_per_1000"] == pytest.approx(8.0)
    assert np.isnan(c.loc["cgan", "sample_seconds_per_1000"])   # diverged: no sampling cost
    assert c.loc["ours", "n_parameters"] == 1000


def test_cpu_by_stage_groups_the_benchmark_files():
    prov = {"benchmarks": {"jobs": [
        {"file": "results/full/benchmarks/gmm/inn/full/seed0/train.tsv", "cpu_time": 3600.0, "s": 4000.0},
        {"file": "results/full/benchmarks/gmm/inn/ramp_fast/seed1/evaluate.tsv", "cpu_time": 1800.0, "s": 1800.0},
        {"file": "results/full/benchmarks/gmm/ours/paper/seed0/train.tsv", "cpu_time": 360.0, "s": 400.0},
        {"file": "results/full/benchmarks/gmm/noise_floor.tsv", "cpu_time": 36.0, "s": 40.0},
        {"file": "results/full/benchmarks/images/mnist/seed0/autoencoder.tsv", "cpu_time": 720.0, "s": 700.0},
        {"file": "results/full/benchmarks/images/fashion-mnist/seed1/autoencoder.tsv", "cpu_time": 720.0,
         "s": 700.0},
        {"file": "results/full/benchmarks/benchmark/step_costs.tsv", "cpu_time": 72.0, "s": 80.0}]}}
    t = T.cpu_by_stage(prov, {"arm / reference": 7200.0}).set_index("stage")
    assert list(t.index[:2]) == ["arm / reference", "gmm / inn"]
    assert t.loc["gmm / inn", "jobs"] == 2 and t.loc["gmm / inn", "cpu_hours"] == pytest.approx(1.5)
    assert t.loc["images / autoencoder", "cpu_hours"] == pytest.approx(0.4)
    assert {"gmm / ours", "gmm / noise_floor", "cost benchmark"} <= set(t.index)
    assert t.loc["total", "cpu_hours"] == pytest.approx((3600 + 1800 + 360 + 36 + 1440 + 72 + 7200) / 3600)
    assert T.cpu_by_stage(None).empty


def test_the_tuned_ranking_compares_the_tuned_recipes_alone():
    """Ours behind at the default recipes and best at the tuned ones: the report's second ranking
    reads only the tuned_<task> runs, and names the tuning each needed."""
    from types import SimpleNamespace

    from flowbench.report.sections.claims import tuned_standings
    m = _metrics({("ours", "paper"): _lognormal(0.5), ("cfm", "default"): _lognormal(0.1),
                  ("ours", "tuned_t"): _lognormal(0.05), ("cfm", "tuned_t"): _lognormal(0.2)})
    summary = T.summary_table(m, "t", forward=())
    tuning = {"summary": pd.DataFrame({"task": ["t", "t"], "method": ["ours", "cfm"], "k_near_best": [2, 7]})}
    ctx = SimpleNamespace(tasks=["t"], summaries={"t": summary}, metrics=m, costs={"t": pd.DataFrame()},
                          tuning=tuning)
    (st, need), = tuned_standings(ctx)
    assert (st.position, st.ours, st.other) == ("best", "ours/tuned_t", "cfm/tuned_t")
    assert "ours 2, cfm 7" in need
    assert standing("t", summary, m, {"ours": "paper", "cfm": "default"}).position == "behind"
    ctx.summaries = {"t": summary[summary["variant"] != "tuned_t"]}
    assert tuned_standings(ctx) == []
