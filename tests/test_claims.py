"""The claims as data, and the mixture claims C1-C5 on synthetic tidy metrics: the building
blocks, each verdict flipping where its evidence crosses its threshold, the claims per task."""
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from conftest import fake_results, floor_rows, metrics_with, run_rows, seeds
from flowbench import report as R
from flowbench import tables as T


# ----------------------------------------------------------------------------------------------
# building blocks
# ----------------------------------------------------------------------------------------------
def test_per_seed_w2_is_label_mean_and_excludes_diverged():
    m = metrics_with(seeds("ours", "paper", [0.1, 0.2]),
                     [run_rows("ours", "paper", 2, diverged=True, step=17)])
    s = T.per_seed(m, "gmm", "ours", "paper", "w2")
    assert list(s.index) == [0, 1]
    assert np.allclose(s.to_numpy(), [0.1, 0.2])
    st = R.run_stats(m, "ours", "paper")
    assert st["runs"] == 3 and st["diverged"] == 1 and st["n"] == 2
    assert math.isclose(st["w2"], 0.15)
    d = T.diverged_runs(m)
    assert d[["method", "variant", "seed", "diverged_step"]].values.tolist() == [["ours", "paper", 2, 17.0]]
    # a diverged run's speed is not the method's: excluded; the compute it spent still counts
    assert len(T.per_seed(m, "gmm", "ours", "paper", "seconds_per_iteration")) == 2
    assert len(T.per_seed(m, "gmm", "ours", "paper", "train_seconds")) == 3


def test_mean_ci_matches_t_interval():
    mean, half, n = T.mean_ci([1.0, 2.0, 3.0])
    assert (mean, n) == (2.0, 3)
    assert math.isclose(half, stats.t.ppf(0.975, 2) * 1.0 / math.sqrt(3))
    mean, half, n = T.mean_ci([0.5, float("nan")])
    assert mean == 0.5 and n == 1 and math.isnan(half)
    assert T.mean_ci([])[2] == 0


def test_welch_one_sided():
    a, b = [0.5, 0.55, 0.6], [0.1, 0.12, 0.11]
    p = R.welch_greater(a, b)
    assert math.isclose(p, stats.ttest_ind(a, b, equal_var=False, alternative="greater").pvalue)
    assert p < 0.05
    assert R.welch_greater(b, a) > 0.95
    assert R.welch_greater([0.5], b) is None
    assert R.welch_greater([0.5, 0.5], [0.1, 0.1]) is None  # both constant: undefined


def test_log_ratio_test_and_holm():
    res = R.log_ratio_test([2.0, 4.0, 8.0], [1.0, 2.0, 4.0])
    assert res["ratio"] == pytest.approx(2.0)
    lo, hi = res["ci"]
    assert lo < 2.0 < hi
    log_a, log_b = np.log([2.0, 4.0, 8.0]), np.log([1.0, 2.0, 4.0])
    want = stats.ttest_ind(log_a, log_b, equal_var=False, alternative="greater").pvalue
    assert res["p"] == pytest.approx(want)
    assert R.log_ratio_test([1.0], [1.0, 2.0])["p"] is None
    adj = R.holm({"a": 0.01, "b": 0.04, "c": 0.03, "d": None})
    assert adj == {"a": pytest.approx(0.03), "b": pytest.approx(0.06), "c": pytest.approx(0.06), "d": None}


# ----------------------------------------------------------------------------------------------
# the verdicts flip where their evidence crosses the threshold
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("w2, acc, verdict", [
    (0.08, 0.995, R.REPRODUCED), (0.08, 0.98, R.PARTLY), (0.10, 0.995, R.PARTLY),
    (0.17, 1.0, R.PARTLY), (0.19, 1.0, R.NOT_REPRODUCED)])
def test_c1_relative_to_the_floor(w2, acc, verdict):
    """Floor 0.03: reproduced within 3x (0.09), partly within 6x (0.18)."""
    m = metrics_with(seeds("ours", "paper", [w2, w2, w2], acc=acc))
    c = R.claim_c1(m, floors=floor_rows(0.03))
    assert c.verdict == verdict
    assert f"q = W2 / floor = {w2 / 0.03:.2f}" in c.evidence and c.rule == R.RULES["C1"]
    assert c.stability == "3/3"
    # without a floor no threshold can be set: not tested
    assert R.claim_c1(m).verdict == R.NOT_TESTED


def test_c1_perfect_sampler_on_a_multimodal_label_map_passes():
    """On gmm_some the floor is large (the random count per mode is transported between modes): an
    absolute 0.10 cut failed a perfect sampler; a floor-relative one passes it and still fails a
    sampler 10x worse."""
    perfect = metrics_with(seeds("ours", "paper", [0.11, 0.12, 0.10], task="gmm_some"))
    floor = floor_rows(0.11, task="gmm_some")
    assert R.claim_c1(perfect, "gmm_some", floor).verdict == R.REPRODUCED
    bad = metrics_with(seeds("ours", "paper", [1.1, 1.2, 1.0], task="gmm_some"))
    assert R.claim_c1(bad, "gmm_some", floor).verdict == R.NOT_REPRODUCED


def test_c1_absent_or_all_diverged_is_not_tested():
    f = floor_rows()
    assert R.claim_c1(metrics_with(seeds("inn", "full", [0.1])), floors=f).verdict == R.NOT_TESTED
    m = metrics_with([run_rows("ours", "paper", 0, diverged=True, step=3)])
    c = R.claim_c1(m, floors=f)
    assert c.verdict == R.NOT_TESTED and "diverged" in c.evidence
    # the other task's runs do not count
    other = metrics_with(seeds("ours", "paper", [0.05], task="gmm_some"))
    assert R.claim_c1(other, floors=f).verdict == R.NOT_TESTED


@pytest.mark.parametrize("inn, verdict", [(0.14, R.REPRODUCED), (0.15, R.REPRODUCED), (0.25, R.PARTLY),
                                          (0.35, R.NOT_REPRODUCED), (0.05, R.REPRODUCED)])
def test_c2_ratio_of_geometric_means(inn, verdict):
    m = metrics_with(seeds("ours", "paper", [0.1, 0.1]), seeds("inn", "full", [inn, inn]),
                     seeds("inn", "orig16_full", [0.1, 0.1]))
    c = R.claim_c2(m)
    assert c.verdict == verdict
    assert f"r = {inn / 0.1:.2f}" in c.evidence
    assert R.claim_c2(metrics_with(seeds("ours", "paper", [0.1]))).verdict == R.NOT_TESTED
    # both INN networks, each its own verdict
    assert R.claim_c2b(m).verdict == R.REPRODUCED and "inn/orig16_full" in R.claim_c2b(m).evidence


def test_c3_decided_on_log_w2():
    full = seeds("inn", "full", [0.10, 0.11, 0.12, 0.10, 0.11])
    # a heavy-tailed forward-only arm (the inverse blows up, by different amounts per seed): on raw
    # W2 the one huge seed makes the t-test insignificant; on log W2 it is five orders of magnitude
    heavy = seeds("inn", "forward_only", [2.0e5, 50.0, 3.0e3, 900.0, 1.2e4])
    raw_p = R.welch_greater([2.0e5, 50.0, 3.0e3, 900.0, 1.2e4], [0.10, 0.11, 0.12, 0.10, 0.11])
    assert raw_p > 0.05
    c = R.claim_c3(metrics_with(full, heavy))
    assert c.verdict == R.REPRODUCED and "p = " in c.evidence and c.stability == "10/10"
    # ratio of geometric means >= 1.5 but overlapping seeds: not significant, partly
    noisy = seeds("inn", "forward_only", [0.05, 0.5, 2.0])
    assert R.claim_c3(metrics_with(full, noisy)).verdict == R.PARTLY
    # one large seed among small ones is not "worse" on the log scale (GM ratio 1.33)
    one_big = seeds("inn", "forward_only", [0.05, 0.06, 1.0])
    assert R.claim_c3(metrics_with(full, one_big)).verdict == R.NOT_REPRODUCED
    # one seed: no test, partly
    assert R.claim_c3(metrics_with(full, seeds("inn", "forward_only", [0.5]))).verdict == R.PARTLY
    # significantly worse but by less than 1.5x: not reproduced
    c = R.claim_c3(metrics_with(full, seeds("inn", "forward_only", [0.150, 0.151, 0.152, 0.150, 0.151])))
    assert c.verdict == R.NOT_REPRODUCED
    assert R.claim_c3(metrics_with(full)).verdict == R.NOT_TESTED


def test_c4_ramp_variants_with_holm_and_no_ramp_as_the_extreme():
    full = seeds("inn", "full", [0.10, 0.11, 0.12, 0.10, 0.11])
    good = seeds("inn", "ramp_fast", [0.40, 0.42, 0.44, 0.41, 0.43])
    flat = seeds("inn", "ramp_slow", [0.10, 0.12, 0.11, 0.10, 0.12])
    extreme = seeds("inn", "no_ramp", [2.0, 2.1, 1.9, 2.0, 2.2])
    weights = seeds("inn", "wx_10", [5.0, 5.1, 5.2, 5.0, 5.1])
    m = metrics_with(full, good, flat, extreme, weights)
    assert R.changed_ramp_variants(m) == ["ramp_fast", "ramp_slow"]
    c = R.claim_c4(m)
    assert c.verdict == R.REPRODUCED and "Holm p" in c.evidence
    assert "inn/no_ramp (the extreme" in c.evidence and "wx_10" not in c.evidence
    # no_ramp alone does not decide C4 (it is not a changed speed or shape)
    assert R.claim_c4(metrics_with(full, flat, extreme)).verdict == R.NOT_REPRODUCED
    assert R.claim_c4(metrics_with(full, extreme)).verdict == R.NOT_TESTED
    # the weights have their own verdict
    assert R.claim_c4b(m).verdict == R.REPRODUCED
    assert R.claim_c4b(metrics_with(full, good)).verdict == R.NOT_TESTED


def test_holm_can_undo_an_uncorrected_pass():
    """Two variants each at p ~ 0.03: alone each passes; over the family neither survives Holm."""
    full = seeds("inn", "full", [0.10, 0.14, 0.12])
    a = seeds("inn", "ramp_fast", [0.16, 0.30, 0.22])
    b = seeds("inn", "ramp_slow", [0.16, 0.30, 0.22])
    single = R.family_test(metrics_with(full, a), "gmm", "inn", "full", ["ramp_fast"])["ramp_fast"]
    both = R.family_test(metrics_with(full, a, b), "gmm", "inn", "full", ["ramp_fast", "ramp_slow"])
    assert single["p"] < 0.05 and single["verdict"] == R.REPRODUCED
    assert both["ramp_fast"]["p_holm"] >= 0.05 and both["ramp_fast"]["verdict"] == R.PARTLY


def test_c5_the_same_sensitivity_rule_for_both_methods():
    s5 = lambda method, variant, base: seeds(method, variant, [base * f for f in (0.9, 1.0, 1.1, 0.95, 1.05)])  # noqa: E731
    paper, full = s5("ours", "paper", 0.10), s5("inn", "full", 0.10)
    ours_ok = s5("ours", "eps_0.2", 0.11) + s5("ours", "pad_0.2", 0.10)
    inn_bad = s5("inn", "wx_10", 0.50) + s5("inn", "ramp_fast", 0.11)
    schedule = s5("ours", "paper_cosine", 0.50)          # a schedule is not a sensitivity variant
    c = R.claim_c5(metrics_with(paper, full, ours_ok, inn_bad, schedule))
    assert c.verdict == R.REPRODUCED and "paper_cosine" not in c.evidence
    assert "ours: 0 of 2 variants sensitive" in c.evidence and "inn: 1 of 2 sensitive" in c.evidence
    # neither method sensitive: the claim holds for ours but shows no advantage
    assert R.claim_c5(metrics_with(paper, full, ours_ok, s5("inn", "wx_10", 0.1))).verdict == R.PARTLY
    # ours as sensitive as the INN: not reproduced
    ours_bad = s5("ours", "eps_0.2", 0.5)
    assert R.claim_c5(metrics_with(paper, full, ours_bad, inn_bad)).verdict == R.NOT_REPRODUCED
    # a variant whose every seed diverged counts as sensitive
    div = [run_rows("ours", "pad_0.01", s, diverged=True, step=5) for s in range(2)]
    c = R.claim_c5(metrics_with(paper, full, ours_ok, div, inn_bad))   # 1 of 3 against 1 of 2
    assert c.verdict == R.PARTLY and "pad_0.01: all 2 runs diverged (sensitive)" in c.evidence
    # one seed per variant cannot be tested
    one = seeds("ours", "eps_0.2", [0.5])
    assert R.claim_c5(metrics_with(paper, full, one)).verdict == R.NOT_TESTED
    assert R.claim_c5(metrics_with(paper)).verdict == R.NOT_TESTED


def test_claims_by_task_checks_each_label_map():
    m = metrics_with(seeds("ours", "paper", [0.08, 0.09, 0.10]), seeds("inn", "full", [0.10, 0.12, 0.11]),
                     seeds("inn", "forward_only", [1.0, 1.2, 1.1]),
                     seeds("ours", "paper", [0.30, 0.35, 0.32], task="gmm_some"),
                     seeds("inn", "full", [0.30, 0.33, 0.31], task="gmm_some"))
    f = pd.concat([floor_rows(0.031), floor_rows(0.10, task="gmm_some")])
    bt = R.claims_by_task(m, ["gmm", "gmm_some"], f)
    assert list(bt.columns) == ["task", "id", "claim", "evidence", "verdict", "stability", "rule"]
    assert bt["id"].tolist() == list(R.TASK_CLAIMS) * 2
    v = bt.set_index(["task", "id"])["verdict"]
    assert (v["gmm", "C1"], v["gmm", "C2"], v["gmm", "C3"], v["gmm", "C4"]) == (
        R.REPRODUCED, R.REPRODUCED, R.REPRODUCED, R.NOT_TESTED)
    assert v["gmm_some", "C1"] == R.PARTLY                # q = 0.32 / 0.10 = 3.2
    assert v["gmm_some", "C2"] == R.REPRODUCED            # r = 0.313 / 0.323 < 1.5
    assert v["gmm_some", "C3"] == R.NOT_TESTED
    ev = bt.set_index(["task", "id"])["evidence"]
    assert "inn/forward_only not run" in ev["gmm_some", "C3"]
    # the rows of the claim task are exactly the main claims
    main = {c.id: c for c in R.evaluate_claims(m, floors=f)}
    for row in bt[bt["task"] == "gmm"].itertuples(index=False):
        assert (row.evidence, row.verdict) == (main[row.id].evidence, main[row.id].verdict)


# ----------------------------------------------------------------------------------------------
# the claims as data: their specs, the runs they name, the headline task
# ----------------------------------------------------------------------------------------------
def test_claim_rejects_unknown_verdict():
    with pytest.raises(ValueError):
        R.Claim("C1", "x", "y", "maybe", "z")


def test_claims_tables_read_the_claim_specs(tmp_path):
    """One structure holds each claim's words, the runs it needs and its rule; the claims table
    and the README's claims table both show them from there."""
    assert [s.id for s in R.CLAIM_SPECS] == list(R.CLAIMS) == list(R.RULES) == [
        "C1", "C2", "C2b", "C3", "C4", "C4b", "C5", "C6", "C6b", "C7", "C8", "C9", "C10"]
    for s in R.CLAIM_SPECS:
        assert s.claim and s.rule and s.needs and all(isinstance(n, str) and n for n in s.needs)
        assert R.CLAIMS[s.id] == s.claim and R.RULES[s.id] == s.rule
    assert set(R.TASK_CLAIMS) <= set(R.CLAIMS)
    res = fake_results(tmp_path / "results")
    written = R.render_report(res, tmp_path / "report", tasks=["gmm", "gmm_some"])
    claims = pd.read_csv(written["tables/claims.csv"])
    specs = {s.id: s for s in R.CLAIM_SPECS}
    assert claims["claim"].tolist() == [specs[c].claim for c in claims["id"]]
    assert claims["rule"].tolist() == [specs[c].rule for c in claims["id"]]
    by_task = pd.read_csv(written["tables/claims_by_task.csv"])
    assert by_task["rule"].tolist() == [specs[c].rule for c in by_task["id"]]
    md = written["README.md"].read_text()
    for s in R.CLAIM_SPECS:
        assert f"| {s.id} " in md and s.claim in md and s.rule in md


def test_the_specs_name_the_runs_their_verdicts_read():
    """Each claim's spec lists the (method, variant) runs its verdict code reads, and its ``needs``
    (what the claims table shows) names the same runs."""
    from flowbench.report.claims import SENSITIVITY_FAMILIES, SPECS, Run
    for s in R.CLAIM_SPECS:
        needs = " ".join(s.needs)
        for run in (s.run, s.against):
            if run is not None and run.variant is not None:
                assert str(run) in needs, (s.id, run)
        for fam in s.families:
            assert all(f"{fam.method}/{p}" in needs for p in fam.prefixes), (s.id, fam)
    assert (SPECS["C2"].run, SPECS["C2"].against) == (Run("inn", "full"), Run("ours", "paper"))
    assert (SPECS["C3"].run, SPECS["C3"].against) == (Run("inn", "forward_only"), Run("inn", "full"))
    assert SPECS["C6b"].against == Run("inn", "orig16_full") and SPECS["C8"].against == Run("latent_classifier")
    assert SENSITIVITY_FAMILIES == {"ours": ("paper", ("eps_", "pad_")), "inn": ("full", ("ramp_", "no_ramp", "wx_"))}
    # the verdict reads its runs from the spec: C3's evidence names exactly them
    m = metrics_with(seeds("inn", "full", [0.10, 0.11]), seeds("inn", "forward_only", [0.5, 0.6]))
    ev = R.claim_c3(m).evidence
    assert ev.startswith("W2(inn/forward_only) = ") and " vs W2(inn/full) = " in ev


def test_the_headline_task_is_the_task_class_marked_so(monkeypatch):
    """The claims' default task is the kind whose task class sets ``headline``: the mixture."""
    from flowbench.report import claims as C
    from flowbench.tasks import TASK_KINDS, Task
    assert Task.headline is False
    assert [k for k, cls in TASK_KINDS.items() if cls.headline] == ["gmm"]
    assert C.headline_task() == C.CLAIM_TASK == R.CLAIM_TASK == "gmm"
    assert "task 'gmm'" in R.COMMON_RULE and "training runs on task gmm" in R.RULES["C6"]
    other = next(cls for k, cls in TASK_KINDS.items() if k != "gmm")
    monkeypatch.setattr(other, "headline", True)
    with pytest.raises(RuntimeError, match="exactly one task class"):
        C.headline_task()


def _eps_blowup(far):
    """ours/eps_0.05 as the full run measured it: 3 seeds near the recipe, 2 blown up (W2 ~1e5),
    a geometric-mean ratio the log-scale Welch test cannot separate; ``far`` is the share of the
    blown-up seeds' draws far outside the reference on one label."""
    base = [0.10, 0.11, 0.09, 0.10, 0.105]
    variant = [run_rows("ours", "eps_0.05", s, w2=w, far_outside=(far if w > 1 else 0.0))
               for s, w in enumerate([0.10, 2.0e5, 0.12, 1.5e5, 0.11])]
    paper = [run_rows("ours", "paper", s, w2=w, far_outside=0.0) for s, w in enumerate(base)]
    full = seeds("inn", "full", [0.10] * 5)
    inn_bad = seeds("inn", "wx_10", [0.50, 0.55, 0.45, 0.52, 0.5])
    return metrics_with(paper, variant, full, inn_bad)


def test_c5_counts_a_variant_with_blown_up_seeds_as_sensitive():
    """Must fail: 2 of 5 seeds with 4% of their draws far outside the reference make the variant
    unstable, hence sensitive, although its log-scale test alone is not significant."""
    m = _eps_blowup(far=0.04)
    res = R.family_test(m, "gmm", "ours", "paper", ["eps_0.05"])["eps_0.05"]
    assert res["p_holm"] is None or res["p_holm"] >= 0.05      # the log-scale rule cannot see it
    c = R.claim_c5(m)
    assert "ours: 1 of 1 variants sensitive" in c.evidence
    assert "2 of 5 seeds unstable (seeds 1, 3 blew up" in c.evidence and "(unstable: sensitive)" in c.evidence
    assert c.verdict == R.NOT_REPRODUCED            # s(ours) = 1 = s(inn): ours not less sensitive


def test_c5_draws_inside_the_reference_range_are_not_instability():
    """Must pass: the same W2 values with under 1% of draws far outside leave the variant to the
    log-scale rule, which does not call it sensitive."""
    c = R.claim_c5(_eps_blowup(far=0.005))
    assert "ours: 0 of 1 variants sensitive" in c.evidence and "unstable" not in c.evidence
    assert c.verdict == R.REPRODUCED


def test_blown_up_runs_are_listed_with_their_share():
    m = _eps_blowup(far=0.04)
    b = T.blown_up_runs(m)
    assert b[["method", "variant", "seed"]].values.tolist() == [["ours", "eps_0.05", 1], ["ours", "eps_0.05", 3]]
    assert b["far_outside"].tolist() == [0.04, 0.04]
    assert T.blown_up_runs(_eps_blowup(far=0.005)).empty


def test_run_stats_agrees_with_the_tables_functions():
    """The claims' one-pass ``run_stats`` gives what ``T.runs`` and ``T.per_seed`` give: diverged
    seeds left out of W2 and accuracy, counted in runs and diverged, W2 sorted by seed."""
    from flowbench.report.claims import core
    rng = np.random.default_rng(0)
    groups = [seeds("ours", "paper", rng.uniform(0.05, 0.5, 5).tolist()),
              [run_rows("ours", "paper", 7, diverged=True, step=3), run_rows("ours", "paper", 5, w2=0.2, acc=0.7)],
              seeds("inn", "full", [0.3]), seeds("ours", "paper", [0.9, 0.8], task="gmm_some")]
    m = metrics_with(*groups).sample(frac=1.0, random_state=1)       # rows in no particular order
    for method, variant, task in [("ours", "paper", "gmm"), ("inn", "full", "gmm"), ("ours", "paper", "gmm_some"),
                                  ("cfm", "default", "gmm")]:
        fast, ref = core.run_stats(m, method, variant, task), core._run_stats_by_tables(m, method, variant, task)
        assert fast.keys() == ref.keys()
        np.testing.assert_allclose(fast["seeds"], ref["seeds"], rtol=1e-12)
        for k in ("w2", "w2_ci", "n", "runs", "diverged", "accuracy"):
            assert (fast[k] == pytest.approx(ref[k], rel=1e-12, nan_ok=True)), (method, task, k)
    assert core.run_stats(m, "ours", "paper")["diverged"] == 1 and core.run_stats(m, "ours", "paper")["runs"] == 7
